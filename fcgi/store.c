/* store.c -- the worker's session store on Redis (see store.h).
 *
 * Every change to a session is one Lua script (common/lua/), run with the
 * ARGV layout documented at the top of each script; the one plain command
 * gives back a hold slot. Nothing here blocks on Redis beyond a reply:
 * waiting is done in memory by the event loop (park.h). */
#include "autoconfig.h"
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "keys.h"
#include "log.h"
#include "redis.h"

/* Connecting fails fast when Redis is not there; a reply may take longer
 * (a busy Redis is slow, not gone: giving up on it would only add the load
 * of a reconnection and turn a slow answer into a 503). */
#define CONNECT_TIMEOUT_MS 1000
#define COMMAND_TIMEOUT_MS 5000

/* The numbers every session script takes after prefix, channel and sid. */
typedef struct scriptNumbers {
    char ttl_ms[24];
    char backstop[24];
    char max_channels[24];
} scriptNumbers;

static void setError(jugStore *store, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void setError(jugStore *store, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(store->err, sizeof(store->err), fmt, ap);
    va_end(ap);
}

void jugStoreInit(jugStore *store, const jugConfig *cfg) {
    memset(store, 0, sizeof(*store));
    store->cfg = cfg;
}

/* Forget the connection: after an I/O error, or while a reply is pending. */
static void dropConnection(jugStore *store) {
    if (store->redis) redisFree(store->redis);
    store->redis = NULL;
}

void jugStoreClose(jugStore *store) {
    dropConnection(store);
}

/* Connect if needed. Returns 1 if this call made a fresh connection, 0 if
 * an old one is reused, -1 with store->err on failure. */
static int ensureConnected(jugStore *store) {
    if (store->redis) return 0;
    char err[200];
    store->redis = jugRedisConnect(&store->cfg->redis, CONNECT_TIMEOUT_MS, err, sizeof(err));
    if (!store->redis) {
        /* Refused credentials say so; anything else means no connection. */
        store->kind = jugRedisErrorKindOf(err);
        if (!jugRedisErrorTransient(store->kind)) store->kind = JUG_REDIS_ERR_CONNECTION;
        setError(store, "%s", err);
        return -1;
    }
    struct timeval tv = {COMMAND_TIMEOUT_MS / 1000, (COMMAND_TIMEOUT_MS % 1000) * 1000};
    redisSetTimeout(store->redis, tv);
    return 1;
}

static int backstopSeconds(const jugConfig *cfg) {
    long b = (long)cfg->session_ttl * 10;
    return b < 600 ? 600 : (int)b;
}

static void fillNumbers(scriptNumbers *n, const jugConfig *cfg) {
    snprintf(n->ttl_ms, sizeof(n->ttl_ms), "%lld", (long long)cfg->session_ttl * 1000);
    snprintf(n->backstop, sizeof(n->backstop), "%d", backstopSeconds(cfg));
    snprintf(n->max_channels, sizeof(n->max_channels), "%d", cfg->max_channels_per_session);
}

/* 1 if the connection failed because the server had closed it -- so the
 * command never ran and may be sent again on a new connection. A timeout
 * is not such a failure: the script may have run. */
static int closedByServer(const redisContext *c) {
    return c->err == REDIS_ERR_EOF ||
           (c->err == REDIS_ERR_IO && (errno == EPIPE || errno == ECONNRESET));
}

/* Run a script, reconnecting once if a reused connection turns out dead
 * (Redis restarted since this thread last used it). NULL: unavailable. */
static redisReply *runScript(jugStore *store, jugScript script, int argc, const char **argv) {
    for (int attempt = 0; attempt < 2; attempt++) {
        int fresh = ensureConnected(store);
        if (fresh < 0) return NULL;
        redisReply *r = jugRedisScript(store->redis, script, 0, argc, argv, NULL);
        if (r) return r;
        store->kind = JUG_REDIS_ERR_CONNECTION;
        setError(store, "Redis: %s", store->redis->errstr);
        int retry = !fresh && closedByServer(store->redis);
        dropConnection(store);
        if (!retry) break;
    }
    return NULL;
}

/* Redis answered: if that ends an episode of failures, say so once. */
static void noteAnswered(jugStore *store) {
    jugRedisErrorKind was;
    long failures;
    store->kind = JUG_REDIS_ERR_NONE;
    if (jugRedisEpisodeOk(&was, &failures) == JUG_EPISODE_ENDED)
        jugLog(JUG_LOG_WARNING, "Redis answers again (%ld request(s) got 503 while it %s)", failures,
               jugRedisErrorMeaning(was));
}

/* The status of a script's reply (NULL: no answer). The project's own
 * errors first; then a state of Redis that passes is UNAVAILABLE (503,
 * retry), anything else an ERROR (500, a bug). */
static jugStoreStatus replyStatus(jugStore *store, redisReply *r) {
    if (!r) return JUG_STORE_UNAVAILABLE;
    if (r->type != REDIS_REPLY_ERROR) {
        noteAnswered(store);
        return JUG_STORE_OK;
    }
    jugStoreStatus st = JUG_STORE_ERROR;
    store->kind = JUG_REDIS_ERR_OTHER;
    if (!strncmp(r->str, "NOSESSION", 9)) {
        noteAnswered(store);
        st = JUG_STORE_NO_SESSION;
    } else if (!strncmp(r->str, "TOOMANY", 7)) {
        noteAnswered(store);
        st = JUG_STORE_TOO_MANY;
    } else if (jugRedisErrorTransient(store->kind = jugRedisErrorKindOf(r->str))) {
        st = JUG_STORE_UNAVAILABLE;
    }
    setError(store, "%s", r->str);
    return st;
}

static long long replyInteger(const redisReply *r) {
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    if (r->type == REDIS_REPLY_STRING) return strtoll(r->str, NULL, 10);
    return 0;
}

/* The load at r->element[first..first+2] (connect.lua's and a refused
 * poll.lua's: sessions, connects, live). */
static void holdLoad(const redisReply *r, size_t first, jugHoldLoad *load) {
    load->sessions = replyInteger(r->element[first]);
    load->connects = replyInteger(r->element[first + 1]);
    load->live = replyInteger(r->element[first + 2]);
}

/* Run a script; its reply goes to *reply when asked for and it is no error. */
static jugStoreStatus runKeep(jugStore *store, jugScript script, int argc, const char **argv,
                              redisReply **reply) {
    redisReply *r = runScript(store, script, argc, argv);
    jugStoreStatus st = replyStatus(store, r);
    if (reply && st == JUG_STORE_OK) *reply = r;
    else if (r) freeReplyObject(r);
    return st;
}

static jugStoreStatus runSimple(jugStore *store, jugScript script, int argc, const char **argv) {
    return runKeep(store, script, argc, argv, NULL);
}

/* argv = fixed[0..nfixed) followed by channels. */
static jugStoreStatus runWithChannels(jugStore *store, jugScript script, const char **fixed,
                                      int nfixed, const char **channels, int count, redisReply **reply) {
    const char **argv = malloc(sizeof(char *) * (size_t)(nfixed + count));
    if (!argv) {
        setError(store, "%s", "out of memory");
        return JUG_STORE_ERROR;
    }
    memcpy(argv, fixed, sizeof(char *) * (size_t)nfixed);
    for (int i = 0; i < count; i++) argv[nfixed + i] = channels[i];
    jugStoreStatus st = runKeep(store, script, nfixed + count, argv, reply);
    free(argv);
    return st;
}

jugStoreStatus jugStoreConnect(jugStore *store, const char *meta, const char **channels, int count,
                               char sid[JUG_SID_LEN + 1], jugSlotLoad *load) {
    const jugConfig *cfg = store->cfg;
    if (jugSidGenerate(sid) < 0) {
        setError(store, "%s", "no random bytes from the kernel");
        return JUG_STORE_ERROR;
    }
    scriptNumbers n;
    fillNumbers(&n, cfg);
    char max_held[24], reserve[24];
    snprintf(max_held, sizeof(max_held), "%d", load ? load->max_held : 0);
    snprintf(reserve, sizeof(reserve), "%d", load ? load->reserve : 0);
    const char *fixed[] = {cfg->key_prefix, cfg->channel, sid, meta, n.backstop, n.max_channels,
                           max_held, reserve};
    redisReply *r = NULL;
    jugStoreStatus st = runWithChannels(store, JUG_SCRIPT_CONNECT, fixed, 8, channels, count, &r);
    if (load) {
        load->full = 0;
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 5) {
            load->full = replyInteger(r->element[1]) == 1;
            holdLoad(r, 2, &load->load);
        }
    }
    if (r) freeReplyObject(r);
    return st;
}

