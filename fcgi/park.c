/* park.c -- the event loop that holds the waiting requests (see park.h).
 *
 * State, all owned by the loop thread except the hand-over list:
 * - every held request in one list, a table by session id, per channel a
 *   list of the held requests subscribed to it, and a min-heap by the time
 *   its next timer is due (deadline, stream keepalive, session touch, or
 *   the end of an ended one's closing time): the loop sleeps until the
 *   soonest, and with nothing due it does not wake at all;
 * - the pub/sub connection and a plain connection for the loop's own Redis
 *   calls: the first read of every request handed over (many requests in
 *   one pipelined round trip), touching streams' sessions, looking a
 *   request up again.
 * A request is read and, if it is to wait, indexed in the same loop turn:
 * every notification published after its read is still unread on the
 * pub/sub connection then, and one published before it carries ids the
 * read already covered (id <= its seq). */
#include "autoconfig.h"
#include "park.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hold.h"
#include "host.h"
#include "keys.h"
#include "log.h"
#include "redis.h"
#include "sid.h"
#include "stats.h"
#include "store.h"
#include "thread.h"

#define TICK_MS 250                /* the full walk's period, only when the heap could not grow */
#define RESUBSCRIBE_MS 1000
#define READ_BATCH 256             /* requests read from Redis in one round trip */
#define CLOSING_MAX_MS 10000
#define BACKLOG_MIN (1 << 20)      /* a stream's output waiting for the web server, at least */
#define STALL_MS 2000              /* ... while the web server takes none of it for this long */
#define TOUCH_BATCH 500
#define TABLE_SIZE 4096            /* buckets of the sid and channel tables */
#define MAX_EVENTS 256

typedef struct jugChannelList {
    char *name;
    jugHeldChannel *head;
    struct jugChannelList *next;   /* bucket chain */
} jugChannelList;

static pthread_mutex_t handLock = PTHREAD_MUTEX_INITIALIZER;
static jugHeld *handHead;
static atomic_int heldCount;       /* parked: waiting in the tables */
static atomic_int subscribed;
static atomic_int stopping;

static const jugConfig *cfg;
static char instance[13];
static int epfd = -1, evfd = -1;
static int inlineMode;
static pthread_t loopThread;
static int loopRunning;

static jugHeld *allHead;
static jugHeld *graveyard;         /* freed at the end of the loop turn */
static jugHeld *sidTable[TABLE_SIZE];
static jugChannelList *channelTable[TABLE_SIZE];
static redisContext *sub;
static jugStore loopStore;
static long long nextSubscribeMs;
static char notifyChannel[JUG_KEY_MAX], instanceChannel[JUG_KEY_MAX];

/* The timer heap: heap[0] is due soonest. Each entry carries its key, so
 * that sifting compares without reading the requests themselves (when many
 * requests answer at once, each removal read a request per comparison, a
 * cache miss each). */
typedef struct timerEntry {
    long long due_ms;
    jugHeld *h;
} timerEntry;
static timerEntry *heap;
static int heapCount, heapCap;
/* epoll waits so far, and whether the last one reported every ready
 * descriptor (fewer than MAX_EVENTS events): what a request's connection
 * may have left unread when it is closed (freeHeld). */
static unsigned long waits;
static int lastWaitComplete;
static int fullWalk;               /* out of memory for the heap: walk every request each TICK_MS */
static long long nextWalkMs;

/* Tags that tell epoll events apart: a held request's pointer, or these. */
static char tagWake, tagSub;

static unsigned hashStr(const char *s) {
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h % TABLE_SIZE;
}

/* ---- public, any thread ---- */

const char *jugParkInstance(void) {
    return instance;
}

int jugParkHeldCount(void) {
    return atomic_load(&heldCount);
}

