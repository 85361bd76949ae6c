/* handlers.c -- the session and subscription endpoints (see handlers.h).
 *
 * Each handler validates its parameters (request.c), makes one store call
 * (one Lua script, so one atomic step in Redis) and answers JSON. Failures
 * are answered with the status of docs/PROTOCOL.md, "Errors", and logged. */
#include "autoconfig.h"
#include "handlers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hold.h"
#include "host.h"
#include "json.h"
#include "log.h"
#include "message.h"
#include "stats.h"

#define SCRIPT_MAX_SIZE (1 << 20)
#define SCRIPT_MAX_AGE 300
/* Nesting a published message may have (the JSON parser recurses per level). */
#define PUBLISH_MAX_DEPTH 64

/* Answer a bad request (status from the request getters) and log why. */
static void respondInvalid(jugContext *ctx, int status, const char *err) {
    jugLog(JUG_LOG_INFO, "%s: %d: %s", ctx->req->endpoint_name, status, err);
    jugResponseError(ctx->res, status, jugErrorCode(status), err);
}

/* One line when Redis becomes unusable, a count every so often while it
 * stays so (common/redis.h, episodes), never one per request. */
void jugLogUnavailable(jugContext *ctx) {
    jugRedisErrorKind kind = ctx->store->kind;
    long count;
    if (!jugRedisErrorTransient(kind)) kind = JUG_REDIS_ERR_CONNECTION;
    switch (jugRedisEpisodeFail(kind, &count)) {
    case JUG_EPISODE_STARTED:
        jugLog(JUG_LOG_ERROR, "Redis %s: answering 503 until it recovers (%s: %s)", jugRedisErrorMeaning(kind),
               ctx->req->endpoint_name, ctx->store->err);
        break;
    case JUG_EPISODE_ONGOING:
        jugLog(JUG_LOG_WARNING, "Redis still %s: %ld more request(s) got 503 since the last line (%s)",
               jugRedisErrorMeaning(kind), count, ctx->store->err);
        break;
    default:
        break;
    }
}

void jugRespondStoreError(jugContext *ctx, jugStoreStatus status) {
    const char *what = ctx->req->endpoint_name;
    switch (status) {
    case JUG_STORE_OK:
        return;
    case JUG_STORE_NO_SESSION:
        jugLog(JUG_LOG_INFO, "%s: unknown or expired session", what);
        jugResponseError(ctx->res, 410, "session_expired", "unknown or expired session: connect again");
        return;
    case JUG_STORE_TOO_MANY:
        jugLog(JUG_LOG_INFO, "%s: too many channels for one session", what);
        jugResponseError(ctx->res, 413, "too_large", "too many channels for one session");
        return;
    case JUG_STORE_UNAVAILABLE:
        jugLogUnavailable(ctx);
        jugResponseError(ctx->res, 503, "unavailable", "Redis is unavailable; retry shortly");
        return;
    case JUG_STORE_ERROR:
        break;
    }
    jugLog(JUG_LOG_ERROR, "%s: store error: %s", what, ctx->store->err);
    jugResponseError(ctx->res, 500, "internal", "internal error");
}

static void appendChannels(jugBuf *b, const char **channels, int count) {
    jugBufAppendStr(b, "[");
    for (int i = 0; i < count; i++) {
        /* Channel names are validated: no quote or backslash can occur. */
        jugBufAppendStr(b, i ? ",\"" : "\"");
        jugBufAppendStr(b, channels[i]);
        jugBufAppendStr(b, "\"");
    }
    jugBufAppendStr(b, "]");
}

/* Send a built body, or a 500 when building it ran out of memory. */
static void respondBuf(jugContext *ctx, jugBuf *b) {
    if (b->oom) {
        jugLog(JUG_LOG_ERROR, "%s: out of memory", ctx->req->endpoint_name);
        jugResponseError(ctx->res, 500, "internal", "out of memory");
    } else {
        jugResponseJson(ctx->res, 200, b->s);
    }
    jugBufFree(b);
}

