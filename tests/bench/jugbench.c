/* jugbench.c -- load generator for juggernaut-fcgi: prints figures, tests nothing.
 *
 * Talks raw HTTP/1.1 (benchnet.c) to the web server running juggernaut.fcgi
 * and publishes through Redis exactly as apps do (PUBLISH on the app
 * channel), so every figure includes the real poller and worker.
 *
 * With --nchan the same workloads run against Nchan instead (the peer of
 * "make bench-peers"): subscribers GET <url>/<channel> (long-poll resumed
 * with If-Modified-Since/If-None-Match, or Accept: text/event-stream or
 * multipart/mixed), messages are POSTed to <pub-url>/<channel>, and the
 * payload itself carries the sequence number (Nchan has no sessions).
 *
 * --pids names every server process on the path (web servers, workers,
 * poller, Redis): their CPU is reported per delivery and their memory per
 * held request. --redis is also read for Redis CPU and commandstats.
 *
 *   latency  publish -> long-poll response time of one session
 *   fanout   poller pushes/s into N session queues (sessions made by connect.lua)
 *   deliver  N long-poll clients x M messages at a rate: missing / duplicated
 *   hold     N concurrently held long-polls: worker memory per held request
 *   stream   N SSE or multipart clients x M messages: deliveries/s, completeness
 *
 * Every phase has a hard deadline. Output lines are "key: value" pairs after
 * a "jugbench <subcommand>" header so scripts can grep them. */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "benchnet.h"
#include "config.h"
#include "keys.h"
#include "redis.h"
#include "sid.h"

#define MAX_PIDS 64
#define MAX_PROBES 8
#define SESSION_TTL_MS "3600000"   /* for disconnect.lua: never treat our sessions as lapsed */
#define BACKSTOP_S "3600"

enum { PH_IDLE = 0, PH_CONNECT, PH_READY, PH_POLL, PH_STREAM, PH_FAILED, PH_WAIT };

typedef struct client {
    benchConn conn;
    char sid[JUG_SID_LEN + 1];
    int phase;
    int tries;
    long long ack;          /* highest delivery id received */
    int distinct;           /* distinct payload sequence numbers received */
    unsigned char *seen;    /* per sequence number: received yet? */
    int answered;           /* hold: the held request was answered */
    int flip;               /* two servers: which one the next poll goes to */
    int failures;           /* polls failed in a row (backoff) */
    long long poll_at;      /* PH_WAIT: when to poll again */
} client;

typedef struct options {
    const char *cmd;
    char url[512];
    char host[64];
    char base[256];         /* path of the endpoint, e.g. /juggernaut */
    struct sockaddr_in addr;
    const char *redis;
    const char *prefix;
    const char *pubchan;    /* channel apps publish to */
    int samples, subscribers, messages, connections;
    double rate;            /* messages/s; 0 = as fast as possible */
    int pids[MAX_PIDS], npids;
    const char *transport;
    int timeout_s;          /* hard deadline of the measuring phase */
    int concurrency;        /* connects in flight at once */
    int poll_timeout;
    int gap_ms;
    int max_queue;
    double min_seconds;     /* fanout: repeat rounds until this long */
    int nchan;              /* the peer is Nchan (see the top of this file) */
    struct sockaddr_in pubaddr;
    char pubpath[256];      /* Nchan: publisher location */
    int two;                /* --url2 given: polls alternate between two servers */
    struct sockaddr_in addr2;
    struct sockaddr_in spread[MAX_PROBES];   /* --spread-url: client i uses server i % (n + 1) */
    int nspread;
    struct sockaddr_in probe_addr[MAX_PROBES];
    char probe_path[MAX_PROBES][256];   /* held-request counters (status endpoints) */
    int nprobes;
    int fd_pids[MAX_PIDS], nfd_pids;   /* held requests counted by their open fds */
    long long fd_base;
} options;

typedef struct bench {
    options *o;
    benchLoop loop;
    client *clients;
    int n;
    char channel[64];       /* the channel this run subscribes to */
    int connecting, connected, failed_connects;
    long long deliveries, dup_id, dup_seq, bad_seq, errors, reconnects, answered, http_5xx;
    int complete;           /* clients that have every message */
    long long last_delivery_us;
    long long *lat;         /* latency: samples in microseconds */
    int nlat;
    int want_seq;           /* latency: the sequence number awaited */
    int stream_ok;          /* stream: clients whose stream answered 200 */
} bench;

/* ------------------------------------------------------------ helpers */

static redisContext *redisOpen(const options *o)
{
    jugRedisAddress addr;
    char err[256];
    if (jugRedisAddressParse(&addr, o->redis, err, sizeof(err)) < 0) {
        fprintf(stderr, "jugbench: --redis %s: %s\n", o->redis, err);
        return NULL;
    }
    redisContext *c = jugRedisConnect(&addr, 10000, err, sizeof(err));
    if (!c) fprintf(stderr, "jugbench: redis %s: %s\n", o->redis, err);
    return c;
}

/* Nchan: POST the payload to the publisher location. */
static int publishNchan(const options *o, const char *channel, int seq)
{
    char body[128], target[512];
    snprintf(body, sizeof(body), "{\"seq\":%d,\"t\":%lld}", seq, benchNowUs());
    snprintf(target, sizeof(target), "%s/%s", o->pubpath, channel);
    benchBuf out = { 0 };
    int status = benchHttpOnce(&o->pubaddr, "POST", target, "Content-Type: application/json\r\n", body,
                               5000, &out);
    benchBufFree(&out);
    return status >= 200 && status < 300 ? 0 : -1;
}

static int publish(redisContext *rc, const options *o, const char *channel, int seq)
{
    if (o->nchan) return publishNchan(o, channel, seq);
    char msg[256];
    snprintf(msg, sizeof(msg), "{\"channels\":[\"%s\"],\"data\":{\"seq\":%d,\"t\":%lld}}",
             channel, seq, benchNowUs());
    redisReply *r = redisCommand(rc, "PUBLISH %s %s", o->pubchan, msg);
    if (!r) return -1;
    int ok = r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);
    return ok ? 0 : -1;
}

static long long redisInfoField(redisContext *rc, const char *section, const char *field)
{
    redisReply *r = redisCommand(rc, "INFO %s", section);
    long long v = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        char key[64];
        snprintf(key, sizeof(key), "\r\n%s:", field);
        const char *p = strstr(r->str, key);
        if (p) v = strtoll(p + strlen(key), NULL, 10);
    }
    if (r) freeReplyObject(r);
    return v;
}

static long long readRssKb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtoll(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static int readThreads(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "Threads:", 8) == 0) n = atoi(line + 8);
    fclose(f);
    return n;
}

/* CPU time (user + system, all threads) of every --pids process, in us;
 * each one's in per[] when not NULL. */
static long long serverCpuUs(const options *o, long long *per)
{
    long long ticks = 0;
    for (int i = 0; i < o->npids; i++) {
        if (per) per[i] = 0;
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", o->pids[i]);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');   /* the name may hold spaces */
        unsigned long long ut = 0, st = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
            ticks += (long long)(ut + st);
            if (per) per[i] = (long long)(ut + st) * 1000000 / sysconf(_SC_CLK_TCK);
        }
    }
    return ticks * 1000000 / sysconf(_SC_CLK_TCK);
}

