/* status.c -- the status endpoint: what an operator or Prometheus reads.
 *
 * Off unless status_allow or status_token is set (then an unknown endpoint,
 * 404); open to the listed client addresses (REMOTE_ADDR) and to whoever
 * sends the token (?token= or "Authorization: Bearer"), else 403. Answers
 * JSON, or the Prometheus text format with ?format=prometheus or an Accept
 * header asking for text/plain (and not JSON).
 *
 * Cost per request: one new Redis connection (1 s timeout) and one
 * pipelined round trip of O(1) commands -- INFO server, ZCARD, HMGET, GET,
 * PTTL, TIME -- never a scan, whatever the number of sessions. The counts of
 * subscriptions and channels are counters the Lua scripts keep in
 * <prefix>stats (gathered by redisfacts.c). Process numbers (uptime, held
 * requests, rates) describe the worker process that answered (fcgi/stats.h,
 * park.h); the hold limits are those in force (host.h). No session id is
 * ever part of the answer. */
#include "autoconfig.h"
#include "handlers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "json.h"
#include "log.h"
#include "park.h"
#include "redisfacts.h"
#include "stats.h"

#define REDIS_TIMEOUT_MS 1000

/* ---- access ---- */

/* Compare without an early exit, so timing does not tell how much matched. */
static int sameSecret(const char *given, const char *secret) {
    size_t n = strlen(given), m = strlen(secret);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < m; i++) diff |= (unsigned char)(given[i < n ? i : 0] ^ secret[i]);
    return n > 0 && diff == 0;
}

static const char *envParam(const jugContext *ctx, const char *name) {
    return FCGX_GetParam(name, ctx->req->fcgx->envp);
}

/* 200 to go on, 404 when the endpoint is off, 403 when this client may not read it. */
static int checkAccess(const jugContext *ctx) {
    const jugConfig *cfg = ctx->cfg;
    if (cfg->status_allow_count == 0 && !cfg->status_token[0]) return 404;
    if (jugConfigStatusAllowed(cfg, envParam(ctx, "REMOTE_ADDR"))) return 200;
    if (!cfg->status_token[0]) return 403;
    const char *token = jugRequestParam(ctx->req, "token");
    const char *auth = envParam(ctx, "HTTP_AUTHORIZATION");
    if (token && sameSecret(token, cfg->status_token)) return 200;
    if (auth && !strncmp(auth, "Bearer ", 7) && sameSecret(auth + 7, cfg->status_token)) return 200;
    return 403;
}

/* ?format=prometheus, or an Accept header that wants text/plain and not JSON. */
static int wantsPrometheus(const jugContext *ctx) {
    const char *format = jugRequestParam(ctx->req, "format");
    if (format) return !strcmp(format, "prometheus");
    const char *accept = envParam(ctx, "HTTP_ACCEPT");
    return accept && strstr(accept, "text/plain") && !strstr(accept, "application/json");
}

/* ---- the two formats ---- */

