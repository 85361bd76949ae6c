/* transport_sse.c -- Server-Sent Events: the "sse" and Jugglite "stream" endpoints.
 *
 * "sse" streams an existing session's deliveries, each as one event whose
 * id is the delivery id, so the browser's Last-Event-ID on reconnect is the
 * acknowledgement. "stream" is Jugglite's endpoint: it needs no connect,
 * creates a session for the channels in the URL, and sends the published
 * data itself; its event ids carry the session id ("<sid>.<n>") so that
 * EventSource's automatic reconnect resumes the same session where it left
 * off (a message's own "id" never replaces them). The loop
 * itself is in stream.c; this file only frames records. */
#include "autoconfig.h"
#include "handlers.h"
#include "stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
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

/* A named event: plain onmessage handlers do not see it. */
static int sseMissed(jugContext *ctx, const char *json, void *state) {
    (void)state;
    if (writeStr(ctx, "event: missed\n") != 0 || writeDataLines(ctx, json, strlen(json)) != 0) return -1;
    return writeStr(ctx, "\n");
}

static const jugStreamOps sseOps = {
    .name = "sse",
    .content_type = "text/event-stream; charset=utf-8",
    .begin = sseBegin,
    .message = sseMessage,
    .keepalive = sseKeepalive,
    .end = sseEnd,
    .missed = sseMissed,
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

/* The SSE "event:" line for a delivery's "event" member, if it has a usable one. */
static int juggliteEvent(jugContext *ctx, jugJsonSpan root) {
    jugJsonSpan v;
    size_t len;
    int rc = 0;
    if (jugJsonMember(root, "event", &v) < 0 || jugJsonTypeOf(v) != JUG_JSON_STRING) return 0;
    char *name = jugJsonStringDup(v, &len);
    if (name && len == strlen(name) && fieldValid(name))
        rc = writeStr(ctx, "event: ") != 0 || writeStr(ctx, name) != 0 || writeStr(ctx, "\n") != 0 ? -1 : 0;
    free(name);
    return rc;
}

/* The data lines: a string is sent as its text (what Jugglite publishers
 * sent), any other value as the JSON text it was published as. */
static int jugglitePayload(jugContext *ctx, jugJsonSpan root) {
    jugJsonSpan v = {"null", 4};
    if (jugJsonMember(root, "data", &v) < 0) v = (jugJsonSpan){"null", 4};
    if (jugJsonTypeOf(v) != JUG_JSON_STRING) return writeDataLines(ctx, v.p, v.len);
    char *text = jugJsonStringDup(v, NULL);
    if (!text) return -1;
    int rc = writeDataLines(ctx, text, strlen(text));
    free(text);
    return rc;
}

/* The id is always "<sid>.<delivery id>", also for a message that carries
 * an "id" of its own (that one stays in the data): it is what EventSource
 * sends back as Last-Event-ID, and so where the stream resumes. */
static int juggliteMessage(jugContext *ctx, const char *item, size_t len, long long id, void *state) {
    const jugglite *jl = state;
    jugJsonSpan root = {item, len};
    char head[JUG_SID_LEN + 32];

    if (jugJsonTypeOf(root) != JUG_JSON_OBJECT) {
        /* The poller writes only checked JSON; skip rather than end the stream. */
        jugLog(JUG_LOG_WARNING, "stream %s: delivery %lld is not a JSON object; skipped", jl->sid, id);
        return 0;
    }
    snprintf(head, sizeof(head), "id: %s.%lld\n", jl->sid, id);
    if (juggliteEvent(ctx, root) != 0 || writeStr(ctx, head) != 0 || jugglitePayload(ctx, root) != 0)
        return -1;
    return writeStr(ctx, "\n");
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
        jugStoreStatus st = jugStoreConnect(ctx->store, "null", channels, count, jl.sid, NULL);
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
