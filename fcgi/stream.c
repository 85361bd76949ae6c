/* stream.c -- one held request, from its hand-over to the event loop to its
 * end (see hold.h and stream.h).
 *
 * Long-poll and the streams are one mechanism: the handler thread hands the
 * request to the loop, which asks Redis once for it (acknowledge, what is
 * pending, a hold slot; many requests in one round trip); it writes what is
 * pending and either ends (a long-poll with something to answer, or no
 * slot) or stays parked, and the loop writes each later delivery from memory.
 * Deliveries stay in the session's queue until a later request
 * acknowledges them (docs/PROTOCOL.md, "Delivery guarantee"), so a request
 * cut off on the way loses nothing. */
#include "autoconfig.h"
#include "hold.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "log.h"
#include "park.h"
#include "stats.h"

/* Deliveries one Redis call returns at most; a stream asks again when full. */
#define HOLD_BATCH 500

/* How long past its own end a hold slot stays counted if its worker died. */
#define SLOT_MARGIN_MS 5000

#define ACCEL_HEADER "X-Accel-Buffering: no\r\n"

/* How long after its probing keepalive a stream's session is touched. */
#define TOUCH_PROBE_MS 500

/* At most one summary line per this about clients told they missed some. */
#define MISSED_LOG_MS 10000

static atomic_ullong tokenCounter;

long long jugNowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *jugStreamControlJson(const char *reason) {
    if (strcmp(reason, "keepalive") == 0) return "{\"event\":\"keepalive\"}";
    if (strcmp(reason, JUG_END_RECONNECT) == 0) return "{\"event\":\"reconnect\"}";
    if (strcmp(reason, JUG_END_SUPERSEDED) == 0)
        return "{\"event\":\"error\",\"error\":\"superseded\","
               "\"message\":\"a newer request of this session took over: do not reconnect\"}";
    if (strcmp(reason, JUG_END_EXPIRED) == 0)
        return "{\"event\":\"error\",\"error\":\"session_expired\","
               "\"message\":\"unknown or expired session: connect again\"}";
    return "{\"event\":\"error\",\"error\":\"unavailable\","
           "\"message\":\"the message store is unreachable: reconnect later\"}";
}

void jugStreamMissedJson(char *buf, size_t len, long long lost) {
    if (lost < 0) snprintf(buf, len, "{\"event\":\"missed\",\"missed\":true}");
    else snprintf(buf, len, "{\"event\":\"missed\",\"missed\":%lld}", lost);
}

/* Sessions told they missed deliveries: the first of a period is logged on
 * its own, the rest counted in one line when the next period begins, so a
 * burst past max_queue over many sessions makes two lines, not one each. */
static void logMissed(const char *what, const char *sid, long long lost) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static long long periodEnd, sessions, deliveries, unknown;
    long long now = jugNowMs();
    pthread_mutex_lock(&lock);
    if (now >= periodEnd) {
        if (sessions > 0)
            jugLog(JUG_LOG_WARNING, "%lld more session(s) were told they missed %lld deliveries "
                   "(max_queue)%s in the last %d s", sessions, deliveries,
                   unknown ? " or an unknown number (Redis lost data)" : "", MISSED_LOG_MS / 1000);
        sessions = deliveries = unknown = 0;
        periodEnd = now + MISSED_LOG_MS;
        pthread_mutex_unlock(&lock);
        if (lost < 0)
            jugLog(JUG_LOG_WARNING, "%s %s: told the client it missed deliveries: Redis lost data "
                   "since its last request", what, sid);
        else
            jugLog(JUG_LOG_WARNING, "%s %s: told the client it missed %lld deliveries trimmed from "
                   "its queue (max_queue)", what, sid, lost);
        return;
    }
    sessions++;
    if (lost < 0) unknown++;
    else deliveries += lost;
    pthread_mutex_unlock(&lock);
}

