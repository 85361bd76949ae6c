/* stats.h -- process-local counters for the status endpoint (fcgi/status.c).
 *
 * Cheap enough for every delivery: an add is one relaxed atomic add (plus,
 * once per second, a short lock to note the totals for the rates). The
 * numbers describe this worker process only; with several processes each
 * answers for itself (Prometheus adds them up per instance). Thread-safe. */
#ifndef JUG_STATS_H
#define JUG_STATS_H

typedef enum {
    JUG_STAT_REQUESTS = 0,  /* requests answered (main.c) */
    JUG_STAT_CONNECTS,      /* sessions created (connect) */
    JUG_STAT_DELIVERIES,    /* deliveries written to browsers: long-poll answers, stream records */
    JUG_STAT_PUBLISHES,     /* messages fanned out that this process was told of (notify "M" lines) */
    JUG_STAT_COUNT
} jugStat;

/* "requests", "connects", "deliveries", "publishes", indexed by jugStat. */
extern const char *const jugStatNames[JUG_STAT_COUNT];

/* Seconds the rates of jugStatsRate() average over. */
#define JUG_STATS_WINDOW_S 10

/* Note the start of the process (for the uptime); call once, early. */
void jugStatsInit(void);

/* Count n more of a counter. */
void jugStatsAdd(jugStat which, long long n);

/* A request starts (+1) or stops (-1) being held (parked long-poll or stream). */
void jugStatsHeld(int delta);

/* The host-wide hold limit in force once "max_held auto" is resolved (0: no
 * shared count). Until it is set, the status shows the configured value. */
void jugStatsSetHeldLimit(int limit);

typedef struct jugStatsSnapshot {
    long long totals[JUG_STAT_COUNT];
    double rates[JUG_STAT_COUNT];   /* per second over the last JUG_STATS_WINDOW_S */
    long long held;                 /* requests held now */
    int held_limit;                 /* from jugStatsSetHeldLimit, or -1 if never set */
    long long uptime_ms;
} jugStatsSnapshot;

/* Every number at once. */
void jugStatsRead(jugStatsSnapshot *out);

#endif
