/* leader.c -- the poller lease, the unconfirmed-message buffer and ordered,
 * retried delivery (see leader.h). */
#include "autoconfig.h"
#include "leader.h"
#include "keys.h"
#include "log.h"
#include "redis.h"

#include <stdarg.h>
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
    l->last_notifier = -1;
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
    jugRemembered e = {NULL, malloc(len + 1), len, "", now_ms, JUG_HANDLED_NOT,
                       l->listening ? l->sub : l->sub + 1, l->listening ? ++l->received : 0};
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

/* Everything up to message idx of our subscription sub was handled by
 * the active poller: forget it. Whatever our role: a poller that believes
 * it is active may have lost the lease without knowing yet. */
static void handledThrough(jugLeader *l, unsigned sub, long long idx) {
    while (l->count && (entry(l, 0)->sub < sub || (entry(l, 0)->sub == sub && entry(l, 0)->idx <= idx)))
        dropOldest(l);
}

static void owe(jugLeader *l, const char *fmt, ...) {
    if (l->nowed == JUG_OWED_MAX) {
        jugLog(JUG_LOG_WARNING, "poller %s: too many notify lines waiting; one not sent", l->id);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->owed[l->nowed++], sizeof(l->owed[0]), fmt, ap);
    va_end(ap);
}

/* "J <token>/<n>": each J line we publish is unique. */
static void oweJoin(jugLeader *l) {
    owe(l, "J %s/%u", l->token, ++l->joins_sent);
}

/* Our subscription number, if token is one of ours ("<our id>/<n>"). */
static int ownSub(const jugLeader *l, const char *token, size_t len, unsigned *sub) {
    size_t idlen = strlen(l->id);
    if (len <= idlen + 1 || memcmp(token, l->id, idlen) || token[idlen] != '/') return 0;
    *sub = (unsigned)strtoul(token + idlen + 1, NULL, 10);
    return 1;
}

static jugPeer *peer(jugLeader *l, const char *token, size_t len) {
    if (len >= JUG_TOKEN_MAX) return NULL;
    for (size_t i = 0; i < JUG_PEERS_KEPT; i++)
        if (strlen(l->peers[i].token) == len && !memcmp(l->peers[i].token, token, len)) return &l->peers[i];
    jugPeer *p = &l->peers[l->peers_next];
    if (l->last_notifier == (int)l->peers_next) l->last_notifier = -1;
    l->peers_next = (l->peers_next + 1) % JUG_PEERS_KEPT;
    memset(p, 0, sizeof(*p));
    memcpy(p->token, token, len);
    return p;
}

/* A line about message idx of the subscription token: ours, or a peer's
 * mapped onto ours (or kept for when its mapping comes). */
static void notified(jugLeader *l, const char *token, size_t len, long long idx) {
    unsigned sub;
    if (ownSub(l, token, len, &sub)) {
        handledThrough(l, sub, idx);
        return;
    }
    jugPeer *p = peer(l, token, len);
    if (!p) return;
    l->last_notifier = (int)(p - l->peers);
    if (p->mapped) handledThrough(l, l->sub, idx - p->offset);
    else if (idx > p->notified) p->notified = idx;
}

/* "J <label>": remember where it came; the active poller answers it. */
static void joinSeen(jugLeader *l, const char *token, size_t len) {
    unsigned sub;
    if (len >= JUG_TOKEN_MAX || !l->listening) return;
    if (!ownSub(l, token, len, &sub)) l->others_seen = 1;
    jugJoinSeen *j = &l->joins[l->joins_next];
    l->joins_next = (l->joins_next + 1) % JUG_JOINS_KEPT;
    memcpy(j->token, token, len);
    j->token[len] = '\0';
    j->at = l->received;
    l->last_join_at = l->received;
    if (l->role == JUG_ROLE_ACTIVE) owe(l, "A %s %s %lld", l->token, j->token, l->received);
}

