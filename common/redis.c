/* redis.c -- connecting to Redis, running the Lua scripts, and what its
 * errors mean (see redis.h). */
#include "autoconfig.h"
#include "redis.h"
#include "redis_scripts.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

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
        snprintf(err, errlen, "%s (answer to %s)", r->str, what);
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

/* EVALSHA, or EVAL with the source in place of the SHA: sent and its reply
 * read (reply != NULL), or only appended to the output buffer (reply ==
 * NULL, pipelining). 0, or -1 when the connection failed or memory ran out. */
static int evalScript(redisContext *c, const char *command, const char *body, int numkeys, int argc,
                      const char **argv, const size_t *argvlen, redisReply **reply) {
    enum { STACK_ARGS = 32 };
    const char *stackv[STACK_ARGS];
    size_t stacklen[STACK_ARGS];
    int total = argc + 3, rc = -1;
    const char **v = total <= STACK_ARGS ? stackv : malloc(sizeof(char *) * (size_t)total);
    size_t *vlen = total <= STACK_ARGS ? stacklen : malloc(sizeof(size_t) * (size_t)total);
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
    if (reply) {
        *reply = redisCommandArgv(c, total, v, vlen);
        rc = *reply ? 0 : -1;
    } else {
        rc = redisAppendCommandArgv(c, total, v, vlen) == REDIS_OK ? 0 : -1;
    }
done:
    if (v != stackv) free(v);
    if (vlen != stacklen) free(vlen);
    return rc;
}

redisReply *jugRedisScript(redisContext *c, jugScript script, int numkeys, int argc,
                           const char **argv, const size_t *argvlen) {
    const jugScriptText *text = &jugScriptTexts[script];
    redisReply *r = NULL;
    evalScript(c, "EVALSHA", text->sha, numkeys, argc, argv, argvlen, &r);
    /* Redis forgets scripts on restart or SCRIPT FLUSH: send the source once. */
    if (jugRedisNoScript(r)) {
        freeReplyObject(r);
        r = NULL;
        evalScript(c, "EVAL", text->source, numkeys, argc, argv, argvlen, &r);
    }
    return r;
}

int jugRedisScriptAppend(redisContext *c, jugScript script, int numkeys, int argc, const char **argv,
                         const size_t *argvlen) {
    return evalScript(c, "EVALSHA", jugScriptTexts[script].sha, numkeys, argc, argv, argvlen, NULL);
}

int jugRedisNoScript(const redisReply *r) {
    return r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8);
}

/* ---- what errors mean ---- */

jugRedisErrorKind jugRedisErrorKindOf(const char *text) {
    static const struct {
        const char *code;
        jugRedisErrorKind kind;
    } codes[] = {
        {"LOADING", JUG_REDIS_ERR_LOADING},       {"BUSY", JUG_REDIS_ERR_BUSY},
        {"OOM", JUG_REDIS_ERR_OOM},               {"READONLY", JUG_REDIS_ERR_READONLY},
        {"MASTERDOWN", JUG_REDIS_ERR_MASTERDOWN}, {"NOAUTH", JUG_REDIS_ERR_AUTH},
        {"WRONGPASS", JUG_REDIS_ERR_AUTH},        {"NOPERM", JUG_REDIS_ERR_AUTH},
        {"MISCONF", JUG_REDIS_ERR_MISCONF},       {"NOREPLICAS", JUG_REDIS_ERR_NOREPLICAS},
        {"TRYAGAIN", JUG_REDIS_ERR_CLUSTER},      {"CLUSTERDOWN", JUG_REDIS_ERR_CLUSTER},
    };
    static const char wrapped[] = "ERR Error running script";
    /* Before AUTH, Redis refuses long commands this way (and hangs up). */
    static const char unauthenticated[] = "ERR Protocol error: unauthenticated";
    if (!text) return JUG_REDIS_ERR_CONNECTION;
    if (!strncmp(text, unauthenticated, sizeof(unauthenticated) - 1)) return JUG_REDIS_ERR_AUTH;
    /* The code is the reply's first word; Redis < 7 puts an error raised
     * inside a script after a '-' in an ERR of its own. */
    const char *code = text;
    if (!strncmp(text, wrapped, sizeof(wrapped) - 1)) {
        const char *dash = strstr(text, ": -");
        if (!dash) return JUG_REDIS_ERR_OTHER;
        code = dash + 3;
    }
    size_t n = strcspn(code, " ");
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strlen(codes[i].code) == n && !strncmp(code, codes[i].code, n)) return codes[i].kind;
    return JUG_REDIS_ERR_OTHER;
}

