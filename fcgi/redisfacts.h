/* redisfacts.h -- what Redis says about this deployment, gathered for the
 * status endpoint (status.c) and for "--check" (check.c): reachable and its
 * version, counts of sessions, subscriptions, channels and held requests,
 * and who holds the poller's lease, since when and for how much longer. */
#ifndef JUG_REDISFACTS_H
#define JUG_REDISFACTS_H

#include "config.h"

/* What Redis said; a count is -1 when unknown. */
typedef struct jugRedisFacts {
    int reachable;
    char error[256];                /* why not reachable */
    char version[32];
    long long sessions, subscriptions, channels, held_host;
    char holder[160];               /* empty: no active poller */
    long long lease_age_ms, lease_ttl_ms;   /* -1: unknown */
} jugRedisFacts;

/* Connects (waiting at most timeout_ms), asks, disconnects; f says what was
 * learnt (reachable 0 and error when nothing). */
void jugRedisFactsGather(const jugConfig *cfg, int timeout_ms, jugRedisFacts *f);

#endif