int jugParkSubmit(jugHeld *h) {
    pthread_mutex_lock(&handLock);
    if (atomic_load(&stopping)) {
        pthread_mutex_unlock(&handLock);
        return -1;
    }
    h->all_next = handHead;
    handHead = h;
    pthread_mutex_unlock(&handLock);
    uint64_t one = 1;
    if (!inlineMode && write(evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        jugLog(JUG_LOG_ERROR, "park: cannot wake the loop: %s", strerror(errno));
    return 0;
}

/* ---- tables ---- */

static jugChannelList *channelList(const char *name, int create) {
    unsigned b = hashStr(name);
    for (jugChannelList *l = channelTable[b]; l; l = l->next)
        if (!strcmp(l->name, name)) return l;
    if (!create) return NULL;
    jugChannelList *l = calloc(1, sizeof(*l));
    if (!l || !(l->name = strdup(name))) {
        free(l);
        return NULL;
    }
    l->next = channelTable[b];
    channelTable[b] = l;
    return l;
}

static void channelListDrop(jugChannelList *l) {
    unsigned b = hashStr(l->name);
    for (jugChannelList **p = &channelTable[b]; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            free(l->name);
            free(l);
            return;
        }
    }
}

static void indexChannels(jugHeld *h) {
    for (int i = 0; i < h->channel_count; i++) {
        jugHeldChannel *c = &h->channels[i];
        jugChannelList *l = channelList(c->name, 1);
        if (!l) continue;   /* out of memory: this channel reaches it through a resync only */
        c->list = l;
        c->prev = NULL;
        c->next = l->head;
        if (l->head) l->head->prev = c;
        l->head = c;
    }
}

static void unindexChannels(jugHeld *h) {
    for (int i = 0; i < h->channel_count; i++) {
        jugHeldChannel *c = &h->channels[i];
        jugChannelList *l = c->list;
        if (!l) continue;
        if (c->prev) c->prev->next = c->next;
        else l->head = c->next;
        if (c->next) c->next->prev = c->prev;
        c->list = NULL;
        if (!l->head) channelListDrop(l);
    }
}

static void indexSid(jugHeld *h) {
    jugHeld **bucket = &sidTable[hashStr(h->sid)];
    h->sid_pprev = bucket;
    h->sid_next = *bucket;
    if (h->sid_next) h->sid_next->sid_pprev = &h->sid_next;
    *bucket = h;
}

/* In place, through the link that points at h: no hashing, no walk along
 * the chain (when many requests answer at once, the walk read the chain's
 * other requests, each a cache miss, for every one that left). */
static void unindexSid(jugHeld *h) {
    *h->sid_pprev = h->sid_next;
    if (h->sid_next) h->sid_next->sid_pprev = h->sid_pprev;
    h->sid_pprev = NULL;
}

/* ---- the timer heap ---- */

/* When h next needs the loop: its deadline (for an ended one, the end of
 * its closing time), and for a stream its keepalive and session touch. */
static long long dueOf(const jugHeld *h) {
    long long due = h->deadline_ms;
    if (!h->ended && !h->ops->one_batch) {
        if (h->next_keepalive_ms < due) due = h->next_keepalive_ms;
        if (h->next_touch_ms < due) due = h->next_touch_ms;
    }
    return due;
}

static void heapPut(int i, timerEntry e) {
    heap[i] = e;
    e.h->heap_index = i + 1;
}

/* Sift entry e, placed at i, up or down to where it belongs. */
static void heapFix(int i, timerEntry e) {
    while (i > 0 && heap[(i - 1) / 2].due_ms > e.due_ms) {
        heapPut(i, heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        int c = 2 * i + 1;
        if (c >= heapCount) break;
        if (c + 1 < heapCount && heap[c + 1].due_ms < heap[c].due_ms) c++;
        if (heap[c].due_ms >= e.due_ms) break;
        heapPut(i, heap[c]);
        i = c;
    }
    heapPut(i, e);
}

static void unschedule(jugHeld *h) {
    if (!h->heap_index) return;
    int i = h->heap_index - 1;
    h->heap_index = 0;
    timerEntry last = heap[--heapCount];
    if (i < heapCount) heapFix(i, last);
}

/* (Re)place h in the heap after its timers or its state changed. */
static void schedule(jugHeld *h) {
    long long due = dueOf(h);
    if (h->heap_index) {
        int i = h->heap_index - 1;
        if (due != heap[i].due_ms) heapFix(i, (timerEntry){due, h});
        return;
    }
    if (heapCount == heapCap) {
        /* Room for as many as the process may hold, at once: untouched, the
         * room costs no memory, and no copy is left behind by growing. */
        int limit = jugHostProcessHoldLimit();
        int cap = heapCap ? heapCap * 2 : limit > 256 ? limit : 256;
        timerEntry *grown = realloc(heap, (size_t)cap * sizeof(*heap));
        if (!grown) {
            if (!fullWalk)
                jugLog(JUG_LOG_ERROR, "park: out of memory for the timers; checking every request each %d ms",
                       TICK_MS);
            fullWalk = 1;
            return;
        }
        heap = grown;
        heapCap = cap;
    }
    heapCount++;
    heapFix(heapCount - 1, (timerEntry){due, h});
}

/* ---- one held request's life in the loop ---- */

/* Watch h's socket (add: it is new to the loop, and its timers start too),
 * for output as well while some waits to go. */
static void watch(jugHeld *h, int add) {
    if (add) {
        schedule(h);
        h->watched_from = waits;
    }
    int want_out = jugDetachedPending(h->conn) > 0;
    if (!add && want_out == h->watching_out) return;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0), .data.ptr = h};
    if (epoll_ctl(epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, jugDetachedFd(h->conn), &ev) < 0 && add)
        jugLog(JUG_LOG_ERROR, "park: epoll: %s", strerror(errno));
    h->watching_out = want_out;
}