/* Redis's own CPU (INFO cpu, user + system) in us. */
static long long redisCpuUs(redisContext *rc)
{
    if (!rc) return -1;
    redisReply *r = redisCommand(rc, "INFO cpu");
    double total = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *u = strstr(r->str, "used_cpu_user:"), *s = strstr(r->str, "used_cpu_sys:");
        if (u && s) total = atof(u + 14) + atof(s + 13);
    }
    if (r) freeReplyObject(r);
    return total < 0 ? -1 : (long long)(total * 1e6);
}

/* This process's own CPU (user + system) in us: the load generator's share. */
static long long selfCpuUs(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0) return 0;
    return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

typedef struct cpuMark {
    long long t, server, redis;
    long long per[MAX_PIDS];
} cpuMark;

static cpuMark cpuNow(const options *o, redisContext *rc)
{
    cpuMark m;
    m.t = benchNowUs();
    m.server = serverCpuUs(o, m.per);
    m.redis = redisCpuUs(rc);
    return m;
}

/* CPU between two marks, per delivery; and Redis's busiest commands (reset at
 * the first mark with CONFIG RESETSTAT). */
static void printCpu(const options *o, redisContext *rc, cpuMark a, cpuMark b, long long deliveries)
{
    double wall = (b.t - a.t) / 1e6;
    printf("server_pids: %d\nserver_cpu_s: %.3f\nserver_cpu_pct_of_core: %.1f\n", o->npids,
           (b.server - a.server) / 1e6, wall > 0 ? (b.server - a.server) / 1e4 / wall : 0);
    if (deliveries > 0)
        printf("server_cpu_us_per_delivery: %.2f\n", (double)(b.server - a.server) / deliveries);
    for (int i = 0; i < o->npids; i++)
        printf("cpu_of_pid: pid=%d cpu_s=%.3f us_per_delivery=%.2f\n", o->pids[i], (b.per[i] - a.per[i]) / 1e6,
               deliveries > 0 ? (double)(b.per[i] - a.per[i]) / deliveries : 0);
    if (a.redis >= 0 && b.redis >= 0) {
        printf("redis_cpu_s: %.3f\n", (b.redis - a.redis) / 1e6);
        if (deliveries > 0) printf("redis_cpu_us_per_delivery: %.2f\n", (double)(b.redis - a.redis) / deliveries);
    }
    redisReply *r = rc ? redisCommand(rc, "INFO commandstats") : NULL;
    if (r && r->type == REDIS_REPLY_STRING) {
        char *save = NULL;
        for (char *line = strtok_r(r->str, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
            if (strncmp(line, "cmdstat_", 8) != 0) continue;
            const char *usec = strstr(line, "usec=");
            if (usec && atoll(usec + 5) >= 1000) printf("redis_%s\n", line);   /* >= 1 ms in total */
        }
    }
    if (r) freeReplyObject(r);
}

static void resetRedisStats(redisContext *rc)
{
    redisReply *r = rc ? redisCommand(rc, "CONFIG RESETSTAT") : NULL;
    if (r) freeReplyObject(r);
}

static int cmpLL(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static double pct(const long long *sorted, int n, double p)
{
    if (n == 0) return 0;
    int i = (int)(p * (n - 1) + 0.5);
    return sorted[i] / 1000.0;
}

/* ------------------------------------------------------------ sessions over HTTP */

static void startConnect(bench *b, client *c)
{
    if (b->o->nchan) {   /* no sessions: ready at once */
        c->phase = PH_READY;
        b->connected++;
        return;
    }
    char target[512];
    snprintf(target, sizeof(target), "%s/connect?channel=%s", b->o->base, b->channel);
    c->phase = PH_CONNECT;
    b->connecting++;
    if (benchConnGet(&b->loop, &c->conn, target, NULL) < 0) {
        c->phase = PH_FAILED;
        b->connecting--;
        b->failed_connects++;
    }
}

static void startPoll(bench *b, client *c)
{
    const options *o = b->o;
    char target[512], headers[256] = "";
    if (o->nchan) {
        snprintf(target, sizeof(target), "%s/%s", o->base, b->channel);
        if (c->conn.last_modified[0])
            snprintf(headers, sizeof(headers), "If-Modified-Since: %s\r\nIf-None-Match: %s\r\n",
                     c->conn.last_modified, c->conn.etag);
    } else {
        snprintf(target, sizeof(target), "%s/poll?session_id=%s&ack=%lld&timeout=%d", o->base, c->sid,
                 c->ack, o->poll_timeout);
    }
    if (o->two) {   /* every poll to the other server, on a new connection */
        c->flip ^= 1;
        benchConnClose(&b->loop, &c->conn);
        c->conn.addr = c->flip ? &o->addr2 : &o->addr;
    }
    c->phase = PH_POLL;
    if (benchConnGet(&b->loop, &c->conn, target, headers) < 0) c->phase = PH_FAILED;
}

static void startStream(bench *b, client *c)
{
    char target[512];
    const char *headers = NULL;
    if (b->o->nchan) {
        snprintf(target, sizeof(target), "%s/%s", b->o->base, b->channel);
        headers = strcmp(b->o->transport, "sse") == 0 ? "Accept: text/event-stream\r\n"
                                                        : "Accept: multipart/mixed\r\n";
    } else {
        snprintf(target, sizeof(target), "%s/%s?session_id=%s&ack=%lld", b->o->base, b->o->transport,
                 c->sid, c->ack);
    }
    c->phase = PH_STREAM;
    if (benchConnGet(&b->loop, &c->conn, target, headers) < 0) c->phase = PH_FAILED;
}

static void onConnectDone(bench *b, client *c, benchEvent ev)
{
    b->connecting--;
    if (ev == BENCH_EV_DONE && c->conn.status == 200) {
        cJSON *j = cJSON_Parse(c->conn.body.data ? c->conn.body.data : "");
        cJSON *sid = cJSON_GetObjectItemCaseSensitive(j, "session_id");
        if (cJSON_IsString(sid) && strlen(sid->valuestring) == JUG_SID_LEN) {
            strcpy(c->sid, sid->valuestring);
            c->phase = PH_READY;
            b->connected++;
            cJSON_Delete(j);
            return;
        }
        cJSON_Delete(j);
    }
    if (++c->tries < 3) {
        startConnect(b, c);
        return;
    }
    c->phase = PH_FAILED;
    b->failed_connects++;
    if (b->failed_connects <= 3)
        fprintf(stderr, "jugbench: connect failed (status %d): %.200s\n", c->conn.status,
                c->conn.body.data ? c->conn.body.data : "");
}

/* Start connects while fewer than the allowed number are in flight. */
static void kickConnects(bench *b, int *next)
{
    while (*next < b->n && b->connecting < b->o->concurrency)
        startConnect(b, &b->clients[(*next)++]);
}

/* Connect every client's session over HTTP. Returns the number connected. */
static int connectAll(bench *b, int deadline_s)
{
    long long deadline = benchNowUs() + (long long)deadline_s * 1000000;
    int next = 0;
    kickConnects(b, &next);
    while ((next < b->n || b->connecting > 0) && benchNowUs() < deadline) {
        benchLoopRun(&b->loop, 50);
        kickConnects(b, &next);
    }
    return b->connected;
}

/* ------------------------------------------------------------ deliveries */

/* Count one delivery for client c; data carries the payload sequence number. */
static void countDelivery(bench *b, client *c, long long id, const cJSON *data)
{
    b->deliveries++;
    b->last_delivery_us = benchNowUs();
    if (id > 0 && id <= c->ack) b->dup_id++;   /* id 0: Nchan, no delivery ids */
    if (id > c->ack) c->ack = id;
    cJSON *seq = cJSON_GetObjectItemCaseSensitive(data, "seq");
    if (!cJSON_IsNumber(seq) || seq->valueint < 0 || seq->valueint >= b->o->messages || !c->seen) {
        b->bad_seq++;
        return;
    }
    if (c->seen[seq->valueint]) {
        b->dup_seq++;
        return;
    }
    c->seen[seq->valueint] = 1;
    if (++c->distinct == b->o->messages) b->complete++;
}

/* One delivery or control record as JSON text. */
static void handleRecord(bench *b, client *c, const char *json, int *reconnect)
{
    cJSON *j = cJSON_Parse(json);
    if (!j) return;
    cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    cJSON *event = cJSON_GetObjectItemCaseSensitive(j, "event");
    if (b->o->nchan) {
        countDelivery(b, c, 0, j);   /* the record is the published payload */
    } else if (cJSON_IsNumber(id) && id->valuedouble > 0) {
        countDelivery(b, c, (long long)id->valuedouble, cJSON_GetObjectItemCaseSensitive(j, "data"));
    } else if (cJSON_IsString(event) && strcmp(event->valuestring, "keepalive") != 0) {
        *reconnect = 1;
        if (strcmp(event->valuestring, "reconnect") != 0) b->errors++;
    } else if (cJSON_GetObjectItemCaseSensitive(j, "error")) {
        b->errors++;
        *reconnect = 1;
    }
    cJSON_Delete(j);
}

/* Poll again after ms (0: at once), as the browser client does. */
static void pollLater(bench *b, client *c, long long ms)
{
    if (ms <= 0) {
        startPoll(b, c);
        return;
    }
    c->phase = PH_WAIT;
    c->poll_at = benchNowUs() + ms * 1000;
}

/* After a failed poll: client-js's backoff, between half and all of
 * 250 ms * 2^(n-1), at most 30 s. */
static void pollAfterFailure(bench *b, client *c)
{
    long long ms = 250LL << (c->failures < 8 ? c->failures : 7);
    if (ms > 30000) ms = 30000;
    c->failures++;
    pollLater(b, c, ms / 2 + rand() % (ms / 2 + 1));
}

/* Start the polls whose wait is over. */
static void pollDue(bench *b)
{
    long long now = benchNowUs();
    for (int i = 0; i < b->n; i++)
        if (b->clients[i].phase == PH_WAIT && b->clients[i].poll_at <= now) startPoll(b, &b->clients[i]);
}

static void onPollDone(bench *b, client *c, benchEvent ev)
{
    if (ev == BENCH_EV_FAILED) {
        b->reconnects++;
        pollAfterFailure(b, c);
        return;
    }
    if (b->o->nchan && (c->conn.status == 304 || c->conn.status == 408)) {
        startPoll(b, c);   /* Nchan: nothing new within its timeout */
        return;
    }
    if (c->conn.status != 200) {
        b->errors++;
        if (c->conn.status >= 500) b->http_5xx++;
        if (c->conn.status == 410) {
            c->phase = PH_FAILED;
            return;
        }
        pollAfterFailure(b, c);
        return;
    }
    c->failures = 0;
    cJSON *j = cJSON_Parse(c->conn.body.data ? c->conn.body.data : "");
    if (b->o->nchan) {   /* one message per answer: the payload */
        countDelivery(b, c, 0, j);
        cJSON_Delete(j);
        startPoll(b, c);
        return;
    }
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) {
        cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
        if (cJSON_IsNumber(id))
            countDelivery(b, c, (long long)id->valuedouble, cJSON_GetObjectItemCaseSensitive(m, "data"));
    }
    cJSON *retry = cJSON_GetObjectItemCaseSensitive(j, "retry");   /* not held: wait that long */
    long long wait_ms = cJSON_IsNumber(retry) ? (long long)retry->valuedouble : 0;
    cJSON_Delete(j);
    pollLater(b, c, wait_ms);
}

/* Take every complete line of a stream body: SSE "data: {...}" or a
 * multipart part's JSON line; headers, padding and comments are skipped. */
static void consumeStream(bench *b, client *c, int *reconnect)
{
    benchBuf *body = &c->conn.body;
    size_t off = 0;
    for (;;) {
        char *nl = memchr(body->data + off, '\n', body->len - off);
        if (!nl) break;
        *nl = '\0';
        char *line = body->data + off;
        if (nl > line && nl[-1] == '\r') nl[-1] = '\0';
        if (strncmp(line, "data: ", 6) == 0) handleRecord(b, c, line + 6, reconnect);
        else if (line[0] == '{') handleRecord(b, c, line, reconnect);
        else if (!strcmp(line, "event: reconnect") || !strcmp(line, "event: juggernaut-error"))
            *reconnect = 1;   /* "event: keepalive" is just a sign of life */
        off = (size_t)(nl - body->data) + 1;
    }
    benchBufConsume(body, off);
}

static void onStreamEvent(bench *b, client *c, benchEvent ev)
{
    int reconnect = 0;
    if (ev != BENCH_EV_FAILED && c->conn.got_headers && c->conn.status == 200) {
        if (!c->answered) {
            c->answered = 1;
            b->stream_ok++;
        }
        consumeStream(b, c, &reconnect);
    }
    if (ev == BENCH_EV_BODY) return;
    if (ev == BENCH_EV_FAILED || c->conn.status != 200) b->errors++;
    if (c->conn.status >= 500) b->http_5xx++;
    b->reconnects++;
    if (c->conn.status == 410) {
        c->phase = PH_FAILED;
        return;
    }
    startStream(b, c);   /* resumes after the last id: nothing is lost */
}

static void onHoldDone(bench *b, client *c, benchEvent ev)
{
    if (!c->answered) {
        c->answered = 1;
        b->answered++;
    }
    if (ev == BENCH_EV_DONE && c->conn.status == 200) {
        int with_message = strstr(c->conn.body.data ? c->conn.body.data : "", "\"seq\":") != NULL;
        b->deliveries += with_message;
        if (!with_message && b->bad_seq++ < 3)   /* answered without the message: say how */
            fprintf(stderr, "jugbench: held poll answered without a message: %.200s\n",
                    c->conn.body.data ? c->conn.body.data : "");
    } else if (c->conn.status >= 500 && ++b->http_5xx && b->errors++ < 3) {
        fprintf(stderr, "jugbench: held poll answered %d: %.200s\n", c->conn.status,
                c->conn.body.data ? c->conn.body.data : "");
    } else if (b->errors++ < 3) {
        fprintf(stderr, "jugbench: held poll answered %d: %.200s\n", c->conn.status,
                c->conn.body.data ? c->conn.body.data : "");
    }
    c->phase = PH_IDLE;
}

static void onLatencyDone(bench *b, client *c, benchEvent ev)
{
    long long now = benchNowUs();
    if (ev == BENCH_EV_DONE && c->conn.status == 200) {
        cJSON *j = cJSON_Parse(c->conn.body.data ? c->conn.body.data : "");
        /* Nchan answers the payload itself: a list of one. */
        cJSON *list = b->o->nchan ? NULL : cJSON_GetObjectItemCaseSensitive(j, "messages");
        const cJSON *m;
        for (m = b->o->nchan ? j : (list ? list->child : NULL); m; m = b->o->nchan ? NULL : m->next) {
            cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
            const cJSON *data = b->o->nchan ? m : cJSON_GetObjectItemCaseSensitive(m, "data");
            cJSON *seq = cJSON_GetObjectItemCaseSensitive(data, "seq");
            cJSON *t = cJSON_GetObjectItemCaseSensitive(data, "t");
            if (cJSON_IsNumber(id) && (long long)id->valuedouble > c->ack) c->ack = (long long)id->valuedouble;
            if (cJSON_IsNumber(seq) && seq->valueint == b->want_seq && cJSON_IsNumber(t)) {
                b->lat[b->nlat++] = now - (long long)t->valuedouble;
                b->want_seq = -1;
            }
        }
        cJSON_Delete(j);
    } else if (!(b->o->nchan && (c->conn.status == 304 || c->conn.status == 408))) {
        b->errors++;
    }
    c->phase = PH_READY;
}

static void dispatch(benchLoop *loop, benchConn *conn, benchEvent ev)
{
    bench *b = loop->user;
    client *c = &b->clients[conn->index];
    if (c->phase == PH_CONNECT) {
        if (ev != BENCH_EV_BODY) onConnectDone(b, c, ev);
    } else if (c->phase == PH_STREAM) {
        onStreamEvent(b, c, ev);
    } else if (ev == BENCH_EV_BODY) {
        return;
    } else if (strcmp(b->o->cmd, "latency") == 0) {
        onLatencyDone(b, c, ev);
    } else if (strcmp(b->o->cmd, "hold") == 0) {
        onHoldDone(b, c, ev);
    } else if (c->phase == PH_POLL) {
        onPollDone(b, c, ev);
    }
}

/* ------------------------------------------------------------ setup/teardown */

static int benchInit(bench *b, options *o, int n, const char *tag)
{
    memset(b, 0, sizeof(*b));
    b->o = o;
    b->n = n;
    snprintf(b->channel, sizeof(b->channel), "bench-%s-%d", tag, (int)getpid());
    long need = (long)n + 64;
    long got = benchRaiseNofile(need);
    if (got < need) {
        fprintf(stderr, "jugbench: RLIMIT_NOFILE is %ld, need %ld\n", got, need);
        return -1;
    }
    if (benchLoopInit(&b->loop, &o->addr, o->host, dispatch) < 0) return -1;
    b->loop.user = b;
    b->clients = calloc((size_t)n, sizeof(client));
    if (!b->clients) return -1;
    for (int i = 0; i < n; i++) {
        benchConnInit(&b->clients[i].conn, i);
        if (o->nspread > 0 && i % (o->nspread + 1) > 0) b->clients[i].conn.addr = &o->spread[i % (o->nspread + 1) - 1];
        if (o->messages > 0) b->clients[i].seen = calloc((size_t)o->messages, 1);
    }
    return 0;
}

/* End every session we made (so the reaper does not do it later, mid-run). */
static void disconnectAll(bench *b, redisContext *rc)
{
    if (!rc) return;
    int pending = 0;
    for (int i = 0; i < b->n; i++) {
        if (!b->clients[i].sid[0]) continue;
        const char *argv[] = { "EVALSHA", jugScriptSha(JUG_SCRIPT_DISCONNECT), "0", b->o->prefix,
                               b->o->pubchan, b->clients[i].sid, SESSION_TTL_MS, BACKSTOP_S };
        redisAppendCommandArgv(rc, 8, argv, NULL);
        pending++;
    }
    for (int i = 0; i < pending; i++) {
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK) break;
        freeReplyObject(r);
    }
}