static void add(jugBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(jugBuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0) jugBufAppend(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A number, or null when unknown (< 0). */
static void addCount(jugBuf *b, const char *name, long long v) {
    if (v < 0) add(b, ",\"%s\":null", name);
    else add(b, ",\"%s\":%lld", name, v);
}

static void addQuoted(jugBuf *b, const char *s) {
    char *q = jugJsonQuote(s);
    if (!q) {
        b->oom = 1;
        return;
    }
    jugBufAppendStr(b, q);
    free(q);
}

static void buildJson(jugBuf *b, const jugRedisFacts *f, const jugStatsSnapshot *s) {
    add(b, "{\"worker\":{\"version\":\"%s\",\"pid\":%d,\"uptime_s\":%lld}", PACKAGE_VERSION,
        (int)getpid(), s->uptime_ms / 1000);
    add(b, ",\"redis\":{\"reachable\":%s,\"version\":", f->reachable ? "true" : "false");
    if (f->version[0]) addQuoted(b, f->version);
    else jugBufAppendStr(b, "null");
    jugBufAppendStr(b, ",\"error\":");
    if (f->error[0]) addQuoted(b, f->error);
    else jugBufAppendStr(b, "null");
    jugBufAppendStr(b, "}");
    addCount(b, "sessions", f->sessions);
    addCount(b, "subscriptions", f->subscriptions);
    addCount(b, "channels", f->channels);
    int limit = jugHostSharedHoldLimit();
    add(b, ",\"held\":{\"process\":%d,\"process_limit\":%d", jugParkHeldCount(),
        jugHostProcessHoldLimit());
    addCount(b, "host", limit > 0 ? f->held_host : -1);
    addCount(b, "host_limit", limit > 0 ? limit : -1);
    jugBufAppendStr(b, "}");
    add(b, ",\"rates\":{\"window_s\":%d", JUG_STATS_WINDOW_S);
    for (int i = 0; i < JUG_STAT_COUNT; i++) add(b, ",\"%s_per_s\":%.3f", jugStatNames[i], s->rates[i]);
    jugBufAppendStr(b, "},\"totals\":{");
    for (int i = 0; i < JUG_STAT_COUNT; i++) add(b, "%s\"%s\":%lld", i ? "," : "", jugStatNames[i], s->totals[i]);
    jugBufAppendStr(b, "},\"poller\":{\"holder\":");
    if (f->holder[0]) addQuoted(b, f->holder);
    else jugBufAppendStr(b, "null");
    addCount(b, "lease_age_ms", f->holder[0] ? f->lease_age_ms : -1);
    addCount(b, "lease_expires_in_ms", f->holder[0] ? f->lease_ttl_ms : -1);
    jugBufAppendStr(b, "}}");
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void addLabel(jugBuf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\') jugBufAppendStr(b, "\\\\");
        else if (*s == '"') jugBufAppendStr(b, "\\\"");
        else if (*s == '\n') jugBufAppendStr(b, "\\n");
        else jugBufAppend(b, s, 1);
    }
}

static void metric(jugBuf *b, const char *name, const char *type, const char *help) {
    add(b, "# HELP juggernaut_%s %s\n# TYPE juggernaut_%s %s\n", name, help, name, type);
}

/* A gauge whose value may be unknown (< 0): then it is left out. */
static void gauge(jugBuf *b, const char *name, const char *help, long long v) {
    if (v < 0) return;
    metric(b, name, "gauge", help);
    add(b, "juggernaut_%s %lld\n", name, v);
}

static void buildPrometheus(jugBuf *b, const jugRedisFacts *f, const jugStatsSnapshot *s) {
    metric(b, "info", "gauge", "Version of this worker (always 1).");
    add(b, "juggernaut_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
    gauge(b, "uptime_seconds", "Seconds since this worker process started.", s->uptime_ms / 1000);
    metric(b, "redis_up", "gauge", "1 if Redis answered this request.");
    add(b, "juggernaut_redis_up %d\n", f->reachable);
    if (f->version[0]) {
        metric(b, "redis_info", "gauge", "Version of Redis (always 1).");
        add(b, "juggernaut_redis_info{version=\"%s\"} 1\n", f->version);
    }
    gauge(b, "sessions", "Sessions alive (in Redis).", f->sessions);
    gauge(b, "subscriptions", "Session-channel subscriptions (in Redis).", f->subscriptions);
    gauge(b, "channels", "Channels with at least one subscriber (in Redis).", f->channels);
    metric(b, "held_requests", "gauge", "Requests held open now: by this process, or host-wide.");
    add(b, "juggernaut_held_requests{scope=\"process\"} %d\n", jugParkHeldCount());
    int limit = jugHostSharedHoldLimit();
    if (limit > 0 && f->held_host >= 0) add(b, "juggernaut_held_requests{scope=\"host\"} %lld\n", f->held_host);
    metric(b, "held_requests_limit", "gauge", "Most requests held open: per process, or host-wide.");
    add(b, "juggernaut_held_requests_limit{scope=\"process\"} %d\n", jugHostProcessHoldLimit());
    if (limit > 0) add(b, "juggernaut_held_requests_limit{scope=\"host\"} %d\n", limit);
    for (int i = 0; i < JUG_STAT_COUNT; i++) {
        char name[64], help[160];
        snprintf(name, sizeof(name), "%s_total", jugStatNames[i]);
        snprintf(help, sizeof(help), "Count of %s of this process since it started.", jugStatNames[i]);
        metric(b, name, "counter", help);
        add(b, "juggernaut_%s %lld\n", name, s->totals[i]);
        snprintf(name, sizeof(name), "%s_per_second", jugStatNames[i]);
        snprintf(help, sizeof(help), "Rate of %s of this process over the last %d s.", jugStatNames[i],
                 JUG_STATS_WINDOW_S);
        metric(b, name, "gauge", help);
        add(b, "juggernaut_%s %.3f\n", name, s->rates[i]);
    }
    metric(b, "poller_lease_up", "gauge", "1 if a poller holds the lease.");
    add(b, "juggernaut_poller_lease_up %d\n", f->holder[0] != 0);
    if (f->holder[0] && f->lease_age_ms >= 0) {
        metric(b, "poller_lease_age_seconds", "gauge", "Seconds the active poller has held the lease.");
        jugBufAppendStr(b, "juggernaut_poller_lease_age_seconds{holder=\"");
        addLabel(b, f->holder);
        add(b, "\"} %.3f\n", (double)f->lease_age_ms / 1000.0);
    }
}

void jugHandleStatus(jugContext *ctx) {
    int access = checkAccess(ctx);
    if (access != 200) {
        const char *why = access == 404 ? "unknown endpoint 'status'" : "not allowed to read the status";
        const char *addr = envParam(ctx, "REMOTE_ADDR");
        jugLog(JUG_LOG_INFO, "status: %d: %s (client %.64s)", access, why, addr ? addr : "?");
        jugResponseError(ctx->res, access, jugErrorCode(access), why);
        return;
    }
    jugRedisFacts facts;
    jugStatsSnapshot snap;
    jugRedisFactsGather(ctx->cfg, REDIS_TIMEOUT_MS, &facts);
    jugStatsRead(&snap);
    jugBuf b = {0};
    int prometheus = wantsPrometheus(ctx);
    if (prometheus) buildPrometheus(&b, &facts, &snap);
    else buildJson(&b, &facts, &snap);
    if (b.oom) {
        jugBufFree(&b);
        jugResponseError(ctx->res, 500, "internal", "out of memory");
        return;
    }
    /* Never JSONP: a page elsewhere must not read it through an allowed browser. */
    jugResponseHeaders(ctx->res, 200,
                       prometheus ? "text/plain; version=0.0.4; charset=utf-8" : "application/json; charset=utf-8",
                       NULL);
    jugResponseWrite(ctx->res, b.s, b.len);
    jugBufFree(&b);
}
