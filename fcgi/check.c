/* check.c -- "juggernaut.fcgi --check [URL]" (see check.h): Redis, the
 * poller's lease and, through the web server at URL, one session's connect,
 * a stream and a long-poll, each finding with its fix. */
#include "autoconfig.h"

#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "httpprobe.h"
#include "keys.h"
#include "redisfacts.h"

/* The client gives a stream this long to show a first byte (its default
 * openTimeout): a stream silent that long is buffered for all it knows. */
#define STREAM_PROBE_MS 5000
/* A long-poll answered this much before poll_timeout was cut short. */
#define HOLD_SLACK_MS 1500

typedef struct checkRun {
    FILE *out;
    int problems;
} checkRun;

static void ok(checkRun *r, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ok(checkRun *r, const char *what, const char *fmt, ...) {
    va_list ap;
    fprintf(r->out, "%s: ok (", what);
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
    fputs(")\n", r->out);
}

/* A finding that needs action: what is wrong, then the fix on its own line. */
static void problem(checkRun *r, const char *what, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(checkRun *r, const char *what, const char *fix, const char *fmt, ...) {
    va_list ap;
    fprintf(r->out, "%s: PROBLEM: ", what);
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
    fprintf(r->out, "\n  fix: %s\n", fix);
    r->problems++;
}

/* ---- Redis and the poller ---- */

/* Redis 6.2 or later (README, Requirements). */
static int recentRedis(const char *version) {
    int major = 0, minor = 0;
    if (sscanf(version, "%d.%d", &major, &minor) < 1) return 1;   /* unknown: do not complain */
    return major > 6 || (major == 6 && minor >= 2);
}

static void checkRedis(checkRun *r, const jugConfig *cfg, const jugRedisFacts *f) {
    char where[300];
    if (cfg->redis.unix_path[0]) snprintf(where, sizeof(where), "%s", cfg->redis.unix_path);
    else snprintf(where, sizeof(where), "%s:%d", cfg->redis.host, cfg->redis.port);
    if (!f->reachable)
        problem(r, "redis", "set redis_url in the configuration to a Redis this account can reach "
                "(host, port or socket, password, db)", "%s: %s", where, f->error);
    else if (!recentRedis(f->version))
        problem(r, "redis", "use Redis 6.2 or later", "%s runs Redis %s", where, f->version);
    else
        ok(r, "redis", "%s, db %d, Redis %s, %lld session%s", where, cfg->redis.db,
           f->version[0] ? f->version : "?", f->sessions, f->sessions == 1 ? "" : "s");
}

/* Who holds <prefix>poller:lease: without a holder nothing fans messages
 * out, and whatever is published meanwhile reaches nobody. */
static void checkPoller(checkRun *r, const jugConfig *cfg, const jugRedisFacts *f) {
    char key[256];
    jugKeyPollerLease(key, sizeof(key), cfg->key_prefix);
    if (!f->reachable) return;
    if (f->holder[0] && f->lease_age_ms >= 0)
        ok(r, "poller", "'%s' holds the lease %s, taken %.1f s ago, expires in %lld ms unless renewed",
           f->holder, key, (double)f->lease_age_ms / 1000, f->lease_ttl_ms);
    else if (f->holder[0])
        ok(r, "poller", "'%s' holds the lease %s, expires in %lld ms unless renewed", f->holder, key,
           f->lease_ttl_ms);
    else
        problem(r, "poller",
                "run juggernaut-poller where it may stay (systemd, a supervisor), or from cron "
                "every minute: 'juggernaut-poller -d -p $HOME/jug/juggernaut-poller.pid' (conf/crontab.example; "
                "-d does nothing while a poller is alive); see README, \"A shared host\"",
                "no poller holds the lease %s: published messages are fanned out to nobody and "
                "lost until one runs", key);
}

/* ---- through the web server ---- */

typedef struct session {
    char sid[128];
    int poll_timeout;          /* seconds */
    int keepalive_interval;    /* seconds, 0: not told */
    char transports[256];      /* space separated; empty: not told (all) */
} session;

static void endpointUrl(char *out, size_t outlen, const char *base, const char *endpoint,
                        const char *query) {
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/') n--;
    snprintf(out, outlen, "%.*s/%s%s%s", (int)n, base, endpoint, query ? "?" : "", query ? query : "");
}

static int isJson(const jugProbe *p) {
    return strncmp(p->content_type, "application/json", 16) == 0;
}

static void readSession(cJSON *root, session *s) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "session_id");
    if (cJSON_IsString(v)) snprintf(s->sid, sizeof(s->sid), "%s", v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(root, "poll_timeout");
    s->poll_timeout = cJSON_IsNumber(v) ? v->valueint : 25;
    v = cJSON_GetObjectItemCaseSensitive(root, "keepalive_interval");
    s->keepalive_interval = cJSON_IsNumber(v) ? v->valueint : 0;
    cJSON *t, *list = cJSON_GetObjectItemCaseSensitive(root, "transports");
    cJSON_ArrayForEach(t, list) {
        if (!cJSON_IsString(t)) continue;
        size_t len = strlen(s->transports);
        snprintf(s->transports + len, sizeof(s->transports) - len, "%s%s", len ? " " : "", t->valuestring);
    }
}

#define FIX_HTACCESS "ask the host for \"AllowOverride FileInfo Options\" on the directory of " \
                     "juggernaut.fcgi (its .htaccess then runs it through mod_fcgid); see the htaccess " \
                     "example among the installed docs (README, \"A shared host\")"

/* connect through the web server: the worker runs there and answers JSON. */
static int probeConnect(checkRun *r, const char *base, session *s) {
    char url[2300];
    jugProbe p;
    endpointUrl(url, sizeof(url), base, "connect", NULL);
    if (jugProbeFetch(url, "POST", "channel=juggernaut-check", 10000, 0, &p) < 0 || p.status == 0) {
        problem(r, "web", "check the URL (the one browsers use for the worker)", "%s: %s", url,
                p.err[0] ? p.err : "no HTTP answer within 10 s");
        return -1;
    }
    cJSON *root = isJson(&p) ? cJSON_Parse(p.body) : NULL;
    if (p.status == 200 && root) readSession(root, s);
    cJSON *msg = root ? cJSON_GetObjectItemCaseSensitive(root, "message") : NULL;
    const char *said = cJSON_IsString(msg) ? msg->valuestring : "";
    if (s->sid[0]) {
        ok(r, "web", "%s answered in %lld ms; transports offered: %s", url, p.end_ms >= 0 ? p.end_ms : p.head_ms,
           s->transports[0] ? s->transports : "(not told: all)");
    } else if (p.body_len >= 4 && memcmp(p.body, "\x7f" "ELF", 4) == 0) {
        problem(r, "web", FIX_HTACCESS, "%s hands out the program as a file: the host runs no handler "
                "for .fcgi here and ignores .htaccess", url);
    } else if (p.status == 403) {
        problem(r, "web", FIX_HTACCESS, "%s answers 403 Forbidden: the host ignores .htaccess "
                "(\"AllowOverride None\"), so ExecCGI is off for juggernaut.fcgi", url);
    } else if (p.status == 404 && !root) {
        problem(r, "web", "check the URL; if it names juggernaut.fcgi, " FIX_HTACCESS,
                "%s answers 404 Not Found from the web server (not from the worker)", url);
    } else if (p.status == 500 && !root) {
        problem(r, "web", "look in the host's error log: \"... not allowed here\" means the host allows "
                "less than FileInfo Options (" FIX_HTACCESS "); otherwise the worker did not start",
                "%s answers 500 Internal Server Error from the web server", url);
    } else if (p.status == 503 && !root) {
        problem(r, "web", "wait for the held requests to end, lower max_held, or ask the host for more "
                "FastCGI processes (FcgidMaxProcessesPerClass)",
                "%s answers 503: the web server has no FastCGI process free", url);
    } else {
        problem(r, "web", "see the worker's log (log in the configuration)", "%s answers %d%s%s", url,
                p.status, said[0] ? ": " : "", said);
    }
    cJSON_Delete(root);
    return s->sid[0] ? 0 : -1;
}

static int offersStreams(const session *s) {
    if (!s->transports[0]) return 1;
    return strstr(s->transports, "sse") || strstr(s->transports, "multipart") ||
           strstr(s->transports, "htmlfile");
}

/* An SSE stream must show its first bytes (the worker writes a preamble at
 * once) within STREAM_PROBE_MS, or the host holds responses back. */
static void probeStream(checkRun *r, const char *base, const session *s) {
    char url[2300], query[200];
    jugProbe p;
    if (!offersStreams(s)) {
        ok(r, "streams", "not offered on this host (transports %s): clients use long-poll", s->transports);
        return;
    }
    snprintf(query, sizeof(query), "session_id=%s&ack=0", s->sid);
    endpointUrl(url, sizeof(url), base, "sse", query);
    if (jugProbeFetch(url, "GET", NULL, STREAM_PROBE_MS, JUG_PROBE_STOP_AT_BODY, &p) < 0) {
        problem(r, "streams", "check the web server's error log", "%s: %s", url, p.err);
        return;
    }
    if (p.status == 200 && p.body_ms >= 0) {
        ok(r, "streams", "an SSE stream showed its first bytes after %lld ms", p.body_ms);
    } else if (p.status == 503 && isJson(&p)) {
        ok(r, "streams", "the worker does not hold streams here now (503: %.200s); clients use long-poll",
           p.body);
    } else if (p.status == 0 || (p.status == 200 && p.body_ms < 0 && p.end_ms < 0)) {
        problem(r, "streams",
                "set \"transports longpoll jsonp\" in the configuration (clients then go straight to "
                "long-poll), or ask the host for \"FcgidOutputBufferSize 0\" (mod_fcgid) / to turn off "
                "buffering and compression for juggernaut.fcgi",
                "streams are buffered: nothing of an SSE stream arrived within %d ms%s (mod_fcgid's "
                "FcgidOutputBufferSize, a proxy or compression holds responses back)",
                STREAM_PROBE_MS, p.head_ms >= 0 ? " after its headers" : ", not even its headers");
    } else {
        problem(r, "streams", "set \"transports longpoll jsonp\" in the configuration",
                "an SSE stream answered %d%s", p.status, p.end_ms >= 0 ? " and ended at once" : "");
    }
}

/* A long-poll must be held poll_timeout seconds and then answered: a host
 * that cuts requests short (FcgidIOTimeout, a proxy) needs a shorter one. */
static void probeHold(checkRun *r, const char *base, const session *s) {
    char url[2300], query[200], fix[300];
    jugProbe p;
    long long want = (long long)s->poll_timeout * 1000;
    snprintf(query, sizeof(query), "session_id=%s&ack=0&timeout=%d", s->sid, s->poll_timeout);
    endpointUrl(url, sizeof(url), base, "poll", query);
    if (jugProbeFetch(url, "GET", NULL, (int)want + 10000, 0, &p) < 0) {
        problem(r, "long-poll", "check the web server's error log", "%s: %s", url, p.err);
        return;
    }
    cJSON *root = p.status == 200 ? cJSON_Parse(p.body) : NULL;
    cJSON *retry = root ? cJSON_GetObjectItemCaseSensitive(root, "retry") : NULL;
    long long took = p.end_ms >= 0 ? p.end_ms : p.head_ms;
    int cut_at = took >= 0 ? (int)(took / 1000) : 0;
    snprintf(fix, sizeof(fix), "set poll_timeout %d and keepalive_interval %d (or lower) in the "
             "configuration, or ask the host for a longer FcgidIOTimeout / proxy timeout",
             cut_at > 10 ? cut_at - 5 : 5, cut_at > 10 ? cut_at - 8 : 3);
    if (root && cJSON_IsNumber(retry)) {
        ok(r, "long-poll", "not held: no hold slot was free (the host is at max_held, or under "
           "mod_fcgid runs too few worker processes now to leave one free), clients poll every %d ms "
           "until one is", retry->valueint);
    } else if (root && took >= want - HOLD_SLACK_MS) {
        ok(r, "long-poll", "held %.1f s (poll_timeout %d s) and answered: the host allows requests "
           "that long", (double)took / 1000, s->poll_timeout);
        if (s->keepalive_interval > s->poll_timeout)
            problem(r, "keepalive", "set keepalive_interval below poll_timeout",
                    "keepalive_interval %d s exceeds what was measured to be safe (%d s)",
                    s->keepalive_interval, s->poll_timeout);
    } else if (root) {
        ok(r, "long-poll", "answered after %.1f s with %.200s (something was queued, or the worker "
           "ended it early)", (double)took / 1000, p.body);
    } else if (p.status == 0 && p.end_ms < 0) {
        problem(r, "long-poll", "see the worker's and the web server's logs",
                "no answer within poll_timeout + 10 s (%d s)", s->poll_timeout + 10);
    } else {
        problem(r, "long-poll", fix, "the host ended a held long-poll after %.1f s (HTTP %d), "
                "before poll_timeout (%d s)", (double)took / 1000, p.status, s->poll_timeout);
    }
    cJSON_Delete(root);
}

static void endSession(const char *base, const session *s) {
    char url[2300], form[200];
    jugProbe p;
    snprintf(form, sizeof(form), "session_id=%s", s->sid);
    endpointUrl(url, sizeof(url), base, "disconnect", NULL);
    jugProbeFetch(url, "POST", form, 5000, 0, &p);
}

static void checkWeb(checkRun *r, const char *url) {
    char host[256], path[2048], err[256];
    int port;
    if (jugProbeParseUrl(url, host, sizeof(host), &port, path, sizeof(path), err, sizeof(err)) < 0) {
        problem(r, "web", "give the worker's URL as browsers use it, e.g. "
                "http://example.com/cgi-bin/juggernaut.fcgi", "%s", err);
        return;
    }
    session s = {{0}, 25, 0, {0}};
    if (probeConnect(r, url, &s) < 0) return;
    probeStream(r, url, &s);
    probeHold(r, url, &s);
    endSession(url, &s);
}

int jugCheckRun(const jugConfig *cfg, const char *config_shown, const char *url, FILE *out) {
    checkRun r = {out, 0};
    ok(&r, "config", "%s", config_shown);
    jugRedisFacts facts;
    jugRedisFactsGather(cfg, 2000, &facts);
    checkRedis(&r, cfg, &facts);
    checkPoller(&r, cfg, &facts);
    if (url) checkWeb(&r, url);
    else fputs("web: not probed (give the worker's URL: --check http://example.com/cgi-bin/juggernaut.fcgi)\n", out);
    if (r.problems) fprintf(out, "%d problem%s found\n", r.problems, r.problems == 1 ? "" : "s");
    else fputs("everything checked is fine\n", out);
    fflush(out);
    return r.problems ? 1 : 0;
}