static void releaseSlot(jugHeld *h) {
    if (!h->slot) return;
    h->slot = 0;
    if (jugStoreReleaseSlot(&loopStore, h->token) != JUG_STORE_OK)
        jugLog(JUG_LOG_DEBUG, "park: slot of %s stays until it lapses: %s", h->sid, loopStore.err);
}

/* Out of the loop's list, the timer heap and epoll now; the memory goes at
 * the end of the loop turn, so that events and lists still naming it this
 * turn (the dirty list, emptied before the turn ends) see h->dead. */
static void freeHeld(jugHeld *h) {
    if (h->dead) return;
    if (h->tracked) {
        if (h->all_prev) h->all_prev->all_next = h->all_next;
        else allHead = h->all_next;
        if (h->all_next) h->all_next->all_prev = h->all_prev;
        /* A FastCGI connection leaves the epoll set by itself when buryDead
         * closes it, before the loop waits again; stdout (CGI) stays open. */
        if (jugDetachedRaw(h->conn)) epoll_ctl(epfd, EPOLL_CTL_DEL, jugDetachedFd(h->conn), NULL);
        /* Watched through the last wait, which would have reported input
         * (level-triggered), and none reported or it was read since: the
         * close needs no read first. */
        else if (h->watched_from < waits && lastWaitComplete && !h->input_waiting)
            jugDetachedNothingUnread(h->conn);
    }
    unschedule(h);
    h->dead = 1;
    h->turn_next = graveyard;
    graveyard = h;
}

static void buryDead(void) {
    while (graveyard) {
        jugHeld *h = graveyard;
        graveyard = h->turn_next;
        jugHeldFree(h);
    }
}

static void track(jugHeld *h);

/* The most output a stream may have waiting for the web server once the
 * web server has taken none of it for STALL_MS: a browser that does not read
 * makes the web server stop reading from the worker. Such a stream is ended,
 * and resumes from its last id when the browser reconnects. */
static size_t backlogLimit(void) {
    size_t two_messages = 2 * (size_t)cfg->max_message_size;
    return two_messages > BACKLOG_MIN ? two_messages : BACKLOG_MIN;
}

/* Out of the tables: no notification reaches h any more. */
static void unpark(jugHeld *h) {
    if (!h->indexed) return;
    h->indexed = 0;
    unindexChannels(h);
    unindexSid(h);
    atomic_fetch_sub(&heldCount, 1);
}

/* An ended request: out of the tables, its slot given back, its end
 * records queued behind its answer (both go out in one write); it is freed
 * once that has gone out, or at CLOSING_MAX_MS. */
static void beginClosing(jugHeld *h) {
    h->closing = 1;
    unpark(h);
    releaseSlot(h);
    jugDetachedEnd(h->conn);
    h->deadline_ms = jugNowMs() + CLOSING_MAX_MS;
}

/* After a write, an end, or when the socket takes more: what was written
 * goes out; once ended, it leaves the tables and is freed when its answer
 * has gone out; meanwhile epoll waits for the socket. Every send of a held
 * request is made here, so that its progress (progress_ms) is seen. */