/* "A <token> <J's label> <its count>": the peer's numbers, mapped. */
static void answerSeen(jugLeader *l, const char *token, size_t len, const char *join, size_t joinlen,
                       long long at) {
    unsigned sub;
    if (ownSub(l, token, len, &sub)) return;
    for (size_t n = 1; n <= JUG_JOINS_KEPT; n++) {   /* the newest first */
        jugJoinSeen *j = &l->joins[(l->joins_next + JUG_JOINS_KEPT - n) % JUG_JOINS_KEPT];
        if (strlen(j->token) != joinlen || memcmp(j->token, join, joinlen)) continue;
        jugPeer *p = peer(l, token, len);
        if (!p) return;
        p->offset = at - j->at;
        p->mapped = 1;
        if (p->notified) handledThrough(l, l->sub, p->notified - p->offset);
        p->notified = 0;
        return;
    }
}

/* Our takeover marker is back: every notification the previous holder
 * published before the lease changed hands has been consumed. What we
 * handled ourselves (as an earlier leader) and is still here lost its
 * notification: never again. The rest nobody delivered. */
static void markerBack(jugLeader *l) {
    /* The last holder never answered a J line we saw: it handled nothing
     * we received after the last one, and we cannot tell what before. */
    const jugPeer *last = l->last_notifier >= 0 ? &l->peers[l->last_notifier] : NULL;
    if (last && !last->mapped && last->notified) {
        size_t before = l->count;
        handledThrough(l, l->sub, l->last_join_at);
        if (l->count < before) {
            l->unplaced += (long long)(before - l->count);
            jugLog(JUG_LOG_WARNING, "poller %s: %zu message(s) received just before the previous "
                   "poller answered our start could not be placed: dropped", l->id, before - l->count);
        }
    }
    while (l->count && entry(l, 0)->handled != JUG_HANDLED_NOT) dropOldest(l);
    for (size_t i = 0; i < l->count; i++) entry(l, i)->handled = JUG_HANDLED_NOT;
    l->next = 0;
    l->role = JUG_ROLE_ACTIVE;
    l->retry_since = l->retry_at = 0;
    l->handover = 0;
    oweJoin(l);   /* so that the others can map our lines */
    if (l->count)
        jugLog(JUG_LOG_INFO, "poller %s is now active: replaying %zu message(s) the previous "
               "poller had not delivered", l->id, l->count);
    else
        jugLog(JUG_LOG_INFO, "poller %s is now active: nothing to replay", l->id);
}

void jugLeaderListening(jugLeader *l) {
    l->listening = 1;
    l->sub++;
    l->received = 0;
    snprintf(l->token, sizeof(l->token), "%.160s/%u", l->id, l->sub);
    memset(l->joins, 0, sizeof(l->joins));
    memset(l->peers, 0, sizeof(l->peers));
    l->joins_next = l->peers_next = 0;
    l->last_join_at = 0;
    l->last_notifier = -1;
    oweJoin(l);
}

/* The next space-separated word of [*p, end) (the last one may end the
 * line); NULL if there is none. */
static const char *word(const char **p, const char *end, size_t *len) {
    const char *w = *p;
    while (*p < end && **p != ' ' && **p != '\n') (*p)++;
    *len = (size_t)(*p - w);
    if (*p < end && **p == ' ') (*p)++;
    return *len ? w : NULL;
}

static long long number(const char *w, size_t len) {
    long long n = 0;
    for (size_t i = 0; i < len; i++) {
        if (w[i] < '0' || w[i] > '9' || n > (1LL << 58)) return -1;
        n = n * 10 + (w[i] - '0');
    }
    return len ? n : -1;
}