int jugStreamSession(jugContext *ctx, const char **sid, long long *ack) {
    char err[256];
    int status = jugRequestSessionId(ctx->req, sid, err, sizeof(err));
    if (!status) status = jugRequestAck(ctx->req, ack, err, sizeof(err));
    if (!status) return 0;
    jugResponseError(ctx->res, status, jugErrorCode(status), err);
    return -1;
}

/* ---- writing ---- */

/* Status line, headers (nginx must not buffer), the transport's preamble. */
static int streamStart(jugHeld *h) {
    char extra[512];
    const jugStreamOps *ops = h->ops;
    const char *more = ops->extra_headers ? ops->extra_headers : "";
    const char *accel = strstr(more, ACCEL_HEADER) ? "" : ACCEL_HEADER;
    if ((size_t)snprintf(extra, sizeof(extra), "%s%s", accel, more) >= sizeof(extra)) return -1;
    if (jugResponseHeaders(h->ctx.res, 200, ops->content_type, extra) != 0) return -1;
    if (ops->begin && ops->begin(&h->ctx, h->state) != 0) return -1;
    return jugResponseFlush(h->ctx.res);
}

void jugHeldDeliver(jugHeld *h, const char *item, size_t len, long long id) {
    if (h->ended || id <= h->last) return;
    if (h->ops->message(&h->ctx, item, len, id, h->state) != 0) return;
    h->last = id;
    h->written++;
    jugStatsAdd(JUG_STAT_DELIVERIES, 1);
}

int jugHeldMissed(jugHeld *h, long long lost) {
    if (lost == 0) return 0;
    logMissed(h->req.endpoint_name, h->sid, lost);
    if (h->ops->answers_missed) {
        /* A long-poll says it in its answer; an unknown number wins. */
        h->lost = lost < 0 || h->lost < 0 ? -1 : h->lost + lost;
        return 0;
    }
    if (!h->ops->missed) return 0;
    char json[64];
    jugStreamMissedJson(json, sizeof(json), lost);
    if (h->ops->missed(&h->ctx, json, h->state) != 0) return -1;
    return jugResponseFlush(h->ctx.res);
}

void jugHeldDeliverBatch(jugHeld *h, const jugDeliveries *d) {
    for (int i = 0; i < d->count; i++) jugHeldDeliver(h, d->items[i], d->lens[i], d->ids[i]);
}

void jugHeldEnd(jugHeld *h, const char *reason) {
    if (h->ended) return;
    h->ended = 1;
    /* Also when the browser is gone: the ops free what they gathered. */
    if (h->ops->end && h->ops->end(&h->ctx, reason, h->state) == 0 && !h->ctx.res->gone)
        jugResponseFlush(h->ctx.res);
}

void jugHeldFlush(jugHeld *h) {
    if (h->ended || h->written == 0) return;
    h->written = 0;
    if (h->ops->one_batch) jugHeldEnd(h, JUG_END_BATCH);
    else jugResponseFlush(h->ctx.res);
}

int jugHeldTick(jugHeld *h, long long now) {
    if (h->ended) return 0;
    if (now >= h->deadline_ms) {
        jugHeldEnd(h, h->ops->one_batch ? JUG_END_TIMEOUT : JUG_END_RECONNECT);
        return 0;
    }
    if (h->ops->one_batch) return 0;
    if (now >= h->next_keepalive_ms) {
        if (h->ops->keepalive(&h->ctx, h->state) == 0) jugResponseFlush(h->ctx.res);
        h->next_keepalive_ms = now + (long long)h->ctx.cfg->keepalive_interval * 1000;
    }
    /* Keeping the session alive: only for a browser that is still there.
     * lighttpd and Apache notice one that left only when they write to it,
     * so a keepalive goes first, and the touch a little later if the
     * connection is still open then (a vanished page is reported gone about
     * session_ttl after it left, not after a keepalive_interval more). */
    if (now >= h->next_touch_ms) {
        if (!h->touch_probed) {
            if (h->ops->keepalive(&h->ctx, h->state) == 0) jugResponseFlush(h->ctx.res);
            h->touch_probed = 1;
            h->next_touch_ms = now + TOUCH_PROBE_MS;
            return 0;
        }
        h->touch_probed = 0;
        h->next_touch_ms = now + (long long)h->ctx.cfg->session_ttl * 1000 / 3;
        return 1;
    }
    return 0;
}

