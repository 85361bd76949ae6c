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
 * a handshake never resumes a session that another page is using. */
#include "autoconfig.h"
#include "socketio.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "log.h"
#include "message.h"
#include "sio_frame.h"
#include "stream.h"

/* The original's polling duration; below the client's close timeout. */
#define SIO_HOLD_MAX_S 20
#define SIO_HEARTBEAT_S 15
#define SIO_CLOSE_TIMEOUT_S 25
/* The lease a finished poll leaves for the page's next request. */
#define SIO_LEASE_NEXT_MS 5000
/* An unknown session is answered after this: an old IE XDomainRequest
 * re-polls at once on any answer, and must not spin. */
#define SIO_UNKNOWN_DELAY_MS 1000
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

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

const char *jugSioContentType(const char *jsonp) {
    return jsonp ? CT_JS : CT_TEXT;
}

/* "io.j[<index>](<literal of text>);" */
static char *jsonpWrap(const char *index, const char *text, size_t len, size_t *outlen) {
    size_t litlen;
    char *lit = jugSioJsString(text, len, &litlen);
    if (!lit) return NULL;
    size_t n = strlen(index) + litlen + 9;   /* io.j[ ]( ); */
    char *out = malloc(n + 1);
    if (out) *outlen = (size_t)snprintf(out, n + 1, "io.j[%s](%s);", index, lit);
    free(lit);
    return out;
}

/* A payload as the transport carries it in a poll answer. */
static void respondPayload(sioReq *r, const char *payload, size_t len) {
    if (r->transport != T_JSONP) {
        respond(r->ctx, 200, CT_TEXT, payload, len, NULL);
        return;
    }
    size_t n;
    char *body = jsonpWrap(r->jsonp, payload, len, &n);
    if (!body) {
        respondText(r->ctx, 500, "out of memory");
        return;
    }
    respond(r->ctx, 200, CT_JS, body, n, "X-XSS-Protection: 0\r\n");
    free(body);
}

static void respondUnavailable(jugContext *ctx) {
    jugLog(JUG_LOG_WARNING, "socket.io: Redis unavailable: %s", ctx->store->err);
    respond(ctx, 503, CT_TEXT, "unavailable", 11, "Retry-After: 2\r\n");
}

char *jugSioFormatPoll(const jugDeliveries *d, const char *jsonp, size_t *len, long long *last) {
    char *payload = NULL;
    size_t plen = 0;
    *last = 0;
    for (int i = 0; i < d->count; i++) {
        size_t n;
        char *packet = jugSioDeliveryPacket(d->items[i], d->lens[i], &n);
        if (d->ids[i] > *last) *last = d->ids[i];
        if (!packet) continue;   /* not a delivery: nothing a page could use */
        int rc = jugSioAppendPacket(&payload, &plen, packet, n, d->count > 1);
        free(packet);
        if (rc < 0) return NULL;
    }
    if (!payload && jugSioAppendPacket(&payload, &plen, SIO_NOOP, 3, 0) < 0) return NULL;
    if (!jsonp) {
        *len = plen;
        return payload;
    }
    char *body = jsonpWrap(jsonp, payload, plen, len);
    free(payload);
    return body;
}

/* ---- the session's socket.io keys ---- */

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
    redisReply *r = jugStoreCommand(ctx->store, argc, argv);
    int rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (value) {
        value[0] = '\0';
        if (r && r->type == REDIS_REPLY_STRING && r->len < vlen) {
            memcpy(value, r->str, r->len);
            value[r->len] = '\0';
        }
    }
    if (rc < 0) jugLog(JUG_LOG_WARNING, "socket.io: %s %s: %s", argv[0], key,
                       r ? r->str : ctx->store->err);
    if (r) freeReplyObject(r);
    return rc;
}

/* The keys live as long as a session can: renewed by every request. */
static void setKey(jugContext *ctx, int hold, const char *sid, const char *value, long long ms) {
    char px[24];
    snprintf(px, sizeof(px), "%lld", ms);
    const char *argv[] = {"SET", NULL, value, "PX", px};
    keyCommand(ctx, hold, sid, 5, argv, NULL, 0);
}

