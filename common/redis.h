/* redis.h -- connecting to Redis and running the project's Lua scripts.
 *
 * Both programs connect with jugRedisConnect() (TCP or unix socket from the
 * configured URL, AUTH and SELECT included) and run scripts with
 * jugRedisScript(), which sends EVALSHA and falls back to EVAL when Redis
 * answers NOSCRIPT -- so a Redis restart (which forgets loaded scripts) is
 * invisible to callers. */
#ifndef JUG_REDIS_H
#define JUG_REDIS_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include "config.h"

typedef enum {
    JUG_SCRIPT_FANOUT = 0,   /* poller: deliver one message to all subscribers */
    JUG_SCRIPT_REAP,         /* poller: expire sessions, publish unsubscribes */
    JUG_SCRIPT_LEASE,        /* poller: take or renew the active lease */
    JUG_SCRIPT_CONNECT,      /* worker: create a session */
    JUG_SCRIPT_SUBSCRIBE,    /* worker: subscribe a session to channels */
    JUG_SCRIPT_UNSUBSCRIBE,  /* worker: unsubscribe a session from channels */
    JUG_SCRIPT_META,         /* worker: set a session's meta */
    JUG_SCRIPT_EVENT,        /* worker: publish a custom event */
    JUG_SCRIPT_POLL,         /* worker: acknowledge, drain inbox, return pending */
    JUG_SCRIPT_DISCONNECT,   /* worker: end a session now */
    JUG_SCRIPT_TOUCH,        /* worker: mark the sessions of held streams alive */
    JUG_SCRIPT_COUNT
} jugScript;

/* Connect with a timeout in milliseconds (also used for replies; 0 = none).
 * Returns a context, or NULL with the reason in err. */
redisContext *jugRedisConnect(const jugRedisAddress *addr, int timeout_ms, char *err, size_t errlen);

/* Run a script: argv[0..argc) are its arguments after numkeys (numkeys keys
 * first, then ARGV). Returns the reply (free with freeReplyObject) or NULL
 * when the connection failed (c->err says why; reconnect). A script error
 * comes back as a REDIS_REPLY_ERROR reply. */
redisReply *jugRedisScript(redisContext *c, jugScript script, int numkeys, int argc,
                           const char **argv, const size_t *argvlen);

/* Lua source and SHA1 hex of a script (for tests and diagnostics). */
const char *jugScriptSource(jugScript script);
const char *jugScriptSha(jugScript script);

#endif