void jugHeldFree(jugHeld *h) {
    if (!h) return;
    for (int i = 0; i < h->channel_count; i++) free(h->channels[i].name);
    free(h->channels);
    jugRequestFree(&h->req);
    jugDetachedFree(h->conn);
    free(h);
}

/* ---- starting ---- */

/* The wait a refused long-poll is told to make before polling again: longer
 * the more sessions share each hold slot, 0.5 s plus 40 ms per session per
 * slot, at most 2 s: a message then reaches a polling client within the
 * longest wait (2.4 s) plus one poll. Past 167 sessions per slot (the 2 s
 * already cost the host about 80 refused polls a second per slot, as many
 * again answered with messages), the wait grows with the sessions instead
 * (3 s at 250 a slot), so their polls stop growing; never past a third of
 * session_ttl, which a waiting session must not outlast. Spread by +-20 %
 * so that a crowd of browsers does not come back in step. The slots are
 * max_held even while mod_fcgid runs too few processes to hold any: the
 * polls of a crowd are what makes it start more (only a request that met
 * every process busy, slept a second and met them busy again does); a
 * longer wait there kept 40 opening pages on one process, polling, their
 * first message p90 2.6 s instead of 1.8 s. */
#define RETRY_BASE_MS 500
#define RETRY_PER_SESSION_MS 40
#define RETRY_CAP_MS 2000
#define RETRY_PER_SESSION_PAST_CAP_MS 12
/* While a crowd connects, every wait is at least 2.5 s: the crowd's first
 * polls (connect's retry) and the polls of the pages that opened first come
 * after the crowd has connected, and make the host start processes then. A
 * crowd is 20 or more sessions opened in the current and the last second
 * (as after a web-server restart), fewer where mod_fcgid runs few worker
 * processes: 5 per live process. There a request that meets every process
 * busy waits a second: on a host still running its first process, the
 * polls of the first pages met the connects of 200 pages opening within
 * 2 s and made some of them wait. */
#define CROWD_CONNECTS 20
#define CROWD_CONNECTS_PER_PROCESS 5
#define CROWD_WAIT_MS 2500

/* ms, never past a third of session_ttl, spread by +-20 %. */
static int spread(long long ms, int session_ttl) {
    if (ms > (long long)session_ttl * 1000 / 3) ms = (long long)session_ttl * 1000 / 3;
    static _Thread_local unsigned seed;
    if (!seed) seed = (unsigned)jugNowMs() ^ (unsigned)(uintptr_t)&seed;
    unsigned r = (unsigned)rand_r(&seed);
    return (int)(ms * (80 + (long long)(r % 41)) / 100);
}

static int crowdConnecting(const jugHoldLoad *load) {
    long long crowd = CROWD_CONNECTS;
    if (load->live > 0 && load->live * CROWD_CONNECTS_PER_PROCESS < crowd)
        crowd = load->live * CROWD_CONNECTS_PER_PROCESS;
    return load->connects >= crowd;
}

int jugHoldRetryMs(const jugHoldLoad *load, long long slots, int session_ttl) {
    long long per_slot = slots > 0 ? load->sessions / slots : load->sessions;
    long long ms = RETRY_BASE_MS + per_slot * RETRY_PER_SESSION_MS;
    if (ms > RETRY_CAP_MS) ms = RETRY_CAP_MS;
    if (per_slot * RETRY_PER_SESSION_PAST_CAP_MS > ms) ms = per_slot * RETRY_PER_SESSION_PAST_CAP_MS;
    if (crowdConnecting(load) && ms < CROWD_WAIT_MS) ms = CROWD_WAIT_MS;
    return spread(ms, session_ttl);
}

