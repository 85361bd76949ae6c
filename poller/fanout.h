/* fanout.h -- turning one published message into pushes onto session lists.
 *
 * A message is parsed (jugMessageParse, or jugMessageFromRaw for Jugglite)
 * and handed to common/lua/fanout.lua in one round trip, whatever the number
 * of subscribers. The script refuses to run for a poller that does not hold
 * the lease, which is what keeps two pollers from delivering twice. */
#ifndef JUG_POLLER_FANOUT_H
#define JUG_POLLER_FANOUT_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include "config.h"

#define JUG_HASH_LEN 16

typedef enum {
    JUG_FANOUT_DONE = 0,   /* delivered (possibly to nobody) */
    JUG_FANOUT_INVALID,    /* not a valid message: dropped (report.error says why) */
    JUG_FANOUT_DROPPED,    /* script error: dropped (report.error says why) */
    JUG_FANOUT_NOTLEADER,  /* another poller holds the lease */
    JUG_FANOUT_RETRY,      /* Redis refused for now (OOM, LOADING, BUSY, READONLY,
                              MASTERDOWN, NOAUTH...): keep the message, try again */
    JUG_FANOUT_LOST        /* the connection failed: reconnect */
} jugFanoutResult;

/* What a fan-out did (JUG_FANOUT_DONE), or why it failed (others). */
typedef struct jugFanoutReport {
    long long first_id, last_id;   /* delivery ids given out */
    long long pushes, trimmed;     /* queue pushes; queues trimmed to max_queue */
    char error[512];               /* why, for INVALID, DROPPED, RETRY, NOTLEADER */
} jugFanoutReport;

/* 64-bit FNV-1a of the payload as 16 hex digits. A Jugglite message (channel
 * not NULL) hashes "<channel>\0<payload>" so equal payloads on different
 * channels stay apart. */
void jugFanoutHash(char out[JUG_HASH_LEN + 1], const char *channel, const char *payload, size_t len);

/* Deliver one message. channel is NULL for a message published on the app
 * channel, else the Jugglite channel (namespace already removed); tag is
 * what the notification names the message by ("<hash> <token> <index>",
 * see leader.h). Nothing is logged here: the caller decides (it
 * rate-limits). report may be NULL. */
jugFanoutResult jugFanoutDeliver(redisContext *c, const jugConfig *cfg, const char *poller_id,
                                 const char *channel, const char *payload, size_t len,
                                 const char *tag, jugFanoutReport *report);

/* 1 if a Redis error reply is a transient refusal worth retrying. */
int jugFanoutTransient(const char *error);

/* Write a short, escaped prefix of payload into out for log lines. */
void jugFanoutPreview(char *out, size_t outlen, const char *payload, size_t len);

#endif
