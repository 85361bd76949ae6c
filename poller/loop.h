/* loop.h -- the poller's work: subscribe, hold or watch the lease, fan out,
 * reap lapsed sessions (docs/PROTOCOL.md, 5).
 *
 * One jugPollerLoop is one poller: juggernaut-poller runs one, and a worker
 * process may run one in a thread where no daemon may run (the setting
 * embedded_poller). The caller turns it with jugPollerLoopStep, which
 * returns within about a second, until it wants to stop. */
#ifndef JUG_POLLER_LOOP_H
#define JUG_POLLER_LOOP_H

#include <stddef.h>

#include "config.h"
#include "leader.h"
#include "subscriber.h"

typedef struct jugPollerLoop {
    const jugConfig *cfg;
    char id[128];
    jugSubscriber sub;
    redisContext *cmd;         /* scripts: fan-out, lease, reap */
    jugLeader leader;
    int connected;             /* both connections open (subscription maybe unconfirmed) */
    int subscribed;            /* Redis confirmed the subscription */
    int lost;                  /* set mid-loop; the connections close after it */
    int attempts;              /* failed connection attempts since the last success */
    int backoff_ms;
    int auth_failing;          /* the last attempt failed on AUTH/NOAUTH */
    int ever_subscribed;
    long long next_connect, next_lease, next_reap;
} jugPollerLoop;

/* "<hostname>:<pid>:<random>" into out, unless given. */
void jugPollerMakeId(char *out, size_t outlen, const char *given);

/* Set up a poller named id on cfg (which must outlive it). */
void jugPollerLoopInit(jugPollerLoop *p, const jugConfig *cfg, const char *id);

/* One turn: connect if needed, keep the timers, deliver, wait (at most
 * about a second) and read what came. */
void jugPollerLoopStep(jugPollerLoop *p);

/* Release the lease (a standby takes over at once), log what was left and
 * close everything. */
void jugPollerLoopFinish(jugPollerLoop *p);

#endif
