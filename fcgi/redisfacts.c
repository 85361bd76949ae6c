/* redisfacts.c -- what Redis says about this deployment (see redisfacts.h):
 * one connection and one pipelined round trip of O(1) commands -- INFO
 * server, ZCARD, HMGET, GET, PTTL, TIME -- never a scan. */
#include "autoconfig.h"

#include "redisfacts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "redis.h"

static long long replyInt(const redisReply *r) {
    if (!r) return -1;
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    if (r->type == REDIS_REPLY_STRING) return strtoll(r->str, NULL, 10);
    return -1;
}

static void copyVersion(jugRedisFacts *f, const redisReply *info) {
    if (!info || info->type != REDIS_REPLY_STRING) return;
    const char *v = strstr(info->str, "redis_version:");
    if (!v) return;
    v += strlen("redis_version:");
    size_t n = strspn(v, "0123456789.");
    if (n >= sizeof(f->version)) n = sizeof(f->version) - 1;
    memcpy(f->version, v, n);
    f->version[n] = '\0';
}

/* The lease holder and how long it has held the lease, by the Redis clock. */
static void leaseFacts(jugRedisFacts *f, redisReply *holder, redisReply *since, redisReply *pttl,
                       redisReply *time) {
    if (!holder || holder->type != REDIS_REPLY_STRING) return;
    snprintf(f->holder, sizeof(f->holder), "%.*s", (int)holder->len, holder->str);
    f->lease_ttl_ms = replyInt(pttl);
    long long taken = replyInt(since);
    if (taken > 0 && time && time->type == REDIS_REPLY_ARRAY && time->elements == 2) {
        long long now = replyInt(time->element[0]) * 1000 + replyInt(time->element[1]) / 1000;
        f->lease_age_ms = now >= taken ? now - taken : 0;
    }
}

void jugRedisFactsGather(const jugConfig *cfg, int timeout_ms, jugRedisFacts *f) {
    memset(f, 0, sizeof(*f));
    f->sessions = f->subscriptions = f->channels = f->held_host = -1;
    f->lease_age_ms = f->lease_ttl_ms = -1;
    char err[200];
    redisContext *c = jugRedisConnect(&cfg->redis, timeout_ms, err, sizeof(err));
    if (!c) {
        snprintf(f->error, sizeof(f->error), "%s", err);
        return;
    }
    char sessions[JUG_KEY_MAX], stats[JUG_KEY_MAX], lease[JUG_KEY_MAX], since[JUG_KEY_MAX],
        holds[JUG_KEY_MAX];
    const char *p = cfg->key_prefix;
    jugKeySessions(sessions, sizeof(sessions), p);
    jugKeyStats(stats, sizeof(stats), p);
    jugKeyPollerLease(lease, sizeof(lease), p);
    jugKeyPollerSince(since, sizeof(since), p);
    jugKeyHolds(holds, sizeof(holds), p);
    redisAppendCommand(c, "INFO server");
    redisAppendCommand(c, "ZCARD %s", sessions);
    redisAppendCommand(c, "HMGET %s subscriptions channels", stats);
    redisAppendCommand(c, "GET %s", lease);
    redisAppendCommand(c, "GET %s", since);
    redisAppendCommand(c, "PTTL %s", lease);
    redisAppendCommand(c, "TIME");
    redisAppendCommand(c, "ZCARD %s", holds);
    enum { N = 8 };
    redisReply *r[N] = {0};
    int ok = 1;
    for (int i = 0; i < N; i++) {
        void *reply = NULL;
        if (redisGetReply(c, &reply) != REDIS_OK) {
            ok = 0;
            break;
        }
        r[i] = reply;
        if (r[i]->type == REDIS_REPLY_ERROR && i < 2) {
            snprintf(f->error, sizeof(f->error), "%s", r[i]->str);
            ok = 0;
        }
    }
    if (ok) {
        f->reachable = 1;
        copyVersion(f, r[0]);
        f->sessions = replyInt(r[1]);
        if (r[2]->type == REDIS_REPLY_ARRAY && r[2]->elements == 2) {
            /* Absent fields: nothing was ever subscribed (since the counters exist). */
            f->subscriptions = r[2]->element[0]->type == REDIS_REPLY_NIL ? 0 : replyInt(r[2]->element[0]);
            f->channels = r[2]->element[1]->type == REDIS_REPLY_NIL ? 0 : replyInt(r[2]->element[1]);
        }
        leaseFacts(f, r[3], r[4], r[5], r[6]);
        f->held_host = replyInt(r[7]);
    } else if (!f->error[0]) {
        snprintf(f->error, sizeof(f->error), "%s", c->errstr[0] ? c->errstr : "no answer");
    }
    for (int i = 0; i < N; i++)
        if (r[i]) freeReplyObject(r[i]);
    redisFree(c);
}
