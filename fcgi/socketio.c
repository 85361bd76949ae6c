/* socketio.c -- socket.io protocol 1 endpoints for Juggernaut 2.1.1 pages (see socketio.h).
 *
 * A socket.io session IS a project session: the handshake creates one with
 * jugStoreConnect (or resumes the one named by the page's cookie), its id is
 * the socket.io sid the page shows as jug.sessionID, and Juggernaut's
 * subscribe / unsubscribe / meta / event packets are the store calls the
 * project's own endpoints make, so server events, except and expiry behave
 * the same.
 *
 * Acknowledgement (socket.io has none): a GET of a session acknowledges what
 * the previous GET of that session handed out, because the original client
 * sends its next GET only after it has read the previous answer. The id of
 * the last delivery handed out is kept in <p>session:<sid>:sio (keys.h):
 *   absent or "r"   the next GET is the session's first: it answers "1::"
 *   "<n>"           the next GET acknowledges deliveries up to n
 *   "r<n>"          as "<n>", after an htmlfile rollover: the client's
 *                   automatic "0::" for it is not a real disconnect
 * A resumed session (new handshake) drops the number, so what the lost
 * connection was last given and never confirmed is sent again.
 * <p>session:<sid>:siohold is the lease of a request holding the session
 * (a held GET, or an htmlfile stream, plus a few seconds for the next GET):
 * a handshake never resumes a session that another page is using.
 *
 * Held GETs and htmlfile streams are jugStreamOps clients of the project's
 * held-request machinery (hold.h): the ops below only frame. Their end runs
 * in the event loop for a parked request, where the number above is written
 * with a Redis connection of that thread, before the answer goes out. */
#include "autoconfig.h"
#include "socketio.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hold.h"
#include "host.h"
#include "json.h"
#include "keys.h"
#include "log.h"
#include "message.h"
#include "park.h"
#include "sio_frame.h"
#include "stats.h"
#include "stream.h"

/* The original's polling duration; below the client's close timeout. */
#define SIO_HOLD_MAX_S 20
#define SIO_HEARTBEAT_S 15
#define SIO_CLOSE_TIMEOUT_S 25
/* The lease a finished poll leaves for the page's next request. */
#define SIO_LEASE_NEXT_MS 2500
/* An unknown session is answered after this: an old IE XDomainRequest
 * re-polls at once on any answer, and must not spin. */
#define SIO_UNKNOWN_DELAY_MS 1000
/* The longest a jsonp-polling answer has the browser wait before it polls
 * again: well below the client's close timeout. */
#define SIO_JSONP_WAIT_MAX_MS 10000
#define SIO_BATCH 200
#define SIO_JSON_DEPTH 64
#define SIO_COOKIE "jug_sio"
#define SIO_UNKNOWN "7:::1+0"
#define SIO_NOOP "8::"
#define CT_TEXT "text/plain; charset=UTF-8"
#define CT_JS "text/javascript; charset=UTF-8"
#define HTMLFILE_HEAD "<html><body><script>var _ = function (msg) { parent.s._(msg, document); };</script>"
#define HTMLFILE_PADDED 256

typedef enum { T_XHR, T_JSONP, T_HTMLFILE } sioTransport;

typedef struct sioReq {
    jugContext *ctx;
    sioTransport transport;
    const char *sid;
    const char *jsonp;      /* jsonp-polling: the validated "i" index */
} sioReq;

