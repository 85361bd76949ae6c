/* longpoll.c -- the long-poll endpoint, plain and JSONP (see handlers.h).
 *
 * A long-poll is one more client of the held-request machinery (hold.h):
 * its ops gather the deliveries of one batch and answer once, with
 *   {"messages":[<delivery>,...]}
 * plus "retry" (not held: poll again after that many ms), "missed"
 * (deliveries trimmed from the session's queue) and "superseded" (a newer
 * request of the session took over) when they apply. Deliveries are JSON
 * texts already; the body is built by concatenating them, never by parsing.
 * Nothing is removed from Redis by answering: a delivery leaves the queue
 * only when a later request acknowledges it, so a lost answer is sent again. */
#include "autoconfig.h"
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hold.h"
#include "log.h"

typedef struct pollState {
    jugBuf body;     /* the deliveries so far, comma-separated */
} pollState;

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

static int pollMessage(jugContext *ctx, const char *delivery, size_t len, long long id, void *state) {
    pollState *ps = state;
    (void)ctx;
    (void)id;
    if (ps->body.len) jugBufAppend(&ps->body, ",", 1);
    jugBufAppend(&ps->body, delivery, len);
    return ps->body.oom ? -1 : 0;
}

static int pollEnd(jugContext *ctx, const char *reason, void *state) {
    pollState *ps = state;
    const jugHeld *h = ctx->held;
    int rc;
    if (!strcmp(reason, JUG_END_EXPIRED)) {
        rc = jugResponseError(ctx->res, 410, "session_expired", "unknown or expired session: connect again");
    } else if (!strcmp(reason, JUG_END_UNAVAILABLE)) {
        rc = jugResponseError(ctx->res, 503, "unavailable", "Redis is unavailable; retry shortly");
    } else {
        /* The deliveries are written as they are, between a head and a tail. */
        char tail[128];
        int n = snprintf(tail, sizeof(tail), "]");
        if (h && h->retry_ms > 0) n += snprintf(tail + n, sizeof(tail) - (size_t)n, ",\"retry\":%d", h->retry_ms);
        if (h && h->lost > 0) n += snprintf(tail + n, sizeof(tail) - (size_t)n, ",\"missed\":%lld", h->lost);
        if (h && h->lost < 0) n += snprintf(tail + n, sizeof(tail) - (size_t)n, ",\"missed\":true");
        if (!strcmp(reason, JUG_END_SUPERSEDED))
            n += snprintf(tail + n, sizeof(tail) - (size_t)n, ",\"superseded\":true");
        snprintf(tail + n, sizeof(tail) - (size_t)n, "}");
        if (ps->body.oom) {
            jugLog(JUG_LOG_ERROR, "poll: out of memory");
            rc = jugResponseError(ctx->res, 500, "internal", "out of memory");
        } else {
            const char *parts[] = {"{\"messages\":[", ps->body.s ? ps->body.s : "", tail};
            rc = jugResponseJsonParts(ctx->res, 200, parts, 3);
        }
    }
    jugBufFree(&ps->body);
    return rc;
}

static int pollKeepalive(jugContext *ctx, void *state) {
    (void)ctx;
    (void)state;
    return 0;
}

static const jugStreamOps pollOps = {
    .one_batch = 1,
    .answers_missed = 1,
    .state_size = sizeof(pollState),
    .name = "longpoll",
    .message = pollMessage,
    .keepalive = pollKeepalive,
    .end = pollEnd,
};

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
    pollState ps = {{0}};
    jugHoldStart(ctx, sid, ack, timeout_s * 1000, &pollOps, &ps);
}
