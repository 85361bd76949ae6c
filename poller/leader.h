/* leader.h -- which poller is active, and the buffer that makes a takeover exact.
 *
 * Every poller, active or standby, subscribes on ONE connection to the app
 * channel and to <prefix>notify, and keeps each message it receives until
 * the active poller says it handled it. Pub/sub keeps order on one
 * connection, so every poller sees the messages published after it
 * subscribed, and the lines about them, in the same order; what differs is
 * only where each started. Positions say which message a line is about,
 * whatever the payloads:
 * - each poller numbers the messages of each subscription 1, 2, ... and
 *   names the subscription "<poller id>/<n>" (its token);
 * - the active poller's lines carry the token and number of the message:
 *   "M <first id> <hash> <token> <index>" (fanout.lua, after the pushes) and
 *   "D <hash> <token> <index>" (dropped: invalid, or it gave up);
 * - a poller that has subscribed publishes "J <token>/<n>"; every poller notes
 *   how many messages it had received when a J line came, and the active one
 *   answers "A <its token> <J's label> <its count then>", before it handles
 *   any message received after the J. From one answer a poller knows how the
 *   active poller's numbers map onto its own (the difference is constant on
 *   one subscription each), and forgets everything up to the mapped index of
 *   each line (lines that came before the answer are applied when it comes).
 *   A poller that becomes active publishes a J line of its own.
 *
 * A poller that takes the lease publishes "T <id> <n>" on <prefix>notify and
 * delivers nothing until that marker comes back: every line the previous
 * holder published before the lease changed hands has then been consumed,
 * and what is left in the buffer is what it did not deliver. (If that poller
 * never answered a J line we saw, the messages we received before the last
 * J line cannot be placed: they are dropped and logged; the window is the
 * moment between a poller's subscription and the active poller's answer.)
 *
 * The active poller delivers buffered messages in order. A transient refusal
 * (OOM, LOADING, BUSY, READONLY, MASTERDOWN...) keeps the message and retries
 * with backoff, messages behind it waiting so that order is kept; a message
 * still refused JUG_RETRY_GIVEUP_MS after it arrived is dropped (logged with
 * the count, "D" published). See docs/PROTOCOL.md, 5. */
#ifndef JUG_POLLER_LEADER_H
#define JUG_POLLER_LEADER_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include "config.h"
#include "fanout.h"

#define JUG_RETRY_GIVEUP_MS 30000   /* a refused message is kept this long */
#define JUG_MARKER_WAIT_MS 5000     /* our T marker must be back within this */
#define JUG_TOKEN_MAX 176           /* "<poller id>/<subscription>" */
#define JUG_JOINS_KEPT 32           /* J lines whose position we remember */
#define JUG_PEERS_KEPT 8            /* other pollers' subscriptions we map */
#define JUG_OWED_MAX 32             /* J and A lines waiting to be published */
#define JUG_TAG_MAX (JUG_HASH_LEN + JUG_TOKEN_MAX + 24)   /* "<hash> <token> <index>" */

/* What this poller did with a buffered message. */
typedef enum {
    JUG_HANDLED_NOT = 0,   /* not handled by us (the active poller may have) */
    JUG_HANDLED_YES,       /* delivered or dropped by us: never again */
    JUG_HANDLED_UNSURE     /* sent to Redis, the connection failed before the answer */
} jugHandled;

/* This poller's part. */
typedef enum {
    JUG_ROLE_STANDBY = 0,  /* another poller (or none yet) holds the lease */
    JUG_ROLE_TAKING,       /* we took the lease and wait for our T marker */
    JUG_ROLE_ACTIVE        /* we hold the lease and deliver */
} jugRole;

typedef struct jugRemembered {
    char *channel;          /* NULL: app channel; else the Jugglite channel */
    char *payload;
    size_t len;
    char hash[JUG_HASH_LEN + 1];
    long long at_ms;        /* monotonic receive time */
    jugHandled handled;
    unsigned sub;           /* our subscription it came on */
    long long idx;          /* its number on that subscription */
} jugRemembered;

/* A J line: how many messages we had received when it came. */
typedef struct jugJoinSeen {
    char token[JUG_TOKEN_MAX];
    long long at;
} jugJoinSeen;