static void settle(jugHeld *h) {
    if (h->dead) return;
    if (h->ended && !h->closing) beginClosing(h);
    size_t waiting = jugDetachedPending(h->conn);
    if (waiting > 0) {
        if (jugDetachedSend(h->conn) < 0) h->ctx.res->gone = 1;
        else if (jugDetachedPending(h->conn) < waiting) h->progress_ms = jugNowMs();
    }
    if (!h->ended && !h->ctx.res->gone && jugDetachedPending(h->conn) > backlogLimit() &&
        jugNowMs() - h->progress_ms > STALL_MS) {
        jugLog(JUG_LOG_INFO, "%s %s: the browser does not take its output (%zu bytes wait): ended; it resumes "
               "from its last id when it reconnects", h->req.endpoint_name, h->sid, jugDetachedPending(h->conn));
        h->ctx.res->gone = 1;
    }
    if (h->ctx.res->gone && !h->ended) {
        jugLog(JUG_LOG_DEBUG, "%s %s: the browser left", h->req.endpoint_name, h->sid);
        jugHeldEnd(h, JUG_END_TIMEOUT);
        beginClosing(h);
    }
    if (h->ended) {
        if (jugDetachedPending(h->conn) == 0 || h->ctx.res->gone) {
            freeHeld(h);
            return;
        }
    }
    if (!h->tracked) {   /* answered at once, but its answer has to wait */
        track(h);
        return;
    }
    watch(h, 0);
    schedule(h);
}

static void endHeld(jugHeld *h, const char *reason) {
    jugHeldEnd(h, reason);
    settle(h);
}

/* A newer request of h's session took over: h ends now, or, if its
 * transport asks (ops->superseded), waits for its deadline unheld, with
 * nothing to flush before. */
static void supersede(jugHeld *h) {
    if (!h->ops->superseded || !h->ops->superseded(&h->ctx, h->state)) {
        endHeld(h, JUG_END_SUPERSEDED);
        return;
    }
    unpark(h);
    h->written = 0;
}

/* ---- notifications ---- */

/* An "M" notification, parsed in place (docs/PROTOCOL.md, 4). */
typedef struct announce {
    long long first;
    char *channels, *except;
    const char *tail;
    size_t tail_len;
} announce;

static int parseAnnounce(char *text, size_t len, announce *a) {
    char *end = text + len, *nl1, *nl2, *nl3;
    if (len < 2 || text[0] != 'M' || text[1] != ' ') return -1;
    a->first = strtoll(text + 2, NULL, 10);
    if (a->first <= 0 || !(nl1 = memchr(text, '\n', len))) return -1;
    if (!(nl2 = memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)))) return -1;
    if (!(nl3 = memchr(nl2 + 1, '\n', (size_t)(end - nl2 - 1)))) return -1;
    *nl2 = '\0';
    *nl3 = '\0';
    a->channels = nl1 + 1;
    a->except = nl2 + 1;
    a->tail = nl3 + 1;
    a->tail_len = (size_t)(end - nl3 - 1);
    return 0;
}