static void benchFree(bench *b, redisContext *rc)
{
    for (int i = 0; i < b->n; i++) benchConnClose(&b->loop, &b->clients[i].conn);
    disconnectAll(b, rc);
    for (int i = 0; i < b->n; i++) {
        benchConnFree(&b->loop, &b->clients[i].conn);
        free(b->clients[i].seen);
    }
    free(b->clients);
    free(b->lat);
    benchLoopClose(&b->loop);
}

static void printMachine(void)
{
    char line[256], model[256] = "?";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            snprintf(model, sizeof(model), "%s", v ? v + 2 : line);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (f) fclose(f);
    printf("machine: nproc=%ld model=%s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
}

/* ------------------------------------------------------------ latency */

static int cmdLatency(options *o)
{
    redisContext *rc = redisOpen(o);
    bench b;
    if (!rc || benchInit(&b, o, 1, "lat") < 0) return 1;
    b.lat = calloc((size_t)o->samples, sizeof(long long));
    client *c = &b.clients[0];
    if (connectAll(&b, 10) != 1) {
        fprintf(stderr, "jugbench: could not connect a session\n");
        benchFree(&b, rc);
        redisFree(rc);
        return 1;
    }
    long long deadline = benchNowUs() + (long long)o->timeout_s * 1000000;
    int lost = 0;
    for (int i = 0; i < o->samples && benchNowUs() < deadline; i++) {
        startPoll(&b, c);
        c->phase = PH_POLL;
        long long gap_end = benchNowUs() + o->gap_ms * 1000;   /* let the poll be parked */
        while (benchNowUs() < gap_end && c->phase == PH_POLL) benchLoopRun(&b.loop, 1);
        if (c->phase != PH_POLL) continue;   /* answered early: a leftover; poll again */
        b.want_seq = i;
        if (publish(rc, o, b.channel, i) < 0) break;
        long long wait_end = benchNowUs() + 5000000;
        while (b.want_seq == i && benchNowUs() < wait_end && benchNowUs() < deadline) {
            if (c->phase != PH_POLL) startPoll(&b, c);   /* answered without our message */
            benchLoopRun(&b.loop, 5);
        }
        if (b.want_seq == i) lost++;
        while (c->phase == PH_POLL && benchNowUs() < wait_end) benchLoopRun(&b.loop, 5);
    }
    qsort(b.lat, (size_t)b.nlat, sizeof(long long), cmpLL);
    printf("jugbench latency\n");
    printMachine();
    printf("samples: %d\nlost: %d\nerrors: %lld\n", b.nlat, lost, b.errors);
    printf("latency_ms: p50=%.3f p90=%.3f p99=%.3f max=%.3f\n", pct(b.lat, b.nlat, 0.5),
           pct(b.lat, b.nlat, 0.9), pct(b.lat, b.nlat, 0.99), pct(b.lat, b.nlat, 1.0));
    benchFree(&b, rc);
    redisFree(rc);
    return 0;
}

/* ------------------------------------------------------------ fanout */

/* Create n sessions subscribed to channel with connect.lua, pipelined. */
static int makeSessions(redisContext *rc, const options *o, const char *channel, char (*sids)[JUG_SID_LEN + 1],
                        int n)
{
    const int batch = 1000;
    for (int start = 0; start < n; start += batch) {
        int end = start + batch < n ? start + batch : n;
        for (int i = start; i < end; i++) {
            if (jugSidGenerate(sids[i]) < 0) return -1;
            const char *argv[] = { "EVALSHA", jugScriptSha(JUG_SCRIPT_CONNECT), "0", o->prefix, o->pubchan,
                                   sids[i], "null", BACKSTOP_S, "100", channel };
            redisAppendCommandArgv(rc, 10, argv, NULL);
        }
        for (int i = start; i < end; i++) {
            redisReply *r = NULL;
            if (redisGetReply(rc, (void **)&r) != REDIS_OK) return -1;
            int bad = r->type == REDIS_REPLY_ERROR;
            if (bad) fprintf(stderr, "jugbench: connect.lua: %s\n", r->str);
            freeReplyObject(r);
            if (bad) return -1;
        }
    }
    return 0;
}

/* A connection subscribed to <prefix>notify: fanout.lua publishes one "M"
 * line there after it pushed a message into every queue. */
static redisContext *openNotify(const options *o)
{
    redisContext *sub = redisOpen(o);
    if (!sub) return NULL;
    redisReply *r = redisCommand(sub, "SUBSCRIBE %snotify", o->prefix);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r) freeReplyObject(r);
        redisFree(sub);
        return NULL;
    }
    freeReplyObject(r);
    struct timeval tv = { 10, 0 };   /* a fan-out to many sessions takes a while */
    redisSetTimeout(sub, tv);
    return sub;
}