static void sleepMs(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- answers ---- */

/* A complete answer. Cross-origin pages not listed in cors_origins get the
 * original's "Access-Control-Allow-Origin: *" (no credentials), listed ones
 * the project's grant (response.c). */
static void respond(jugContext *ctx, int status, const char *type, const char *body, size_t len,
                    const char *extra) {
    char head[700];
    const char *origin = ctx->req->origin;
    int star = origin && *origin && !jugConfigOriginAllowed(ctx->cfg, origin);
    snprintf(head, sizeof(head), "%s%sContent-Length: %zu\r\n", star ? "Access-Control-Allow-Origin: *\r\n" : "",
             extra ? extra : "", len);
    if (jugResponseHeaders(ctx->res, status, type, head) == 0) jugResponseWrite(ctx->res, body, len);
    jugResponseFlush(ctx->res);
}

static void respondText(jugContext *ctx, int status, const char *text) {
    respond(ctx, status, CT_TEXT, text, strlen(text), NULL);
}

/* "io.j[<index>](<literal of text>);", or with delay_ms > 0 the same call
 * made by the browser that much later: "setTimeout(function(){io.j[..](..);},<ms>);". */
static char *jsonpWrap(const char *index, const char *text, size_t len, int delay_ms, size_t *outlen) {
    size_t litlen;
    char *lit = jugSioJsString(text, len, &litlen);
    if (!lit) return NULL;
    size_t n = strlen(index) + litlen + 9 + 48;   /* io.j[ ]( ); and the setTimeout around it */
    char *out = malloc(n + 1);
    if (out && delay_ms > 0)
        *outlen = (size_t)snprintf(out, n + 1, "setTimeout(function(){io.j[%s](%s);},%d);", index, lit, delay_ms);
    else if (out)
        *outlen = (size_t)snprintf(out, n + 1, "io.j[%s](%s);", index, lit);
    free(lit);
    return out;
}

/* A payload as the transport carries it in a poll answer; jsonp-polling
 * can have the browser wait delay_ms before it takes it (and polls again). */
static void respondPayloadLater(sioReq *r, const char *payload, size_t len, int delay_ms) {
    if (r->transport != T_JSONP) {
        respond(r->ctx, 200, CT_TEXT, payload, len, NULL);
        return;
    }
    size_t n;
    char *body = jsonpWrap(r->jsonp, payload, len, delay_ms, &n);
    if (!body) {
        respondText(r->ctx, 500, "out of memory");
        return;
    }
    respond(r->ctx, 200, CT_JS, body, n, "X-XSS-Protection: 0\r\n");
    free(body);
}

static void respondPayload(sioReq *r, const char *payload, size_t len) {
    respondPayloadLater(r, payload, len, 0);
}

/* Redis is unusable: 503 (the client reconnects), logged once per episode
 * by handlers.c, never once per request. */
static void respondUnavailable(jugContext *ctx) {
    jugRespondStoreError(ctx, JUG_STORE_UNAVAILABLE);
}

/* ---- the session's socket.io keys ---- */

/* The handler's store, or (an end running in the event loop, which has no
 * jugStore for the ops) one of this thread's own, made on first use. */
static pthread_key_t storeKey;
static pthread_once_t storeOnce = PTHREAD_ONCE_INIT;

static void storeDestroy(void *p) {
    jugStoreClose(p);
    free(p);
}

static void storeKeyMake(void) {
    pthread_key_create(&storeKey, storeDestroy);
}

static jugStore *storeFor(jugContext *ctx) {
    if (ctx->store) return ctx->store;
    pthread_once(&storeOnce, storeKeyMake);
    jugStore *s = pthread_getspecific(storeKey);
    if (!s && (s = malloc(sizeof(*s))) != NULL) {
        jugStoreInit(s, ctx->cfg);
        pthread_setspecific(storeKey, s);
    }
    return s;
}

static int sioKey(jugContext *ctx, int hold, const char *sid, char key[JUG_KEY_MAX]) {
    const char *p = ctx->cfg->key_prefix;
    return hold ? jugKeySioHold(key, JUG_KEY_MAX, p, sid) : jugKeySioAck(key, JUG_KEY_MAX, p, sid);
}

/* Run a command on one of the keys; argv[1] is filled in. 0, or -1 (logged). */
static int keyCommand(jugContext *ctx, int hold, const char *sid, int argc, const char **argv,
                      char *value, size_t vlen) {
    char key[JUG_KEY_MAX];
    if (sioKey(ctx, hold, sid, key) < 0) return -1;
    argv[1] = key;
    jugStore *store = storeFor(ctx);
    redisReply *r = store ? jugStoreCommand(store, argc, argv) : NULL;
    int rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (value) {
        value[0] = '\0';
        if (r && r->type == REDIS_REPLY_STRING && r->len < vlen) {
            memcpy(value, r->str, r->len);
            value[r->len] = '\0';
        }
    }
    /* The caller answers 503 where it matters (logged once per episode). */
    if (rc < 0) jugLog(JUG_LOG_DEBUG, "socket.io: %s %s: %s", argv[0], key,
                       r ? r->str : store ? store->err : "out of memory");
    if (r) freeReplyObject(r);
    return rc;
}

/* The keys live as long as a session can: renewed by every request. */
static int setKey(jugContext *ctx, int hold, const char *sid, const char *value, long long ms) {
    char px[24];
    snprintf(px, sizeof(px), "%lld", ms);
    const char *argv[] = {"SET", NULL, value, "PX", px};
    return keyCommand(ctx, hold, sid, 5, argv, NULL, 0);
}

static long long ackLifeMs(const jugConfig *cfg) {
    return (long long)cfg->session_ttl * 2000 + (long long)cfg->stream_max_duration * 1000;
}

static int setAck(jugContext *ctx, const char *sid, const char *value) {
    return setKey(ctx, 0, sid, value, ackLifeMs(ctx->cfg));
}

static void dropKey(jugContext *ctx, int hold, const char *sid) {
    const char *argv[] = {"DEL", NULL};
    keyCommand(ctx, hold, sid, 2, argv, NULL, 0);
}

/* The ack key's value: 0 and *first = 1 when the next GET is the first. */
static int readAck(jugContext *ctx, const char *sid, int *first, int *rollover, long long *ack) {
    char v[32];
    const char *argv[] = {"GET", NULL};
    if (keyCommand(ctx, 0, sid, 2, argv, v, sizeof(v)) < 0) return -1;
    const char *digits = v[0] == 'r' ? v + 1 : v;
    *rollover = v[0] == 'r';
    *first = digits[0] == '\0';
    *ack = *first ? 0 : strtoll(digits, NULL, 10);
    return 0;
}

/* The lease's value: the instance of the worker process that took it
 * (park.h), or "1" where it has none. */
static const char *leaseHolder(void) {
    const char *instance = jugParkInstance();
    return instance[0] ? instance : "1";
}

static int setLease(jugContext *ctx, const char *sid, long long ms) {
    return setKey(ctx, 1, sid, leaseHolder(), ms);
}

/* 1 if a request holds the session: its lease is set, and the worker process
 * that took it still listens on its notify channel (a worker that was
 * restarted with the web server left a lease nobody holds). */
static int holdLeased(jugContext *ctx, const char *sid) {
    char v[32];
    const char *argv[] = {"GET", NULL};
    if (keyCommand(ctx, 1, sid, 2, argv, v, sizeof(v)) < 0) return 1;
    if (v[0] == '\0') return 0;
    if (!strcmp(v, "1")) return 1;
    char chan[JUG_KEY_MAX];
    jugStore *store = storeFor(ctx);
    if (!store || jugNotifyInstanceChannel(chan, sizeof(chan), ctx->cfg->key_prefix, v) < 0) return 1;
    const char *numsub[] = {"PUBSUB", "NUMSUB", chan};
    redisReply *r = jugStoreCommand(store, 3, numsub);
    int alive = !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                r->element[1]->type != REDIS_REPLY_INTEGER || r->element[1]->integer > 0;
    if (r) freeReplyObject(r);
    if (!alive) jugLog(JUG_LOG_DEBUG, "socket.io: the lease of %s was taken by worker %s, gone since", sid, v);
    return alive;
}

static int holdSeconds(const jugConfig *cfg) {
    return cfg->poll_timeout < SIO_HOLD_MAX_S ? cfg->poll_timeout : SIO_HOLD_MAX_S;
}

/* ---- handshake ---- */

/* The session id in the Cookie header, if well formed. */
static int cookieSid(const jugContext *ctx, char sid[JUG_SID_LEN + 1]) {
    const char *pos = FCGX_GetParam("HTTP_COOKIE", ctx->req->fcgx->envp), *v;
    size_t vlen;
    while ((v = jugSioCookieNext(&pos, SIO_COOKIE, &vlen)) != NULL) {
        if (jugSidValid(v, vlen)) {
            memcpy(sid, v, JUG_SID_LEN);
            sid[JUG_SID_LEN] = '\0';
            return 1;
        }
    }
    return 0;
}

/* The URL path the cookie is for: everything up to and including
 * ".../socket.io" of the request, or "/" if it has odd characters. */
static void cookiePath(const jugContext *ctx, char *out, size_t outlen) {
    const char *uri = FCGX_GetParam("REQUEST_URI", ctx->req->fcgx->envp);
    const char *res = uri ? jugSioResource(uri) : NULL;
    size_t n = res ? (size_t)(res - uri) + 9 : 0;   /* + "socket.io" */
    snprintf(out, outlen, "/");
    if (!res || uri[0] != '/' || n >= outlen) return;
    for (size_t i = 0; i < n; i++)
        if (uri[i] <= ' ' || uri[i] >= 0x7f || uri[i] == ';' || uri[i] == ',' || uri[i] == '"') return;
    memcpy(out, uri, n);
    out[n] = '\0';
}

/* The transports this host serves, best first: socket.io-client 0.8.7 keeps
 * the server's order when the server names fewer than the client knows (its
 * io.util.intersect), so a page that forces none takes the first.
 * htmlfile where the host offers the project's htmlfile stream (host.h: not
 * under mod_fcgid or CGI, and as `transports` says). Where a held request
 * pins a process (hold slots are counted), jsonp-polling before
 * xhr-polling: a poll that finds no slot free is answered at once with a
 * script that waits in the browser, where an xhr-polling one can only be
 * answered later (sioPollOps). websocket and flashsocket never: no FastCGI
 * server passes them through. */
static const char *sioTransports(void) {
    int html = jugHostOffers("htmlfile"), pinning = jugHostSharedHoldLimit() > 0;
    if (pinning) return html ? "htmlfile,jsonp-polling,xhr-polling" : "jsonp-polling,xhr-polling";
    return html ? "htmlfile,xhr-polling,jsonp-polling" : "xhr-polling,jsonp-polling";
}

/* A decimal index (jsonp, i) as it is reflected into a script: digits only. */
static int indexParam(jugContext *ctx, const char *name, const char **out) {
    const char *v = jugRequestParam(ctx->req, name);
    *out = v;
    if (!v) return 0;
    size_t n = strlen(v);
    return n >= 1 && n <= 9 && strspn(v, "0123456789") == n ? 0 : -1;
}

static void handshakeError(jugContext *ctx, const char *jsonp, int status, const char *what) {
    if (!jsonp) {
        respondText(ctx, status, what);
        return;
    }
    char body[128];
    int n = snprintf(body, sizeof(body), "io.j[%s](new Error(\"%s\"));", jsonp, what);
    respond(ctx, 200, CT_JS, body, (size_t)n, NULL);
}

static void handshake(jugContext *ctx) {
    const char *jsonp;
    if (indexParam(ctx, "jsonp", &jsonp) < 0) {
        jugLog(JUG_LOG_INFO, "socket.io: handshake: jsonp index is not a number");
        respondText(ctx, 400, "jsonp must be a number");
        return;
    }
    char sid[JUG_SID_LEN + 1];
    int resumed = 0;
    int named = cookieSid(ctx, sid);
    if (named && holdLeased(ctx, sid)) {
        jugLog(JUG_LOG_DEBUG, "socket.io: handshake: session %s is held by another request: not resumed", sid);
    } else if (named) {
        jugDeliveries d;
        jugStoreStatus st = jugStorePoll(ctx->store, sid, 0, 0, 1, &d);
        if (st == JUG_STORE_OK) {
            jugDeliveriesFree(&d);
            int first, rollover;
            long long ack;
            /* Keep only the rollover mark: the next GET is a first one. */
            if (readAck(ctx, sid, &first, &rollover, &ack) == 0 && rollover) setAck(ctx, sid, "r");
            else dropKey(ctx, 0, sid);
            resumed = 1;
        }
    }
    if (!resumed) {
        jugStoreStatus st = jugStoreConnect(ctx->store, "null", NULL, 0, sid, NULL);
        if (st == JUG_STORE_UNAVAILABLE) {
            jugLogUnavailable(ctx);
        } else if (st != JUG_STORE_OK) {
            jugLog(JUG_LOG_ERROR, "socket.io: handshake: %s", ctx->store->err);
        }
        if (st != JUG_STORE_OK) {
            handshakeError(ctx, jsonp, st == JUG_STORE_UNAVAILABLE ? 503 : 500, "handshake error");
            return;
        }
        jugStatsAdd(JUG_STAT_CONNECTS, 1);
    }
    jugLog(JUG_LOG_DEBUG, "socket.io: handshake: %s session %s", resumed ? "resumed" : "new", sid);
    char body[160], cookie[400], path[200];
    int n = snprintf(body, sizeof(body), "%s:%d:%d:%s", sid, SIO_HEARTBEAT_S, SIO_CLOSE_TIMEOUT_S,
                     sioTransports());
    const char *https = FCGX_GetParam("HTTPS", ctx->req->fcgx->envp);
    cookiePath(ctx, path, sizeof(path));
    snprintf(cookie, sizeof(cookie), "Set-Cookie: " SIO_COOKIE "=%s; Path=%s; HttpOnly; SameSite=Lax%s\r\n",
             sid, path, https && (!strcmp(https, "on") || !strcmp(https, "1")) ? "; Secure" : "");
    if (!jsonp) {
        respond(ctx, 200, "text/plain", body, (size_t)n, cookie);
        return;
    }
    size_t len;
    char *js = jsonpWrap(jsonp, body, (size_t)n, 0, &len);
    if (js) respond(ctx, 200, "application/javascript", js, len, cookie);
    else respondText(ctx, 500, "out of memory");
    free(js);
}

/* ---- polling GET: a long-poll of the held-request machinery ---- */

/* jsonp-polling has the browser do the wait (the request ends at once);
 * the other transports can only be answered later. */
static void unknownSession(sioReq *r, int delay) {
    jugLog(JUG_LOG_INFO, "socket.io: unknown or expired session");
    int later = delay && r->transport == T_JSONP ? SIO_UNKNOWN_DELAY_MS : 0;
    if (delay && !later && !jugShuttingDown()) sleepMs(SIO_UNKNOWN_DELAY_MS);
    respondPayloadLater(r, SIO_UNKNOWN, sizeof(SIO_UNKNOWN) - 1, later);
}

/* A held GET's state (copied into the held request: at most 64 bytes). */
typedef struct sioPoll {
    char *payload;        /* the packets so far, each framed (heap) */
    size_t len;
    int count;
    int superseded;       /* a newer GET of the session took over: answer at the deadline */
    long long ack;        /* what this GET acknowledged */
    long long last;       /* highest delivery id gathered */
    char jsonp[10];       /* jsonp-polling index; "" for xhr-polling */
} sioPoll;

typedef char sioPollFits[sizeof(sioPoll) <= 64 ? 1 : -1];

static int sioPollMessage(jugContext *ctx, const char *delivery, size_t len, long long id, void *state) {
    sioPoll *p = state;
    size_t n;
    (void)ctx;
    char *packet = jugSioDeliveryPacket(delivery, len, &n);
    if (id > p->last) p->last = id;
    if (!packet) return 0;
    int rc = jugSioAppendPacket(&p->payload, &p->len, packet, n, 1);
    free(packet);
    if (rc == 0) p->count++;
    return rc;
}

static int sioPollKeepalive(jugContext *ctx, void *state) {
    (void)ctx;
    (void)state;
    return 0;
}

/* A newer GET of the session took over. The page that sent this one polls
 * again the moment it is answered: socket.io-client 0.8.7 sends its next
 * GET on every 200, whatever the body, and its only other reaction, to an
 * error status, drops the whole connection (not just this polling loop).
 * A page running two polling loops on one session (two overlapping
 * handshakes that both resumed it, after a web server restart) would have
 * them supersede each other as fast as the network goes. So this GET stays
 * open, hearing nothing, and answers "8::" at its own deadline: each loop
 * polls at most once per hold. (The original server never answers the
 * older GET at all: its transport is discarded, manager.js onOpen.)
 * What it gathered is dropped: the newer GET's read, which came after the
 * notifications of it, had it too (it is acknowledged by no one yet). */
static int sioPollSuperseded(jugContext *ctx, void *state) {
    sioPoll *p = state;
    (void)ctx;
    free(p->payload);
    p->payload = NULL;
    p->len = 0;
    p->count = 0;
    p->superseded = 1;
    return 1;
}

/* One packet goes bare: drop the frame written in front of it. */
static const char *unframed(const sioPoll *p, size_t *len) {
    const char *s = p->payload;
    if (p->count != 1) {
        *len = p->len;
        return s;
    }
    const char *end = memchr(s + 3, 0xbd, p->len - 3);   /* last byte of the 2nd U+FFFD */
    *len = p->len - (size_t)(end + 1 - s);
    return end + 1;
}

/* The answer of a held GET. Whatever it hands out is recorded before it
 * goes, so the session's next GET acknowledges exactly that. */
static int sioPollEnd(jugContext *ctx, const char *reason, void *state) {
    sioPoll *p = state;
    const jugHeld *h = ctx->held;
    sioReq r = {ctx, p->jsonp[0] ? T_JSONP : T_XHR, h ? h->sid : "", p->jsonp};
    char num[24];
    int wait = 0;   /* ms the browser waits before its next GET */
    if (!strcmp(reason, JUG_END_EXPIRED)) {
        respondPayload(&r, SIO_UNKNOWN, sizeof(SIO_UNKNOWN) - 1);
    } else if (!strcmp(reason, JUG_END_UNAVAILABLE)) {
        respond(ctx, 503, CT_TEXT, "unavailable", 11, "Retry-After: 2\r\n");
    } else if (p->count > 0 && p->last > p->ack && h &&
               (snprintf(num, sizeof(num), "%lld", p->last), setAck(ctx, h->sid, num) < 0)) {
        /* Not recorded: never hand it out (the next GET would acknowledge
         * too little and repeat it). The client reconnects and gets it then. */
        respond(ctx, 503, CT_TEXT, "unavailable", 11, "Retry-After: 2\r\n");
    } else {
        /* Not held for want of a slot (jsonp-polling, sioJsonpPollOps): the
         * browser waits the retry interval before its next GET, the host's
         * process is free at once. */
        if (r.transport == T_JSONP && !p->count && h && h->retry_ms > 0)
            wait = h->retry_ms < SIO_JSONP_WAIT_MAX_MS ? h->retry_ms : SIO_JSONP_WAIT_MAX_MS;
        size_t len;
        const char *body = p->count ? unframed(p, &len) : SIO_NOOP;
        if (!p->count) len = 3;
        respondPayloadLater(&r, body, len, wait);
    }
    /* Not when Redis failed: each call would stall the loop for its timeout;
     * not when superseded: the lease is the newer GET's. The lease lasts
     * until the page's next GET (after the browser's wait). */
    if (h && !p->superseded && strcmp(reason, JUG_END_UNAVAILABLE) != 0) {
        if (ctx->res->gone || jugShuttingDown()) dropKey(ctx, 1, h->sid);
        else setLease(ctx, h->sid, SIO_LEASE_NEXT_MS + wait);
    }
    free(p->payload);
    p->payload = NULL;
    return ctx->res->gone ? -1 : 0;
}

/* A GET not held for want of a slot (mod_fcgid, CGI): socket.io pages poll
 * again the moment they are answered. An xhr-polling GET can only be
 * answered after the retry interval (its process stays busy that long);
 * a jsonp-polling one is answered at once with a script that waits in the
 * browser (sioPollEnd), which is why such hosts offer jsonp-polling first
 * (sioTransports). */
#define SIO_POLL_OPS(transport_name, wait)                                      \
    {                                                                          \
        .one_batch = 1, .wait_unheld = (wait), .state_size = sizeof(sioPoll), \
        .name = (transport_name), .message = sioPollMessage,                   \
        .keepalive = sioPollKeepalive, .end = sioPollEnd,                      \
        .superseded = sioPollSuperseded,                                       \
    }
static const jugStreamOps sioPollOps = SIO_POLL_OPS("longpoll", 1);
static const jugStreamOps sioJsonpPollOps = SIO_POLL_OPS("jsonp", 0);

/* Is the session there? Answers 7:::1+0 (or 503) and returns -1 if not. */
static int sessionAlive(sioReq *r, long long ack) {
    jugDeliveries d;
    jugStoreStatus st = jugStorePoll(r->ctx->store, r->sid, ack, ack, 1, &d);
    if (st == JUG_STORE_OK) {
        jugDeliveriesFree(&d);
        return 0;
    }
    if (st == JUG_STORE_NO_SESSION) {
        dropKey(r->ctx, 1, r->sid);
        unknownSession(r, 1);
    } else {
        respondUnavailable(r->ctx);
    }
    return -1;
}

static void pollGet(sioReq *r) {
    jugContext *ctx = r->ctx;
    int hold_s = holdSeconds(ctx->cfg), first, rollover;
    long long ack;
    if (readAck(ctx, r->sid, &first, &rollover, &ack) < 0) {
        respondUnavailable(ctx);
        return;
    }
    if (sessionAlive(r, ack) < 0) return;
    setLease(ctx, r->sid, (long long)hold_s * 1000 + SIO_LEASE_NEXT_MS);
    if (first) {
        /* Anything pending waits for the next GET, which acknowledges nothing. */
        setAck(ctx, r->sid, "0");
        respondPayload(r, "1::", 3);
        setLease(ctx, r->sid, SIO_LEASE_NEXT_MS);
        return;
    }
    sioPoll p = {NULL, 0, 0, 0, ack, ack, ""};
    if (r->transport == T_JSONP) snprintf(p.jsonp, sizeof(p.jsonp), "%s", r->jsonp);
    jugHoldStart(ctx, r->sid, ack, hold_s * 1000, r->transport == T_JSONP ? &sioJsonpPollOps : &sioPollOps, &p);
}

/* ---- htmlfile: a stream of the held-request machinery in socket.io's envelope ---- */

typedef struct sioStream {
    int first;             /* write "1::" first */
} sioStream;

static int htmlScript(jugContext *ctx, const char *packet, size_t len) {
    size_t n;
    char *lit = jugSioJsString(packet, len, &n);
    int rc = -1;
    if (lit && jugResponseWrite(ctx->res, "<script>_(", 10) == 0 &&
        jugResponseWrite(ctx->res, lit, n) == 0 && jugResponseWrite(ctx->res, ");</script>", 11) == 0)
        rc = 0;
    free(lit);
    return rc;
}

static int htmlBegin(jugContext *ctx, void *state) {
    const sioStream *s = state;
    char head[HTMLFILE_PADDED];
    size_t hl = sizeof(HTMLFILE_HEAD) - 1;
    memcpy(head, HTMLFILE_HEAD, hl);
    memset(head + hl, ' ', sizeof(head) - hl);
    if (jugResponseWrite(ctx->res, head, sizeof(head)) != 0) return -1;
    return s->first ? htmlScript(ctx, "1::", 3) : 0;
}

static int htmlMessage(jugContext *ctx, const char *delivery, size_t len, long long id, void *state) {
    size_t n;
    (void)id;
    (void)state;
    char *packet = jugSioDeliveryPacket(delivery, len, &n);
    int rc = packet ? htmlScript(ctx, packet, n) : 0;
    free(packet);
    return rc;
}

static int htmlKeepalive(jugContext *ctx, void *state) {
    (void)state;
    return htmlScript(ctx, SIO_NOOP, 3);
}

/* Every end (time to recycle, session gone, Redis gone) asks the client to
 * handshake again; "0::" would stop it for good. When the client can read
 * the end, it has read everything before it: acknowledge that now, as its
 * next request is a new handshake. */
static int htmlEnd(jugContext *ctx, const char *reason, void *state) {
    const jugHeld *h = ctx->held;
    (void)state;
    int rc = htmlScript(ctx, SIO_UNKNOWN, sizeof(SIO_UNKNOWN) - 1);
    if (rc == 0) rc = jugResponseFlush(ctx->res);
    int redis_ok = strcmp(reason, JUG_END_UNAVAILABLE) != 0;
    if (h && rc == 0 && redis_ok && strcmp(reason, JUG_END_EXPIRED) != 0) {
        jugStore *store = storeFor(ctx);
        jugDeliveries d;
        char num[24];
        if (store && jugStorePoll(store, h->sid, h->last, h->last, 1, &d) == JUG_STORE_OK) {
            jugDeliveriesFree(&d);
            snprintf(num, sizeof(num), "r%lld", h->last);
            setAck(ctx, h->sid, num);
        }
    }
    if (h && redis_ok) dropKey(ctx, 1, h->sid);
    return rc;
}

static const jugStreamOps htmlfileOps = {
    .one_batch = 0,
    .state_size = sizeof(sioStream),
    .name = "htmlfile",
    .content_type = "text/html; charset=UTF-8",
    .begin = htmlBegin,
    .message = htmlMessage,
    .keepalive = htmlKeepalive,
    .end = htmlEnd,
};

static void htmlfileGet(sioReq *r) {
    jugContext *ctx = r->ctx;
    int first, rollover;
    long long ack;
    if (readAck(ctx, r->sid, &first, &rollover, &ack) < 0) {
        respondUnavailable(ctx);
        return;
    }
    if (sessionAlive(r, ack) < 0) return;
    setLease(ctx, r->sid, (long long)ctx->cfg->stream_max_duration * 1000 + SIO_LEASE_NEXT_MS);
    sioStream s = {first};
    if (first) setAck(ctx, r->sid, "0");
    jugStreamRun(ctx, r->sid, ack, &htmlfileOps, &s);
}

/* ---- POST: packets from the page ---- */

typedef struct postState {
    jugContext *ctx;
    const char *sid;
    jugStoreStatus st;
    int ignored;              /* packets not understood (logged once) */
    char why[120];
} postState;

static void ignore(postState *p, const char *why) {
    if (!p->ignored++) snprintf(p->why, sizeof(p->why), "%s", why);
}

/* Compact text of a JSON value (cJSON_free it); NULL if too large. */
static char *valueText(const cJSON *v, size_t max) {
    char *t = cJSON_PrintUnformatted(v);
    if (t && strlen(t) > max) {
        cJSON_free(t);
        return NULL;
    }
    return t;
}

/* One Juggernaut message: {"type":"subscribe"|"unsubscribe","channel":..},
 * {"type":"meta"|"event","data":..}. */
static void juggernautMessage(postState *p, const char *json, size_t len) {
    const jugConfig *cfg = p->ctx->cfg;
    if (len > cfg->max_message_size) {
        ignore(p, "message too large");
        return;
    }
    if (jugJsonCheck(json, len, SIO_JSON_DEPTH, NULL) != JUG_JSON_OK) {
        ignore(p, "message is not JSON");
        return;
    }
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    const cJSON *channel = cJSON_GetObjectItemCaseSensitive(root, "channel");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    int sub = !strcmp(t, "subscribe"), unsub = !strcmp(t, "unsubscribe");
    if (sub || unsub) {
        const char *name = cJSON_IsString(channel) ? channel->valuestring : "";
        if (!jugChannelValid(name, strlen(name))) {
            ignore(p, "invalid channel name");
        } else {
            const char *list[] = {name};
            p->st = sub ? jugStoreSubscribe(p->ctx->store, p->sid, list, 1)
                        : jugStoreUnsubscribe(p->ctx->store, p->sid, list, 1);
            if (p->st == JUG_STORE_TOO_MANY) {
                ignore(p, "too many channels for one session");
                p->st = JUG_STORE_OK;
            }
        }
    } else if (!strcmp(t, "meta") || !strcmp(t, "event")) {
        int meta = t[0] == 'm';
        char *owned = data ? valueText(data, meta ? cfg->max_meta_size : cfg->max_message_size) : NULL;
        const char *text = data ? owned : "null";
        if (!text) ignore(p, "data too large");
        else p->st = meta ? jugStoreSetMeta(p->ctx->store, p->sid, text)
                          : jugStoreEvent(p->ctx->store, p->sid, text);
        cJSON_free(owned);
    } else {
        ignore(p, "unknown message type");
    }
    cJSON_Delete(root);
}

static void disconnectPacket(postState *p) {
    int first, rollover;
    long long ack;
    if (readAck(p->ctx, p->sid, &first, &rollover, &ack) == 0 && rollover) {
        /* The client's reaction to our rollover, not the page leaving. */
        jugLog(JUG_LOG_DEBUG, "socket.io: %s: disconnect after rollover ignored", p->sid);
        return;
    }
    p->st = jugStoreDisconnect(p->ctx->store, p->sid);
    dropKey(p->ctx, 0, p->sid);
    dropKey(p->ctx, 1, p->sid);
}

static int onPacket(void *arg, const char *s, size_t len) {
    postState *p = arg;
    jugSioPacket pk;
    if (p->st != JUG_STORE_OK) return -1;
    if (jugSioParsePacket(s, len, &pk) < 0) {
        ignore(p, "not a socket.io packet");
        return 0;
    }
    if (pk.endpoint_len > 0) {
        ignore(p, "namespaces are not served");
    } else if (pk.type == JUG_SIO_MESSAGE || pk.type == JUG_SIO_JSON) {
        juggernautMessage(p, pk.data, pk.data_len);
    } else if (pk.type == JUG_SIO_DISCONNECT) {
        disconnectPacket(p);
    }
    /* connect, heartbeat, event, ack, error, noop: nothing to do. */
    return p->st == JUG_STORE_OK ? 0 : -1;
}

static void pollPost(sioReq *r) {
    jugContext *ctx = r->ctx;
    const char *payload = ctx->req->body;
    size_t len = ctx->req->body_len;
    char *decoded = NULL;
    if (r->transport == T_JSONP) {
        decoded = jugSioFormPayload(payload, len, &len);
        if (!decoded) {
            jugLog(JUG_LOG_INFO, "socket.io: %s: jsonp-polling POST without a JSON string d=", r->sid);
            respondText(ctx, 400, "d must be a form-encoded JSON string");
            return;
        }
        payload = decoded;
    }
    postState p = {ctx, r->sid, JUG_STORE_OK, 0, ""};
    int n = jugSioDecodePayload(payload, len, onPacket, &p);
    free(decoded);
    if (p.ignored)
        jugLog(JUG_LOG_INFO, "socket.io: %s: %d packet(s) ignored: %s", r->sid, p.ignored, p.why);
    if (p.st == JUG_STORE_NO_SESSION) {
        unknownSession(r, 0);
    } else if (p.st == JUG_STORE_UNAVAILABLE) {
        respondUnavailable(ctx);
    } else if (p.st != JUG_STORE_OK) {
        jugLog(JUG_LOG_ERROR, "socket.io: %s: store error: %s", r->sid, ctx->store->err);
        respondText(ctx, 500, "internal error");
    } else if (n < 0) {
        jugLog(JUG_LOG_INFO, "socket.io: %s: malformed payload framing", r->sid);
        respondText(ctx, 400, "malformed payload");
    } else {
        respondText(ctx, 200, "1");
    }
}

/* ---- routing ---- */

static const char *sioPath(const jugContext *ctx) {
    char **envp = ctx->req->fcgx->envp;
    const char *sources[] = {FCGX_GetParam("PATH_INFO", envp), FCGX_GetParam("REQUEST_URI", envp)};
    for (int i = 0; i < 2; i++) {
        const char *res = sources[i] ? jugSioResource(sources[i]) : NULL;
        if (res) return res + 10;   /* after "socket.io/" */
    }
    return "";
}

void jugHandleSocketIo(jugContext *ctx) {
    jugSioPath path;
    jugSioParsePath(sioPath(ctx), &path);
    switch (path.kind) {
    case JUG_SIO_PATH_WELCOME:
        respondText(ctx, 200, "Welcome to socket.io.");
        return;
    case JUG_SIO_PATH_BAD_PROTOCOL:
        respondText(ctx, 500, "Protocol version not supported.");
        return;
    case JUG_SIO_PATH_INVALID:
        jugLog(JUG_LOG_INFO, "socket.io: malformed URL");
        respondText(ctx, 404, "not found");
        return;
    case JUG_SIO_PATH_HANDSHAKE:
        handshake(ctx);
        return;
    case JUG_SIO_PATH_TRANSPORT:
        break;
    }
    sioReq r = {ctx, T_XHR, NULL, NULL};
    size_t tl = path.transport_len;
    if (tl == 11 && !memcmp(path.transport, "xhr-polling", 11)) r.transport = T_XHR;
    else if (tl == 13 && !memcmp(path.transport, "jsonp-polling", 13)) r.transport = T_JSONP;
    else if (tl == 8 && !memcmp(path.transport, "htmlfile", 8)) r.transport = T_HTMLFILE;
    else {
        jugLog(JUG_LOG_INFO, "socket.io: transport not served: %.*s", (int)(tl > 32 ? 32 : tl),
               path.transport);
        respondText(ctx, 500, "transport not supported");
        return;
    }
    if (r.transport == T_JSONP) {
        if (indexParam(ctx, "i", &r.jsonp) < 0) {
            jugLog(JUG_LOG_INFO, "socket.io: jsonp-polling index is not a number");
            respondText(ctx, 400, "i must be a number");
            return;
        }
        if (!r.jsonp) r.jsonp = "0";
    }
    int post = !strcmp(ctx->req->method, "POST");
    char sid[JUG_SID_LEN + 1];
    if (!jugSidValid(path.sid, path.sid_len)) {
        unknownSession(&r, !post);
        return;
    }
    memcpy(sid, path.sid, JUG_SID_LEN);
    sid[JUG_SID_LEN] = '\0';
    r.sid = sid;
    if (jugRequestParam(ctx->req, "disconnect")) {
        /* The protocol's forced disconnect (?disconnect), as "0::". */
        postState p = {ctx, sid, JUG_STORE_OK, 0, ""};
        disconnectPacket(&p);
        if (p.st == JUG_STORE_NO_SESSION) unknownSession(&r, 0);
        else if (p.st != JUG_STORE_OK) respondUnavailable(ctx);
        else respondText(ctx, 200, "");
        return;
    }
    if (post) pollPost(&r);
    else if (r.transport == T_HTMLFILE) htmlfileGet(&r);
    else pollGet(&r);
}
