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
