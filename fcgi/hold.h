/* hold.h -- one request held open: a long-poll waiting, or a stream.
 *
 * Every transport is a jugStreamOps client (stream.h); a long-poll is the
 * one whose ops answer once, with the first batch. jugHoldStart (called by
 * the handler thread) takes the request over from libfcgi and hands it to
 * the event loop (park.h) at once, so handler threads never wait for Redis
 * here. The loop asks Redis once for many such requests in one round trip
 * (acknowledge, what is pending, a hold slot: jugHeldReadArgs), and
 * jugHeldBegin answers each at once or keeps it held; every function
 * below runs in the loop thread. */
#ifndef JUG_HOLD_H
#define JUG_HOLD_H

#include "detach.h"
#include "handlers.h"
#include "sid.h"
#include "stream.h"

#define JUG_TOKEN_LEN 40

typedef struct jugHeldChannel {
    char *name;
    struct jugHeld *held;
    struct jugHeldChannel *prev, *next;   /* in the loop's list for this channel */
    struct jugChannelList *list;
} jugHeldChannel;

typedef struct jugHeld {
    char sid[JUG_SID_LEN + 1];
    char token[JUG_TOKEN_LEN];    /* "<instance>.<n>": names it in Redis's holder field */
    jugRequest req;               /* detached: no FCGX_Request any more */
    jugResponse res;              /* writes through conn */
    jugContext ctx;               /* cfg, &req, &res; no store (the loop has its own) */
    const jugStreamOps *ops;
    unsigned char state[64];      /* the transport's state (ops->state_size bytes) */
    jugDetached *conn;
    long long ack;                /* acknowledged by the request */
    long long last;               /* highest delivery id written */
    long long seq;                /* the delivery counter when Redis was read */
    long long deadline_ms, next_keepalive_ms, next_touch_ms;
    long long hold_ms;            /* how long it may be held at most */
    int may_wait;                 /* a stream, or a long-poll with a timeout */
    int delaying;                 /* not held: answered empty at deadline_ms (ops->wait_unheld) */
    int slot;                     /* holds a host-wide slot in <prefix>holds */
    long long lost;               /* long-poll: deliveries its client missed (-1: an unknown number) */
    int retry_ms;                 /* a long-poll not held: when to poll again (0: at once) */
    int written;                  /* deliveries written since the last flush */
    int touch_probed;             /* a keepalive went out to see the browser is there */
    long long progress_ms;        /* when its socket last took output (or the loop took it) */
    int ended;                    /* answered; waits only for its output to go */
    /* The loop's bookkeeping (park.c). */
    unsigned tracked : 1;         /* in the loop's list of requests, its socket watched */
    unsigned indexed : 1;         /* in the sid and channel tables */
    unsigned closing : 1;         /* ended: out of the tables, its answer going out */
    unsigned watching_out : 1;    /* epoll also waits for the socket to take output */
    unsigned dirty : 1;           /* on the list of requests a notification wrote to */
    unsigned dead : 1;            /* freed at the end of this loop turn */
    unsigned input_waiting : 1;   /* the loop's last wait found its socket readable, not read yet */
    unsigned long watched_from;   /* the loop's count of waits when its socket was first watched */
    struct jugHeld *dirty_next;   /* the loop's list of requests to flush */
    struct jugHeld *turn_next;    /* the graveyard (freed at the end of the turn) */
    jugHeldChannel *channels;
    int channel_count;
    struct jugHeld *sid_next;     /* the loop's sid table chain */
    struct jugHeld **sid_pprev;   /* the link in that chain that points at it */
    struct jugHeld *all_prev, *all_next;
    int heap_index;               /* 1 + its place in the loop's timer heap; 0: not in it */
} jugHeld;

/* How a held request ends (the stream transports frame the last three). */
#define JUG_END_BATCH "batch"                  /* long-poll: deliveries answered */
#define JUG_END_TIMEOUT "timeout"              /* long-poll: nothing came in time */
#define JUG_END_RECONNECT "reconnect"          /* stream: stream_max_duration reached */
#define JUG_END_SUPERSEDED "superseded"        /* a newer request of the session */
#define JUG_END_EXPIRED "session_expired"      /* the session ended */
#define JUG_END_UNAVAILABLE "unavailable"      /* Redis or pub/sub failed */

/* Serve a long-poll (timeout_ms: how long it may wait) or a stream
 * (ops->one_batch == 0) for session sid from ack. Answers errors itself. */
void jugHoldStart(jugContext *ctx, const char *sid, long long ack, int timeout_ms,
                  const jugStreamOps *ops, const void *state);

/* Loop side. */

/* The arguments of the request's first Redis read (can_hold: the loop has
 * room for it and listens to notifications). */
void jugHeldReadArgs(const jugHeld *h, int can_hold, jugPollArgs *args);
/* Its answer (st, and r when OK; the channels move into h): answers, or
 * writes what is pending. 1 if h is now to be parked, 0 if it has ended. */
int jugHeldBegin(jugHeld *h, jugStore *store, jugStoreStatus st, jugPollResult *r, int can_hold);

/* The rest return nothing; the request may have ended (h->ended). */

/* A delivery for h (id > h->last, not excepted): write it. */
void jugHeldDeliver(jugHeld *h, const char *item, size_t len, long long id);
/* After the deliveries of the notifications read together: flush, and a
 * long-poll answers. */
void jugHeldFlush(jugHeld *h);
/* Deliveries read from Redis again (resync): written in order. */
void jugHeldDeliverBatch(jugHeld *h, const jugDeliveries *d);
/* Its client missed lost deliveries for good (-1: an unknown number; 0:
 * nothing to do): logged (without flooding), and told where the transport
 * can (a stream writes a missed record now, a long-poll's answer carries
 * "missed"; socket.io and Jugglite have no way). -1 when the write failed. */
int jugHeldMissed(jugHeld *h, long long lost);
/* Timers: deadline, keepalive. Returns 1 if its session wants a touch. */
int jugHeldTick(jugHeld *h, long long now_ms);
/* End it with a reason (JUG_END_*): the transport frames it. */
void jugHeldEnd(jugHeld *h, const char *reason);
/* Free everything (the connection is closed). */
void jugHeldFree(jugHeld *h);

/* How long a client not held for want of a slot waits before its next poll
 * (its "retry", ms), also a connect's first poll while no slot is free (it
 * would only be refused): from the load (a crowd connecting waits longer)
 * and the hold slots (max_held). */
int jugHoldRetryMs(const jugHoldLoad *load, long long slots, int session_ttl);

/* Milliseconds of a monotonic clock. */
long long jugNowMs(void);

#endif