jugStoreStatus jugStoreSubscribe(jugStore *store, const char *sid, const char **channels, int count) {
    const jugConfig *cfg = store->cfg;
    scriptNumbers n;
    fillNumbers(&n, cfg);
    const char *fixed[] = {cfg->key_prefix, cfg->channel, sid, n.ttl_ms, n.backstop, n.max_channels};
    return runWithChannels(store, JUG_SCRIPT_SUBSCRIBE, fixed, 6, channels, count, NULL);
}

jugStoreStatus jugStoreUnsubscribe(jugStore *store, const char *sid, const char **channels, int count) {
    const jugConfig *cfg = store->cfg;
    scriptNumbers n;
    fillNumbers(&n, cfg);
    const char *fixed[] = {cfg->key_prefix, cfg->channel, sid, n.ttl_ms, n.backstop};
    return runWithChannels(store, JUG_SCRIPT_UNSUBSCRIBE, fixed, 5, channels, count, NULL);
}

/* meta, event and disconnect: the five common arguments and maybe one more. */
static jugStoreStatus runSession(jugStore *store, jugScript script, const char *sid, const char *last) {
    const jugConfig *cfg = store->cfg;
    scriptNumbers n;
    fillNumbers(&n, cfg);
    const char *argv[] = {cfg->key_prefix, cfg->channel, sid, n.ttl_ms, n.backstop, last};
    return runSimple(store, script, last ? 6 : 5, argv);
}

