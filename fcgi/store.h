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
    int unsent;              /* a pipelined batch was lost unsent: Redis had closed the connection */
    char err[256];
} jugStore;

/* A batch of deliveries ({"id":n,...} JSON texts), oldest first. */
typedef struct jugDeliveries {
    char **items;
    size_t *lens;
    long long *ids;
    int count;
} jugDeliveries;

void jugStoreInit(jugStore *store, const jugConfig *cfg);
void jugStoreClose(jugStore *store);

/* The load a retry interval is derived from (jugHoldRetryMs), as connect.lua
 * and a refused poll.lua report it where hold slots are counted. */
typedef struct jugHoldLoad {
    long long sessions;      /* live sessions */
    long long connects;      /* sessions opened this second and the last */
    long long live;          /* worker processes counted alive (0: not counted) */
} jugHoldLoad;

/* Where hold slots are counted (max_held > 0): whether one is free now,
 * and the load. */
typedef struct jugSlotLoad {
    int max_held, reserve;   /* in: as in jugPollArgs; max_held 0: nothing is asked */
    int full;                /* out: no slot free now */
    jugHoldLoad load;        /* out */
} jugSlotLoad;

/* Create a session (fresh CSPRNG id into sid), optionally subscribed; with
 * load (may be NULL), also how busy the hold slots are. */
jugStoreStatus jugStoreConnect(jugStore *store, const char *meta, const char **channels, int count,
                               char sid[JUG_SID_LEN + 1], jugSlotLoad *load);
jugStoreStatus jugStoreSubscribe(jugStore *store, const char *sid, const char **channels, int count);
jugStoreStatus jugStoreUnsubscribe(jugStore *store, const char *sid, const char **channels, int count);
jugStoreStatus jugStoreSetMeta(jugStore *store, const char *sid, const char *meta);
jugStoreStatus jugStoreEvent(jugStore *store, const char *sid, const char *data);
jugStoreStatus jugStoreDisconnect(jugStore *store, const char *sid);

/* Acknowledge up to ack and fetch up to max deliveries with id > after
 * (docs/PROTOCOL.md, 3). */
jugStoreStatus jugStorePoll(jugStore *store, const char *sid, long long ack, long long after, int max,
                            jugDeliveries *out);
void jugDeliveriesFree(jugDeliveries *d);

/* A poll that may be held (poll.lua with a token). */
typedef struct jugPollArgs {
    long long ack, after;
    int max;                 /* deliveries at most */
    const char *token;       /* names the request in Redis; supersedes older ones */
    int hold;                /* 0 never, 1 when nothing is pending, 2 always (stream) */
    long long hold_ms;       /* how long the hold may last at most */
    int max_held;            /* host-wide slots (0: not counted) */
    int reserve;             /* with max_held: live worker processes a hold must leave
                              * unheld (poll.lua; host.h's jugHostHoldReserve) */
} jugPollArgs;

typedef struct jugPollResult {
    jugDeliveries d;
    long long lost;          /* deliveries trimmed from the queue since the last poll */
    int held;                /* 0 not held, 1 held, 2 refused: no slot free */
    long long seq;           /* held: the delivery counter when read */
    char **channels;         /* held: the session's channels */
    int channel_count;
    jugHoldLoad load;        /* refused: the load */
} jugPollResult;

jugStoreStatus jugStorePollHold(jugStore *store, const char *sid, const jugPollArgs *args,
                                jugPollResult *out);
void jugPollResultFree(jugPollResult *r);

/* n polls in one pipelined round trip (the event loop reads every request
 * handed over since its last turn at once): st[i] and out[i] for sids[i]
 * and args[i], as jugStorePollHold would give them (out[i] empty unless
 * OK). A poll Redis did not run (the script was not loaded, or Redis had
 * closed the connection before the batch arrived) runs again on its own
 * once the batch's replies are in. */
void jugStorePollBatch(jugStore *store, int n, const char *const *sids, const jugPollArgs *args,
                       jugStoreStatus *st, jugPollResult *out);

/* Mark the sessions of held streams alive; *dead (malloc'd, count in
 * *ndead) gets the sids that are not. */
jugStoreStatus jugStoreTouch(jugStore *store, const char **sids, int count, char ***dead, int *ndead);

/* Count this worker process (instance) alive in Redis for ttl_ms more, or
 * gone (ttl_ms 0); a process new there marks the host as starting processes
 * for spawning_ms. *live gets how many are alive now. */
jugStoreStatus jugStoreProcAlive(jugStore *store, const char *instance, long long ttl_ms,
                                 long long spawning_ms, long long *live);

/* Give back a host-wide hold slot. */
jugStoreStatus jugStoreReleaseSlot(jugStore *store, const char *token);

/* Run one plain command (no script) on a key of keys.h, reconnecting once if
 * a reused connection turns out closed. Returns the reply (free it with
 * freeReplyObject; it may be a Redis error), or NULL with err: unavailable. */
redisReply *jugStoreCommand(jugStore *store, int argc, const char **argv);

/* Publish raw text on the app channel (demo publish endpoint only). */
jugStoreStatus jugStorePublish(jugStore *store, const char *message);

/* The id at the front of a delivery text, 0 if none. */
long long jugDeliveryId(const char *item);

#endif
