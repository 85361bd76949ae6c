/* leader.c -- the poller lease and the standby replay buffer (see leader.h). */
#include "autoconfig.h"
#include "leader.h"
#include "keys.h"
#include "log.h"
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whatever the window says, never hold more than this many payload bytes. */
#define MAX_REMEMBERED_BYTES (64u << 20)

void jugLeaderInit(jugLeader *l, const jugConfig *cfg, const char *id) {
    memset(l, 0, sizeof(*l));
    l->cfg = cfg;
    l->id = id;
}

static jugRemembered *entry(jugLeader *l, size_t i) {
    return &l->ring[(l->head + i) % l->cap];
}

static void dropOldest(jugLeader *l) {
    jugRemembered *e = entry(l, 0);
    l->bytes -= e->len;
    free(e->channel);
    free(e->payload);
    l->head = (l->head + 1) % l->cap;
    l->count--;
}

void jugLeaderFree(jugLeader *l) {
    while (l->count) dropOldest(l);
    free(l->ring);
    l->ring = NULL;
    l->cap = 0;
}

/* Double the ring, unrolling it so the oldest entry is at index 0 again. */
static int grow(jugLeader *l) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    jugRemembered *ring = malloc(sizeof(*ring) * cap);
    if (!ring) return -1;
    for (size_t i = 0; i < l->count; i++) ring[i] = *entry(l, i);
    free(l->ring);
    l->ring = ring;
    l->cap = cap;
    l->head = 0;
    return 0;
}

/* Forget what is older than the window: the active poller has had time to
 * deliver it or lose the lease. */
static void forgetOld(jugLeader *l, long long now_ms) {
    long long window = 2LL * l->cfg->poller_lease_ms;
    while (l->count && now_ms - entry(l, 0)->at_ms > window) dropOldest(l);
}

void jugLeaderRemember(jugLeader *l, const char *channel, const char *payload, size_t len,
                       const char *hash, long long now_ms) {
    forgetOld(l, now_ms);
    while (l->count && l->bytes + len > MAX_REMEMBERED_BYTES) {
        if (!l->overflow_logged) {
            l->overflow_logged = 1;   /* once per run: counting would overflow */
            jugLog(JUG_LOG_WARNING, "replay buffer over %u bytes: forgetting early",
                   MAX_REMEMBERED_BYTES);
        }
        dropOldest(l);
    }
    if (l->count == l->cap && grow(l) < 0) {
        if (!l->count) return;
        dropOldest(l);
    }
    jugRemembered e = {NULL, malloc(len + 1), len, "", now_ms, 0};
    if (channel) e.channel = strdup(channel);
    if (!e.payload || (channel && !e.channel)) {
        jugLog(JUG_LOG_ERROR, "out of memory: message %s not kept for replay", hash);
        free(e.payload);
        free(e.channel);
        return;
    }
    memcpy(e.payload, payload, len);
    e.payload[len] = '\0';
    memcpy(e.hash, hash, JUG_HASH_LEN + 1);
    *entry(l, l->count) = e;
    l->count++;
    l->bytes += len;
}

static void becomeStandby(jugLeader *l, const char *why) {
    if (l->active) jugLog(JUG_LOG_INFO, "poller %s is now standby: %s", l->id, why);
    l->active = 0;
}

/* Deliver entry i; -1 if the connection failed. */
static int deliver(jugLeader *l, redisContext *c, size_t i) {
    jugRemembered *e = entry(l, i);
    switch (jugFanoutDeliver(c, l->cfg, l->id, e->channel, e->payload, e->len, e->hash)) {
    case JUG_FANOUT_LOST:
        e->handled = JUG_HANDLED_UNSURE;
        jugLeaderLost(l);
        return -1;
    case JUG_FANOUT_NOTLEADER:
        becomeStandby(l, "another poller holds the lease");
        break;
    default:
        e->handled = JUG_HANDLED_YES;
        break;
    }
    return 0;
}

int jugLeaderDeliverLatest(jugLeader *l, redisContext *c) {
    /* handled: jugLeaderRemember could not keep the new message (no memory),
     * so the newest entry is an older one, delivered already. */
    if (!l->active || l->resync || !l->count || entry(l, l->count - 1)->handled) return 0;
    return deliver(l, c, l->count - 1);
}