/* Another poller's subscription that notified or answered. */
typedef struct jugPeer {
    char token[JUG_TOKEN_MAX];
    int mapped;
    long long offset;       /* its index minus ours, once mapped */
    long long notified;     /* the highest index it notified before it was mapped */
} jugPeer;

typedef struct jugLeader {
    const jugConfig *cfg;
    const char *id;
    jugRole role;
    int resync;             /* reconnected while active: settle the lease first */
    int handover;           /* ...and still held it: deliver the older messages, then release it */
    int others_seen;        /* another poller's J line came (a standby may exist) */
    long long yield_until;  /* after a handover: no lease call before this */
    jugRemembered *ring;    /* circular buffer of unconfirmed messages, oldest first */
    size_t head, count, cap;
    size_t next;            /* entries [0, next) were handled by us, the rest not */
    size_t bytes;           /* payload bytes held, bounded */
    long long known_seq;    /* <prefix>seq as of our last fan-out or lease tick */
    long long alive_seen;   /* <prefix>alive at our last lease tick (0: none yet) */
    int data_lost;          /* a tick found Redis lost writes (the caller clears it) */
    unsigned takeovers;
    char marker[192];       /* the T line we wait for (JUG_ROLE_TAKING) */
    long long marker_deadline;
    long long retry_since, retry_at;   /* refused fan-outs: first refusal, next try */
    int retry_delay;
    /* counts for the summary log lines (one per JUG_SUMMARY_MS at most) */
    long long next_summary, trim_msgs, trim_queues, invalid, given_up, forgotten, overflowed;
    char last_invalid[600];
    /* positions (see the top of this file) */
    unsigned sub;           /* our subscriptions so far; 0: none yet */
    int listening;          /* every subscription of the connection is confirmed */
    long long received;     /* messages received on the current one */
    char token[JUG_TOKEN_MAX];
    jugJoinSeen joins[JUG_JOINS_KEPT];
    size_t joins_next;      /* ring: the slot to overwrite next */
    unsigned joins_sent;    /* J lines we published (each names itself by its number) */
    long long last_join_at; /* our count at the latest J line (0: none) */
    jugPeer peers[JUG_PEERS_KEPT];
    size_t peers_next;
    int last_notifier;      /* the peer that notified last, -1: none */
    char owed[JUG_OWED_MAX][2 * JUG_TOKEN_MAX + 32];
    size_t nowed;
    long long unplaced;     /* messages dropped at takeovers because they could not be placed */
} jugLeader;

void jugLeaderInit(jugLeader *l, const jugConfig *cfg, const char *id);
void jugLeaderFree(jugLeader *l);

/* Keep a received message until its notification arrives. */
void jugLeaderRemember(jugLeader *l, const char *channel, const char *payload, size_t len,
                       const char *hash, long long now_ms);

/* Redis confirmed every subscription of a new connection, in the order of
 * what it sends: a new token, messages numbered from 1, a J line to
 * publish. Messages received before (between two confirmations) have no
 * number (0), and J lines before are not used. */
void jugLeaderListening(jugLeader *l);

/* A message on <prefix>notify: M, D, J, A and our own T lines matter here. */
void jugLeaderNotification(jugLeader *l, const char *text, size_t len);

/* Take or renew the lease (every poller_lease_ms / 3); settle after a
 * reconnect; start a takeover. Returns 0, or -1 when the connection failed. */
int jugLeaderTick(jugLeader *l, redisContext *c, long long now_ms);

/* Publish the J and A lines we owe, then deliver what is due, at most a
 * batch. Returns 1 if more is due right away, 0 if not, -1 when the
 * connection failed. */
int jugLeaderPump(jugLeader *l, redisContext *c, long long now_ms);

/* When jugLeaderPump or jugLeaderTick next needs to run besides the lease
 * timer (a retry, the marker deadline); a large value if never. */
long long jugLeaderWakeAt(const jugLeader *l);

/* The connections were lost: forget what their notifications would have
 * confirmed, keep what we must still deliver. */
void jugLeaderLost(jugLeader *l);

/* Release the lease if we hold it (clean exit). Returns 0 or -1. */
int jugLeaderRelease(jugLeader *l, redisContext *c);

/* Log the summary lines that are due (or all of them with force). */
void jugLeaderSummary(jugLeader *l, long long now_ms, int force);

#endif
