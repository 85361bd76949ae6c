/* transport_sse.c -- Server-Sent Events: the "sse" and Jugglite "stream" endpoints.
 *
 * "sse" streams an existing session's deliveries, each as one event whose
 * id is the delivery id, so the browser's Last-Event-ID on reconnect is the
 * acknowledgement. "stream" is Jugglite's endpoint: it needs no connect,
 * creates a session for the channels in the URL, and sends the published
 * data itself; its event ids carry the session id ("<sid>.<n>") so that
 * EventSource's automatic reconnect resumes the same session. The loop
 * itself is in stream.c; this file only frames records. */
#include "autoconfig.h"
#include "handlers.h"
#include "stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "log.h"
#include "sid.h"

#define SSE_PADDING 2048

/* Old proxies and EventSource polyfills deliver nothing before a couple of
 * KiB have arrived; a comment line of that size gets them going. */
static int writePreamble(jugContext *ctx) {
    static const char retry[] = "retry: 2000\n";
    char comment[SSE_PADDING];   /* per call: threads share no buffer */

    memset(comment, ' ', sizeof(comment));
    comment[0] = ':';
    comment[SSE_PADDING - 1] = '\n';
    if (jugResponseWrite(ctx->res, retry, sizeof(retry) - 1) != 0) return -1;
    if (jugResponseWrite(ctx->res, comment, SSE_PADDING) != 0) return -1;
    return jugResponseWrite(ctx->res, "\n", 1);
}

static int writeStr(jugContext *ctx, const char *s) {
    return jugResponseWrite(ctx->res, s, strlen(s));
}

/* "data: <line>\n" for every line of text: CR, LF and CRLF all end a line
 * in SSE, so each must start a new data: field or the event would break. */
static int writeDataLines(jugContext *ctx, const char *text, size_t len) {
    size_t i = 0;
    for (;;) {
        size_t n = 0;
        while (i + n < len && text[i + n] != '\r' && text[i + n] != '\n') n++;
        if (writeStr(ctx, "data: ") != 0 || jugResponseWrite(ctx->res, text + i, n) != 0 ||
            writeStr(ctx, "\n") != 0)
            return -1;
        i += n;
        if (i >= len) return 0;
        if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') i++;
        i++;   /* a break at the very end still gets its (empty) last line */
    }
}

/* A field value (event:, id:) may not contain a line break or NUL; 1 if s is usable. */
static int fieldValid(const char *s) {
    return s[0] && !strpbrk(s, "\r\n");
}

/* ---- sse ---- */

static int sseBegin(jugContext *ctx, void *state) {
    (void)state;
    return writePreamble(ctx);
}

static int sseMessage(jugContext *ctx, const char *delivery, size_t len, long long id, void *state) {
    char head[48];
    (void)state;
    snprintf(head, sizeof(head), "id: %lld\n", id);
    if (writeStr(ctx, head) != 0 || writeDataLines(ctx, delivery, len) != 0) return -1;
    return writeStr(ctx, "\n");
}

/* A comment for proxies, and a named event for our client: EventSource
 * hides comments from scripts, and the client must see that a quiet stream
 * is alive. Pages using plain onmessage never see named events. */
static int sseKeepalive(jugContext *ctx, void *state) {
    (void)state;
    return writeStr(ctx, ": keepalive\nevent: keepalive\ndata: {}\n\n");
}

/* Jugglite pages know nothing of our events: a comment keeps proxies awake. */
static int juggliteKeepalive(jugContext *ctx, void *state) {
    (void)state;
    return writeStr(ctx, ": keepalive\n\n");
}

static int sseEnd(jugContext *ctx, const char *reason, void *state) {
    (void)state;
    if (strcmp(reason, "reconnect") == 0) return writeStr(ctx, "event: reconnect\ndata: {}\n\n");
    if (writeStr(ctx, "event: juggernaut-error\n") != 0) return -1;
    const char *json = jugStreamControlJson(reason);
    if (writeDataLines(ctx, json, strlen(json)) != 0) return -1;
    return writeStr(ctx, "\n");
}

static const jugStreamOps sseOps = {
    .name = "sse",
    .content_type = "text/event-stream; charset=utf-8",
    .begin = sseBegin,
    .message = sseMessage,
    .keepalive = sseKeepalive,
    .end = sseEnd,
};

void jugHandleSse(jugContext *ctx) {
    const char *sid;
    long long ack;

    if (jugStreamSession(ctx, &sid, &ack) < 0) return;
    jugStreamRun(ctx, sid, ack, &sseOps, NULL);
}

/* ---- stream (Jugglite) ---- */

typedef struct jugglite {
    char sid[JUG_SID_LEN + 1];
} jugglite;

/* The raw JSON text of the value at s (valid, compact JSON as the fan-out
 * script writes it): its length up to the ',' or '}' that ends it. */
static size_t jsonValueLen(const char *s, size_t len) {
    size_t i = 0;
    int depth = 0;
    while (i < len) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\') i++;
            if (i >= len) return 0;
            i++;
            if (depth == 0) return i;
        } else if (c == '{' || c == '[') {
            depth++;
            i++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return i;            /* a scalar ended by the object's end */
            i++;
            if (--depth == 0) return i;
        } else if (c == ',' && depth == 0) {
            return i;
        } else {
            i++;
        }
    }
    return depth == 0 ? i : 0;
}

/* Find the raw text of the top-level "data" member of a delivery. The value
 * is forwarded as published: parsing and printing it again could change
 * numbers that a double cannot hold. Returns 0, or -1 if there is none. */
