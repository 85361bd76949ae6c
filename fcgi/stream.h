/* stream.h -- the loop shared by every streaming transport.
 *
 * SSE, multipart XHR and htmlfile differ only in how they frame things; the
 * loop that resumes from the acknowledged id, waits on the session's inbox,
 * writes each delivery the moment it arrives, sends keepalives, notices a
 * browser that left, and ends after stream_max_duration lives here once. */
#ifndef JUG_STREAM_H
#define JUG_STREAM_H

#include "handlers.h"

typedef struct jugStreamOps {
    int one_batch;               /* long-poll: no headers first; ends with the first batch */
    int wait_unheld;             /* long-poll not held (no slot): answer empty after its retry
                                    interval instead of telling the client to wait */
    int answers_missed;          /* long-poll: its answer says "missed" (jugHeld.lost) */
    size_t state_size;           /* bytes of state jugHoldStart copies (at most 64) */
    const char *name;            /* as in the `transports` setting: "sse", "longpoll", ... */
    const char *content_type;
    const char *extra_headers;   /* e.g. "X-Accel-Buffering: no\r\n" (always added by the loop too) */
    /* Each returns 0, or -1 when the write failed. */
    int (*begin)(jugContext *ctx, void *state);
    int (*message)(jugContext *ctx, const char *delivery, size_t len, long long id, void *state);
    int (*keepalive)(jugContext *ctx, void *state);
    /* reason: one of the JUG_END_* of hold.h */
    int (*end)(jugContext *ctx, const char *reason, void *state);
    /* Optional, long-poll: a newer request of the session took it over.
     * 1: it stays open, listening to nothing, and ends at its deadline
     * (end then says JUG_END_TIMEOUT, and answers what the op kept of the
     * deliveries it had); 0 (or no op): it ends now with JUG_END_SUPERSEDED. */
    int (*superseded)(jugContext *ctx, void *state);
    /* Optional: write the control record json (jugStreamMissedJson) that
     * tells the client it missed deliveries; written before any delivery. */
    int (*missed)(jugContext *ctx, const char *json, void *state);
} jugStreamOps;

/* The session_id and ack (or Last-Event-ID) every stream starts from. On
 * bad input answers the error (400) and returns -1. */
int jugStreamSession(jugContext *ctx, const char **sid, long long *ack);

/* Stream deliveries of session sid after ack until the client leaves, the
 * session ends, a newer request supersedes it or stream_max_duration passes.
 * Writes headers itself. state (ops->state_size bytes) is copied. */
void jugStreamRun(jugContext *ctx, const char *sid, long long ack, const jugStreamOps *ops,
                  const void *state);

/* The JSON control record of docs/PROTOCOL.md for "keepalive", "reconnect",
 * "superseded", "session_expired" or "unavailable" (multipart and htmlfile
 * frame these). */
const char *jugStreamControlJson(const char *reason);

/* The control record {"event":"missed","missed":<n>} (n deliveries of the
 * session were dropped before its client had them; lost < 0: an unknown
 * number, Redis lost data, "missed":true) into buf. */
void jugStreamMissedJson(char *buf, size_t len, long long lost);

#endif