static int excepted(const char *except, const char *sid) {
    size_t n = strlen(sid);
    for (const char *p = except; (p = strstr(p, sid)) != NULL; p += n)
        if ((p == except || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

/* The delivery text as the fan-out wrote it into the queues: the channel
 * name encoded as Redis's cjson does ('/' escaped; nothing else in a valid
 * name needs it). */
static void buildItem(jugBuf *b, long long id, const char *channel, const announce *a) {
    char num[48];
    b->len = 0;
    snprintf(num, sizeof(num), "{\"id\":%lld,\"channel\":\"", id);
    jugBufAppendStr(b, num);
    for (const char *p = channel; *p; p++) {
        if (*p == '/') jugBufAppend(b, "\\/", 2);
        else jugBufAppend(b, p, 1);
    }
    jugBufAppend(b, "\"", 1);
    jugBufAppend(b, a->tail, a->tail_len);
}

/* Requests written to since the last flush: each answers once for all the
 * notifications read together (under load, one write carries several). */
static jugHeld *dirtyHead;

static void markDirty(jugHeld *h) {
    if (h->dirty) return;
    h->dirty = 1;
    h->dirty_next = dirtyHead;
    dirtyHead = h;
}

static void flushDirty(void) {
    while (dirtyHead) {
        jugHeld *h = dirtyHead;
        dirtyHead = h->dirty_next;
        h->dirty = 0;
        jugHeldFlush(h);
        settle(h);
    }
}

/* Hand an announced message to the held requests of its channels; they
 * answer at the next flushDirty(). */
static void deliverAnnounce(char *text, size_t len) {
    announce a;
    if (parseAnnounce(text, len, &a) < 0) {
        jugLog(JUG_LOG_WARNING, "park: a notification that does not parse; ignored");
        return;
    }
    jugBuf item = {0};
    long long id = a.first;
    char *save = NULL;
    for (char *ch = strtok_r(a.channels, " ", &save); ch; ch = strtok_r(NULL, " ", &save), id++) {
        jugChannelList *l = channelList(ch, 0);
        if (!l) continue;
        int built = 0;
        for (jugHeldChannel *c = l->head; c; c = c->next) {
            jugHeld *h = c->held;
            if (h->ended || id <= h->seq || id <= h->last || excepted(a.except, h->sid))
                continue;
            if (!built) {
                buildItem(&item, id, ch, &a);
                built = 1;
            }
            if (item.oom) break;
            jugHeldDeliver(h, item.s, item.len, id);
            markDirty(h);
        }
    }
    if (item.oom) jugLog(JUG_LOG_ERROR, "park: out of memory handing out message %lld", a.first);
    jugBufFree(&item);
}

static jugHeld *findHeld(const char *sid, const char *token) {
    for (jugHeld *h = sidTable[hashStr(sid)]; h; h = h->sid_next)
        if (!strcmp(h->sid, sid) && (!token || !strcmp(h->token, token))) return h;
    return NULL;
}

static void resync(jugHeld *h);

/* "S <sid> <token>", "C <sid>" or "E <sid>" on this process's channel. */
static void instanceNotice(const char *text) {
    char what, sid[JUG_SID_LEN + 1], token[JUG_TOKEN_LEN];
    token[0] = '\0';
    if (sscanf(text, "%c %22s %39s", &what, sid, token) < 2) return;
    for (jugHeld *h = findHeld(sid, what == 'S' ? token : NULL), *next; h; h = next) {
        next = h->sid_next;
        while (next && strcmp(next->sid, sid)) next = next->sid_next;
        if (what == 'S' && !strcmp(h->token, token)) supersede(h);
        else if (what == 'E') endHeld(h, JUG_END_EXPIRED);
        else if (what == 'C') resync(h);
        if (what == 'S') break;
    }
}

/* Read the request's session from Redis again: its channels changed. */
static void resync(jugHeld *h) {
    long long now = jugNowMs();
    jugPollArgs args = {h->ack, h->last, 500, h->token, h->ops->one_batch ? 1 : 2,
                        h->deadline_ms - now + 5000, 0, 0};
    jugPollResult r;
    jugStoreStatus st = jugStorePollHold(&loopStore, h->sid, &args, &r);
    if (st != JUG_STORE_OK) {
        jugLog(st == JUG_STORE_NO_SESSION ? JUG_LOG_DEBUG : JUG_LOG_WARNING, "park: %s: %s", h->sid,
               loopStore.err);
        endHeld(h, st == JUG_STORE_NO_SESSION ? JUG_END_EXPIRED : JUG_END_UNAVAILABLE);
        return;
    }
    unindexChannels(h);
    for (int i = 0; i < h->channel_count; i++) free(h->channels[i].name);
    free(h->channels);
    h->channels = calloc((size_t)(r.channel_count > 0 ? r.channel_count : 1), sizeof(jugHeldChannel));
    h->channel_count = 0;
    for (int i = 0; h->channels && i < r.channel_count; i++) {
        h->channels[i].held = h;
        h->channels[i].name = r.channels[i];
        r.channels[i] = NULL;
        h->channel_count++;
    }
    if (r.seq > h->seq) h->seq = r.seq;
    indexChannels(h);
    jugHeldMissed(h, r.lost);   /* Redis lost data meanwhile (announce.lua), or trimmed */
    jugHeldDeliverBatch(h, &r.d);
    jugPollResultFree(&r);
    if (h->ops->one_batch && h->lost) jugHeldEnd(h, JUG_END_BATCH);   /* tells it now */
    jugHeldFlush(h);
    settle(h);
}

/* In the list of the loop's requests (the timers, shutdown) and watched. */
static void track(jugHeld *h) {
    h->tracked = 1;
    h->all_prev = NULL;
    h->all_next = allHead;
    if (allHead) allHead->all_prev = h;
    allHead = h;
    watch(h, 1);
}

/* A request that waits: in the tables, where notifications find it. */
static void park(jugHeld *h) {
    track(h);
    if (h->delaying) return;
    indexSid(h);
    indexChannels(h);
    h->indexed = 1;
    atomic_fetch_add(&heldCount, 1);
}

/* Whether one more request may be held: the loop listens, and has room. */
static int roomToHold(int reserved) {
    return atomic_load(&subscribed) && !atomic_load(&stopping) &&
           atomic_load(&heldCount) + reserved < jugHostProcessHoldLimit();
}

/* Read n requests from Redis in one round trip, then answer or park each. */
static void readBatch(jugHeld **batch, int n) {
    const char *sids[READ_BATCH] = {NULL};
    jugPollArgs args[READ_BATCH] = {{0}};
    jugPollResult res[READ_BATCH];
    jugStoreStatus st[READ_BATCH];
    int can_hold[READ_BATCH], reserved = 0;
    long long now = jugNowMs();
    for (int i = 0; i < n; i++) {
        batch[i]->progress_ms = now;
        can_hold[i] = batch[i]->may_wait && roomToHold(reserved);
        reserved += can_hold[i];
        sids[i] = batch[i]->sid;
        jugHeldReadArgs(batch[i], can_hold[i], &args[i]);
    }
    jugStorePollBatch(&loopStore, n, sids, args, st, res);
    for (int i = 0; i < n; i++) {
        jugHeld *h = batch[i];
        if (jugHeldBegin(h, &loopStore, st[i], &res[i], can_hold[i])) {
            park(h);
        } else {
            settle(h);   /* answered: tracked only if the answer must wait */
        }
        jugPollResultFree(&res[i]);
    }
}

/* The requests the handler threads submitted, in arrival order. */
static void takeHandovers(void) {
    pthread_mutex_lock(&handLock);
    jugHeld *list = handHead;
    handHead = NULL;
    pthread_mutex_unlock(&handLock);
    jugHeld *rev = NULL;
    while (list) {
        jugHeld *next = list->all_next;
        list->all_next = rev;
        rev = list;
        list = next;
    }
    jugHeld *batch[READ_BATCH];
    int n = 0;
    while (rev) {
        batch[n++] = rev;
        rev = rev->all_next;
        if (n == READ_BATCH || !rev) {
            readBatch(batch, n);
            n = 0;
        }
    }
}

/* ---- pub/sub ---- */

static void endAll(const char *poll_reason, const char *stream_reason) {
    for (jugHeld *h = allHead, *next; h; h = next) {
        next = h->all_next;
        if (!h->ended) endHeld(h, h->ops->one_batch ? poll_reason : stream_reason);
    }
}

static void dropSubscription(const char *reason) {
    char why[128];
    snprintf(why, sizeof(why), "%s", reason);   /* reason may be sub's own errstr */
    if (sub) {
        if (epfd >= 0) epoll_ctl(epfd, EPOLL_CTL_DEL, sub->fd, NULL);
        redisFree(sub);
        sub = NULL;
    }
    if (atomic_exchange(&subscribed, 0))
        jugLog(JUG_LOG_WARNING, "park: lost the notification channel (%s); reconnecting", why);
    /* What they wait for may be announced while nobody listens: the
     * long-polls answer now (their clients poll again at once), the
     * streams end as if at their maximum duration (they reconnect). */
    endAll(JUG_END_TIMEOUT, JUG_END_RECONNECT);
    nextSubscribeMs = jugNowMs() + RESUBSCRIBE_MS;
}

static int subscribe(void) {
    char err[256];
    redisContext *c = jugRedisConnect(&cfg->redis, 1000, err, sizeof(err));
    if (!c) {
        nextSubscribeMs = jugNowMs() + RESUBSCRIBE_MS;
        return -1;
    }
    redisReply *r = redisCommand(c, "SUBSCRIBE %s %s", notifyChannel, instanceChannel);
    int ok = r && r->type == REDIS_REPLY_ARRAY;
    if (r) freeReplyObject(r);
    if (ok) {
        void *second = NULL;
        ok = redisGetReply(c, &second) == REDIS_OK;
        if (second) freeReplyObject(second);
    }
    if (!ok) {
        redisFree(c);
        nextSubscribeMs = jugNowMs() + RESUBSCRIBE_MS;
        return -1;
    }
    sub = c;
    if (epfd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tagSub};
        epoll_ctl(epfd, EPOLL_CTL_ADD, sub->fd, &ev);
    }
    atomic_store(&subscribed, 1);
    jugLog(JUG_LOG_DEBUG, "park: listening on %s and %s", notifyChannel, instanceChannel);
    return 0;
}

static void handleMessage(redisReply *r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[2]->type != REDIS_REPLY_STRING) return;
    const redisReply *chan = r->element[1], *msg = r->element[2];
    if (!strcmp(chan->str, instanceChannel)) {
        instanceNotice(msg->str);
    } else if (msg->len > 2 && msg->str[0] == 'M') {
        jugStatsAdd(JUG_STAT_PUBLISHES, 1);
        deliverAnnounce(msg->str, msg->len);
    }
}

/* Everything the subscription has buffered, then one flush: when messages
 * come faster than the loop turns, a request answers them in one write. */
static void readSubscription(void) {
    if (redisBufferRead(sub) != REDIS_OK) {
        dropSubscription(sub->errstr);
        return;
    }
    for (;;) {
        void *reply = NULL;
        if (redisGetReplyFromReader(sub, &reply) != REDIS_OK) {
            flushDirty();
            dropSubscription(sub->errstr);
            return;
        }
        if (!reply) break;
        handleMessage(reply);
        freeReplyObject(reply);
    }
    flushDirty();
}

/* ---- timers ---- */

static void touchSessions(const char **sids, int n) {
    char **dead = NULL;
    int ndead = 0;
    if (n == 0) return;
    if (jugStoreTouch(&loopStore, sids, n, &dead, &ndead) != JUG_STORE_OK) {
        jugLog(JUG_LOG_WARNING, "park: keeping sessions alive: %s", loopStore.err);
        return;
    }
    for (int i = 0; i < ndead; i++) {
        for (jugHeld *h = findHeld(dead[i], NULL), *next; h; h = next) {
            next = h->sid_next;
            while (next && strcmp(next->sid, dead[i])) next = next->sid_next;
            endHeld(h, JUG_END_EXPIRED);
        }
        free(dead[i]);
    }
    free(dead);
}

/* One request whose timer is due. */
static void fire(jugHeld *h, long long now, const char **touch, int *n) {
    static char sids[TOUCH_BATCH][JUG_SID_LEN + 1];   /* the loop thread's own */
    if (h->ended) {
        if (now >= h->deadline_ms) freeHeld(h);   /* its answer never went out */
        else schedule(h);                         /* not due yet after all */
        return;
    }
    if (jugHeldTick(h, now) && *n < TOUCH_BATCH) {
        memcpy(sids[*n], h->sid, sizeof(sids[*n]));
        touch[*n] = sids[*n];
        (*n)++;
    }
    settle(h);
}

/* Whatever is due now: the requests' timers, resubscribing. */
static void timers(void) {
    long long now = jugNowMs();
    const char *touch[TOUCH_BATCH];
    int n = 0;
    if (fullWalk && now >= nextWalkMs) {
        for (jugHeld *h = allHead, *next; h; h = next) {
            next = h->all_next;
            if (dueOf(h) <= now) fire(h, now, touch, &n);
        }
        nextWalkMs = now + TICK_MS;
    }
    /* Each firing moves its request's due time on (or frees it): bounded. */
    for (int left = heapCount; left > 0 && heapCount > 0 && heap[0].due_ms <= now; left--)
        fire(heap[0].h, now, touch, &n);
    touchSessions(touch, n);
    buryDead();
    if (!sub && !atomic_load(&stopping) && now >= nextSubscribeMs) subscribe();
}

/* Milliseconds until timers() has something to do; -1: nothing at all. */
static int untilDue(void) {
    long long due = LLONG_MAX;
    if (heapCount > 0) due = heap[0].due_ms;
    if (fullWalk && nextWalkMs < due) due = nextWalkMs;
    if (!sub && nextSubscribeMs < due) due = nextSubscribeMs;
    if (due == LLONG_MAX) return -1;
    long long wait = due - jugNowMs();
    return wait <= 0 ? 0 : wait > INT_MAX ? INT_MAX : (int)wait;
}

/* ---- the loop ---- */

static void loopOnce(int timeout_ms) {
    struct epoll_event events[MAX_EVENTS];
    int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
    int notified = 0;
    waits++;
    lastWaitComplete = n >= 0 && n < MAX_EVENTS;
    for (int i = 0; i < n; i++) {
        void *tag = events[i].data.ptr;
        if (tag == &tagWake) {
            uint64_t count;
            if (read(evfd, &count, sizeof(count)) < 0 && errno != EAGAIN)
                jugLog(JUG_LOG_DEBUG, "park: eventfd: %s", strerror(errno));
        } else if (tag == &tagSub) {
            notified = 1;
        } else if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            ((jugHeld *)tag)->input_waiting = 1;   /* before a notification may free it */
        }
    }
    if (notified && sub) readSubscription();
    /* Held requests after the rest: a notification above may have freed one
     * whose event is also in this batch, so look each up as still held. */
    for (int i = 0; i < n; i++) {
        void *tag = events[i].data.ptr;
        if (tag == &tagWake || tag == &tagSub) continue;
        jugHeld *h = tag;
        if (h->dead) continue;
        if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            if (jugDetachedGone(h->conn) || (events[i].events & (EPOLLHUP | EPOLLERR))) {
                h->ctx.res->gone = 1;
                settle(h);
                continue;
            }
            h->input_waiting = 0;   /* read to the end */
        }
        if (events[i].events & EPOLLOUT) settle(h);
    }
    takeHandovers();
    buryDead();
}