/* Deliver every remembered message from start on that we have not handled. */
static int replayFrom(jugLeader *l, redisContext *c, size_t start) {
    size_t todo = 0;
    for (size_t i = start; i < l->count; i++) todo += entry(l, i)->handled == JUG_HANDLED_NOT;
    if (todo)
        jugLog(JUG_LOG_INFO, "replaying %zu message(s) the active poller had not delivered", todo);
    for (size_t i = start; i < l->count && l->active; i++)
        if (entry(l, i)->handled == JUG_HANDLED_NOT && deliver(l, c, i) < 0) return -1;
    return 0;
}

/* After taking the lease over: replay every remembered message after the
 * newest one whose hash is last (all of them if none is). Those up to it
 * were delivered by the poller that held the lease: never replay them. */
static int replayAfter(jugLeader *l, redisContext *c, const char *last) {
    size_t start = 0;
    for (size_t i = l->count; i > 0; i--) {
        if (last[0] && !strcmp(entry(l, i - 1)->hash, last)) {
            start = i;
            break;
        }
    }
    for (size_t i = 0; i < start; i++) entry(l, i)->handled = JUG_HANDLED_YES;
    for (size_t i = start; i < l->count; i++)
        if (entry(l, i)->handled == JUG_HANDLED_UNSURE) entry(l, i)->handled = JUG_HANDLED_NOT;
    return replayFrom(l, c, start);
}

/* After a reconnect with the lease still ours, nobody else delivered: replay
 * exactly what we have not handled. Only the message whose answer was lost
 * needs poller:last, which names it if its script ran. (Searching by hash
 * as a takeover must would find the newest copy of a payload published
 * twice and skip whatever came between.) */
static int resync(jugLeader *l, redisContext *c) {
    char key[JUG_KEY_MAX];
    jugKeyPollerLast(key, sizeof(key), l->cfg->key_prefix);
    redisReply *r = redisCommand(c, "GET %s", key);
    if (!r) {
        jugLeaderLost(l);
        return -1;
    }
    char last[JUG_HASH_LEN + 1] = "";
    if (r->type == REDIS_REPLY_STRING) snprintf(last, sizeof(last), "%s", r->str);
    freeReplyObject(r);
    l->resync = 0;
    for (size_t i = 0; i < l->count; i++) {
        jugRemembered *e = entry(l, i);
        if (e->handled == JUG_HANDLED_UNSURE)
            e->handled = strcmp(e->hash, last) ? JUG_HANDLED_NOT : JUG_HANDLED_YES;
    }
    return replayFrom(l, c, 0);
}

int jugLeaderTick(jugLeader *l, redisContext *c, long long now_ms) {
    forgetOld(l, now_ms);
    char ms[16];
    snprintf(ms, sizeof(ms), "%d", l->cfg->poller_lease_ms);
    const char *argv[] = {l->cfg->key_prefix, l->id, ms};
    redisReply *r = jugRedisScript(c, JUG_SCRIPT_LEASE, 0, 3, argv, NULL);
    if (!r) {
        jugLeaderLost(l);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING) {
        jugLog(JUG_LOG_ERROR, "lease script: unexpected reply%s%s",
               r->type == REDIS_REPLY_ERROR ? ": " : "", r->type == REDIS_REPLY_ERROR ? r->str : "");
        freeReplyObject(r);
        return 0;
    }
    long long state = r->element[0]->integer;
    char last[JUG_HASH_LEN + 1];
    snprintf(last, sizeof(last), "%s", r->element[1]->str);
    freeReplyObject(r);

    if (state == 0) {
        becomeStandby(l, "another poller holds the lease");
        l->resync = 0;
        return 0;
    }
    int was_active = l->active;
    l->active = 1;
    if (state == 2) {
        jugLog(JUG_LOG_INFO, "poller %s is now active (took the lease)", l->id);
        l->resync = 0;
        return replayAfter(l, c, last);
    }
    if (!was_active) jugLog(JUG_LOG_INFO, "poller %s is active again (still held the lease)", l->id);
    return (l->resync || !was_active) ? resync(l, c) : 0;
}

void jugLeaderLost(jugLeader *l) {
    l->resync = 1;
}
