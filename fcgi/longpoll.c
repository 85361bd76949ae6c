/* longpoll.c -- the long-poll endpoint, plain and JSONP (see handlers.h).
 *
 * A poll acknowledges what the client has, returns whatever is pending at
 * once, and otherwise blocks on the session's inbox until something comes
 * or the timeout passes. Deliveries are JSON texts already; the body is
 * built by concatenating them, never by parsing. Nothing is removed from
 * Redis by answering: a delivery leaves "sent" only when a later request
 * acknowledges it, so a response lost on the way is simply sent again. */
#include "autoconfig.h"
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Deliveries one response carries at most; the rest come with the next poll. */
#define POLL_BATCH 500

/* While waiting, a space goes out this often: JSON and JSONP allow leading
 * whitespace, and the write is what makes lighttpd notice a browser that
 * left (it then closes our connection and the wait ends). */
#define POLL_HEARTBEAT_MS 1000

static long long monotonicMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The timeout parameter in seconds, clamped to poll_timeout. 0 = answer now. */
static int pollTimeout(const jugContext *ctx, int *seconds, char *err, size_t errlen) {
    const char *v = jugRequestParam(ctx->req, "timeout");
    *seconds = ctx->cfg->poll_timeout;
    if (!v) return 0;
    size_t n = strlen(v);
    if (n == 0 || n > 6 || strspn(v, "0123456789") != n) {
        snprintf(err, errlen, "timeout must be a whole number of seconds");
        return 400;
    }
    int t = atoi(v);
    *seconds = t < ctx->cfg->poll_timeout ? t : ctx->cfg->poll_timeout;
    return 0;
}

static void respondMessages(jugContext *ctx, const char *sid, const jugDeliveries *d) {
    jugBuf b = {0};
    jugBufAppendStr(&b, "{\"messages\":[");
    for (int i = 0; i < d->count; i++) {
        if (i) jugBufAppend(&b, ",", 1);
        jugBufAppend(&b, d->items[i], d->lens[i]);
    }
    jugBufAppendStr(&b, "]}");
    if (b.oom) {
        jugLog(JUG_LOG_ERROR, "poll: out of memory");
        jugResponseError(ctx->res, 500, "internal", "out of memory");
    } else {
        jugResponseJson(ctx->res, 200, b.s);
    }
    jugBufFree(&b);
    /* What we moved into "sent" stays there; wake any request that may have
     * started waiting for this session meanwhile (the browser reconnected). */
    if (ctx->res->gone && d->count > 0) {
        jugLog(JUG_LOG_DEBUG, "poll: client of %s left before the answer", sid);
        jugStoreNudge(ctx->store, sid);
    }
}

static int heartbeat(void *arg) {
    jugResponse *res = arg;
    if (jugResponseWrite(res, " ", 1) < 0 || jugResponseFlush(res) < 0) return -1;
    return jugShuttingDown() ? 1 : 0;
}

void jugHandlePoll(jugContext *ctx) {
    char err[160];
    const char *sid;
    long long ack;
    int timeout_s;
    int rc = jugRequestSessionId(ctx->req, &sid, err, sizeof(err));
    if (!rc) rc = jugRequestAck(ctx->req, &ack, err, sizeof(err));
    if (!rc) rc = pollTimeout(ctx, &timeout_s, err, sizeof(err));
    if (rc) {
        jugLog(JUG_LOG_INFO, "poll: %d: %s", rc, err);
        jugResponseError(ctx->res, rc, jugErrorCode(rc), err);
        return;
    }
    long long deadline = monotonicMs() + (long long)timeout_s * 1000;
    int nudged = 0, retried = 0;
    for (;;) {
        jugDeliveries d;
        jugStoreStatus st = jugStorePoll(ctx->store, sid, ack, ack, POLL_BATCH, nudged, &d);
        if (st != JUG_STORE_OK && ctx->res->headers_sent) {
            /* Too late for an error status: answer "nothing yet", and the
             * client's next poll gets the error (410, 503) properly. */
            jugLog(JUG_LOG_INFO, "poll: %s after waiting: %s", sid, ctx->store->err);
            respondMessages(ctx, sid, &d);
            return;
        }
        if (st != JUG_STORE_OK) {
            jugRespondStoreError(ctx, st);
            return;
        }
        long long left = deadline - monotonicMs();
        if (d.count > 0 || left <= 0) {
            respondMessages(ctx, sid, &d);
            jugDeliveriesFree(&d);
            return;
        }
        jugDeliveriesFree(&d);
        if (!ctx->res->headers_sent && jugResponseStartJson(ctx->res) < 0) return;
        jugWaitResult w = jugStoreWaitTick(ctx->store, sid, (int)left, ctx->req->client_fd, &nudged,
                                           POLL_HEARTBEAT_MS, heartbeat, ctx->res);
        if (w == JUG_WAIT_CLIENT_GONE) {
            jugLog(JUG_LOG_DEBUG, "poll: client of %s left while waiting", sid);
            return;
        }
        if (w == JUG_WAIT_ERROR) {
            /* A connection that died while idle (Redis restarted) fails only
             * here; polling again reconnects, once. */
            jugLog(JUG_LOG_WARNING, "poll: wait failed: %s", ctx->store->err);
            if (retried++) deadline = 0;
        }
        if (jugShuttingDown()) deadline = 0;
        /* READY: poll again at once. TIMEOUT: the next round polls once more
         * (which also marks the session alive after the wait) and answers. */
    }
}
