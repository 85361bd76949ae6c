/* loop.c -- the poller's work, one turn at a time (see loop.h).
 *
 * poll() on the pub/sub socket wakes a turn for messages and times out for
 * the lease, retry and reaper timers; while Redis is away a turn sleeps
 * until the next reconnect attempt (100 ms doubling to 5 s; 1 s doubling to
 * 30 s when Redis refuses our password). */
#include "autoconfig.h"
#include "loop.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fanout.h"
#include "log.h"
#include "reaper.h"
#include "reset.h"
#include "redis.h"
#include "sid.h"

#define COMMAND_TIMEOUT_MS 5000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define AUTH_BACKOFF_FIRST_MS 1000
#define AUTH_BACKOFF_MAX_MS 30000
#define REAP_INTERVAL_MS 1000

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "<hostname>:<pid>:<random>" unless given. */
void jugPollerMakeId(char *out, size_t outlen, const char *given) {
    if (given) {
        snprintf(out, outlen, "%s", given);
        return;
    }
    char host[64] = "localhost", rnd[JUG_SID_LEN + 1] = "00000000";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    jugSidGenerate(rnd);
    snprintf(out, outlen, "%s:%d:%.8s", host, (int)getpid(), rnd);
}

/* ---- connections ---- */

static void closeConnections(jugPollerLoop *p) {
    jugSubscriberClose(&p->sub);
    if (p->cmd) redisFree(p->cmd);
    p->cmd = NULL;
    p->connected = 0;
    p->subscribed = 0;
}

static int isAuthError(const char *err) {
    return jugRedisErrorKindOf(err) == JUG_REDIS_ERR_AUTH || strstr(err, "invalid password");
}

/* A failed attempt (or a connection that died before Redis confirmed the
 * subscription): log the first one, back off. Refused credentials get one
 * error line and a slower backoff: retrying fast cannot fix a password. */
static void attemptFailed(jugPollerLoop *p, const char *err) {
    int auth = isAuthError(err);
    if (auth && !p->auth_failing) {
        p->backoff_ms = AUTH_BACKOFF_FIRST_MS;
        jugLog(JUG_LOG_ERROR, "Redis refused our credentials: %s; check the password in "
               "redis_url; retrying every %d s at most", err, AUTH_BACKOFF_MAX_MS / 1000);
    } else if (p->attempts == 0 && !auth) {
        jugLog(JUG_LOG_WARNING, "cannot %s Redis: %s; retrying",
               p->ever_subscribed ? "reconnect to" : "connect to", err);
    } else {
        jugLog(JUG_LOG_DEBUG, "connection attempt %d failed: %s", p->attempts + 1, err);
    }
    p->auth_failing = auth;
    p->attempts++;
    p->next_connect = nowMs() + p->backoff_ms;
    int max = auth ? AUTH_BACKOFF_MAX_MS : BACKOFF_MAX_MS;
    p->backoff_ms = p->backoff_ms * 2 > max ? max : p->backoff_ms * 2;
}

static void onMessage(void *ctx, jugSubscriberKind kind, const char *channel, const char *payload,
                      size_t len);

/* Before closing: take what Redis had already sent on the pub/sub socket.
 * When the command link fails first (Redis shutting down), messages it
 * passed on just before are still unread there; closing would lose them. */
static void drainSubscriber(jugPollerLoop *p) {
    char err[256];
    for (int i = 0; i < 1000 && p->sub.c; i++) {
        struct pollfd pfd = {jugSubscriberFd(&p->sub), POLLIN, 0};
        if (poll(&pfd, 1, 0) <= 0 ||
            jugSubscriberRead(&p->sub, onMessage, p, err, sizeof(err)) < 0)
            break;
    }
}

/* Drop both connections after a failure and schedule the next attempt. A
 * connection that had been confirmed retries at once and logs the loss; one
 * that never was counts as a failed attempt (no reconnect storm). */
static void connectionLost(jugPollerLoop *p, const char *why) {
    char reason[256];
    snprintf(reason, sizeof(reason), "%s", why);   /* why may be a context's errstr */
    int was_subscribed = p->subscribed;
    if (was_subscribed) drainSubscriber(p);
    closeConnections(p);
    jugLeaderLost(&p->leader);
    p->lost = 0;
    if (!was_subscribed) {
        attemptFailed(p, reason);
        return;
    }
    p->attempts = 0;
    p->backoff_ms = BACKOFF_FIRST_MS;
    p->next_connect = nowMs() + p->backoff_ms;
    jugLog(JUG_LOG_WARNING, "lost connection to Redis: %s; reconnecting", reason);
}

/* Open both connections. The command connection must answer PING: without
 * a password Redis accepts the connection and refuses every command. */
static void tryConnect(jugPollerLoop *p) {
    char err[256];
    p->cmd = jugRedisConnect(&p->cfg->redis, COMMAND_TIMEOUT_MS, err, sizeof(err));
    if (p->cmd) {
        redisReply *r = redisCommand(p->cmd, "PING");
        if (!r) snprintf(err, sizeof(err), "PING: %s", p->cmd->errstr);
        else if (r->type == REDIS_REPLY_ERROR) snprintf(err, sizeof(err), "%s", r->str);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (r) freeReplyObject(r);
        if (ok && jugSubscriberConnect(&p->sub, p->cfg, err, sizeof(err)) == 0) {
            p->connected = 1;
            long long now = nowMs();
            p->next_lease = now;  /* take or check the lease before anything else */
            p->next_reap = now + REAP_INTERVAL_MS;
            return;
        }
    }
    closeConnections(p);
    attemptFailed(p, err);
}