int jugRedisErrorTransient(jugRedisErrorKind kind) {
    return kind != JUG_REDIS_ERR_NONE && kind != JUG_REDIS_ERR_OTHER;
}

const char *jugRedisErrorMeaning(jugRedisErrorKind kind) {
    switch (kind) {
    case JUG_REDIS_ERR_NONE: return "answers";
    case JUG_REDIS_ERR_OTHER: return "answered an error";
    case JUG_REDIS_ERR_CONNECTION: return "is unreachable";
    case JUG_REDIS_ERR_LOADING: return "is loading its data (LOADING)";
    case JUG_REDIS_ERR_BUSY: return "is busy running a script (BUSY)";
    case JUG_REDIS_ERR_OOM: return "is out of memory: maxmemory reached, nothing evictable (OOM)";
    case JUG_REDIS_ERR_READONLY: return "is a read-only replica (READONLY)";
    case JUG_REDIS_ERR_MASTERDOWN: return "is a replica that lost its master (MASTERDOWN)";
    case JUG_REDIS_ERR_AUTH: return "refuses our credentials (NOAUTH/WRONGPASS/NOPERM)";
    case JUG_REDIS_ERR_MISCONF: return "cannot persist and refuses writes (MISCONF)";
    case JUG_REDIS_ERR_NOREPLICAS: return "has too few replicas to accept writes (NOREPLICAS)";
    case JUG_REDIS_ERR_CLUSTER: return "is a cluster that reconfigures (TRYAGAIN/CLUSTERDOWN)";
    }
    return "failed";
}

/* ---- episodes ---- */

static pthread_mutex_t episodeLock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int episodeKind;       /* jugRedisErrorKind of the open episode, or NONE */
static time_t episodeLastLog;        /* when its last line was logged */
static long episodeSinceLog, episodeTotal;

jugRedisEpisodeEvent jugRedisEpisodeFail(jugRedisErrorKind kind, long *count) {
    jugRedisEpisodeEvent ev = JUG_EPISODE_QUIET;
    time_t now = time(NULL);
    pthread_mutex_lock(&episodeLock);
    if (atomic_load(&episodeKind) != (int)kind) {
        atomic_store(&episodeKind, (int)kind);
        episodeLastLog = now;
        episodeSinceLog = 0;
        episodeTotal = 1;
        *count = 1;
        ev = JUG_EPISODE_STARTED;
    } else {
        episodeTotal++;
        episodeSinceLog++;
        /* A wall clock set back must not silence the episode. */
        if (now - episodeLastLog >= JUG_REDIS_EPISODE_LOG_S || now < episodeLastLog) {
            *count = episodeSinceLog;
            episodeSinceLog = 0;
            episodeLastLog = now;
            ev = JUG_EPISODE_ONGOING;
        }
    }
    pthread_mutex_unlock(&episodeLock);
    return ev;
}

jugRedisEpisodeEvent jugRedisEpisodeOk(jugRedisErrorKind *kind, long *count) {
    jugRedisEpisodeEvent ev = JUG_EPISODE_QUIET;
    if (atomic_load(&episodeKind) == JUG_REDIS_ERR_NONE) return ev;
    pthread_mutex_lock(&episodeLock);
    if (atomic_load(&episodeKind) != JUG_REDIS_ERR_NONE) {
        *kind = (jugRedisErrorKind)atomic_load(&episodeKind);
        *count = episodeTotal;
        atomic_store(&episodeKind, JUG_REDIS_ERR_NONE);
        ev = JUG_EPISODE_ENDED;
    }
    pthread_mutex_unlock(&episodeLock);
    return ev;
}