static long long ackLifeMs(const jugConfig *cfg) {
    return (long long)cfg->session_ttl * 2000 + (long long)cfg->stream_max_duration * 1000;
}

static void setAck(jugContext *ctx, const char *sid, const char *value) {
    setKey(ctx, 0, sid, value, ackLifeMs(ctx->cfg));
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

static int holdLeased(jugContext *ctx, const char *sid) {
    char v[8];
    const char *argv[] = {"GET", NULL};
    return keyCommand(ctx, 1, sid, 2, argv, v, sizeof(v)) < 0 || v[0] != '\0';
}

/* ---- the hold ---- */

static int shutdownTick(void *arg) {
    (void)arg;
    return jugShuttingDown() ? 1 : 0;
}

/* THE hold of a socket.io poll: pending deliveries after ack, else wait for
 * some up to timeout_ms. OK with d->count 0 means "nothing came" (or the
 * client left: ctx->res->gone is then set by nobody -- *gone says it). The
 * parked long-poll path replaces exactly this function. */
static jugStoreStatus sioHold(jugContext *ctx, const char *sid, long long ack, int timeout_ms,
                              jugDeliveries *d, int *gone) {
    long long deadline = nowMs() + timeout_ms;
    int nudged = 0, retried = 0;
    *gone = 0;
    for (;;) {
        jugStoreStatus st = jugStorePoll(ctx->store, sid, ack, ack, SIO_BATCH, nudged, d);
        if (st != JUG_STORE_OK) return st;
        long long left = deadline - nowMs();
        if (d->count > 0 || left <= 0) return JUG_STORE_OK;
        jugDeliveriesFree(d);
        jugWaitResult w = jugStoreWaitTick(ctx->store, sid, (int)left, ctx->req->client_fd, &nudged,
                                           1000, shutdownTick, NULL);
        if (w == JUG_WAIT_CLIENT_GONE) {
            *gone = 1;
            return JUG_STORE_OK;
        }
        if (w == JUG_WAIT_ERROR) {
            jugLog(JUG_LOG_WARNING, "socket.io: wait failed: %s", ctx->store->err);
            if (retried++) deadline = 0;
        }
        if (jugShuttingDown()) deadline = 0;
    }
}

static int holdSeconds(const jugConfig *cfg) {
    return cfg->poll_timeout < SIO_HOLD_MAX_S ? cfg->poll_timeout : SIO_HOLD_MAX_S;
}

/* ---- handshake ---- */

/* The session id in the Cookie header, if well formed. */
static int cookieSid(const jugContext *ctx, char sid[JUG_SID_LEN + 1]) {
    const char *c = FCGX_GetParam("HTTP_COOKIE", ctx->req->fcgx->envp);
    static const char name[] = SIO_COOKIE "=";
    while (c && *c) {
        while (*c == ' ' || *c == ';') c++;
        size_t n = strcspn(c, ";");
        if (n > sizeof(name) - 1 && !strncmp(c, name, sizeof(name) - 1)) {
            const char *v = c + sizeof(name) - 1;
            size_t vlen = n - (sizeof(name) - 1);
            while (vlen > 0 && v[vlen - 1] == ' ') vlen--;
            if (jugSidValid(v, vlen)) {
                memcpy(sid, v, JUG_SID_LEN);
                sid[JUG_SID_LEN] = '\0';
                return 1;
            }
        }
        c += n;
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

/* The transports this host serves, best first (the client takes the first
 * it can use): htmlfile only where a response can stream and a request
 * does not pin a process (not CGI, not Apache mod_fcgid). websocket and
 * flashsocket never: no FastCGI server passes them through. */
static const char *sioTransports(const jugContext *ctx) {
    const char *sw = FCGX_GetParam("SERVER_SOFTWARE", ctx->req->fcgx->envp);
    int stream = ctx->req->client_fd >= 0 && !(sw && !strncmp(sw, "Apache", 6));
    return stream ? "htmlfile,xhr-polling,jsonp-polling" : "xhr-polling,jsonp-polling";
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
    if (cookieSid(ctx, sid) && !holdLeased(ctx, sid)) {
        jugDeliveries d;
        jugStoreStatus st = jugStorePoll(ctx->store, sid, 0, 0, 1, 0, &d);
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
        jugStoreStatus st = jugStoreConnect(ctx->store, "null", NULL, 0, sid);
        if (st != JUG_STORE_OK) {
            jugLog(JUG_LOG_WARNING, "socket.io: handshake: %s", ctx->store->err);
            handshakeError(ctx, jsonp, st == JUG_STORE_UNAVAILABLE ? 503 : 500, "handshake error");
            return;
        }
    }
    jugLog(JUG_LOG_DEBUG, "socket.io: handshake: %s session %s", resumed ? "resumed" : "new", sid);
    char body[160], cookie[400], path[200];
    int n = snprintf(body, sizeof(body), "%s:%d:%d:%s", sid, SIO_HEARTBEAT_S, SIO_CLOSE_TIMEOUT_S,
                     sioTransports(ctx));
    const char *https = FCGX_GetParam("HTTPS", ctx->req->fcgx->envp);
    cookiePath(ctx, path, sizeof(path));
    snprintf(cookie, sizeof(cookie), "Set-Cookie: " SIO_COOKIE "=%s; Path=%s; HttpOnly; SameSite=Lax%s\r\n",
             sid, path, https && (!strcmp(https, "on") || !strcmp(https, "1")) ? "; Secure" : "");
    if (!jsonp) {
        respond(ctx, 200, "text/plain", body, (size_t)n, cookie);
        return;
    }
    size_t len;
    char *js = jsonpWrap(jsonp, body, (size_t)n, &len);
    if (js) respond(ctx, 200, "application/javascript", js, len, cookie);
    else respondText(ctx, 500, "out of memory");
    free(js);
}

/* ---- polling GET ---- */

static void unknownSession(sioReq *r, int delay) {
    jugLog(JUG_LOG_INFO, "socket.io: unknown or expired session");
    if (delay && !jugShuttingDown()) sleepMs(SIO_UNKNOWN_DELAY_MS);
    respondPayload(r, SIO_UNKNOWN, sizeof(SIO_UNKNOWN) - 1);
}

static void pollGet(sioReq *r) {
    jugContext *ctx = r->ctx;
    int hold_s = holdSeconds(ctx->cfg), first, rollover, gone;
    long long ack, last;
    setKey(ctx, 1, r->sid, "1", (long long)hold_s * 1000 + SIO_LEASE_NEXT_MS);
    if (readAck(ctx, r->sid, &first, &rollover, &ack) < 0) {
        respondUnavailable(ctx);
        return;
    }
    jugDeliveries d = {0};
    jugStoreStatus st = sioHold(ctx, r->sid, ack, first ? 0 : hold_s * 1000, &d, &gone);
    if (st == JUG_STORE_NO_SESSION) {
        dropKey(ctx, 1, r->sid);
        unknownSession(r, 1);
        return;
    }
    if (st != JUG_STORE_OK) {
        respondUnavailable(ctx);
        return;
    }
    if (first) {
        /* Anything pending waits for the next GET, which acknowledges nothing. */
        jugDeliveriesFree(&d);
        setAck(ctx, r->sid, "0");
        respondPayload(r, "1::", 3);
    } else if (!gone) {
        size_t len;
        char *body = jugSioFormatPoll(&d, r->transport == T_JSONP ? r->jsonp : NULL, &len, &last);
        char num[24];
        if (!body) {
            respondText(ctx, 500, "out of memory");
        } else {
            if (last > 0) {
                snprintf(num, sizeof(num), "%lld", last);
                setAck(ctx, r->sid, num);
            }
            respond(ctx, 200, jugSioContentType(r->transport == T_JSONP ? r->jsonp : NULL), body, len,
                    r->transport == T_JSONP ? "X-XSS-Protection: 0\r\n" : NULL);
            if (ctx->res->gone && last > 0) {
                /* Never read: the next GET must not acknowledge it. */
                snprintf(num, sizeof(num), "%lld", ack);
                setAck(ctx, r->sid, num);
            }
        }
        free(body);
    }
    jugDeliveriesFree(&d);
    if (gone || ctx->res->gone || jugShuttingDown()) dropKey(ctx, 1, r->sid);
    else setKey(ctx, 1, r->sid, "1", SIO_LEASE_NEXT_MS);
}

/* ---- htmlfile: a stream (stream.c) in socket.io's envelope ---- */

typedef struct sioStream {
    int first;             /* write "1::" first */
    long long last;        /* highest delivery id written */
    int ended;             /* the rollover packet was written */
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
    sioStream *s = state;
    size_t n;
    char *packet = jugSioDeliveryPacket(delivery, len, &n);
    int rc = packet ? htmlScript(ctx, packet, n) : 0;
    free(packet);
    if (rc == 0 && id > s->last) s->last = id;
    return rc;
}

static int htmlKeepalive(jugContext *ctx, void *state) {
    (void)state;
    return htmlScript(ctx, SIO_NOOP, 3);
}

/* Every end (time to recycle, session gone, Redis gone) asks the client to
 * handshake again; "0::" would stop it for good. */
static int htmlEnd(jugContext *ctx, const char *reason, void *state) {
    sioStream *s = state;
    (void)reason;
    if (htmlScript(ctx, SIO_UNKNOWN, sizeof(SIO_UNKNOWN) - 1) != 0) return -1;
    s->ended = jugResponseFlush(ctx->res) == 0;
    return 0;
}

static const jugStreamOps htmlfileOps = {
    "text/html; charset=UTF-8", NULL, htmlBegin, htmlMessage, htmlKeepalive, htmlEnd,
};

static void htmlfileGet(sioReq *r) {
    jugContext *ctx = r->ctx;
    int first, rollover;
    long long ack;
    long long lease = (long long)ctx->cfg->stream_max_duration * 1000 + SIO_LEASE_NEXT_MS;
    if (readAck(ctx, r->sid, &first, &rollover, &ack) < 0) {
        respondUnavailable(ctx);
        return;
    }
    jugDeliveries d;
    jugStoreStatus st = jugStorePoll(ctx->store, r->sid, ack, ack, 1, 0, &d);
    jugDeliveriesFree(&d);
    if (st == JUG_STORE_NO_SESSION) {
        unknownSession(r, 1);
        return;
    }
    setKey(ctx, 1, r->sid, "1", lease);
    sioStream s = {first, ack, 0};
    if (first) setAck(ctx, r->sid, "0");
    jugStreamRun(ctx, r->sid, ack, &htmlfileOps, &s);
    char num[24];
    if (s.ended) {
        /* The client read the end, so it read everything before it:
         * acknowledge now, as its next request is a new handshake. */
        if (jugStorePoll(ctx->store, r->sid, s.last, s.last, 1, 0, &d) == JUG_STORE_OK) jugDeliveriesFree(&d);
        snprintf(num, sizeof(num), "r%lld", s.last);
        setAck(ctx, r->sid, num);
    }
    dropKey(ctx, 1, r->sid);
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

/* Compact text of a JSON value, or "null" when absent; NULL if too large. */
static char *valueText(const cJSON *v, size_t max) {
    char *t = v ? cJSON_PrintUnformatted(v) : strdup("null");
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
    if (!jugJsonDepthOk(json, len, SIO_JSON_DEPTH) || !jugJsonValid(json, len)) {
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
        char *text = valueText(data, meta ? cfg->max_meta_size : cfg->max_message_size);
        if (!text) ignore(p, "data too large");
        else p->st = meta ? jugStoreSetMeta(p->ctx->store, p->sid, text)
                          : jugStoreEvent(p->ctx->store, p->sid, text);
        if (text) cJSON_free(text);
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
    if (post) pollPost(&r);
    else if (r.transport == T_HTMLFILE) htmlfileGet(&r);
    else pollGet(&r);
}