/* Redis confirmed the subscription: only now are we listening. */
static void subscribed(jugPollerLoop *p) {
    p->subscribed = 1;
    if (p->ever_subscribed)
        jugLog(JUG_LOG_INFO, "reconnected, resubscribed to %s%s%s after %d attempt(s)",
               p->cfg->channel, p->cfg->jugglite_namespace[0] ? " and Jugglite " : "",
               p->cfg->jugglite_namespace, p->attempts + 1);
    else
        jugLog(JUG_LOG_INFO, "subscribed to %s%s%s as poller %s", p->cfg->channel,
               p->cfg->jugglite_namespace[0] ? " and Jugglite " : "", p->cfg->jugglite_namespace,
               p->id);
    p->ever_subscribed = 1;
    p->attempts = 0;
    p->auth_failing = 0;
    p->backoff_ms = BACKOFF_FIRST_MS;
}

/* ---- work ---- */

/* Lease every poller_lease_ms/3, reaper every second (active poller only).
 * Nothing before the subscription is confirmed: a takeover marker published
 * earlier could not come back to us. */
static void serviceTimers(jugPollerLoop *p) {
    long long now = nowMs();
    if (p->lost || !p->connected || !p->subscribed) return;
    if (now >= p->next_lease) {
        p->next_lease = now + p->cfg->poller_lease_ms / 3;
        if (jugLeaderTick(&p->leader, p->cmd, now) < 0) {
            p->lost = 1;
            return;
        }
        if (p->leader.data_lost) {
            p->leader.data_lost = 0;
            if (jugResetAnnounce(p->cmd, p->cfg) < 0) {
                p->lost = 1;
                return;
            }
        }
    }
    if (now >= p->next_reap) {
        p->next_reap = now + REAP_INTERVAL_MS;
        if (p->leader.role == JUG_ROLE_ACTIVE && jugReaperRun(p->cmd, p->cfg) < 0) p->lost = 1;
    }
}

static void onMessage(void *ctx, jugSubscriberKind kind, const char *channel, const char *payload,
                      size_t len) {
    jugPollerLoop *p = ctx;
    if (kind == JUG_SUB_LISTENING) {
        subscribed(p);
        jugLeaderListening(&p->leader);
        return;
    }
    if (kind == JUG_SUB_NOTIFY) {
        jugLeaderNotification(&p->leader, payload, len);
        return;
    }
    char hash[JUG_HASH_LEN + 1];
    jugFanoutHash(hash, channel, payload, len);
    jugLeaderRemember(&p->leader, channel, payload, len, hash, nowMs());
}

/* Deliver what is due; 1 if more is due at once. */
static int pump(jugPollerLoop *p) {
    if (p->lost || !p->connected || !p->subscribed) return 0;
    int rc = jugLeaderPump(&p->leader, p->cmd, nowMs());
    if (rc < 0) p->lost = 1;
    return rc > 0;
}

static int msUntil(long long when, long long now) {
    long long d = when - now;
    return d < 0 ? 0 : d > 1000 ? 1000 : (int)d;
}

void jugPollerLoopStep(jugPollerLoop *p) {
    char err[256];
    if (!p->connected) {
        long long now = nowMs();
        if (now < p->next_connect) {
            poll(NULL, 0, msUntil(p->next_connect, now));
            return;
        }
        tryConnect(p);
        if (!p->connected) return;
    }
    serviceTimers(p);
    int more = pump(p);
    if (!p->lost) {
        long long now = nowMs();
        long long next = p->next_lease < p->next_reap ? p->next_lease : p->next_reap;
        long long wake = jugLeaderWakeAt(&p->leader);
        if (wake < next) next = wake;
        struct pollfd pfd = {jugSubscriberFd(&p->sub), POLLIN, 0};
        int n = poll(&pfd, 1, more ? 0 : msUntil(next, now));
        if (n > 0 && jugSubscriberRead(&p->sub, onMessage, p, err, sizeof(err)) < 0) {
            connectionLost(p, err);
            return;
        }
        pump(p);
    }
    if (p->lost)
        connectionLost(p, p->cmd && p->cmd->err ? p->cmd->errstr : "command connection failed");
}

void jugPollerLoopInit(jugPollerLoop *p, const jugConfig *cfg, const char *id) {
    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    snprintf(p->id, sizeof(p->id), "%s", id);
    jugLeaderInit(&p->leader, cfg, p->id);
    p->backoff_ms = BACKOFF_FIRST_MS;
    p->next_connect = nowMs();
}

/* How long a stopping poller goes on delivering what it already received. */
#define FINISH_DRAIN_MS 2000

void jugPollerLoopFinish(jugPollerLoop *p) {
    /* What Redis already passed on to us is ours to deliver: read it from
     * the socket and deliver it (bounded), or a lone poller stopped on a busy
     * machine would lose messages it never looked at. */
    if (p->connected && p->subscribed && !p->lost) {
        long long until = nowMs() + FINISH_DRAIN_MS;
        drainSubscriber(p);
        while (pump(p) && nowMs() < until) {
        }
    }
    /* Release the lease so a standby takes over at its next tick instead
     * of waiting for it to lapse; what we had not delivered it replays. */
    if (p->connected && !p->lost) jugLeaderRelease(&p->leader, p->cmd);
    if (p->leader.role == JUG_ROLE_ACTIVE && p->leader.count > p->leader.next)
        jugLog(JUG_LOG_WARNING, "stopping with %zu message(s) not delivered yet: a standby "
               "delivers them, if one runs", p->leader.count - p->leader.next);
    jugLeaderSummary(&p->leader, nowMs(), 1);
    closeConnections(p);
    jugLeaderFree(&p->leader);
}