/* Count "M" notifications until want arrived, hard_end passed or none came
 * for 10 s (the connection is then unusable: dropped); returns the count. */
static long long countFanouts(redisContext **sub, long long want, long long hard_end)
{
    long long got = 0;
    while (*sub && got < want && benchNowUs() < hard_end) {
        redisReply *r = NULL;
        if (redisGetReply(*sub, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "jugbench: notify subscription: %s\n", (*sub)->errstr);
            redisFree(*sub);
            *sub = NULL;
            break;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING &&
            strncmp(r->element[2]->str, "M ", 2) == 0)
            got++;
        freeReplyObject(r);
    }
    return got;
}

/* Sessions whose queue does not hold exactly want items. */
static int countShortQueues(redisContext *rc, const options *o, char (*sids)[JUG_SID_LEN + 1], int n,
                             long long want)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        char key[JUG_KEY_MAX];
        jugKeyQueue(key, sizeof(key), o->prefix, sids[i]);
        redisAppendCommand(rc, "LLEN %s", key);
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK) return n;
        if (r->type != REDIS_REPLY_INTEGER || r->integer != want) bad++;
        freeReplyObject(r);
    }
    return bad;
}

static void endSessions(redisContext *rc, const options *o, char (*sids)[JUG_SID_LEN + 1], int n)
{
    for (int i = 0; i < n; i++) {
        const char *argv[] = { "EVALSHA", jugScriptSha(JUG_SCRIPT_DISCONNECT), "0", o->prefix, o->pubchan,
                               sids[i], SESSION_TTL_MS, BACKSTOP_S };
        redisAppendCommandArgv(rc, 8, argv, NULL);
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK) return;
        freeReplyObject(r);
    }
}

