/* stream.c -- the loop every streaming transport shares (see stream.h).
 *
 * A stream is a long-poll that never answers: it polls the session once,
 * writes what is pending, then blocks on the inbox and writes each batch the
 * moment it arrives. Deliveries it writes stay in the session's "sent" list
 * until the client's next request acknowledges them (docs/PROTOCOL.md,
 * "Delivery guarantee"), so a stream that is cut off loses nothing. Every
 * poll also marks the session alive, and the loop polls at least once per
 * keepalive interval and per half session_ttl (the config does not order the
 * two), so an open stream keeps its session from lapsing. */
#include "autoconfig.h"
#include "stream.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Deliveries fetched per poll; a full batch means "poll again at once". */
#define STREAM_BATCH 100

/* Wakeups that found nothing before the loop takes a short pause: a guard
 * against a wait that keeps returning at once, never hit in normal use. */
#define STREAM_IDLE_WAKEUPS 8
#define STREAM_IDLE_PAUSE_MS 100

#define ACCEL_HEADER "X-Accel-Buffering: no\r\n"

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pauseMs(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

const char *jugStreamControlJson(const char *reason) {
    if (strcmp(reason, "keepalive") == 0) return "{\"event\":\"keepalive\"}";
    if (strcmp(reason, "reconnect") == 0) return "{\"event\":\"reconnect\"}";
    if (strcmp(reason, "session_expired") == 0)
        return "{\"event\":\"error\",\"error\":\"session_expired\","
               "\"message\":\"unknown or expired session: connect again\"}";
    return "{\"event\":\"error\",\"error\":\"unavailable\","
           "\"message\":\"the message store is unreachable: reconnect later\"}";
}

/* Status line, headers (nginx must not buffer), the transport's preamble. */
static int streamStart(jugContext *ctx, const jugStreamOps *ops, void *state) {
    char extra[512];
    const char *more = ops->extra_headers ? ops->extra_headers : "";
    const char *accel = strstr(more, ACCEL_HEADER) ? "" : ACCEL_HEADER;

    if ((size_t)snprintf(extra, sizeof(extra), "%s%s", accel, more) >= sizeof(extra))
        return -1;
    if (jugResponseHeaders(ctx->res, 200, ops->content_type, extra) != 0) return -1;
    if (ops->begin && ops->begin(ctx, state) != 0) return -1;
    return jugResponseFlush(ctx->res);
}

/* Write one batch and flush it; *last becomes the highest id written. */
static int streamWriteBatch(jugContext *ctx, const jugDeliveries *d, long long *last,
                            const jugStreamOps *ops, void *state) {
    for (int i = 0; i < d->count; i++) {
        if (ops->message(ctx, d->items[i], d->lens[i], d->ids[i], state) != 0) return -1;
        if (d->ids[i] > *last) *last = d->ids[i];
    }
    return jugResponseFlush(ctx->res);
}

/* Tell the client why the stream ends, as the transport frames it. */
static void streamEnd(jugContext *ctx, const char *reason, const jugStreamOps *ops, void *state) {
    if (ctx->res->gone) return;
    if (ops->end && ops->end(ctx, reason, state) == 0) jugResponseFlush(ctx->res);
}

/* Free a batch and leave it empty, so freeing it again is harmless. */
static void batchClear(jugDeliveries *d) {
    jugDeliveriesFree(d);
    memset(d, 0, sizeof(*d));
}

/* A write failed: the client left while the web server still held the
 * request open (Apache notices only when it writes). Deliveries this stream
 * moved into "sent" may never have reached anyone, and the browser's next
 * stream may already be blocked on the inbox: wake it so it re-reads "sent". */
static void streamLost(jugContext *ctx, const char *sid) {
    if (jugStoreNudge(ctx->store, sid) != JUG_STORE_OK)
        jugLog(JUG_LOG_DEBUG, "stream %s: nudge: %s", sid, ctx->store->err);
}

static const char *storeEndReason(jugStoreStatus st) {
    return st == JUG_STORE_NO_SESSION ? "session_expired" : "unavailable";
}

int jugStreamSession(jugContext *ctx, const char **sid, long long *ack) {
    char err[256];
    int status = jugRequestSessionId(ctx->req, sid, err, sizeof(err));
    if (!status) status = jugRequestAck(ctx->req, ack, err, sizeof(err));
    if (!status) return 0;
    jugResponseError(ctx->res, status, jugErrorCode(status), err);
    return -1;
}

void jugStreamRun(jugContext *ctx, const char *sid, long long ack, const jugStreamOps *ops,
                  void *state) {
    const long long keepalive_ms = (long long)ctx->cfg->keepalive_interval * 1000;
    const long long touch_ms = (long long)ctx->cfg->session_ttl * 1000 / 2;
    jugDeliveries d = {0};
    long long last = ack, start, last_write;
    int nudged = 0, idle_wakeups = 0;
    const char *end_reason = NULL;

    /* Ask first, so a dead session gets a plain 410 rather than a stream. */
    jugStoreStatus st = jugStorePoll(ctx->store, sid, ack, ack, STREAM_BATCH, 0, &d);
    if (st != JUG_STORE_OK) {
        jugRespondStoreError(ctx, st);
        return;
    }
    if (streamStart(ctx, ops, state) != 0) goto done;
    start = last_write = nowMs();

    for (;;) {
        int full = d.count == STREAM_BATCH;
        if (d.count > 0) {
            if (streamWriteBatch(ctx, &d, &last, ops, state) != 0) goto done;
            last_write = nowMs();
            idle_wakeups = 0;
        }
        batchClear(&d);

        long long now = nowMs();
        if (now - start >= (long long)ctx->cfg->stream_max_duration * 1000) {
            end_reason = "reconnect";
            break;
        }
        if (now - last_write >= keepalive_ms) {
            if (ops->keepalive(ctx, state) != 0 || jugResponseFlush(ctx->res) != 0) goto done;
            last_write = now;
        }

        if (!full) {
            long long timeout = last_write + keepalive_ms - now;
            long long left = start + (long long)ctx->cfg->stream_max_duration * 1000 - now;
            if (left < timeout) timeout = left;
            if (touch_ms < timeout) timeout = touch_ms;
            if (timeout < 10) timeout = 10;   /* 0 would mean "block forever" */

            nudged = 0;
            jugWaitResult w = jugStoreWait(ctx->store, sid, (int)timeout, ctx->req->client_fd, &nudged);
            if (w == JUG_WAIT_CLIENT_GONE) goto done;
            if (w == JUG_WAIT_ERROR) {
                jugLog(JUG_LOG_WARNING, "stream %s: %s", sid, ctx->store->err);
                end_reason = "unavailable";
                break;
            }
            if (w == JUG_WAIT_READY && ++idle_wakeups > STREAM_IDLE_WAKEUPS) {
                pauseMs(STREAM_IDLE_PAUSE_MS);
                idle_wakeups = 0;
            }
        }

        /* Also after a timeout: this poll is what keeps the session alive. */
        st = jugStorePoll(ctx->store, sid, ack, last, STREAM_BATCH, nudged, &d);
        if (st != JUG_STORE_OK) {
            if (st != JUG_STORE_NO_SESSION)
                jugLog(JUG_LOG_WARNING, "stream %s: %s", sid, ctx->store->err);
            end_reason = storeEndReason(st);
            break;
        }
    }
    streamEnd(ctx, end_reason, ops, state);
done:
    if (ctx->res->gone) streamLost(ctx, sid);
    batchClear(&d);
}