void jugHandleConnect(jugContext *ctx) {
    const jugConfig *cfg = ctx->cfg;
    char err[160];
    const char *meta;
    const char **channels = NULL;
    int count = 0;
    int rc = jugRequestJson(ctx->req, "meta", cfg->max_meta_size, &meta, err, sizeof(err));
    if (!rc) rc = jugRequestChannels(ctx->req, &channels, &count, cfg->max_channels_per_session, 0,
                                     err, sizeof(err));
    if (rc) {
        respondInvalid(ctx, rc, err);
        return;
    }
    char sid[JUG_SID_LEN + 1];
    int max_held = jugHostSharedHoldLimit();
    jugSlotLoad load = {max_held, jugHostHoldReserve(), 0, {0, 0, 0}};
    jugStoreStatus st = jugStoreConnect(ctx->store, meta, channels, count, sid, &load);
    if (st != JUG_STORE_OK) {
        free(channels);
        jugRespondStoreError(ctx, st);
        return;
    }
    jugStatsAdd(JUG_STAT_CONNECTS, 1);
    jugBuf b = {0};
    char nums[256];
    jugBufAppendStr(&b, "{\"session_id\":\"");
    jugBufAppendStr(&b, sid);
    snprintf(nums, sizeof(nums),
             "\",\"poll_timeout\":%d,\"session_ttl\":%d,\"keepalive_interval\":%d,\"transports\":%s,"
             "\"channels\":",
             cfg->poll_timeout, cfg->session_ttl, cfg->keepalive_interval, jugHostTransportsJson(cfg));
    jugBufAppendStr(&b, nums);
    appendChannels(&b, channels, count);
    if (load.full) {
        /* Its first poll would only be refused (nothing is queued for a
         * new session): the client waits instead, as a refused poll would. */
        snprintf(nums, sizeof(nums), ",\"retry\":%d",
                 jugHoldRetryMs(&load.load, max_held, cfg->session_ttl));
        jugBufAppendStr(&b, nums);
    }
    jugBufAppendStr(&b, "}");
    free(channels);
    jugLog(JUG_LOG_DEBUG, "connect: session %s with %d channels", sid, count);
    respondBuf(ctx, &b);
}

/* subscribe and unsubscribe differ only in the store call. */
static void handleChannels(jugContext *ctx, int subscribe) {
    char err[160];
    const char *sid;
    const char **channels = NULL;
    int count = 0;
    int rc = jugRequestSessionId(ctx->req, &sid, err, sizeof(err));
    if (!rc) rc = jugRequestChannels(ctx->req, &channels, &count, ctx->cfg->max_channels_per_session, 1,
                                     err, sizeof(err));
    if (rc) {
        respondInvalid(ctx, rc, err);
        return;
    }
    jugStoreStatus st = subscribe ? jugStoreSubscribe(ctx->store, sid, channels, count)
                                  : jugStoreUnsubscribe(ctx->store, sid, channels, count);
    if (st != JUG_STORE_OK) {
        free(channels);
        jugRespondStoreError(ctx, st);
        return;
    }
    jugBuf b = {0};
    jugBufAppendStr(&b, "{\"ok\":true,\"channels\":");
    appendChannels(&b, channels, count);
    jugBufAppendStr(&b, "}");
    free(channels);
    respondBuf(ctx, &b);
}

void jugHandleSubscribe(jugContext *ctx) {
    handleChannels(ctx, 1);
}

void jugHandleUnsubscribe(jugContext *ctx) {
    handleChannels(ctx, 0);
}

static void respondOk(jugContext *ctx, jugStoreStatus st) {
    if (st != JUG_STORE_OK) jugRespondStoreError(ctx, st);
    else jugResponseJson(ctx->res, 200, "{\"ok\":true}");
}

/* meta and event: a session id and one JSON value. */
static void handleSessionJson(jugContext *ctx, const char *name, size_t max, int is_meta) {
    char err[160];
    const char *sid, *json;
    int rc = jugRequestSessionId(ctx->req, &sid, err, sizeof(err));
    if (!rc) rc = jugRequestJson(ctx->req, name, max, &json, err, sizeof(err));
    if (rc) {
        respondInvalid(ctx, rc, err);
        return;
    }
    respondOk(ctx, is_meta ? jugStoreSetMeta(ctx->store, sid, json) : jugStoreEvent(ctx->store, sid, json));
}

void jugHandleMeta(jugContext *ctx) {
    handleSessionJson(ctx, "meta", ctx->cfg->max_meta_size, 1);
}

void jugHandleEvent(jugContext *ctx) {
    handleSessionJson(ctx, "data", ctx->cfg->max_message_size, 0);
}

void jugHandleDisconnect(jugContext *ctx) {
    char err[160];
    const char *sid;
    int rc = jugRequestSessionId(ctx->req, &sid, err, sizeof(err));
    if (rc) {
        respondInvalid(ctx, rc, err);
        return;
    }
    respondOk(ctx, jugStoreDisconnect(ctx->store, sid));
}

/* Demo only: lets the bundled demo page publish without an app server.
 * Off unless demo_publish is set, since it lets any browser publish. */
