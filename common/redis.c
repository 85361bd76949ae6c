/* redis.c -- connecting to Redis and running the Lua scripts (see redis.h). */
#include "autoconfig.h"
#include "redis.h"
#include "redis_scripts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static redisContext *connectRaw(const jugRedisAddress *addr, int timeout_ms) {
    if (timeout_ms <= 0) {
        return addr->unix_path[0] ? redisConnectUnix(addr->unix_path)
                                  : redisConnect(addr->host, addr->port);
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = addr->unix_path[0] ? redisConnectUnixWithTimeout(addr->unix_path, tv)
                                         : redisConnectWithTimeout(addr->host, addr->port, tv);
    if (c && !c->err) redisSetTimeout(c, tv);
    return c;
}

/* Run one setup command; 0 if it answered OK. */
static int setupCommand(redisContext *c, char *err, size_t errlen, const char *what,
                        int argc, const char **argv) {
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (!r) {
        snprintf(err, errlen, "%s: %s", what, c->errstr);
        return -1;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%s: %s", what, r->str);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

redisContext *jugRedisConnect(const jugRedisAddress *addr, int timeout_ms, char *err, size_t errlen) {
    redisContext *c = connectRaw(addr, timeout_ms);
    if (!c) {
        snprintf(err, errlen, "cannot allocate a Redis context");
        return NULL;
    }
    if (c->err) {
        if (addr->unix_path[0]) snprintf(err, errlen, "Redis at %s: %s", addr->unix_path, c->errstr);
        else snprintf(err, errlen, "Redis at %s:%d: %s", addr->host, addr->port, c->errstr);
        redisFree(c);
        return NULL;
    }
    if (addr->password[0]) {
        const char *argv[] = {"AUTH", addr->password};
        if (setupCommand(c, err, errlen, "AUTH", 2, argv) < 0) goto fail;
    }
    if (addr->db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", addr->db);
        const char *argv[] = {"SELECT", db};
        if (setupCommand(c, err, errlen, "SELECT", 2, argv) < 0) goto fail;
    }
    return c;
fail:
    redisFree(c);
    return NULL;
}

const char *jugScriptSource(jugScript script) {
    return jugScriptTexts[script].source;
}

const char *jugScriptSha(jugScript script) {
    return jugScriptTexts[script].sha;
}

/* EVALSHA, or EVAL with the source in place of the SHA. */
static redisReply *evalScript(redisContext *c, const char *command, const char *body, int numkeys,
                              int argc, const char **argv, const size_t *argvlen) {
    enum { STACK_ARGS = 32 };
    const char *stackv[STACK_ARGS];
    size_t stacklen[STACK_ARGS];
    int total = argc + 3;
    const char **v = total <= STACK_ARGS ? stackv : malloc(sizeof(char *) * (size_t)total);
    size_t *vlen = total <= STACK_ARGS ? stacklen : malloc(sizeof(size_t) * (size_t)total);
    redisReply *reply = NULL;
    if (!v || !vlen) goto done;
    char nk[16];
    snprintf(nk, sizeof(nk), "%d", numkeys);
    v[0] = command;
    vlen[0] = strlen(command);
    v[1] = body;
    vlen[1] = strlen(body);
    v[2] = nk;
    vlen[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        v[i + 3] = argv[i];
        vlen[i + 3] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    reply = redisCommandArgv(c, total, v, vlen);
done:
    if (v != stackv) free(v);
    if (vlen != stacklen) free(vlen);
    return reply;
}

redisReply *jugRedisScript(redisContext *c, jugScript script, int numkeys, int argc,
                           const char **argv, const size_t *argvlen) {
    const jugScriptText *text = &jugScriptTexts[script];
    redisReply *r = evalScript(c, "EVALSHA", text->sha, numkeys, argc, argv, argvlen);
    /* Redis forgets scripts on restart or SCRIPT FLUSH: send the source once. */
    if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
        freeReplyObject(r);
        r = evalScript(c, "EVAL", text->source, numkeys, argc, argv, argvlen);
    }
    return r;
}