/* Load the scripts by running each once through jugRedisScript (EVAL fallback). */
static int loadScript(redisContext *rc, jugScript s)
{
    redisReply *r = redisCommand(rc, "SCRIPT LOAD %s", jugScriptSource(s));
    int ok = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, jugScriptSha(s)) == 0;
    if (r) freeReplyObject(r);
    return ok ? 0 : -1;
}

typedef struct fanRound {
    long long elapsed_us, publish_us, fanned, receivers;
} fanRound;

/* Publish m messages through the poller and wait until the fan-out script
 * has notified each of them (it notifies after pushing into every queue). */
static int fanoutRound(redisContext *rc, redisContext **sub, const options *o, const char *channel,
                       long long hard_end, fanRound *out)
{
    int m = o->messages;
    long long t0 = benchNowUs();
    for (int i = 0; i < m; i++) {
        char msg[160];
        snprintf(msg, sizeof(msg), "{\"channels\":[\"%s\"],\"data\":{\"seq\":%d}}", channel, i);
        redisAppendCommand(rc, "PUBLISH %s %s", o->pubchan, msg);
    }
    long long receivers = 0;
    for (int i = 0; i < m; i++) {
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK) return -1;
        if (r->type == REDIS_REPLY_INTEGER) receivers += r->integer;
        freeReplyObject(r);
    }
    out->publish_us = benchNowUs() - t0;
    out->fanned = countFanouts(sub, m, hard_end);
    out->elapsed_us = benchNowUs() - t0;
    out->receivers = m ? receivers / m : 0;
    return out->fanned == m ? 0 : -1;
}

static void emptyQueues(redisContext *rc, const options *o, char (*sids)[JUG_SID_LEN + 1], int n)
{
    for (int i = 0; i < n; i++) {
        char key[JUG_KEY_MAX];
        jugKeyQueue(key, sizeof(key), o->prefix, sids[i]);
        redisAppendCommand(rc, "DEL %s", key);
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK) return;
        freeReplyObject(r);
    }
}

static int cmdFanout(options *o)
{
    redisContext *rc = redisOpen(o);
    if (!rc) return 1;
    if (loadScript(rc, JUG_SCRIPT_CONNECT) < 0 || loadScript(rc, JUG_SCRIPT_DISCONNECT) < 0) {
        fprintf(stderr, "jugbench: SCRIPT LOAD failed\n");
        redisFree(rc);
        return 1;
    }
    int n = o->subscribers, m = o->messages;
    if (m > o->max_queue) {
        fprintf(stderr, "jugbench: --messages %d capped to max_queue %d\n", m, o->max_queue);
        m = o->messages = o->max_queue;
    }
    char channel[64];
    snprintf(channel, sizeof(channel), "bench-fan-%d-%d", (int)getpid(), n);
    char (*sids)[JUG_SID_LEN + 1] = calloc((size_t)n, sizeof(*sids));
    long long t_setup = benchNowUs();
    if (!sids || makeSessions(rc, o, channel, sids, n) < 0) {
        fprintf(stderr, "jugbench: could not create sessions\n");
        free(sids);
        redisFree(rc);
        return 1;
    }
    double setup_s = (benchNowUs() - t_setup) / 1e6;
    /* Queues are capped at max_queue, so a short run is repeated (emptying
     * them in between, untimed) until it has lasted min_seconds in total. */
    fanRound total = { 0 };
    int rounds = 0, shortn = 0;
    long long hard_end = benchNowUs() + (long long)o->timeout_s * 1000000;
    redisContext *sub = openNotify(o);
    while (rounds < 100 && (rounds == 0 || total.elapsed_us < o->min_seconds * 1e6) &&
           benchNowUs() < hard_end) {
        if (rounds > 0) emptyQueues(rc, o, sids, n);
        fanRound r;
        if (!sub || fanoutRound(rc, &sub, o, channel, hard_end, &r) < 0) break;
        total.elapsed_us += r.elapsed_us;
        total.publish_us += r.publish_us;
        total.fanned += r.fanned;
        total.receivers = r.receivers;
        shortn += countShortQueues(rc, o, sids, n, m);
        rounds++;
    }
    double el = total.elapsed_us / 1e6;
    printf("jugbench fanout\n");
    printMachine();
    printf("subscribers: %d\nmessages: %d\nrounds: %d\npollers_subscribed: %lld\n", n, m, rounds,
           total.receivers);
    printf("session_setup_s: %.3f\npublish_s: %.3f\nelapsed_s: %.3f\n", setup_s, total.publish_us / 1e6, el);
    printf("fanned_out_messages: %lld\nincomplete_queues: %d\n", total.fanned, shortn);
    printf("pushes_per_s: %.0f\nmessages_per_s: %.0f\n", el > 0 ? (double)n * total.fanned / el : 0,
           el > 0 ? total.fanned / el : 0);
    endSessions(rc, o, sids, n);
    free(sids);
    if (sub) redisFree(sub);
    redisFree(rc);
    return 0;
}

