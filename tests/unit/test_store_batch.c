/* test_store_batch.c -- jugStorePollBatch (fcgi/store.c) against a real
 * redis-server: many polls in one pipelined round trip come back each with
 * its own answer, also when Redis has forgotten the script (SCRIPT FLUSH:
 * every poll of the batch gets NOSCRIPT and must run again once the batch
 * is read) and when Redis closed the connection before the batch. Skipped
 * when redis-server is not installed. */
#include "autoconfig.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "keys.h"
#include "store.h"
#include "tap.h"

#define SESSIONS 5
#define START_TIMEOUT_MS 10000

static char dir[] = "/tmp/jug-storebatch-XXXXXX";
static char sock[256];
static pid_t redisPid = -1;

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start redis-server on a unix socket in dir; 0, or -1 if it is missing. */
static int startRedis(void) {
    char logpath[300];
    snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
    snprintf(logpath, sizeof(logpath), "%s/redis.log", dir);
    redisPid = fork();
    if (redisPid < 0) return -1;
    if (redisPid == 0) {
        /* It goes with this test, also when the test dies. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (!freopen(logpath, "w", stdout) || !freopen(logpath, "a", stderr)) _exit(126);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--save", "",
               "--appendonly", "no", "--dir", dir, (char *)NULL);
        _exit(127);
    }
    /* Bounded wait for the socket to answer. */
    for (long long until = nowMs() + START_TIMEOUT_MS; nowMs() < until;) {
        int status;
        if (waitpid(redisPid, &status, WNOHANG) == redisPid) {
            redisPid = -1;
            return -1;
        }
        redisContext *c = redisConnectUnix(sock);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int up = r && r->type == REDIS_REPLY_STATUS;
            if (r) freeReplyObject(r);
            redisFree(c);
            if (up) return 0;
        } else if (c) {
            redisFree(c);
        }
        usleep(20000);
    }
    return -1;
}

static void stopRedis(void) {
    if (redisPid > 0) {
        kill(redisPid, SIGTERM);
        waitpid(redisPid, NULL, 0);
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "# could not remove %s\n", dir);
}

/* A command on the test's own connection (not the store's). */
static int admin(redisContext *c, const char *fmt, const char *arg1, const char *arg2) {
    redisReply *r = redisCommand(c, fmt, arg1, arg2);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    return ok;
}

/* One batch of every session plus an unknown one: each answer is its own. */
static void checkBatch(jugStore *store, char sids[][JUG_SID_LEN + 1], const char *what) {
    const char *list[SESSIONS + 1];
    jugPollArgs args[SESSIONS + 1];
    jugStoreStatus st[SESSIONS + 1];
    jugPollResult out[SESSIONS + 1];
    for (int i = 0; i < SESSIONS; i++) {
        list[i] = sids[i];
        args[i] = (jugPollArgs){0, 0, 10, NULL, 0, 0, 0, 0};
    }
    list[SESSIONS] = "AAAAAAAAAAAAAAAAAAAAAA";
    args[SESSIONS] = args[0];
    jugStorePollBatch(store, SESSIONS + 1, list, args, st, out);
    for (int i = 0; i < SESSIONS; i++) {
        TAP_OK(st[i] == JUG_STORE_OK, "%s: poll %d answered%s%s", what, i, st[i] ? ": " : "",
               st[i] ? store->err : "");
        TAP_OK(out[i].d.count == 1 && out[i].d.ids[0] == 100 + i, "%s: poll %d got its own delivery (id %lld)",
               what, i, out[i].d.count ? out[i].d.ids[0] : -1);
        jugPollResultFree(&out[i]);
    }
    TAP_OK(st[SESSIONS] == JUG_STORE_NO_SESSION, "%s: the unknown session is told so", what);
    jugPollResultFree(&out[SESSIONS]);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);   /* as in the worker: a closed connection is an error, not a signal */
    if (!mkdtemp(dir)) {
        printf("1..0 # SKIP no temporary directory: %s\n", strerror(errno));
        return 0;
    }
    if (startRedis() < 0) {
        stopRedis();
        printf("1..0 # SKIP redis-server is not installed or did not start\n");
        return 0;
    }
    jugConfig cfg;
    char err[256];
    jugConfigDefaults(&cfg);
    err[0] = '\0';
    TAP_OK(jugConfigSet(&cfg, "redis_url", sock, err, sizeof(err)) == 0, "redis_url %s %s", sock, err);
    jugStore store;
    jugStoreInit(&store, &cfg);

    redisContext *c = redisConnectUnix(sock);
    TAP_OK(c && !c->err, "the test's own connection");
    char sids[SESSIONS][JUG_SID_LEN + 1];
    for (int i = 0; i < SESSIONS; i++) {
        const char *channels[] = {"batch"};
        TAP_OK(jugStoreConnect(&store, "null", channels, 1, sids[i], NULL) == JUG_STORE_OK, "session %d", i);
        char key[JUG_KEY_MAX], item[64];
        jugKeyQueue(key, sizeof(key), cfg.key_prefix, sids[i]);
        snprintf(item, sizeof(item), "{\"id\":%d,\"channel\":\"batch\",\"data\":%d}", 100 + i, i);
        TAP_OK(admin(c, "RPUSH %s %s", key, item), "a delivery queued for session %d", i);
    }

    checkBatch(&store, sids, "first use (poll script not loaded yet)");
    checkBatch(&store, sids, "script loaded");
    TAP_OK(admin(c, "SCRIPT FLUSH", NULL, NULL), "SCRIPT FLUSH");
    checkBatch(&store, sids, "after SCRIPT FLUSH");
    /* Every other client's connection closed: the store's is stale now. */
    TAP_OK(admin(c, "CLIENT KILL TYPE normal", NULL, NULL), "CLIENT KILL TYPE normal");
    checkBatch(&store, sids, "after Redis closed the connection");
    redisFree(c);

    jugStoreClose(&store);
    stopRedis();
    return tapDone();
}