void jugHandlePublish(jugContext *ctx) {
    const jugConfig *cfg = ctx->cfg;
    if (!cfg->demo_publish) {
        respondInvalid(ctx, 404, "unknown endpoint 'publish'");
        return;
    }
    const char *text = jugRequestParam(ctx->req, "message");
    if (!text || !*text) {
        respondInvalid(ctx, 400, "missing message");
        return;
    }
    size_t len = strlen(text);
    if (len > cfg->max_message_size) {
        respondInvalid(ctx, 413, "message too large");
        return;
    }
    if (jugJsonCheck(text, len, PUBLISH_MAX_DEPTH, NULL) == JUG_JSON_DEPTH) {
        respondInvalid(ctx, 400, "message nests too deeply");
        return;
    }
    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN];
    if (jugMessageParse(&msg, text, len, cfg->max_message_size, cfg->max_channels_per_message, err,
                        sizeof(err)) < 0) {
        respondInvalid(ctx, 400, err);
        return;
    }
    jugMessageFree(&msg);
    respondOk(ctx, jugStorePublish(ctx->store, text));
}

/* Read a small regular file whole. NULL (errno set) if missing, unreadable
 * or larger than max. */
static char *readSmallFile(const char *path, size_t max, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        errno = EFBIG;
        goto done;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) goto done;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *len = got;
done:
    close(fd);
    return buf;
}

/* client-js/juggernaut.js holds this string where the worker that serves it
 * puts its own base path, so that the client finds the worker however the
 * page names the script (README, "Where the client finds the worker"). */
#define SCRIPT_BASE_MARK "@JUGGERNAUT_BASE@"

/* The URL path the script was asked for, without its last segment
 * ("/cgi-bin/juggernaut.fcgi/application.js" -> "/cgi-bin/juggernaut.fcgi"),
 * if that segment names the script and the path is plain enough to go into
 * a JavaScript string as it is. Else "" (the mark stays: the default path). */
static void scriptBase(const jugContext *ctx, char *out, size_t outlen) {
    const char *uri = FCGX_GetParam("REQUEST_URI", ctx->req->fcgx->envp);
    size_t n = uri ? strcspn(uri, "?#") : 0;
    const char *slash = n ? memrchr(uri, '/', n) : NULL;
    out[0] = '\0';
    if (!slash || uri[0] != '/' || (size_t)(slash - uri) >= outlen ||
        jugEndpointFromName(slash + 1, (size_t)(uri + n - slash - 1)) != ctx->req->endpoint)
        return;
    for (const char *p = uri; p < slash; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '<' || *p == '\'') return;
    memcpy(out, uri, (size_t)(slash - uri));
    out[slash - uri] = '\0';
}

/* body with the first SCRIPT_BASE_MARK replaced by base (in place when it fits). */
static char *putBase(char *body, size_t *len, const char *base) {
    const size_t mark = sizeof(SCRIPT_BASE_MARK) - 1, blen = strlen(base);
    char *at = *base ? memmem(body, *len, SCRIPT_BASE_MARK, mark) : NULL;
    if (!at) return body;
    size_t off = (size_t)(at - body), newlen = *len - mark + blen;
    char *out = malloc(newlen + 1);
    if (!out) return body;
    memcpy(out, body, off);
    memcpy(out + off, base, blen);
    memcpy(out + off + blen, at + mark, *len - off - mark + 1);
    free(body);
    *len = newlen;
    return out;
}

void jugHandleScript(jugContext *ctx) {
    /* application.js is the name Juggernaut 2.1.1 pages load the client by. */
    const char *file = ctx->req->endpoint == JUG_EP_SCRIPT_MIN ? "juggernaut.min.js" : "juggernaut.js";
    char path[600], msg[64];
    snprintf(path, sizeof(path), "%s/%s", ctx->cfg->static_dir, file);
    size_t len = 0;
    char *body = readSmallFile(path, SCRIPT_MAX_SIZE, &len);
    if (!body) {
        jugLog(JUG_LOG_INFO, "%s: %s: %s", ctx->req->endpoint_name, path, strerror(errno));
        snprintf(msg, sizeof(msg), "%s is not installed", file);
        jugResponseError(ctx->res, 404, "not_found", msg);
        return;
    }
    char base[256];
    scriptBase(ctx, base, sizeof(base));
    body = putBase(body, &len, base);
    char extra[64];
    snprintf(extra, sizeof(extra), "Content-Length: %zu\r\n", len);
    if (jugResponseHeadersCached(ctx->res, 200, "application/javascript; charset=utf-8",
                                 SCRIPT_MAX_AGE, extra) == 0)
        jugResponseWrite(ctx->res, body, len);
    jugResponseFlush(ctx->res);
    free(body);
}
