/* stats.c -- process-local counters and their rates (see stats.h).
 *
 * Totals are atomic counters. For the rates, the first add of each second
 * (of the monotonic clock, jugNowMs) notes all totals in a ring of
 * per-second snapshots; a rate is (total now - total at the snapshot
 * closest to JUG_STATS_WINDOW_S ago) / the seconds between. Seconds without
 * any add have no snapshot and need none: nothing changed in them. */
#include "autoconfig.h"
#include "stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "hold.h"   /* jugNowMs */

#define RING 64   /* seconds of snapshots kept; more than the window */

const char *const jugStatNames[JUG_STAT_COUNT] = {
    [JUG_STAT_REQUESTS] = "requests",
    [JUG_STAT_CONNECTS] = "connects",
    [JUG_STAT_DELIVERIES] = "deliveries",
    [JUG_STAT_PUBLISHES] = "publishes",
};

static atomic_llong totals[JUG_STAT_COUNT];
static atomic_llong lastSecond = -1;
static long long startMs;

static pthread_mutex_t ringLock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    long long second;   /* -1: empty */
    long long totals[JUG_STAT_COUNT];
} ring[RING];

void jugStatsInit(void) {
    startMs = jugNowMs();
    pthread_mutex_lock(&ringLock);
    for (int i = 0; i < RING; i++) ring[i].second = -1;
    pthread_mutex_unlock(&ringLock);
}

/* Note the totals as they are at the start of this second (once). */
static void noteSecond(long long second) {
    long long seen = atomic_load_explicit(&lastSecond, memory_order_relaxed);
    if (seen == second || !atomic_compare_exchange_strong(&lastSecond, &seen, second)) return;
    pthread_mutex_lock(&ringLock);
    ring[second % RING].second = second;
    for (int i = 0; i < JUG_STAT_COUNT; i++) ring[second % RING].totals[i] = atomic_load(&totals[i]);
    pthread_mutex_unlock(&ringLock);
}

void jugStatsAdd(jugStat which, long long n) {
    if ((unsigned)which >= JUG_STAT_COUNT) return;
    noteSecond(jugNowMs() / 1000);
    atomic_fetch_add_explicit(&totals[which], n, memory_order_relaxed);
}

void jugStatsRead(jugStatsSnapshot *out) {
    memset(out, 0, sizeof(*out));
    long long now = jugNowMs();
    long long second = now / 1000;
    noteSecond(second);
    for (int i = 0; i < JUG_STAT_COUNT; i++) out->totals[i] = atomic_load(&totals[i]);
    out->uptime_ms = now - startMs;
    /* The newest snapshot at least a window old, else the oldest one there is. */
    int best = -1;
    pthread_mutex_lock(&ringLock);
    for (int i = 0; i < RING; i++) {
        long long s = ring[i].second;
        if (s < 0 || s > second - JUG_STATS_WINDOW_S || second - s >= RING) continue;
        if (best < 0 || s > ring[best].second) best = i;
    }
    long long base[JUG_STAT_COUNT] = {0};
    long long since = startMs / 1000;
    if (best >= 0) {
        memcpy(base, ring[best].totals, sizeof(base));
        since = ring[best].second;
    } else {
        /* Younger than the window, or idle for a ring's length: from start,
         * or from the oldest snapshot in the ring. */
        for (int i = 0; i < RING; i++)
            if (ring[i].second >= 0 && second - ring[i].second < RING &&
                (best < 0 || ring[i].second < ring[best].second))
                best = i;
        if (best >= 0 && ring[best].second > since) {
            memcpy(base, ring[best].totals, sizeof(base));
            since = ring[best].second;
        }
    }
    pthread_mutex_unlock(&ringLock);
    double seconds = (double)(now - since * 1000) / 1000.0;
    if (seconds < 1.0) seconds = 1.0;
    for (int i = 0; i < JUG_STAT_COUNT; i++) out->rates[i] = (double)(out->totals[i] - base[i]) / seconds;
}