jugStoreStatus jugStoreSetMeta(jugStore *store, const char *sid, const char *meta) {
    return runSession(store, JUG_SCRIPT_META, sid, meta);
}

jugStoreStatus jugStoreEvent(jugStore *store, const char *sid, const char *data) {
    return runSession(store, JUG_SCRIPT_EVENT, sid, data);
}

jugStoreStatus jugStoreDisconnect(jugStore *store, const char *sid) {
    return runSession(store, JUG_SCRIPT_DISCONNECT, sid, NULL);
}

long long jugDeliveryId(const char *item) {
    static const char head[] = "{\"id\":";
    if (!item || strncmp(item, head, sizeof(head) - 1)) return 0;
    long long id = 0;
    for (const char *p = item + sizeof(head) - 1; *p >= '0' && *p <= '9' && id < 100000000000000000LL; p++)
        id = id * 10 + (*p - '0');
    return id;
}

void jugDeliveriesFree(jugDeliveries *d) {
    for (int i = 0; i < d->count; i++) free(d->items[i]);
    free(d->items);
    free(d->lens);
    free(d->ids);
    memset(d, 0, sizeof(*d));
}

static jugStoreStatus copyDeliveries(jugStore *store, const redisReply *r, jugDeliveries *out) {
    if (r->type != REDIS_REPLY_ARRAY) {
        setError(store, "%s", "poll script answered something other than a list");
        return JUG_STORE_ERROR;
    }
    if (r->elements == 0) return JUG_STORE_OK;
    out->items = calloc(r->elements, sizeof(char *));
    out->lens = calloc(r->elements, sizeof(size_t));
    out->ids = calloc(r->elements, sizeof(long long));
    if (!out->items || !out->lens || !out->ids) goto oom;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING) continue;
        char *copy = malloc(e->len + 1);
        if (!copy) goto oom;
        memcpy(copy, e->str, e->len);
        copy[e->len] = '\0';
        out->items[out->count] = copy;
        out->lens[out->count] = e->len;
        out->ids[out->count] = jugDeliveryId(copy);
        out->count++;
    }
    return JUG_STORE_OK;
oom:
    jugDeliveriesFree(out);
    setError(store, "%s", "out of memory");
    return JUG_STORE_ERROR;
}

static void fmtLL(char *out, size_t len, long long v) {
    snprintf(out, len, "%lld", v);
}

static jugStoreStatus copyChannels(jugStore *store, const redisReply *r, jugPollResult *out) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return JUG_STORE_OK;
    out->channels = calloc(r->elements, sizeof(char *));
    if (!out->channels) goto oom;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING) continue;
        if (!(out->channels[out->channel_count] = strdup(e->str))) goto oom;
        out->channel_count++;
    }
    return JUG_STORE_OK;
oom:
    setError(store, "%s", "out of memory");
    return JUG_STORE_ERROR;
}

void jugPollResultFree(jugPollResult *r) {
    jugDeliveriesFree(&r->d);
    for (int i = 0; i < r->channel_count; i++) free(r->channels[i]);
    free(r->channels);
    memset(r, 0, sizeof(*r));
}

/* poll.lua's ARGV for one request (docs at the top of the script). */
typedef struct pollArgv {
    scriptNumbers n;
    char ack[24], after[24], batch[24], hold[24], hold_ms[24], max_held[24], reserve[24];
    const char *v[13];
} pollArgv;