/* Take the request over from the handler thread: its connection leaves
 * libfcgi, its parameters move into h. 0, or -1 (nothing changed). */
static int detachRequest(jugHeld *h, jugContext *ctx) {
    FCGX_Request *fcgx = ctx->req->fcgx;
    /* The request's strings first: some live in libfcgi's memory. */
    if (jugRequestDetach(ctx->req) < 0) return -1;
    jugDetached *conn = jugDetach(fcgx);
    if (!conn) return -1;
    h->conn = conn;
    h->req = *ctx->req;
    memset(ctx->req, 0, sizeof(*ctx->req));
    h->res = *ctx->res;
    h->res.req = &h->req;
    h->res.out = jugDetachedStream(conn);
    h->ctx.req = &h->req;
    h->ctx.res = &h->res;
    /* The handler's response is spent: nothing more is written through it. */
    ctx->res->headers_sent = 1;
    ctx->res->gone = 1;
    return 0;
}

static int setChannels(jugHeld *h, char **names, int count) {
    h->channels = calloc((size_t)(count > 0 ? count : 1), sizeof(jugHeldChannel));
    if (!h->channels) return -1;
    for (int i = 0; i < count; i++) {
        h->channels[i].held = h;
        h->channels[i].name = names[i];
        names[i] = NULL;
    }
    h->channel_count = count;
    return 0;
}

/* Handler side: everything the loop needs, then hand the request over. */
void jugHoldStart(jugContext *ctx, const char *sid, long long ack, int timeout_ms,
                  const jugStreamOps *ops, const void *state) {
    const jugConfig *cfg = ctx->cfg;
    int one_batch = ops->one_batch;
    int cgi = jugHostKindNow() == JUG_HOST_CGI;
    if (!one_batch && !jugHostOffers(ops->name)) {
        jugLog(JUG_LOG_INFO, "%s %s: transport not offered on this host", ctx->req->endpoint_name, sid);
        jugResponseRetry(ctx->res, 0, jugHostTransportsJson(cfg));
        return;
    }
    jugHeld *h = calloc(1, sizeof(*h));
    if (!h) {
        jugResponseError(ctx->res, 500, "internal", "out of memory");
        return;
    }
    snprintf(h->sid, sizeof(h->sid), "%s", sid);
    h->ops = ops;
    if (state && ops->state_size) memcpy(h->state, state, ops->state_size);
    h->ctx = *ctx;
    h->ctx.held = h;
    h->ctx.store = NULL;          /* the loop has its own */
    h->ack = h->last = ack;
    h->may_wait = !one_batch || timeout_ms > 0;
    h->hold_ms = one_batch ? timeout_ms : (long long)cfg->stream_max_duration * 1000;
    /* CGI: the loop (and with it the instance the token names) first. */
    if (cgi && jugParkInitInline(cfg, h->may_wait) < 0) {
        jugLog(JUG_LOG_ERROR, "%s %s: cannot set up the event loop", ctx->req->endpoint_name, sid);
        jugResponseError(ctx->res, 500, "internal", "internal error");
        free(h);
        return;
    }
    snprintf(h->token, sizeof(h->token), "%s.%llu", jugParkInstance(),
             (unsigned long long)atomic_fetch_add(&tokenCounter, 1));
    if (detachRequest(h, ctx) < 0) {
        jugLog(JUG_LOG_ERROR, "%s %s: out of memory taking the request over", ctx->req->endpoint_name, sid);
        jugResponseError(ctx->res, 500, "internal", "out of memory");
        free(h);
        return;
    }
    if (jugParkSubmit(h) == 0) {
        if (cgi) jugParkRunInline();
        return;
    }
    /* Shutting down: no loop to take it. */
    h->retry_ms = 1000;
    jugHeldEnd(h, one_batch ? JUG_END_TIMEOUT : JUG_END_UNAVAILABLE);
    jugDetachedEnd(h->conn);
    jugDetachedDrain(h->conn, 1000);
    jugHeldFree(h);
}