static int deliveryData(const char *item, size_t len, const char **data, size_t *datalen) {
    size_t i = 1;
    if (len < 2 || item[0] != '{') return -1;
    while (i < len) {
        size_t klen = jsonValueLen(item + i, len - i);
        if (klen < 2 || item[i] != '"' || i + klen >= len || item[i + klen] != ':') return -1;
        const char *key = item + i;
        i += klen + 1;
        size_t vlen = jsonValueLen(item + i, len - i);
        if (vlen == 0) return -1;
        if (klen == 6 && memcmp(key, "\"data\"", 6) == 0) {
            *data = item + i;
            *datalen = vlen;
            return 0;
        }
        i += vlen;
        if (i >= len || item[i] != ',') return -1;
        i++;
    }
    return -1;
}

static int jugglitePayload(jugContext *ctx, const cJSON *data, const char *item, size_t len) {
    const char *raw;
    size_t rawlen;

    if (cJSON_IsString(data)) return writeDataLines(ctx, data->valuestring, strlen(data->valuestring));
    if (deliveryData(item, len, &raw, &rawlen) != 0) {
        raw = "null";
        rawlen = 4;
    }
    return writeDataLines(ctx, raw, rawlen);
}

static int juggliteMessage(jugContext *ctx, const char *item, size_t len, long long id, void *state) {
    const jugglite *jl = state;
    cJSON *root = cJSON_ParseWithLength(item, len);
    int rc = -1;

    if (!root) {
        /* The poller writes only valid JSON; skip rather than end the stream. */
        jugLog(JUG_LOG_WARNING, "stream %s: delivery %lld is not JSON; skipped", jl->sid, id);
        return 0;
    }
    const cJSON *event = cJSON_GetObjectItemCaseSensitive(root, "event");
    const cJSON *event_id = cJSON_GetObjectItemCaseSensitive(root, "event_id");
    char own_id[JUG_SID_LEN + 32];
    const char *idtext = own_id;

    snprintf(own_id, sizeof(own_id), "%s.%lld", jl->sid, id);
    if (cJSON_IsString(event_id) && fieldValid(event_id->valuestring)) idtext = event_id->valuestring;
    if (cJSON_IsString(event) && fieldValid(event->valuestring) &&
        (writeStr(ctx, "event: ") != 0 || writeStr(ctx, event->valuestring) != 0 ||
         writeStr(ctx, "\n") != 0))
        goto out;
    if (writeStr(ctx, "id: ") != 0 || writeStr(ctx, idtext) != 0 || writeStr(ctx, "\n") != 0)
        goto out;
    if (jugglitePayload(ctx, cJSON_GetObjectItemCaseSensitive(root, "data"), item, len) != 0)
        goto out;
    rc = writeStr(ctx, "\n");
out:
    cJSON_Delete(root);
    return rc;
}

/* EventSource reconnects by itself after "retry" ms; the next request either
 * resumes this session (Last-Event-ID) or, if it lapsed, starts a new one. */
static int juggliteEnd(jugContext *ctx, const char *reason, void *state) {
    (void)state;
    return writeStr(ctx, strcmp(reason, "unavailable") == 0 ? "retry: 5000\n\n" : "retry: 2000\n\n");
}

static const jugStreamOps juggliteOps = {
    .state_size = sizeof(jugglite),
    .name = "sse",
    .content_type = "text/event-stream; charset=utf-8",
    .begin = sseBegin,
    .message = juggliteMessage,
    .keepalive = juggliteKeepalive,
    .end = juggliteEnd,
};

/* Last-Event-ID of the form "<sid>.<n>" as our own ids are: 0 and the parts,
 * or -1 for anything else (an app's own event id, say). */
static int parseResumeId(const char *id, char sid[JUG_SID_LEN + 1], long long *n) {
    char *end;
    if (!id || strlen(id) < JUG_SID_LEN + 2 || id[JUG_SID_LEN] != '.' || !jugSidValid(id, JUG_SID_LEN))
        return -1;
    const char *num = id + JUG_SID_LEN + 1;
    if (*num < '0' || *num > '9') return -1;
    errno = 0;
    *n = strtoll(num, &end, 10);
    if (errno || *end) return -1;
    memcpy(sid, id, JUG_SID_LEN);
    sid[JUG_SID_LEN] = '\0';
    return 0;
}

/* 1 if sid is alive (the poll also acknowledges up to ack), 0 if not,
 * -1 on a store failure (already answered). */
static int sessionAlive(jugContext *ctx, const char *sid, long long ack) {
    jugDeliveries d = {0};
    jugStoreStatus st = jugStorePoll(ctx->store, sid, ack, ack, 1, &d);
    jugDeliveriesFree(&d);
    if (st == JUG_STORE_OK) return 1;
    if (st == JUG_STORE_NO_SESSION) return 0;
    jugRespondStoreError(ctx, st);
    return -1;
}

void jugHandleStream(jugContext *ctx) {
    jugglite jl;
    const char **channels = NULL;
    int count = 0, status, alive = 0;
    long long ack = 0;
    char err[256];

    status = jugRequestChannels(ctx->req, &channels, &count, ctx->cfg->max_channels_per_session, 1,
                                err, sizeof(err));
    if (status != 0) {
        jugResponseError(ctx->res, status, jugErrorCode(status), err);
        return;
    }
    if (parseResumeId(ctx->req->last_event_id, jl.sid, &ack) == 0 &&
        (alive = sessionAlive(ctx, jl.sid, ack)) < 0)
        goto out;
    if (!alive) {
        jugStoreStatus st = jugStoreConnect(ctx->store, "null", channels, count, jl.sid);
        if (st != JUG_STORE_OK) {
            jugRespondStoreError(ctx, st);
            goto out;
        }
        ack = 0;
    }
    jugStreamRun(ctx, jl.sid, ack, &juggliteOps, &jl);
out:
    free(channels);
}