static void pollArgvFill(pollArgv *p, const jugConfig *cfg, const char *sid, const jugPollArgs *a) {
    fillNumbers(&p->n, cfg);
    fmtLL(p->ack, sizeof(p->ack), a->ack);
    fmtLL(p->after, sizeof(p->after), a->after);
    fmtLL(p->batch, sizeof(p->batch), a->max > 0 ? a->max : 1);
    fmtLL(p->hold, sizeof(p->hold), a->hold);
    fmtLL(p->hold_ms, sizeof(p->hold_ms), a->hold_ms);
    fmtLL(p->max_held, sizeof(p->max_held), a->max_held);
    fmtLL(p->reserve, sizeof(p->reserve), a->max_held > 0 ? a->reserve : 0);
    const char *v[13] = {cfg->key_prefix, cfg->channel, sid, p->n.ttl_ms, p->n.backstop, p->ack, p->after,
                         p->batch, a->token ? a->token : "", p->hold, p->hold_ms, p->max_held, p->reserve};
    memcpy(p->v, v, sizeof(v));
}

/* poll.lua's reply (NULL: no answer) into out; frees r. */
static jugStoreStatus pollResult(jugStore *store, redisReply *r, jugPollResult *out) {
    memset(out, 0, sizeof(*out));
    jugStoreStatus st = replyStatus(store, r);
    if (st == JUG_STORE_OK && (r->type != REDIS_REPLY_ARRAY || r->elements < 3)) {
        setError(store, "%s", "poll script answered something unexpected");
        st = JUG_STORE_ERROR;
    }
    if (st == JUG_STORE_OK) st = copyDeliveries(store, r->element[0], &out->d);
    if (st == JUG_STORE_OK) {
        out->lost = replyInteger(r->element[1]);
        out->held = (int)replyInteger(r->element[2]);
        if (r->elements >= 4) out->seq = replyInteger(r->element[3]);
        if (r->elements >= 5) st = copyChannels(store, r->element[4], out);
        if (r->elements >= 8) holdLoad(r, 5, &out->load);
    }
    if (st != JUG_STORE_OK) jugPollResultFree(out);
    if (r) freeReplyObject(r);
    return st;
}

jugStoreStatus jugStorePollHold(jugStore *store, const char *sid, const jugPollArgs *a,
                                jugPollResult *out) {
    pollArgv p;
    pollArgvFill(&p, store->cfg, sid, a);
    return pollResult(store, runScript(store, JUG_SCRIPT_POLL, 13, p.v), out);
}

/* Pipelining: append one poll to the connection's output. 0, or -1 with
 * err (unavailable). */
static int pollSend(jugStore *store, const char *sid, const jugPollArgs *a) {
    if (!store->redis) store->unsent = 0;
    if (ensureConnected(store) < 0) return -1;
    pollArgv p;
    pollArgvFill(&p, store->cfg, sid, a);
    if (jugRedisScriptAppend(store->redis, JUG_SCRIPT_POLL, 0, 13, p.v, NULL) == 0) return 0;
    setError(store, "%s", "out of memory");
    dropConnection(store);
    return -1;
}

/* The next reply, in the order sent. *again (OK, nothing in out) when the
 * poll did not run: the script was not loaded, or Redis had closed the
 * connection before the batch arrived. After any other failure of the
 * connection the remaining replies are UNAVAILABLE. */
static jugStoreStatus pollReceive(jugStore *store, jugPollResult *out, int *again) {
    redisReply *r = NULL;
    *again = 0;
    memset(out, 0, sizeof(*out));
    if (!store->redis) {
        *again = store->unsent;
        return store->unsent ? JUG_STORE_OK : JUG_STORE_UNAVAILABLE;
    }
    if (redisGetReply(store->redis, (void **)&r) != REDIS_OK) {
        store->kind = JUG_REDIS_ERR_CONNECTION;
        setError(store, "Redis: %s", store->redis->errstr);
        store->unsent = closedByServer(store->redis);
        dropConnection(store);
        *again = store->unsent;
        return store->unsent ? JUG_STORE_OK : JUG_STORE_UNAVAILABLE;
    }
    if (jugRedisNoScript(r)) {
        freeReplyObject(r);
        *again = 1;
        return JUG_STORE_OK;
    }
    return pollResult(store, r, out);
}

