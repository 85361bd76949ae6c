/* store.h -- the session store: every Redis operation the worker performs.
 *
 * One jugStore per worker thread, holding that thread's Redis connection
 * (reconnected on demand). Operations run the Lua scripts of common/lua/, so
 * each is one atomic round trip. Results are jugStoreStatus values that the
 * handlers map to HTTP statuses: NO_SESSION -> 410, TOO_MANY -> 413,
 * UNAVAILABLE -> 503 (Redis unreachable, or in a state that passes: LOADING,
 * BUSY, OOM, READONLY, MASTERDOWN, NOAUTH..., see jugRedisErrorKindOf). */
#ifndef JUG_STORE_H
#define JUG_STORE_H

#include <hiredis/hiredis.h>
#include "config.h"
#include "redis.h"
#include "sid.h"

typedef enum {
    JUG_STORE_OK = 0,
    JUG_STORE_NO_SESSION,    /* unknown or expired session */
    JUG_STORE_TOO_MANY,      /* would exceed max_channels_per_session */
    JUG_STORE_UNAVAILABLE,   /* Redis unreachable or refusing for now; kind and err say why */
    JUG_STORE_ERROR          /* unexpected reply; err says what */
} jugStoreStatus;

typedef struct jugStore {
    const jugConfig *cfg;
    redisContext *redis;     /* NULL until first use or after a failure */
    jugRedisErrorKind kind;  /* what the last failure was (NONE after a success) */
    char err[256];
} jugStore;

/* A batch of deliveries ({"id":n,...} JSON texts), oldest first. */
typedef struct jugDeliveries {
    char **items;
    size_t *lens;
    long long *ids;
    int count;
} jugDeliveries;

typedef enum {
    JUG_WAIT_READY = 0,      /* something arrived: poll again */
    JUG_WAIT_TIMEOUT,        /* nothing within the timeout */
    JUG_WAIT_CLIENT_GONE,    /* the web server closed the request's connection */
    JUG_WAIT_ERROR           /* Redis failed; err says why */
} jugWaitResult;

void jugStoreInit(jugStore *store, const jugConfig *cfg);
void jugStoreClose(jugStore *store);

/* Create a session (fresh CSPRNG id into sid), optionally subscribed. */
jugStoreStatus jugStoreConnect(jugStore *store, const char *meta, const char **channels, int count,
                               char sid[JUG_SID_LEN + 1]);
jugStoreStatus jugStoreSubscribe(jugStore *store, const char *sid, const char **channels, int count);
jugStoreStatus jugStoreUnsubscribe(jugStore *store, const char *sid, const char **channels, int count);
jugStoreStatus jugStoreSetMeta(jugStore *store, const char *sid, const char *meta);
jugStoreStatus jugStoreEvent(jugStore *store, const char *sid, const char *data);
jugStoreStatus jugStoreDisconnect(jugStore *store, const char *sid);

/* Acknowledge up to ack, drain the inbox, fetch up to max deliveries with
 * id > after (docs/PROTOCOL.md, 3). nudged: the last wait moved a nudge. */
jugStoreStatus jugStorePoll(jugStore *store, const char *sid, long long ack, long long after, int max,
                            int nudged, jugDeliveries *out);
void jugDeliveriesFree(jugDeliveries *d);

/* Block until the session's inbox gets something (BLMOVE into "sent"), the
 * timeout passes, or client_fd (>= 0) shows the web server hung up. On
 * CLIENT_GONE a nudge is pushed so another waiting request sees what this one
 * may have moved. *nudged is set when the moved item was a nudge. */
jugWaitResult jugStoreWait(jugStore *store, const char *sid, int timeout_ms, int client_fd, int *nudged);

/* Called every tick_ms while a wait blocks; returns 0 to go on waiting, -1
 * when the client is gone (a write to it failed), which ends the wait as
 * CLIENT_GONE, or 1 to end the wait now as a TIMEOUT (shutting down). */
typedef int (*jugWaitTick)(void *arg);

/* jugStoreWait that also calls tick(arg) every tick_ms (tick may be NULL).
 * lighttpd notices a browser that left only when it writes to it, so a
 * waiting request writes something harmless now and then. */
jugWaitResult jugStoreWaitTick(jugStore *store, const char *sid, int timeout_ms, int client_fd,
                               int *nudged, int tick_ms, jugWaitTick tick, void *arg);

/* Push a nudge onto the session's inbox so that a request waiting on it
 * wakes up and re-reads "sent" (after this request moved something there
 * that it could not hand to its client). */
jugStoreStatus jugStoreNudge(jugStore *store, const char *sid);

/* Publish raw text on the app channel (demo publish endpoint only). */
jugStoreStatus jugStorePublish(jugStore *store, const char *message);

/* The id at the front of a delivery text, 0 if none. */
long long jugDeliveryId(const char *item);

#endif
