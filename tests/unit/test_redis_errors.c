/* test_redis_errors.c -- unit tests of common/redis.c's reading of Redis
 * errors: which kind each error reply is, which kinds pass (503), and the
 * episodes that keep a failing Redis to a few log lines. */
#include "autoconfig.h"
#include "redis.h"
#include "tap.h"

typedef struct kindCase {
    int line;
    const char *text;
    jugRedisErrorKind want;
} kindCase;

static const kindCase kinds[] = {
    {__LINE__, NULL, JUG_REDIS_ERR_CONNECTION},
    {__LINE__, "LOADING Redis is loading the dataset in memory", JUG_REDIS_ERR_LOADING},
    {__LINE__, "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
     JUG_REDIS_ERR_BUSY},
    {__LINE__, "OOM command not allowed when used memory > 'maxmemory'. script: 0a9f, on @user_script:1.",
     JUG_REDIS_ERR_OOM},
    {__LINE__, "READONLY You can't write against a read only replica.", JUG_REDIS_ERR_READONLY},
    {__LINE__, "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
     JUG_REDIS_ERR_MASTERDOWN},
    {__LINE__, "NOAUTH Authentication required.", JUG_REDIS_ERR_AUTH},
    {__LINE__, "WRONGPASS invalid username-password pair or user is disabled. (answer to AUTH)",
     JUG_REDIS_ERR_AUTH},
    {__LINE__, "NOPERM this user has no permissions to run the 'evalsha' command", JUG_REDIS_ERR_AUTH},
    {__LINE__, "ERR Protocol error: unauthenticated multibulk length", JUG_REDIS_ERR_AUTH},
    {__LINE__, "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist",
     JUG_REDIS_ERR_MISCONF},
    {__LINE__, "NOREPLICAS Not enough good replicas to write.", JUG_REDIS_ERR_NOREPLICAS},
    {__LINE__, "TRYAGAIN Multiple keys request during rehashing of slot", JUG_REDIS_ERR_CLUSTER},
    {__LINE__, "CLUSTERDOWN The cluster is down", JUG_REDIS_ERR_CLUSTER},
    /* Redis < 7 wraps what a script's redis.call() raised. */
    {__LINE__, "ERR Error running script (call to f_0a9f): @user_script:1: @user_script: 1: -OOM command "
               "not allowed when used memory > 'maxmemory'.", JUG_REDIS_ERR_OOM},
    {__LINE__, "ERR Error running script (call to f_0a9f): @user_script:9: bad argument", JUG_REDIS_ERR_OTHER},
    /* Not states of Redis: our scripts' own errors and plain mistakes. */
    {__LINE__, "NOSESSION unknown or expired session", JUG_REDIS_ERR_OTHER},
    {__LINE__, "NOTLEADER another poller holds the lease", JUG_REDIS_ERR_OTHER},
    {__LINE__, "ERR wrong number of arguments for 'evalsha' command", JUG_REDIS_ERR_OTHER},
    {__LINE__, "WRONGTYPE Operation against a key holding the wrong kind of value", JUG_REDIS_ERR_OTHER},
    {__LINE__, "LOADINGX not a code we know", JUG_REDIS_ERR_OTHER},
    {__LINE__, "", JUG_REDIS_ERR_OTHER},
};

static void testKinds(void) {
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        jugRedisErrorKind got = jugRedisErrorKindOf(kinds[i].text);
        TAP_OK(got == kinds[i].want, "line %d: %s (%s)", kinds[i].line, jugRedisErrorMeaning(got),
               kinds[i].text ? kinds[i].text : "no reply");
        TAP_OK(jugRedisErrorTransient(got) == (got != JUG_REDIS_ERR_OTHER),
               "line %d: 503 exactly for states of Redis", kinds[i].line);
    }
    TAP_OK(!jugRedisErrorTransient(JUG_REDIS_ERR_NONE), "no error is not a failure");
}

static void testEpisodes(void) {
    jugRedisErrorKind kind = JUG_REDIS_ERR_NONE;
    long count = -1;
    TAP_OK(jugRedisEpisodeOk(&kind, &count) == JUG_EPISODE_QUIET, "success without an episode: quiet");
    TAP_OK(jugRedisEpisodeFail(JUG_REDIS_ERR_LOADING, &count) == JUG_EPISODE_STARTED && count == 1,
           "the first failure starts an episode");
    int quiet = 1;
    for (int i = 0; i < 100; i++) quiet = quiet && jugRedisEpisodeFail(JUG_REDIS_ERR_LOADING, &count) == JUG_EPISODE_QUIET;
    TAP_OK(quiet, "100 more failures at once: no line");
    TAP_OK(jugRedisEpisodeFail(JUG_REDIS_ERR_OOM, &count) == JUG_EPISODE_STARTED,
           "another kind starts a new episode");
    jugRedisEpisodeFail(JUG_REDIS_ERR_OOM, &count);
    TAP_OK(jugRedisEpisodeOk(&kind, &count) == JUG_EPISODE_ENDED && kind == JUG_REDIS_ERR_OOM && count == 2,
           "a success ends it, with its kind and its failures");
    TAP_OK(jugRedisEpisodeOk(&kind, &count) == JUG_EPISODE_QUIET, "and the next success is quiet");
}

int main(void) {
    testKinds();
    testEpisodes();
    return tapDone();
}
