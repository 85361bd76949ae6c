/* leader.c -- the poller lease, the unconfirmed-message buffer and ordered,
 * retried delivery (see leader.h). */
#include "autoconfig.h"
#include "leader.h"
#include "keys.h"
#include "log.h"
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whatever happens, never hold more than this (the oldest go first). */
#define MAX_REMEMBERED_BYTES (64u << 20)
#define MAX_REMEMBERED 200000u
#define PUMP_BATCH 256          /* fan-outs per jugLeaderPump call */
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 2000
#define SUMMARY_MS 10000        /* at most one summary line of a kind per this */
#define DROPS_LOGGED 10         /* dropped messages logged each on their own per summary period */

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
    if (l->next) l->next--;
}

static void clearAll(jugLeader *l) {
    while (l->count) dropOldest(l);
    l->next = 0;
}

void jugLeaderFree(jugLeader *l) {
    clearAll(l);
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

/* Drop the oldest entry to make room; count it if nobody delivered it. */
static void overflow(jugLeader *l) {
    if (entry(l, 0)->handled != JUG_HANDLED_YES) l->overflowed++;
    dropOldest(l);
}

/* A backstop: forget what stayed unconfirmed far longer than any active
 * poller keeps retrying (its notification was lost, or it never received
 * the message). The active poller's own undelivered messages are not
 * forgotten here: giving up on them is the retry rule's job. */
static void forgetStale(jugLeader *l, long long now_ms) {
    long long window = JUG_RETRY_GIVEUP_MS + 2LL * l->cfg->poller_lease_ms + 5000;
    while (l->count && now_ms - entry(l, 0)->at_ms > window) {
        if (l->role == JUG_ROLE_ACTIVE && l->next == 0) break;
        if (entry(l, 0)->handled != JUG_HANDLED_YES) l->forgotten++;
        dropOldest(l);
    }
}

void jugLeaderRemember(jugLeader *l, const char *channel, const char *payload, size_t len,
                       const char *hash, long long now_ms) {
    forgetStale(l, now_ms);
    while (l->count && (l->bytes + len > MAX_REMEMBERED_BYTES || l->count >= MAX_REMEMBERED))
        overflow(l);
    if (l->count == l->cap && grow(l) < 0) {
        if (!l->count) return;
        overflow(l);
    }
    jugRemembered e = {NULL, malloc(len + 1), len, "", now_ms, JUG_HANDLED_NOT};
    if (channel) e.channel = strdup(channel);
    if (!e.payload || (channel && !e.channel)) {
        jugLog(JUG_LOG_ERROR, "out of memory: message %s dropped", hash);
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

/* ---- notifications ---- */

/* The active poller handled the message with this hash: forget the oldest
 * entry if it is that message. Whatever our role: a poller that believes it
 * is active may have lost the lease without knowing yet. */
static void confirm(jugLeader *l, const char *hash, size_t hashlen) {
    if (!l->count || hashlen != JUG_HASH_LEN || memcmp(entry(l, 0)->hash, hash, hashlen)) return;
    dropOldest(l);
}

/* Our takeover marker is back: every notification the previous holder
 * published before the lease changed hands has been consumed. What we
 * handled ourselves (as an earlier leader) and is still here lost its
 * notification: never again. The rest nobody delivered. */
static void markerBack(jugLeader *l) {
    while (l->count && entry(l, 0)->handled != JUG_HANDLED_NOT) dropOldest(l);
    for (size_t i = 0; i < l->count; i++) entry(l, i)->handled = JUG_HANDLED_NOT;
    l->next = 0;
    l->role = JUG_ROLE_ACTIVE;
    l->retry_since = l->retry_at = 0;
    if (l->count)
        jugLog(JUG_LOG_INFO, "poller %s is now active: replaying %zu message(s) the previous "
               "poller had not delivered", l->id, l->count);
    else
        jugLog(JUG_LOG_INFO, "poller %s is now active: nothing to replay", l->id);
}

void jugLeaderNotification(jugLeader *l, const char *text, size_t len) {
    const char *end = text + len, *p = text + 2;
    if (len < 2 || text[1] != ' ') return;
    switch (text[0]) {
    case 'M':    /* M <first id> <hash>\n... */
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p >= end || *p++ != ' ') return;
        /* fall through */
    case 'D': {  /* D <hash> */
        const char *h = p;
        while (p < end && *p != '\n') p++;
        confirm(l, h, (size_t)(p - h));
        return;
    }
    case 'T':
        if (l->role == JUG_ROLE_TAKING && len == strlen(l->marker) && !memcmp(text, l->marker, len))
            markerBack(l);
        return;
    default:
        return;      /* the worker's S, C, E lines */
    }
}

/* ---- Redis side ---- */

static int publishNotify(jugLeader *l, redisContext *c, const char *text) {
    char chan[JUG_KEY_MAX];
    jugNotifyChannel(chan, sizeof(chan), l->cfg->key_prefix);
    redisReply *r = redisCommand(c, "PUBLISH %s %s", chan, text);
    if (!r) return -1;
    freeReplyObject(r);   /* an error (BUSY) only delays what standbys forget */
    return 0;
}

/* We dropped a message: tell the standbys so they forget it too. */
static int publishDropped(jugLeader *l, redisContext *c, const char *hash) {
    char line[JUG_HASH_LEN + 3];
    snprintf(line, sizeof(line), "D %s", hash);
    return publishNotify(l, c, line);
}

static void becomeStandby(jugLeader *l, const char *why) {
    if (l->role != JUG_ROLE_STANDBY) jugLog(JUG_LOG_INFO, "poller %s is now standby: %s", l->id, why);
    l->role = JUG_ROLE_STANDBY;
    l->retry_since = l->retry_at = 0;
}

static int startTakeover(jugLeader *l, redisContext *c, long long now_ms) {
    l->role = JUG_ROLE_TAKING;
    l->takeovers++;
    snprintf(l->marker, sizeof(l->marker), "T %.160s %u", l->id, l->takeovers);
    l->marker_deadline = now_ms + JUG_MARKER_WAIT_MS;
    jugLog(JUG_LOG_DEBUG, "poller %s took the lease; waiting for its marker", l->id);
    return publishNotify(l, c, l->marker);
}

/* Run lease.lua; fills state, seq, alive. -1: connection failed; 1: refused. */
static int leaseCall(jugLeader *l, redisContext *c, int ms, long long out[3]) {
    char msbuf[16];
    snprintf(msbuf, sizeof(msbuf), "%d", ms);
    const char *argv[] = {l->cfg->key_prefix, l->id, msbuf};
    redisReply *r = jugRedisScript(c, JUG_SCRIPT_LEASE, 0, 3, argv, NULL);
    if (!r) return -1;
    int rc = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[2]->type == REDIS_REPLY_INTEGER) {
        out[0] = r->element[0]->integer;
        out[1] = strtoll(r->element[1]->str, NULL, 10);
        out[2] = r->element[2]->integer;
    } else {
        jugLog(r->type == REDIS_REPLY_ERROR && jugFanoutTransient(r->str) ? JUG_LOG_DEBUG : JUG_LOG_ERROR,
               "lease script: %s", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        rc = 1;
    }
    freeReplyObject(r);
    return rc;
}

/* Reconnected while active: the one message whose answer was lost ran if
 * <prefix>seq moved past what we knew (only the lease holder fans out). */
static void settle(jugLeader *l, long long seq, long long known) {
    if (l->count && entry(l, 0)->handled == JUG_HANDLED_UNSURE) {
        if (seq > known) dropOldest(l);   /* delivered; its notification is lost */
        else entry(l, 0)->handled = JUG_HANDLED_NOT;
    }
    l->next = 0;
    l->resync = 0;
}

int jugLeaderTick(jugLeader *l, redisContext *c, long long now_ms) {
    forgetStale(l, now_ms);
    jugLeaderSummary(l, now_ms, 0);
    long long v[3];
    int rc = leaseCall(l, c, l->cfg->poller_lease_ms, v);
    if (rc) return rc < 0 ? -1 : 0;
    long long state = v[0], seq = v[1], alive = v[2], known = l->known_seq;
    /* Either counter going back means Redis lost writes: the renewals (a
     * loss of more than a renewal period), or the delivery counter, which
     * only grows and which this poller saw after its own fan-outs (a loss of
     * any fan-out it made, however recent; it fans out again only after
     * this call once it reconnected). */
    if (state > 0 && ((l->alive_seen > 0 && alive <= l->alive_seen) || seq < known)) {
        jugLog(JUG_LOG_DEBUG, "renewal count %lld after %lld, delivery counter %lld after %lld: "
               "Redis lost writes", alive, l->alive_seen, seq, known);
        l->data_lost = 1;
    }
    l->alive_seen = alive;
    l->known_seq = seq;

    if (state == 0) {
        if (l->resync && l->count)
            jugLog(JUG_LOG_WARNING, "poller %s lost the lease while disconnected: %zu message(s) "
                   "it had received are left to the active poller", l->id, l->count);
        if (l->resync) clearAll(l);
        l->resync = 0;
        becomeStandby(l, "another poller holds the lease");
        return 0;
    }
    if (l->resync) {
        settle(l, seq, known);
        if (state == 1) {
            jugLog(JUG_LOG_INFO, "poller %s is active again (still held the lease)%s", l->id,
                   l->count ? ": delivering what it had received" : "");
            l->role = JUG_ROLE_ACTIVE;
            return 0;
        }
        /* The lease lapsed meanwhile: take it over like any standby. */
    }
    if (state == 2 || l->role == JUG_ROLE_STANDBY) return startTakeover(l, c, now_ms);
    return 0;
}

int jugLeaderRelease(jugLeader *l, redisContext *c) {
    long long v[3];
    int rc = leaseCall(l, c, 0, v);
    if (rc == 0 && v[0] == 1) jugLog(JUG_LOG_INFO, "poller %s released the lease", l->id);
    return rc < 0 ? -1 : 0;
}

void jugLeaderLost(jugLeader *l) {
    if (l->role == JUG_ROLE_ACTIVE) {
        /* What we delivered will not be confirmed now: forget it. The message
         * in flight (UNSURE, the oldest left) is settled by the next tick. */
        while (l->count && entry(l, 0)->handled == JUG_HANDLED_YES) dropOldest(l);
        l->next = l->count && entry(l, 0)->handled == JUG_HANDLED_UNSURE ? 1 : 0;
        l->resync = 1;
        return;
    }
    /* A standby cannot tell which of its messages were confirmed meanwhile. */
    clearAll(l);
    l->role = JUG_ROLE_STANDBY;
}

/* ---- delivering ---- */

static void recovered(jugLeader *l, long long now_ms) {
    if (!l->retry_since) return;
    jugLog(JUG_LOG_INFO, "fan-out works again after %.1f s of refusals",
           (double)(now_ms - l->retry_since) / 1000.0);
    l->retry_since = l->retry_at = 0;
}

/* Redis refused a fan-out for now: back off, and drop (with "D") what has
 * waited longer than JUG_RETRY_GIVEUP_MS. */
static int refused(jugLeader *l, redisContext *c, long long now_ms, const char *error) {
    if (!l->retry_since) {
        l->retry_since = now_ms;
        l->retry_delay = RETRY_FIRST_MS;
        jugLog(JUG_LOG_WARNING, "Redis refused a fan-out (%s): keeping %zu message(s) and "
               "retrying for up to %d s", error, l->count - l->next, JUG_RETRY_GIVEUP_MS / 1000);
    } else {
        l->retry_delay = l->retry_delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : l->retry_delay * 2;
    }
    l->retry_at = now_ms + l->retry_delay;
    size_t dropped = 0;
    int rc = 0;
    while (l->next < l->count && now_ms - entry(l, l->next)->at_ms >= JUG_RETRY_GIVEUP_MS) {
        jugRemembered *e = entry(l, l->next++);
        e->handled = JUG_HANDLED_YES;
        dropped++;
        if (rc == 0 && publishDropped(l, c, e->hash) < 0) rc = -1;
    }
    if (dropped) {
        l->given_up += (long long)dropped;
        jugLog(JUG_LOG_ERROR, "gave up on %zu message(s) Redis refused for %d s (%s): dropped",
               dropped, JUG_RETRY_GIVEUP_MS / 1000, error);
    }
    return rc;
}

/* An invalid message or a script error: the first DROPS_LOGGED of a summary
 * period are logged at once, each with its reason; the others are counted
 * into the summary line, so a flood of bad publishes cannot flood the log. */
static void dropped(jugLeader *l, jugFanoutResult res, const char *hash, const char *why) {
    if (res == JUG_FANOUT_DROPPED) {
        snprintf(l->last_invalid, sizeof(l->last_invalid), "fan-out of %s failed: %.500s", hash, why);
    } else {
        snprintf(l->last_invalid, sizeof(l->last_invalid), "%s", why);
    }
    if (l->invalid++ < DROPS_LOGGED)
        jugLog(res == JUG_FANOUT_DROPPED ? JUG_LOG_ERROR : JUG_LOG_WARNING, "dropped %s",
               l->last_invalid);
}

int jugLeaderPump(jugLeader *l, redisContext *c, long long now_ms) {
    if (l->role == JUG_ROLE_TAKING && now_ms > l->marker_deadline) {
        jugLog(JUG_LOG_WARNING, "poller %s: its takeover marker did not come back within %d ms; "
               "reconnecting", l->id, JUG_MARKER_WAIT_MS);
        return -1;
    }
    if (l->role != JUG_ROLE_ACTIVE || l->resync || now_ms < l->retry_at) return 0;
    for (int done = 0; l->next < l->count && done < PUMP_BATCH; done++) {
        jugRemembered *e = entry(l, l->next);
        jugFanoutReport rep;
        jugFanoutResult res = jugFanoutDeliver(c, l->cfg, l->id, e->channel, e->payload, e->len,
                                               e->hash, &rep);
        switch (res) {
        case JUG_FANOUT_DONE:
            e->handled = JUG_HANDLED_YES;
            l->next++;
            if (rep.last_id > l->known_seq) l->known_seq = rep.last_id;
            if (rep.trimmed > 0) {
                l->trim_msgs++;
                l->trim_queues += rep.trimmed;
            }
            recovered(l, now_ms);
            break;
        case JUG_FANOUT_INVALID:
        case JUG_FANOUT_DROPPED:
            e->handled = JUG_HANDLED_YES;
            l->next++;
            dropped(l, res, e->hash, rep.error);
            if (publishDropped(l, c, e->hash) < 0) return -1;
            break;
        case JUG_FANOUT_NOTLEADER:
            becomeStandby(l, "another poller holds the lease");
            return 0;
        case JUG_FANOUT_RETRY:
            return refused(l, c, now_ms, rep.error);
        case JUG_FANOUT_LOST:
            e->handled = JUG_HANDLED_UNSURE;
            l->next++;
            return -1;
        }
    }
    return l->next < l->count;
}

long long jugLeaderWakeAt(const jugLeader *l) {
    if (l->role == JUG_ROLE_TAKING) return l->marker_deadline + 1;
    if (l->role == JUG_ROLE_ACTIVE && l->retry_at) return l->retry_at;
    return (long long)1 << 62;
}

void jugLeaderSummary(jugLeader *l, long long now_ms, int force) {
    if (!force && now_ms < l->next_summary) return;
    l->next_summary = now_ms + SUMMARY_MS;
    if (l->trim_msgs)
        jugLog(JUG_LOG_WARNING, "%lld message(s) found %lld session queue(s) over max_queue %d: "
               "their oldest deliveries were trimmed (subscribers too slow)",
               l->trim_msgs, l->trim_queues, l->cfg->max_queue);
    if (l->invalid > DROPS_LOGGED)
        jugLog(JUG_LOG_WARNING, "dropped %lld more invalid message(s) since; the last: %s",
               l->invalid - DROPS_LOGGED, l->last_invalid);
    if (l->forgotten)
        jugLog(JUG_LOG_INFO, "forgot %lld message(s) the active poller never confirmed",
               l->forgotten);
    if (l->overflowed)
        jugLog(JUG_LOG_WARNING, "buffer full (%u messages or %u bytes): %lld undelivered "
               "message(s) dropped from it", MAX_REMEMBERED, MAX_REMEMBERED_BYTES, l->overflowed);
    l->trim_msgs = l->trim_queues = l->invalid = l->forgotten = l->overflowed = 0;
}