static void *loopMain(void *arg) {
    (void)arg;
    while (!atomic_load(&stopping)) {
        loopOnce(untilDue());
        timers();
    }
    takeHandovers();
    endAll(JUG_END_TIMEOUT, JUG_END_RECONNECT);
    buryDead();
    return NULL;
}

static int setup(const jugConfig *config) {
    cfg = config;
    char sid[JUG_SID_LEN + 1];
    if (jugSidGenerate(sid) < 0) return -1;
    memcpy(instance, sid, sizeof(instance) - 1);
    instance[sizeof(instance) - 1] = '\0';
    jugNotifyChannel(notifyChannel, sizeof(notifyChannel), cfg->key_prefix);
    jugNotifyInstanceChannel(instanceChannel, sizeof(instanceChannel), cfg->key_prefix, instance);
    jugStoreInit(&loopStore, cfg);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd < 0 || evfd < 0) return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tagWake};
    epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev);
    return 0;
}

int jugParkStart(const jugConfig *config) {
    if (setup(config) < 0) {
        jugLog(JUG_LOG_ERROR, "park: cannot set up the event loop: %s", strerror(errno));
        return -1;
    }
    if (subscribe() < 0)
        jugLog(JUG_LOG_WARNING, "park: Redis not reachable yet; requests are not held until it is");
    int rc = jugThreadStart(&loopThread, 256 * 1024, 0, loopMain, NULL);
    if (rc) {
        jugLog(JUG_LOG_ERROR, "park: cannot start the event loop: %s", strerror(rc));
        return -1;
    }
    loopRunning = 1;
    return 0;
}

int jugParkInitInline(const jugConfig *config, int listen) {
    if (epfd < 0) {
        inlineMode = 1;
        if (setup(config) < 0) return -1;
    }
    if (listen && !atomic_load(&subscribed) && subscribe() < 0)
        jugLog(JUG_LOG_WARNING, "park: no notification channel: the request is not held");
    return 0;
}

void jugParkRunInline(void) {
    takeHandovers();
    while (allHead) {
        loopOnce(untilDue());
        timers();
    }
}

void jugParkStop(void) {
    atomic_store(&stopping, 1);
    if (loopRunning) {
        uint64_t one = 1;
        if (write(evfd, &one, sizeof(one)) < 0) jugLog(JUG_LOG_DEBUG, "park: eventfd: %s", strerror(errno));
        pthread_join(loopThread, NULL);
        loopRunning = 0;
    }
}
