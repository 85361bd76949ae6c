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
/* enum jugScript: JUG_SCRIPT_<NAME> for each common/lua/<name>.lua of
 * Makefile.am's LUA_SCRIPT_LIST, each with its ARGV contract (generated). */
#include "jug_lua.h"

/* What a Redis error means for the one who asked, from its error code. */
typedef enum {
    JUG_REDIS_ERR_NONE = 0,     /* no error */
    JUG_REDIS_ERR_OTHER,        /* any other error: a bug or bad input, not a state of Redis */
    JUG_REDIS_ERR_CONNECTION,   /* no answer: cannot connect, connection lost, timeout */
    JUG_REDIS_ERR_LOADING,      /* LOADING: Redis is loading its data after a start */
    JUG_REDIS_ERR_BUSY,         /* BUSY: a script runs past lua-time-limit */
    JUG_REDIS_ERR_OOM,          /* OOM: maxmemory reached and nothing may be evicted */
    JUG_REDIS_ERR_READONLY,     /* READONLY: the address is a replica */
    JUG_REDIS_ERR_MASTERDOWN,   /* MASTERDOWN: a replica that lost its master serves nothing */
    JUG_REDIS_ERR_AUTH,         /* NOAUTH, WRONGPASS, NOPERM: password missing or wrong */
    JUG_REDIS_ERR_MISCONF,      /* MISCONF: Redis refuses writes it cannot persist */
    JUG_REDIS_ERR_NOREPLICAS,   /* NOREPLICAS: fewer replicas than min-replicas-to-write */
    JUG_REDIS_ERR_CLUSTER       /* TRYAGAIN, CLUSTERDOWN: a cluster reconfigures */
} jugRedisErrorKind;

/* The kind of an error reply's text ("LOADING Redis is loading ...", also
 * as Redis < 7 wraps it when raised inside a script); a NULL text is
 * JUG_REDIS_ERR_CONNECTION. Errors of the project's scripts (NOSESSION,
 * NOTLEADER, ...) are OTHER: callers test for those first. */
jugRedisErrorKind jugRedisErrorKindOf(const char *text);

/* 1 if the kind is a state of Redis that passes (or that an operator
 * fixes) without any change to the request: answer 503 and retry later. */
int jugRedisErrorTransient(jugRedisErrorKind kind);

/* What the kind means, for log lines: "is loading its data", ... */
const char *jugRedisErrorMeaning(jugRedisErrorKind kind);

/* ---- episodes ----
 * While Redis is unusable every request fails the same way; a log line per
 * request would flood the log. One process-wide record (thread-safe) turns
 * failures into episodes: the caller logs when one starts (or the kind
 * changes), a count at most every JUG_REDIS_EPISODE_LOG_S seconds while it
 * lasts, and once when Redis answers again. */
#define JUG_REDIS_EPISODE_LOG_S 10

typedef enum {
    JUG_EPISODE_QUIET = 0,   /* nothing to log */
    JUG_EPISODE_STARTED,     /* log: Redis became unusable (this kind) */
    JUG_EPISODE_ONGOING,     /* log: still unusable; count failures since the last line */
    JUG_EPISODE_ENDED        /* log: usable again after count failures of that kind */
} jugRedisEpisodeEvent;

/* Note one failure of a transient kind; *count is set for STARTED (1) and
 * ONGOING (failures since the last line). */
jugRedisEpisodeEvent jugRedisEpisodeFail(jugRedisErrorKind kind, long *count);

/* Note a success; ENDED (with the episode's kind and total failures) if
 * it ends one. Costs one atomic load when there is none. */
jugRedisEpisodeEvent jugRedisEpisodeOk(jugRedisErrorKind *kind, long *count);

/* Connect with a timeout in milliseconds (also used for replies; 0 = none).
 * Returns a context, or NULL with the reason in err: the error reply itself
 * when AUTH or SELECT is refused, so jugRedisErrorKindOf(err) tells why. */
redisContext *jugRedisConnect(const jugRedisAddress *addr, int timeout_ms, char *err, size_t errlen);

/* Run a script: argv[0..argc) are its arguments after numkeys (numkeys keys
 * first, then ARGV). Returns the reply (free with freeReplyObject) or NULL
 * when the connection failed (c->err says why; reconnect). A script error
 * comes back as a REDIS_REPLY_ERROR reply. */
redisReply *jugRedisScript(redisContext *c, jugScript script, int numkeys, int argc,
                           const char **argv, const size_t *argvlen);

/* Pipelining: append the script's EVALSHA to c's output buffer, to be sent
 * with the next reply read (redisGetReply). 0, or -1 (out of memory). A
 * reply for which jugRedisNoScript is true must be run again with
 * jugRedisScript, which loads the script. */
int jugRedisScriptAppend(redisContext *c, jugScript script, int numkeys, int argc, const char **argv,
                         const size_t *argvlen);

/* 1 if r is Redis's "NOSCRIPT" error: the script is not loaded. */
int jugRedisNoScript(const redisReply *r);

/* Lua source and SHA1 hex of a script (for tests and diagnostics). */
const char *jugScriptSource(jugScript script);
const char *jugScriptSha(jugScript script);

#endif