/* ------------------------------------------------------------ deliver */

static void printDelivery(const bench *b, const char *transport, double publish_s, double el)
{
    long long distinct = 0;
    for (int i = 0; i < b->n; i++) distinct += b->clients[i].distinct;
    long long expected = (long long)b->connected * b->o->messages;
    printf("transport: %s\nsubscribers: %d\nconnected: %d\nmessages: %d\n", transport, b->n, b->connected,
           b->o->messages);
    printf("publish_s: %.3f\nelapsed_s: %.3f\n", publish_s, el);
    printf("expected: %lld\ndelivered: %lld\nmissing: %lld\n", expected, distinct, expected - distinct);
    printf("duplicated: %lld\nduplicated_by_id: %lld\nbad_payload: %lld\n", b->dup_seq, b->dup_id, b->bad_seq);
    printf("complete_clients: %d\nerrors: %lld\nhttp_5xx: %lld\nreconnects: %lld\nhttp_failures: %lld\n",
           b->complete, b->errors, b->http_5xx, b->reconnects, b->loop.failures);
    printf("deliveries_per_s: %.0f\n", el > 0 ? distinct / el : 0);
}

/* The publisher runs on its own thread with its own Redis connection, so
 * the rate holds however busy the client loop is. */
typedef struct publisher {
    const options *o;
    const char *channel;
    long long t0, done_us;
    int sent, failed;
} publisher;

static void *publisherMain(void *arg)
{
    publisher *p = arg;
    redisContext *rc = p->o->nchan ? NULL : redisOpen(p->o);
    long long interval = p->o->rate > 0 ? (long long)(1e6 / p->o->rate) : 0;
    while ((rc || p->o->nchan) && p->sent < p->o->messages) {
        long long wait = p->t0 + p->sent * interval - benchNowUs();
        if (wait > 0) usleep((useconds_t)wait);
        if (publish(rc, p->o, p->channel, p->sent) < 0) break;
        p->sent++;
    }
    p->failed = p->sent < p->o->messages;
    p->done_us = benchNowUs();
    if (rc) redisFree(rc);
    return NULL;
}

/* Publish M messages at the rate while serving clients, then wait for them all. */
static int runPublishing(bench *b, double *publish_s, double *el, cpuMark *end)
{
    const options *o = b->o;
    publisher p = { .o = o, .channel = b->channel, .t0 = benchNowUs() };
    pthread_t t;
    if (pthread_create(&t, NULL, publisherMain, &p) != 0) return -1;
    long long deadline = p.t0 + (long long)o->messages * (o->rate > 0 ? (long long)(1e6 / o->rate) : 0) +
                         (long long)o->timeout_s * 1000000;
    while (b->complete < b->connected && benchNowUs() < deadline) {
        benchLoopRun(&b->loop, 20);
        pollDue(b);
    }
    pthread_join(t, NULL);
    *publish_s = (p.done_us - p.t0) / 1e6;
    long long last = b->last_delivery_us > p.t0 ? b->last_delivery_us : benchNowUs();
    *el = (last - p.t0) / 1e6;
    *end = cpuNow(o, NULL);
    /* A moment more to catch late duplicates. */
    long long linger = benchNowUs() + 300000;
    while (benchNowUs() < linger) {
        benchLoopRun(&b->loop, 20);
        pollDue(b);
    }
    return p.failed ? -1 : 0;
}

static int cmdDeliver(options *o, int streaming)
{
    redisContext *rc = redisOpen(o);
    bench b;
    if (!rc || benchInit(&b, o, o->subscribers, streaming ? o->transport : "poll") < 0) return 1;
    if (!o->nchan && loadScript(rc, JUG_SCRIPT_DISCONNECT) < 0) fprintf(stderr, "jugbench: SCRIPT LOAD failed\n");
    long long tc = benchNowUs();
    connectAll(&b, 60);
    double connect_s = (benchNowUs() - tc) / 1e6;
    for (int i = 0; i < b.n; i++) {
        client *c = &b.clients[i];
        if (c->phase != PH_READY) continue;
        if (streaming) startStream(&b, c);
        else startPoll(&b, c);
    }
    /* Let the first requests reach the worker (and streams answer) first. */
    long long settle = benchNowUs() + 10000000;
    long long min_settle = benchNowUs() + 500000;
    while (benchNowUs() < settle && (benchNowUs() < min_settle || (streaming && b.stream_ok < b.connected))) {
        benchLoopRun(&b.loop, 20);
        pollDue(&b);
    }
    double publish_s = 0, el = 0;
    resetRedisStats(rc);
    cpuMark c0 = cpuNow(o, rc), c1;
    int rcode = runPublishing(&b, &publish_s, &el, &c1);
    c1.redis = redisCpuUs(rc);   /* Redis is idle by now: read after the linger is the same */
    printf("jugbench %s\n", streaming ? "stream" : "deliver");
    printMachine();
    printf("connect_s: %.3f\nrate: %.0f\n", connect_s, o->rate);
    if (streaming) printf("streams_open: %d\n", b.stream_ok);
    printDelivery(&b, streaming ? o->transport : "poll", publish_s, el);
    long long distinct = 0;
    for (int i = 0; i < b.n; i++) distinct += b.clients[i].distinct;
    printCpu(o, rc, c0, c1, distinct);
    benchFree(&b, rc);
    redisFree(rc);
    return rcode < 0 ? 1 : 0;
}

/* ------------------------------------------------------------ hold */

static int countInFlight(const bench *b)
{
    int n = 0;
    for (int i = 0; i < b->n; i++) n += b->clients[i].phase == PH_POLL && b->clients[i].conn.busy;
    return n;
}

/* Open fds of the --held-fds processes: a request the worker holds has its
 * FastCGI connection open there; one still queued in the web server has not. */
static long long countFds(const options *o)
{
    long long n = 0;
    for (int i = 0; i < o->nfd_pids; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/fd", o->fd_pids[i]);
        DIR *d = opendir(path);
        if (!d) continue;
        for (struct dirent *e = readdir(d); e; e = readdir(d)) n += e->d_name[0] != '.';
        closedir(d);
    }
    return n;
}

/* Requests the servers hold now: open fds of --held-fds processes beyond
 * those open before the polls, or the sum over the --held-url probes
 * (juggernaut's status endpoint "held":{"process":N}, Nchan's stub status
 * "subscribers: N"). Without either: the requests sent and not answered
 * (which counts requests still queued in a web server too). -1: a probe failed. */
