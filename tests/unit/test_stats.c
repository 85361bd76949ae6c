/* test_stats.c -- unit tests of fcgi/stats.c: totals under concurrent adds,
 * and the rates over a clock the test moves itself (this file defines the
 * jugNowMs() that stats.c reads). */
#include "autoconfig.h"
#include "stats.h"
#include "tap.h"

#include <pthread.h>

static long long fakeNowMs;

long long jugNowMs(void);   /* as fcgi/hold.h declares it; stats.c reads it */
long long jugNowMs(void) {
    return __atomic_load_n(&fakeNowMs, __ATOMIC_RELAXED);
}

#define THREADS 4
#define ADDS 50000

static void *adder(void *arg) {
    (void)arg;
    for (int i = 0; i < ADDS; i++) jugStatsAdd(JUG_STAT_REQUESTS, 1);
    return NULL;
}

static int near(double got, double want) {
    return got > want * 0.9 && got < want * 1.1;
}

int main(void) {
    jugStatsSnapshot s;
    fakeNowMs = 1000000;   /* second 1000 */
    jugStatsInit();
    jugStatsRead(&s);
    TAP_OK(s.uptime_ms == 0 && s.totals[JUG_STAT_DELIVERIES] == 0 && s.rates[JUG_STAT_DELIVERIES] == 0,
           "all zero at the start");

    jugStatsAdd(JUG_STAT_DELIVERIES, 10);
    fakeNowMs = 1000500;
    jugStatsRead(&s);
    TAP_OK(s.totals[JUG_STAT_DELIVERIES] == 10 && s.uptime_ms == 500, "total and uptime (%lld, %lld)",
           s.totals[JUG_STAT_DELIVERIES], s.uptime_ms);
    TAP_OK(near(s.rates[JUG_STAT_DELIVERIES], 10), "younger than a second: the total over one second (%.3f)",
           s.rates[JUG_STAT_DELIVERIES]);

    for (int sec = 1001; sec <= 1020; sec++) {
        fakeNowMs = (long long)sec * 1000 + 100;
        jugStatsAdd(JUG_STAT_DELIVERIES, 10);
        jugStatsAdd(JUG_STAT_PUBLISHES, 2);
    }
    fakeNowMs = 1020500;
    jugStatsRead(&s);
    TAP_OK(s.totals[JUG_STAT_DELIVERIES] == 210 && s.totals[JUG_STAT_PUBLISHES] == 40, "totals after 20 s");
    TAP_OK(near(s.rates[JUG_STAT_DELIVERIES], 10) && near(s.rates[JUG_STAT_PUBLISHES], 2),
           "10 and 2 a second over the last %d s (%.3f, %.3f)", JUG_STATS_WINDOW_S,
           s.rates[JUG_STAT_DELIVERIES], s.rates[JUG_STAT_PUBLISHES]);
    TAP_OK(s.rates[JUG_STAT_CONNECTS] == 0, "a counter never added stays at rate 0");

    for (int sec = 1021; sec <= 1030; sec++) {
        fakeNowMs = (long long)sec * 1000;
        jugStatsAdd(JUG_STAT_DELIVERIES, 100);
    }
    fakeNowMs = 1030500;
    jugStatsRead(&s);
    TAP_OK(near(s.rates[JUG_STAT_DELIVERIES], 100), "the rate follows a change within the window (%.3f)",
           s.rates[JUG_STAT_DELIVERIES]);

    fakeNowMs = 1200000;   /* idle for longer than the ring */
    jugStatsRead(&s);
    TAP_OK(s.rates[JUG_STAT_DELIVERIES] == 0 && s.totals[JUG_STAT_DELIVERIES] == 1210,
           "idle: rate 0, total kept (%.3f, %lld)", s.rates[JUG_STAT_DELIVERIES], s.totals[JUG_STAT_DELIVERIES]);

    jugStatsAdd((jugStat)JUG_STAT_COUNT, 5);
    jugStatsAdd((jugStat)-1, 5);
    TAP_OK(1, "an unknown counter is ignored");

    pthread_t t[THREADS];
    long long before = s.totals[JUG_STAT_REQUESTS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, adder, NULL);
    for (int i = 0; i < 200; i++) __atomic_add_fetch(&fakeNowMs, 1000, __ATOMIC_RELAXED);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    jugStatsRead(&s);
    TAP_OK(s.totals[JUG_STAT_REQUESTS] - before == (long long)THREADS * ADDS,
           "%d threads adding at once lose nothing (%lld)", THREADS, s.totals[JUG_STAT_REQUESTS] - before);
    for (int i = 0; i < JUG_STAT_COUNT; i++)
        TAP_OK(jugStatNames[i] && *jugStatNames[i], "counter %d has a name", i);
    return tapDone();
}