void jugLeaderNotification(jugLeader *l, const char *text, size_t len) {
    const char *end = text + len, *p = text + 2, *a, *b, *c;
    size_t alen, blen, clen;
    if (len < 2 || text[1] != ' ') return;
    switch (text[0]) {
    case 'M':    /* M <first id> <hash> <token> <index>\n... */
        if (!word(&p, end, &alen)) return;
        /* fall through */
    case 'D':    /* D <hash> <token> <index> */
        if (!word(&p, end, &alen) || !(b = word(&p, end, &blen)) || !(c = word(&p, end, &clen))) return;
        if (number(c, clen) > 0) notified(l, b, blen, number(c, clen));
        return;
    case 'J':    /* J <label> */
        if ((a = word(&p, end, &alen))) joinSeen(l, a, alen);
        return;
    case 'A':    /* A <token> <J's label> <count> */
        if ((a = word(&p, end, &alen)) && (b = word(&p, end, &blen)) && (c = word(&p, end, &clen)) &&
            number(c, clen) >= 0)
            answerSeen(l, a, alen, b, blen, number(c, clen));
        return;
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

/* What our lines name a message by: "<hash> <token> <index>". */
static void tagOf(const jugLeader *l, const jugRemembered *e, char *out, size_t outlen) {
    snprintf(out, outlen, "%s %.160s/%u %lld", e->hash, l->id, e->sub, e->idx);
}

/* We dropped a message: tell the standbys so they forget it too. */
static int publishDropped(jugLeader *l, redisContext *c, const jugRemembered *e) {
    char line[JUG_TAG_MAX + 3];
    snprintf(line, sizeof(line), "D ");
    tagOf(l, e, line + 2, sizeof(line) - 2);
    return publishNotify(l, c, line);
}

static int publishOwed(jugLeader *l, redisContext *c) {
    size_t sent = 0;
    int rc = 0;
    while (sent < l->nowed && (rc = publishNotify(l, c, l->owed[sent])) == 0) sent++;
    memmove(l->owed, l->owed + sent, (l->nowed - sent) * sizeof(l->owed[0]));
    l->nowed -= sent;
    return rc;
}

static void becomeStandby(jugLeader *l, const char *why) {
    if (l->role != JUG_ROLE_STANDBY) jugLog(JUG_LOG_INFO, "poller %s is now standby: %s", l->id, why);
    l->role = JUG_ROLE_STANDBY;
    l->retry_since = l->retry_at = 0;
    l->handover = 0;
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
    if (now_ms < l->yield_until) return 0;   /* lease.lua would take the lease back */
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
            /* What was published while we reconnected reached the standbys,
             * not us: deliver what we received before, then let one of them
             * take over (it follows our lines, so it replays exactly the rest). */
            l->handover = l->others_seen;
            jugLog(JUG_LOG_INFO, "poller %s is active again (still held the lease)%s%s", l->id,
                   l->count ? ": delivering what it had received" : "",
                   l->handover ? ", then handing the lease to a standby" : "");
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
    l->listening = 0;
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
        if (rc == 0 && publishDropped(l, c, e) < 0) rc = -1;
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
    /* Before any message received after a J line: our answer to it. */
    if (publishOwed(l, c) < 0) return -1;
    if (l->role != JUG_ROLE_ACTIVE || l->resync || now_ms < l->retry_at) return 0;
    for (int done = 0; l->next < l->count && done < PUMP_BATCH; done++) {
        jugRemembered *e = entry(l, l->next);
        if (l->handover && e->sub >= l->sub) break;   /* the standby's now */
        jugFanoutReport rep;
        char tag[JUG_TAG_MAX];
        tagOf(l, e, tag, sizeof(tag));
        jugFanoutResult res = jugFanoutDeliver(c, l->cfg, l->id, e->channel, e->payload, e->len,
                                               tag, &rep);
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
            if (publishDropped(l, c, e) < 0) return -1;
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
    if (l->handover && (l->next == l->count || entry(l, l->next)->sub >= l->sub)) {
        l->handover = 0;
        if (jugLeaderRelease(l, c) < 0) return -1;
        becomeStandby(l, "handed the lease over: a standby has what was published while it reconnected");
        l->yield_until = now_ms + l->cfg->poller_lease_ms;   /* a standby's turn to take it */
        return 0;
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