static long long heldNow(const bench *b)
{
    const options *o = b->o;
    if (o->nfd_pids > 0) return countFds(o) - o->fd_base;
    if (o->nprobes == 0) return countInFlight(b);
    long long sum = 0;
    for (int i = 0; i < o->nprobes; i++) {
        benchBuf out = { 0 };
        int status = benchHttpOnce(&o->probe_addr[i], "GET", o->probe_path[i], NULL, NULL, 5000, &out);
        long long v = -1;
        const char *subs = out.data ? strstr(out.data, "subscribers:") : NULL;
        if (status == 200 && subs) {
            v = strtoll(subs + 12, NULL, 10);
        } else if (status == 200) {
            cJSON *j = cJSON_Parse(out.data ? out.data : "");
            cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "held"), "process");
            if (cJSON_IsNumber(p)) v = (long long)p->valuedouble;
            cJSON_Delete(j);
        }
        benchBufFree(&out);
        if (v < 0) return -1;
        sum += v;
    }
    return sum;
}

/* Serve the loop for ms milliseconds. */
static void serveFor(bench *b, int ms)
{
    long long end = benchNowUs() + (long long)ms * 1000;
    while (benchNowUs() < end) benchLoopRun(&b->loop, 20);
}

/* Wait until the servers hold want requests (or the count stops growing). */
static long long waitHeld(bench *b, int want)
{
    long long deadline = benchNowUs() + (long long)b->o->timeout_s * 1000000;
    long long held = 0, best = -1, best_at = benchNowUs();
    while (benchNowUs() < deadline) {
        serveFor(b, 200);
        held = heldNow(b);
        if (held >= want) break;
        if (held > best) {
            best = held;
            best_at = benchNowUs();
        } else if (benchNowUs() - best_at > 5000000) {
            break;   /* no progress for 5 s: that is all they can hold */
        }
    }
    return held;
}

static long long printProcs(const options *o, const char *when)
{
    long long sum = 0;
    for (int i = 0; i < o->npids; i++) {
        long long kb = readRssKb(o->pids[i]);
        printf("proc_%s: pid=%d rss_kib=%lld threads=%d\n", when, o->pids[i], kb, readThreads(o->pids[i]));
        if (kb > 0) sum += kb;
    }
    printf("rss_kib_%s: %lld\n", when, sum);
    return sum;
}

/* Send the polls, keeping at most a window of them on their way: a burst of
 * thousands overflows listen backlogs and is answered 503. */
static void startHeldPolls(bench *b)
{
    const int window = 1000;
    long long deadline = benchNowUs() + (long long)b->o->timeout_s * 1000000;
    int i = 0, sent = 0;
    while (i < b->n && benchNowUs() < deadline) {
        long long held = heldNow(b);
        if (held < 0) held = sent;
        for (int k = 0; k < 500 && i < b->n && sent - held < window; i++) {
            if (b->clients[i].phase != PH_READY) continue;
            startPoll(b, &b->clients[i]);
            sent++;
            k++;
        }
        serveFor(b, 50);
    }
}

static int cmdHold(options *o)
{
    redisContext *rc = o->redis ? redisOpen(o) : NULL;
    bench b;
    if ((o->redis && !rc) || benchInit(&b, o, o->connections, "hold") < 0) return 1;
    if (rc && !o->nchan && loadScript(rc, JUG_SCRIPT_DISCONNECT) < 0)
        fprintf(stderr, "jugbench: SCRIPT LOAD failed\n");
    printf("jugbench hold\n");
    printMachine();
    printf("rlimit_nofile: %ld\n", benchRaiseNofile(0));
    long long rss_start = printProcs(o, "start");
    long long tc = benchNowUs();
    connectAll(&b, 180);
    double connect_s = (benchNowUs() - tc) / 1e6;
    long long rss0 = printProcs(o, "before");
    o->fd_base = countFds(o);
    long long held0 = heldNow(&b);
    long long tp = benchNowUs();
    startHeldPolls(&b);
    long long held = waitHeld(&b, b.connected + (held0 > 0 ? (int)held0 : 0));
    if (held0 > 0) held -= held0;
    double hold_s = (benchNowUs() - tp) / 1e6;
    int inflight = countInFlight(&b);
    /* Idle: nothing published for 10 s; every process's CPU meanwhile. */
    cpuMark i0 = cpuNow(o, rc);
    serveFor(&b, 10000);
    cpuMark i1 = cpuNow(o, rc);
    long long rss1 = printProcs(o, "after");
    long long redis_mem1 = rc ? redisInfoField(rc, "memory", "used_memory") : -1;
    printf("connections: %d\nsessions_connected: %d\nconnect_s: %.3f\n", b.n, b.connected, connect_s);
    printf("held: %lld\nin_flight: %d\nanswered_early: %lld\nhold_s: %.3f\n", held, inflight, b.answered, hold_s);
    if (held > 0 && rss0 > 0) printf("kib_per_held_request: %.2f\n", (double)(rss1 - rss0) / held);
    if (held > 0 && rss_start > 0)   /* with the sessions made before the polls (juggernaut) */
        printf("kib_per_held_request_with_session: %.2f\n", (double)(rss1 - rss_start) / held);
    printf("idle_server_cpu_pct_of_core: %.2f\n", (i1.server - i0.server) / 1e4 / ((i1.t - i0.t) / 1e6));
    if (i0.redis >= 0) printf("idle_redis_cpu_pct_of_core: %.2f\n", (i1.redis - i0.redis) / 1e4 / ((i1.t - i0.t) / 1e6));
    for (int i = 0; i < o->npids; i++)
        printf("idle_cpu_of_pid: pid=%d pct_of_core=%.2f\n", o->pids[i],
               (i1.per[i] - i0.per[i]) / 1e4 / ((i1.t - i0.t) / 1e6));
    if (rc) printf("redis_used_memory_kib: %lld\nredis_connected_clients: %lld\n", redis_mem1 / 1024,
                   redisInfoField(rc, "clients", "connected_clients"));
    /* Release: one message answers every held poll. */
    inflight = countInFlight(&b);
    long long tr = benchNowUs();
    long long answered0 = b.answered;
    cpuMark r0 = cpuNow(o, rc);
    long long self0 = selfCpuUs();
    int published = publish(rc, o, b.channel, 0) == 0;
    printf("release_published: %s\n", published ? "yes" : "no (the publish failed)");
    long long deadline = tr + 30000000;
    long long first_us = 0;   /* the first answer: what came before it was Redis and the notification */
    while (b.answered - answered0 < inflight && benchNowUs() < deadline) {
        benchLoopRun(&b.loop, 20);
        if (!first_us && b.answered > answered0) first_us = benchNowUs();
    }
    printf("released: %lld\nrelease_of: %d\nrelease_s: %.3f\nreleased_with_message: %lld\n",
           b.answered - answered0, inflight, (benchNowUs() - tr) / 1e6, b.deliveries);
    if (first_us) printf("release_first_answer_s: %.3f\n", (first_us - tr) / 1e6);
    /* Where the release went: each server process's CPU meanwhile. */
    cpuMark r1 = cpuNow(o, rc);
    printf("release_server_cpu_s: %.3f\nrelease_loadgen_cpu_s: %.3f\n", (r1.server - r0.server) / 1e6,
           (selfCpuUs() - self0) / 1e6);
    if (r0.redis >= 0) printf("release_redis_cpu_s: %.3f\n", (r1.redis - r0.redis) / 1e6);
    for (int i = 0; i < o->npids; i++)
        printf("release_cpu_of_pid: pid=%d cpu_s=%.3f\n", o->pids[i], (r1.per[i] - r0.per[i]) / 1e6);
    printf("answered_without_message: %lld\nerrors: %lld\nhttp_5xx: %lld\nhttp_failures: %lld\n", b.bad_seq,
           b.errors, b.http_5xx, b.loop.failures);
    benchFree(&b, rc);
    if (rc) redisFree(rc);
    return 0;
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
    fprintf(stderr,
            "usage: jugbench latency|fanout|deliver|hold|stream [options]\n"
            "  --url http://127.0.0.1:PORT/juggernaut   worker endpoint base\n"
            "  --redis URL_OR_SOCKET   --prefix jug:   --pubchan juggernaut\n"
            "  --samples N  --subscribers N  --messages N  --rate MSG_PER_S\n"
            "  --connections N  --pids PID[,PID...] (every server process: CPU, memory)\n"
            "  --held-url URL (repeatable: status endpoint or Nchan stub status)\n"
            "  --held-fds PID[,PID...] (held requests = fds opened there since the start)\n"
            "  --transport sse|multipart  --timeout S  --concurrency N\n"
            "  --poll-timeout S  --gap-ms MS  --max-queue N  --min-seconds S\n"
            "  --url2 URL (a second server: polls alternate)  --nchan --pub-url URL\n"
            "  --spread-url URL (repeatable: more servers, clients assigned round-robin)\n");
}

