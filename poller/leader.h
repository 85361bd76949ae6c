/* leader.h -- which poller is active, and the buffer that makes a takeover exact.
 *
 * Every poller, active or standby, subscribes on ONE connection to the app
 * channel and to <prefix>notify, and keeps each message it receives until
 * the notification that the active poller handled it comes in on that
 * connection: "M <first id> <hash>" (published by fanout.lua after the
 * pushes) or "D <hash>" (the active poller dropped it: invalid, or it gave
 * up). Pub/sub keeps order on one connection and a message's notification is
 * published after the message, so the buffer holds exactly the messages
 * nobody has handled yet, whatever their payloads. A notification is matched
 * against the oldest buffered message only; one that does not match is for a
 * message published before this poller subscribed, and is ignored.
 *
 * A poller that takes the lease publishes "T <id> <n>" on <prefix>notify and
 * delivers nothing until that marker comes back: every notification the
 * previous holder published before the lease changed hands has then been
 * consumed, and what is left in the buffer is what it did not deliver.
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
} jugRemembered;

typedef struct jugLeader {
    const jugConfig *cfg;
    const char *id;
    jugRole role;
    int resync;             /* reconnected while active: settle the lease first */
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
} jugLeader;

void jugLeaderInit(jugLeader *l, const jugConfig *cfg, const char *id);
void jugLeaderFree(jugLeader *l);

/* Keep a received message until its notification arrives. */
void jugLeaderRemember(jugLeader *l, const char *channel, const char *payload, size_t len,
                       const char *hash, long long now_ms);

/* A message on <prefix>notify. Only M, D and our own T lines matter here. */
void jugLeaderNotification(jugLeader *l, const char *text, size_t len);

/* Take or renew the lease (every poller_lease_ms / 3); settle after a
 * reconnect; start a takeover. Returns 0, or -1 when the connection failed. */
int jugLeaderTick(jugLeader *l, redisContext *c, long long now_ms);

/* Deliver what is due, at most a batch. Returns 1 if more is due right
 * away, 0 if not, -1 when the connection failed. */
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