void jugHeldReadArgs(const jugHeld *h, int can_hold, jugPollArgs *args) {
    int hold = can_hold && h->may_wait ? (h->ops->one_batch ? 1 : 2) : 0;
    *args = (jugPollArgs){h->ack, h->ack, HOLD_BATCH, h->token, hold, h->hold_ms + SLOT_MARGIN_MS,
                          jugHostSharedHoldLimit(), jugHostHoldReserve()};
}

int jugHeldBegin(jugHeld *h, jugStore *store, jugStoreStatus st, jugPollResult *r, int can_hold) {
    const jugConfig *cfg = h->ctx.cfg;
    const char *what = h->req.endpoint_name;
    int one_batch = h->ops->one_batch;
    if (st != JUG_STORE_OK) {
        h->ctx.store = store;
        jugRespondStoreError(&h->ctx, st);
        h->ctx.store = NULL;
        h->ended = 1;
        return 0;
    }
    h->seq = r->seq;
    h->slot = r->held == 1 && jugHostSharedHoldLimit() > 0;
    if (r->held == 2 || (h->may_wait && !can_hold))
        h->retry_ms = jugHoldRetryMs(&r->load, jugHostSharedHoldLimit(), cfg->session_ttl);

    if (!one_batch && r->held != 1) {
        /* A stream that cannot be held: refuse it quickly, the client falls
         * back to polling (which may be answered with a wait). */
        jugLog(JUG_LOG_DEBUG, "%s %s: not held (no slot free)", what, h->sid);
        jugResponseRetry(h->ctx.res, h->retry_ms ? h->retry_ms : 1000, jugHostTransportsJson(cfg));
        h->ended = 1;
        return 0;
    }
    if (!one_batch && streamStart(h) != 0) {
        h->ended = 1;
        return 0;
    }
    if (jugHeldMissed(h, r->lost) != 0) {
        h->ended = 1;
        return 0;
    }
    jugHeldDeliverBatch(h, &r->d);
    long long now = jugNowMs();
    if (one_batch && (r->held != 1 || r->d.count > 0 || h->lost)) {
        if (r->d.count == 0 && !h->lost && h->retry_ms > 0 && h->ops->wait_unheld) {
            /* Answered empty after its retry interval, held by no slot and
             * listening to nothing (socket.io pages poll again at once). */
            h->deadline_ms = now + h->retry_ms;
            h->delaying = 1;
            return 1;
        }
        jugHeldEnd(h, r->d.count > 0 || h->lost ? JUG_END_BATCH : JUG_END_TIMEOUT);
        return 0;
    }
    if (!one_batch) jugHeldFlush(h);
    if (h->ctx.res->gone) {
        h->ended = 1;
        return 0;
    }
    h->deadline_ms = now + h->hold_ms;
    h->next_keepalive_ms = now + (long long)cfg->keepalive_interval * 1000;
    h->next_touch_ms = now + (long long)cfg->session_ttl * 1000 / 3;
    if (setChannels(h, r->channels, r->channel_count) < 0) {
        jugLog(JUG_LOG_ERROR, "%s %s: out of memory holding the request", what, h->sid);
        jugHeldEnd(h, one_batch ? JUG_END_TIMEOUT : JUG_END_RECONNECT);
        return 0;
    }
    return 1;
}

void jugStreamRun(jugContext *ctx, const char *sid, long long ack, const jugStreamOps *ops,
                  const void *state) {
    jugHoldStart(ctx, sid, ack, 0, ops, state);
}
