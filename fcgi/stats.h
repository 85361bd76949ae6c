/* stats.h -- process-local counters for the status endpoint (fcgi/status.c).
 *
 * Cheap enough for every delivery: an add is one relaxed atomic add (plus,
 * once per second, a short lock to note the totals for the rates). Held
 * requests are counted by the loop that holds them (park.h). The numbers
 * describe this worker process only; with several processes each
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

typedef struct jugStatsSnapshot {
    long long totals[JUG_STAT_COUNT];
    double rates[JUG_STAT_COUNT];   /* per second over the last JUG_STATS_WINDOW_S */
    long long uptime_ms;
} jugStatsSnapshot;

/* Every number at once. */
void jugStatsRead(jugStatsSnapshot *out);

#endif