static void parsePids(options *o, char *list)
{
    for (char *tok = strtok(list, ","); tok && o->npids < MAX_PIDS; tok = strtok(NULL, ","))
        o->pids[o->npids++] = atoi(tok);
}

static int parseOptions(options *o, int argc, char **argv)
{
    static const struct option longs[] = {
        { "url", 1, 0, 'u' }, { "redis", 1, 0, 'r' }, { "prefix", 1, 0, 'p' }, { "pubchan", 1, 0, 'P' },
        { "samples", 1, 0, 's' }, { "subscribers", 1, 0, 'n' }, { "messages", 1, 0, 'm' },
        { "rate", 1, 0, 'R' }, { "connections", 1, 0, 'c' }, { "pids", 1, 0, 'w' },
        { "held-url", 1, 0, 'H' }, { "transport", 1, 0, 't' }, { "timeout", 1, 0, 'T' },
        { "concurrency", 1, 0, 'C' }, { "poll-timeout", 1, 0, 'o' }, { "gap-ms", 1, 0, 'g' },
        { "max-queue", 1, 0, 'q' }, { "min-seconds", 1, 0, 'M' }, { "url2", 1, 0, '2' },
        { "nchan", 0, 0, 'N' }, { "held-fds", 1, 0, 'F' }, { "spread-url", 1, 0, 'U' }, { "pub-url", 1, 0, 'B' }, { 0, 0, 0, 0 }
    };
    *o = (options){ .prefix = "jug:", .pubchan = "juggernaut", .samples = 2000, .subscribers = 1000,
                    .messages = 200, .connections = 10000, .transport = "sse", .timeout_s = 30,
                    .concurrency = 200, .poll_timeout = 25, .gap_ms = 2, .max_queue = 1000,
                    .min_seconds = 1.0 };
    int ch;
    char host[64], path[256];
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'u': snprintf(o->url, sizeof(o->url), "%s", optarg); break;
        case 'r': o->redis = optarg; break;
        case 'p': o->prefix = optarg; break;
        case 'P': o->pubchan = optarg; break;
        case 's': o->samples = atoi(optarg); break;
        case 'n': o->subscribers = atoi(optarg); break;
        case 'm': o->messages = atoi(optarg); break;
        case 'R': o->rate = atof(optarg); break;
        case 'c': o->connections = atoi(optarg); break;
        case 'w': parsePids(o, optarg); break;
        case 'H':
            if (o->nprobes == MAX_PROBES ||
                benchUrlParse(optarg, &o->probe_addr[o->nprobes], host, sizeof(host),
                              o->probe_path[o->nprobes], sizeof(o->probe_path[0])) < 0) {
                fprintf(stderr, "jugbench: bad or too many --held-url %s\n", optarg);
                return -1;
            }
            o->nprobes++;
            break;
        case '2':
            if (benchUrlParse(optarg, &o->addr2, host, sizeof(host), path, sizeof(path)) < 0) {
                fprintf(stderr, "jugbench: bad --url2 %s\n", optarg);
                return -1;
            }
            o->two = 1;
            break;
        case 'N': o->nchan = 1; break;
        case 'U':
            if (o->nspread == MAX_PROBES ||
                benchUrlParse(optarg, &o->spread[o->nspread], host, sizeof(host), path, sizeof(path)) < 0) {
                fprintf(stderr, "jugbench: bad or too many --spread-url %s\n", optarg);
                return -1;
            }
            o->nspread++;
            break;
        case 'F':
            for (char *tok = strtok(optarg, ","); tok && o->nfd_pids < MAX_PIDS; tok = strtok(NULL, ","))
                o->fd_pids[o->nfd_pids++] = atoi(tok);
            break;
        case 'B':
            if (benchUrlParse(optarg, &o->pubaddr, host, sizeof(host), o->pubpath, sizeof(o->pubpath)) < 0) {
                fprintf(stderr, "jugbench: bad --pub-url %s\n", optarg);
                return -1;
            }
            break;
        case 't': o->transport = optarg; break;
        case 'T': o->timeout_s = atoi(optarg); break;
        case 'C': o->concurrency = atoi(optarg); break;
        case 'o': o->poll_timeout = atoi(optarg); break;
        case 'g': o->gap_ms = atoi(optarg); break;
        case 'q': o->max_queue = atoi(optarg); break;
        case 'M': o->min_seconds = atof(optarg); break;
        default: return -1;
        }
    }
    if (o->url[0] && benchUrlParse(o->url, &o->addr, o->host, sizeof(o->host), o->base, sizeof(o->base)) < 0) {
        fprintf(stderr, "jugbench: bad --url %s\n", o->url);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    options o;
    if (parseOptions(&o, argc - 1, argv + 1) < 0) {
        usage();
        return 2;
    }
    o.cmd = argv[1];
    int needs_url = strcmp(o.cmd, "fanout") != 0;
    int needs_redis = strcmp(o.cmd, "hold") != 0;
    if ((needs_url && !o.url[0]) || (needs_redis && !o.redis) || (o.nchan && !o.pubpath[0])) {
        usage();
        return 2;
    }
    if (strcmp(o.cmd, "latency") == 0) return cmdLatency(&o);
    if (strcmp(o.cmd, "fanout") == 0) return cmdFanout(&o);
    if (strcmp(o.cmd, "deliver") == 0) return cmdDeliver(&o, 0);
    if (strcmp(o.cmd, "stream") == 0) return cmdDeliver(&o, 1);
    if (strcmp(o.cmd, "hold") == 0) return cmdHold(&o);
    usage();
    return 2;
}
