/* leader.h -- which poller is active, and what a standby keeps for takeover.
 *
 * Every poller remembers the messages it received in the last
 * 2 x poller_lease_ms (raw payload, hash, time). The lease is taken or renewed
 * with common/lua/lease.lua; a poller that takes it over (or reconnects while
 * still holding it) replays what it remembers after the message named by
 * <prefix>poller:last, the last one the active poller delivered, skipping
 * those it handled itself (they are in Redis already). */
#ifndef JUG_POLLER_LEADER_H
#define JUG_POLLER_LEADER_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include "config.h"
#include "fanout.h"

/* What became of a remembered message. */
#define JUG_HANDLED_NOT 0      /* not delivered by us (the active poller may have) */
#define JUG_HANDLED_YES 1      /* delivered (or dropped) already: never replay */
#define JUG_HANDLED_UNSURE 2   /* sent to Redis, the connection failed before the answer */

typedef struct jugRemembered {
    char *channel;          /* NULL: app channel; else the Jugglite channel */
    char *payload;
    size_t len;
    char hash[JUG_HASH_LEN + 1];
    long long at_ms;        /* monotonic receive time */
    int handled;            /* JUG_HANDLED_*: replay only what is JUG_HANDLED_NOT */
} jugRemembered;

typedef struct jugLeader {
    const jugConfig *cfg;
    const char *id;
    int active;             /* 1 while we hold the lease */
    int resync;             /* 1 after a reconnect: check poller:last before delivering */
    jugRemembered *ring;    /* circular buffer of received messages, oldest first */
    size_t head, count, cap;
    size_t bytes;           /* payload bytes held, bounded */
    int overflow_logged;
} jugLeader;

void jugLeaderInit(jugLeader *l, const jugConfig *cfg, const char *id);
void jugLeaderFree(jugLeader *l);

/* Keep a received message (and forget those older than the window). */
void jugLeaderRemember(jugLeader *l, const char *channel, const char *payload, size_t len,
                       const char *hash, long long now_ms);

/* Take or renew the lease, replaying after a takeover or reconnect.
 * Returns 0, or -1 when the connection failed. */
int jugLeaderTick(jugLeader *l, redisContext *c, long long now_ms);

/* Deliver the newest remembered message if we are active (it must have just
 * been remembered). Returns 0, or -1 when the connection failed. */
int jugLeaderDeliverLatest(jugLeader *l, redisContext *c);

/* The connection was lost: we may still hold the lease, but must resync. */
void jugLeaderLost(jugLeader *l);

#endif