void jugStorePollBatch(jugStore *store, int n, const char *const *sids, const jugPollArgs *args,
                       jugStoreStatus *st, jugPollResult *out) {
    int sent = 0;
    unsigned char *again = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!again) setError(store, "%s", "out of memory");
    while (again && sent < n && pollSend(store, sids[sent], &args[sent]) == 0) sent++;
    for (int i = 0; i < n; i++) {
        int rerun = 0;
        memset(&out[i], 0, sizeof(out[i]));
        st[i] = i < sent ? pollReceive(store, &out[i], &rerun) : JUG_STORE_UNAVAILABLE;
        if (rerun) again[i] = 1;
    }
    /* Only once every reply of the batch is in: the connection is free. */
    for (int i = 0; i < sent; i++)
        if (again[i]) st[i] = jugStorePollHold(store, sids[i], &args[i], &out[i]);
    free(again);
}

jugStoreStatus jugStorePoll(jugStore *store, const char *sid, long long ack, long long after, int max,
                            jugDeliveries *out) {
    jugPollArgs a = {ack, after, max, NULL, 0, 0, 0, 0};
    jugPollResult r;
    jugStoreStatus st = jugStorePollHold(store, sid, &a, &r);
    *out = r.d;
    memset(&r.d, 0, sizeof(r.d));
    jugPollResultFree(&r);
    return st;
}

jugStoreStatus jugStoreTouch(jugStore *store, const char **sids, int count, char ***dead, int *ndead) {
    const jugConfig *cfg = store->cfg;
    *dead = NULL;
    *ndead = 0;
    scriptNumbers n;
    fillNumbers(&n, cfg);
    const char **argv = malloc(sizeof(char *) * (size_t)(count + 4));
    if (!argv) {
        setError(store, "%s", "out of memory");
        return JUG_STORE_ERROR;
    }
    argv[0] = cfg->key_prefix;
    argv[1] = cfg->channel;
    argv[2] = n.ttl_ms;
    argv[3] = n.backstop;
    memcpy(argv + 4, sids, sizeof(char *) * (size_t)count);
    redisReply *r = runScript(store, JUG_SCRIPT_TOUCH, count + 4, argv);
    free(argv);
    jugStoreStatus st = replyStatus(store, r);
    if (st == JUG_STORE_OK && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        *dead = calloc(r->elements, sizeof(char *));
        for (size_t i = 0; *dead && i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING && ((*dead)[*ndead] = strdup(r->element[i]->str)))
                (*ndead)++;
    }
    if (r) freeReplyObject(r);
    return st;
}

jugStoreStatus jugStoreProcAlive(jugStore *store, const char *instance, long long ttl_ms,
                                 long long spawning_ms, long long *live) {
    char sttl[24], sspawning[24];
    fmtLL(sttl, sizeof(sttl), ttl_ms);
    fmtLL(sspawning, sizeof(sspawning), spawning_ms);
    const char *argv[] = {store->cfg->key_prefix, instance, sttl, sspawning};
    redisReply *r = runScript(store, JUG_SCRIPT_PROCALIVE, 4, argv);
    jugStoreStatus st = replyStatus(store, r);
    if (st == JUG_STORE_OK) *live = replyInteger(r);
    if (r) freeReplyObject(r);
    return st;
}

jugStoreStatus jugStoreReleaseSlot(jugStore *store, const char *token) {
    char key[JUG_KEY_MAX];
    if (jugKeyHolds(key, sizeof(key), store->cfg->key_prefix) < 0) {
        setError(store, "%s", "key prefix too long");
        return JUG_STORE_ERROR;
    }
    if (ensureConnected(store) < 0) return JUG_STORE_UNAVAILABLE;
    redisReply *r = redisCommand(store->redis, "ZREM %s %s", key, token);
    if (!r) {
        setError(store, "Redis: %s", store->redis->errstr);
        dropConnection(store);
        return JUG_STORE_UNAVAILABLE;
    }
    jugStoreStatus st = replyStatus(store, r);
    freeReplyObject(r);
    return st;
}

redisReply *jugStoreCommand(jugStore *store, int argc, const char **argv) {
    for (int attempt = 0; attempt < 2; attempt++) {
        int fresh = ensureConnected(store);
        if (fresh < 0) return NULL;
        redisReply *r = redisCommandArgv(store->redis, argc, argv, NULL);
        if (r) return r;
        setError(store, "Redis: %s", store->redis->errstr);
        int retry = !fresh && closedByServer(store->redis);
        dropConnection(store);
        if (!retry) break;
    }
    return NULL;
}

jugStoreStatus jugStorePublish(jugStore *store, const char *message) {
    const char *argv[] = {"PUBLISH", store->cfg->channel, message};
    redisReply *r = jugStoreCommand(store, 3, argv);
    jugStoreStatus st = replyStatus(store, r);
    if (r) freeReplyObject(r);
    return st;
}
