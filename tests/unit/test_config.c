/* test_config.c -- unit tests of common/config.c: defaults, the file reader's
 * error messages, Redis URL forms, environment overrides and cross checks. */
#include "autoconfig.h"
#include "config.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/jug-test-config-XXXXXX";

/* Write text to a fresh file in the test directory; returns its path. */
static const char *writeConf(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

static void testDefaults(void) {
    jugConfig cfg;
    jugConfigDefaults(&cfg);
    TAP_STR_EQ(cfg.redis.host, "127.0.0.1", "default redis host");
    TAP_OK(cfg.redis.port == 6379 && cfg.redis.db == 0 && !cfg.redis.unix_path[0],
           "default redis port 6379, db 0, TCP");
    TAP_STR_EQ(cfg.key_prefix, "jug:", "default key_prefix");
    TAP_STR_EQ(cfg.channel, "juggernaut", "default channel");
    TAP_OK(cfg.session_ttl == 60 && cfg.poll_timeout == 25, "default session_ttl 60, poll_timeout 25");
    TAP_OK(cfg.keepalive_interval == 15 && cfg.stream_max_duration == 300, "default stream timings");
    TAP_OK(cfg.max_message_size == 65536 && cfg.max_request_size == 65536 && cfg.max_meta_size == 4096,
           "default size limits");
    TAP_OK(cfg.max_queue == 1000 && cfg.max_channels_per_message == 100 &&
           cfg.max_channels_per_session == 100, "default count limits");
    TAP_OK(cfg.threads == 16 && cfg.poller_lease_ms == 5000, "default threads and lease");
    TAP_OK(cfg.transport_count == 0 && cfg.max_held == -1 && cfg.max_held_per_process == 10000,
           "default transports auto, max_held auto (-1), max_held_per_process 10000");
    TAP_OK(cfg.status_allow_count == 0 && !cfg.status_token[0], "status endpoint off by default");
    TAP_STR_EQ(cfg.log, "stderr", "default log target");
    TAP_STR_EQ(cfg.log_level, "info", "default log level");
    TAP_OK(cfg.cors_origin_count == 0 && !cfg.jugglite_namespace[0] && !cfg.demo_publish,
           "no CORS, no Jugglite, no demo publish by default");
}

/* The example "make" writes from conf/juggernaut.conf.in, the one "make
 * install" installs, must load and agree with the built-in defaults. */
static void testExampleFile(void) {
    const char *build = getenv("JUG_BUILDDIR");
    char path[512], err[JUG_CONFIG_ERRLEN] = "";
    snprintf(path, sizeof(path), "%s/conf/juggernaut.conf", build ? build : ".");
    if (access(path, R_OK) != 0) {
        TAP_OK(1, "# SKIP conf/juggernaut.conf not built (JUG_BUILDDIR unset)");
        return;
    }
    jugConfig cfg, def;
    jugConfigDefaults(&cfg);
    jugConfigDefaults(&def);
    TAP_OK(jugConfigLoadFile(&cfg, path, err, sizeof(err)) == 0, "conf/juggernaut.conf loads (%s)", err);
    TAP_OK(!memcmp(&cfg, &def, sizeof(cfg)), "conf/juggernaut.conf equals the built-in defaults");
}

static void testGoodFile(void) {
    const char *path = writeConf("good.conf",
        "# comment line\n"
        "\n"
        "   redis_url   redis://:s3cret@redis.example:7000/3   # trailing comment\n"
        "key_prefix app1:\n"
        "channel /pub/sub\n"
        "session_ttl 90\n"
        "poll_timeout 30\n"
        "max_message_size 1024\n"
        "log syslog\n"
        "log_level debug\n"
        "cors_origins https://a.example http://b.example:8080\n"
        "jugglite_namespace jl/\n"
        "demo_publish on\n"
        "cors_origins\n"
        "cors_origins https://c.example\n");
    jugConfig cfg;
    char err[JUG_CONFIG_ERRLEN] = "";
    jugConfigDefaults(&cfg);
    TAP_OK(jugConfigLoadFile(&cfg, path, err, sizeof(err)) == 0, "good file loads (%s)", err);
    TAP_STR_EQ(cfg.redis.host, "redis.example", "host from URL");
    TAP_OK(cfg.redis.port == 7000 && cfg.redis.db == 3, "port and db from URL");
    TAP_STR_EQ(cfg.redis.password, "s3cret", "password from URL");
    TAP_STR_EQ(cfg.key_prefix, "app1:", "key_prefix set");
    TAP_STR_EQ(cfg.channel, "/pub/sub", "channel set");
    TAP_OK(cfg.session_ttl == 90 && cfg.poll_timeout == 30 && cfg.max_message_size == 1024,
           "numbers set");
    TAP_STR_EQ(cfg.log, "syslog", "log target set");
    TAP_STR_EQ(cfg.log_level, "debug", "log level set");
    TAP_OK(cfg.cors_origin_count == 1, "a later cors_origins line replaces the list");
    TAP_OK(jugConfigOriginAllowed(&cfg, "https://c.example") &&
           !jugConfigOriginAllowed(&cfg, "https://a.example") &&
           !jugConfigOriginAllowed(&cfg, "https://c.example.evil"), "origin check is exact");
    TAP_STR_EQ(cfg.jugglite_namespace, "jl/", "jugglite_namespace set");
    TAP_OK(cfg.demo_publish == 1, "demo_publish on");
}

/* Each kind of bad line names file, line and key. */
static void testBadLines(void) {
    static const struct { const char *line, *key, *reason; } bad[] = {
        {"no_such_key 1", "no_such_key", "unknown setting"},
        {"session_ttl sixty", "session_ttl", "not a whole number"},
        {"session_ttl 60s", "session_ttl", "not a whole number"},
        {"session_ttl", "session_ttl", "not a whole number"},
        {"poll_timeout 0", "poll_timeout", "out of range"},
        {"max_queue 99999999999999999999", "max_queue", "not a whole number"},
        {"max_message_size 10", "max_message_size", "out of range"},
        {"log file", "log", "not stderr, syslog or an absolute file path"},
        {"transports", "transports", "needs auto"},
        {"transports sse,carrier-pigeon", "transports", "'carrier-pigeon' is not auto"},
        {"transports sse auto", "transports", "'auto' is not"},
        {"transports sse longpoll sse", "transports", "listed twice"},
        {"transports sse multipart htmlfile longpoll jsonp sse", "transports", "more than 5"},
        {"max_held lots", "max_held", "not auto or a whole number"},
        {"max_held -1", "max_held", "out of range"},
        {"max_held_per_process 0", "max_held_per_process", "out of range"},
        {"status_allow localhost", "status_allow", "not an IP address"},
        {"status_allow 10.0.0.0/33", "status_allow", "not an IP address"},
        {"status_token short", "status_token", "shorter than 16 bytes"},
        {"log_level loud", "log_level", "not error, warning, info or debug"},
        {"redis_url http://x", "redis_url", "is not redis://"},
        {"redis_url redis://:6379", "redis_url", "host"},
        {"redis_url redis://h:99999", "redis_url", "out of range"},
        {"redis_url redis://h:6379/x", "redis_url", "not a whole number"},
        {"redis_url unix://relative.sock", "redis_url", "absolute"},
        {"redis_url /tmp/r.sock?dbx=1", "redis_url", "?db=N"},
        {"cors_origins *", "cors_origins", "'*' is not allowed"},
        {"cors_origins https://a.example *", "cors_origins", "'*' is not allowed"},
        {"cors_origins example.com", "cors_origins", "is not an origin"},
        {"channel has space", "channel", "space"},
        {"channel bad,name", "channel", "may only use"},
        {"key_prefix", "key_prefix", "needs a value"},
        {"demo_publish maybe", "demo_publish", "not on/off"},
        {"threads -1", "threads", "out of range"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256], want[600], err[JUG_CONFIG_ERRLEN] = "";
        snprintf(text, sizeof(text), "# line 1\nsession_ttl 60\n%s\nchannel after\n", bad[i].line);
        const char *path = writeConf("bad.conf", text);
        jugConfig cfg;
        jugConfigDefaults(&cfg);
        int rc = jugConfigLoadFile(&cfg, path, err, sizeof(err));
        snprintf(want, sizeof(want), "%s:3: %s: ", path, bad[i].key);
        TAP_OK(rc == -1 && !strncmp(err, want, strlen(want)) && strstr(err, bad[i].reason),
               "'%s' refused as %s...%s (got: %s)", bad[i].line, want, bad[i].reason, err);
        TAP_STR_EQ(cfg.channel, "juggernaut", "reading stopped at the bad line of '%s'", bad[i].line);
    }

    char big[5000], err[JUG_CONFIG_ERRLEN] = "";
    memset(big, 'x', sizeof(big) - 2);
    memcpy(big, "channel ", 8);
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    const char *path = writeConf("long.conf", big);
    jugConfig cfg;
    jugConfigDefaults(&cfg);
    TAP_OK(jugConfigLoadFile(&cfg, path, err, sizeof(err)) == -1 && strstr(err, ":1: line longer"),
           "over-long line refused with its line number (%s)", err);
    TAP_OK(jugConfigLoadFile(&cfg, "/nonexistent/j.conf", err, sizeof(err)) == -1 &&
           strstr(err, "/nonexistent/j.conf: cannot open"), "missing file named in the error");
}

/* The settings added for held requests, transports and the status endpoint. */
static void testNewSettings(void) {
    jugConfig cfg;
    char err[JUG_CONFIG_ERRLEN] = "";
    jugConfigDefaults(&cfg);
    TAP_OK(jugConfigSet(&cfg, "transports", "longpoll, jsonp sse", err, sizeof(err)) == 0 &&
           cfg.transport_count == 3 && cfg.transports[0] == JUG_TRANSPORT_LONGPOLL &&
           cfg.transports[1] == JUG_TRANSPORT_JSONP && cfg.transports[2] == JUG_TRANSPORT_SSE,
           "transports keeps the configured order (%s)", err);
    TAP_OK(jugConfigSet(&cfg, "transports", "auto", err, sizeof(err)) == 0 && cfg.transport_count == 0,
           "transports auto: count 0");
    TAP_OK(jugConfigSet(&cfg, "max_held", "0", err, sizeof(err)) == 0 && cfg.max_held == 0,
           "max_held 0: no shared count");
    TAP_OK(jugConfigSet(&cfg, "max_held", "200", err, sizeof(err)) == 0 && cfg.max_held == 200, "max_held 200");
    TAP_OK(jugConfigSet(&cfg, "max_held", "auto", err, sizeof(err)) == 0 && cfg.max_held == -1,
           "max_held auto is -1");
    TAP_OK(jugConfigSet(&cfg, "log", "/var/log/juggernaut.log", err, sizeof(err)) == 0 &&
           !strcmp(cfg.log, "/var/log/juggernaut.log"), "log accepts an absolute file path");
    TAP_OK(jugConfigSet(&cfg, "status_token", "0123456789abcdef", err, sizeof(err)) == 0 &&
           !strcmp(cfg.status_token, "0123456789abcdef"), "a 16-byte status_token is accepted");
    TAP_OK(jugConfigSet(&cfg, "status_token", "", err, sizeof(err)) == 0 && !cfg.status_token[0],
           "an empty status_token turns it off");

    static const struct { int line; const char *allow, *addr; int want; } cases[] = {
        {__LINE__, "127.0.0.1", "127.0.0.1", 1},
        {__LINE__, "127.0.0.1", "127.0.0.2", 0},
        {__LINE__, "10.0.0.0/8 ::1", "10.200.3.4", 1},
        {__LINE__, "10.0.0.0/8 ::1", "11.0.0.1", 0},
        {__LINE__, "10.0.0.0/8 ::1", "::1", 1},
        {__LINE__, "192.168.1.128/25", "192.168.1.200", 1},
        {__LINE__, "192.168.1.128/25", "192.168.1.127", 0},
        {__LINE__, "fd00::/8", "fd12:3456::1", 1},
        {__LINE__, "fd00::/8", "fe80::1", 0},
        {__LINE__, "0.0.0.0/0", "203.0.113.9", 1},
        {__LINE__, "0.0.0.0/0", "::1", 0},          /* families never mix */
        {__LINE__, "127.0.0.1", "", 0},
        {__LINE__, "127.0.0.1", "127.0.0.1/8", 0},  /* a client address is never a range */
        {__LINE__, "127.0.0.1", "localhost", 0},
        {__LINE__, "", "127.0.0.1", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jugConfigDefaults(&cfg);
        int set = jugConfigSet(&cfg, "status_allow", cases[i].allow, err, sizeof(err));
        TAP_OK(set == 0 && jugConfigStatusAllowed(&cfg, cases[i].addr) == cases[i].want,
               "line %d: status_allow '%s' %s '%s' (%s)", cases[i].line, cases[i].allow,
               cases[i].want ? "admits" : "refuses", cases[i].addr, set ? err : "set");
    }
    jugConfigDefaults(&cfg);
    TAP_OK(!jugConfigStatusAllowed(&cfg, NULL), "no REMOTE_ADDR is refused");
}

static void testRedisUrls(void) {
    jugRedisAddress a;
    char err[JUG_CONFIG_ERRLEN];
    TAP_OK(jugRedisAddressParse(&a, "redis://localhost", err, sizeof(err)) == 0 &&
           !strcmp(a.host, "localhost") && a.port == 6379 && a.db == 0 && !a.password[0],
           "redis://host: port 6379, db 0, no password");
    TAP_OK(jugRedisAddressParse(&a, "redis://10.1.2.3:6380", err, sizeof(err)) == 0 &&
           !strcmp(a.host, "10.1.2.3") && a.port == 6380 && a.db == 0, "redis://host:port");
    TAP_OK(jugRedisAddressParse(&a, "redis://h/5", err, sizeof(err)) == 0 && a.port == 6379 && a.db == 5,
           "redis://host/db");
    TAP_OK(jugRedisAddressParse(&a, "redis://h:1/", err, sizeof(err)) == 0 && a.port == 1 && a.db == 0,
           "redis://host:port/ (empty db)");
    TAP_OK(jugRedisAddressParse(&a, "redis://:pw@h:7/2", err, sizeof(err)) == 0 &&
           !strcmp(a.password, "pw") && !strcmp(a.host, "h") && a.port == 7 && a.db == 2,
           "redis://:password@host:port/db");
    TAP_OK(jugRedisAddressParse(&a, "redis://user:p:w@h", err, sizeof(err)) == 0 &&
           !strcmp(a.password, "p:w") && !strcmp(a.host, "h"), "redis://user:password@host");
    TAP_OK(jugRedisAddressParse(&a, "redis://p@ss@h", err, sizeof(err)) == 0 &&
           !strcmp(a.password, "p@ss") && !strcmp(a.host, "h"), "password containing @");
    TAP_OK(jugRedisAddressParse(&a, "/run/redis/redis.sock", err, sizeof(err)) == 0 &&
           !strcmp(a.unix_path, "/run/redis/redis.sock") && !a.host[0] && a.db == 0,
           "bare socket path");
    TAP_OK(jugRedisAddressParse(&a, "unix:///tmp/r.sock?db=2", err, sizeof(err)) == 0 &&
           !strcmp(a.unix_path, "/tmp/r.sock") && a.db == 2, "unix:///path?db=N");
    TAP_OK(jugRedisAddressParse(&a, "/tmp/r.sock?db=3", err, sizeof(err)) == 0 &&
           !strcmp(a.unix_path, "/tmp/r.sock") && a.db == 3, "/path?db=N");

    strcpy(a.host, "kept");
    TAP_OK(jugRedisAddressParse(&a, "tcp://h:1", err, sizeof(err)) == -1 && !strcmp(a.host, "kept"),
           "unknown scheme refused, address unchanged");
    TAP_OK(jugRedisAddressParse(&a, "redis://h:0", err, sizeof(err)) == -1, "port 0 refused");
    TAP_OK(jugRedisAddressParse(&a, "redis://h:", err, sizeof(err)) == -1, "empty port refused");
    TAP_OK(jugRedisAddressParse(&a, "redis://h/1001", err, sizeof(err)) == -1, "db out of range refused");
    TAP_OK(jugRedisAddressParse(&a, "unix://", err, sizeof(err)) == -1, "empty socket path refused");
}

static void testEnvironment(void) {
    char fromEnv[512], explicitPath[512];
    snprintf(fromEnv, sizeof(fromEnv), "%s", writeConf("env.conf", "channel fromenv\n"));
    snprintf(explicitPath, sizeof(explicitPath), "%s", writeConf("explicit.conf", "channel explicit\n"));
    char err[JUG_CONFIG_ERRLEN] = "";
    jugConfig cfg;

    unsetenv("JUGGERNAUT_CONFIG");
    unsetenv("JUGGERNAUT_REDIS_URL");
    TAP_OK(jugConfigLoad(&cfg, NULL, "/nonexistent/juggernaut.conf", err, sizeof(err)) == 0 &&
           !strcmp(cfg.channel, "juggernaut"), "missing default file: built-in defaults (%s)", err);

    setenv("JUGGERNAUT_CONFIG", fromEnv, 1);
    TAP_OK(jugConfigLoad(&cfg, NULL, explicitPath, err, sizeof(err)) == 0 &&
           !strcmp(cfg.channel, "fromenv"), "JUGGERNAUT_CONFIG beats the default path");
    TAP_OK(jugConfigLoad(&cfg, explicitPath, NULL, err, sizeof(err)) == 0 &&
           !strcmp(cfg.channel, "explicit"), "an explicit path beats JUGGERNAUT_CONFIG");

    setenv("JUGGERNAUT_REDIS_URL", "unix:///tmp/env.sock?db=4", 1);
    TAP_OK(jugConfigLoad(&cfg, explicitPath, NULL, err, sizeof(err)) == 0 &&
           !strcmp(cfg.redis.unix_path, "/tmp/env.sock") && cfg.redis.db == 4 &&
           !strcmp(cfg.redis_url, "unix:///tmp/env.sock?db=4"), "JUGGERNAUT_REDIS_URL replaces redis_url");
    setenv("JUGGERNAUT_REDIS_URL", "nonsense", 1);
    TAP_OK(jugConfigLoad(&cfg, explicitPath, NULL, err, sizeof(err)) == -1 &&
           !strncmp(err, "JUGGERNAUT_REDIS_URL: ", 22), "bad JUGGERNAUT_REDIS_URL named (%s)", err);
    unsetenv("JUGGERNAUT_REDIS_URL");

    setenv("JUGGERNAUT_CONFIG", "/nonexistent/env.conf", 1);
    TAP_OK(jugConfigLoad(&cfg, NULL, NULL, err, sizeof(err)) == -1 && strstr(err, "cannot open"),
           "a JUGGERNAUT_CONFIG that does not exist is an error");
    unsetenv("JUGGERNAUT_CONFIG");
}

static void testCrossChecks(void) {
    char err[JUG_CONFIG_ERRLEN] = "";
    jugConfig cfg;
    const char *path = writeConf("ttl.conf", "session_ttl 25\npoll_timeout 25\n");
    TAP_OK(jugConfigLoad(&cfg, path, NULL, err, sizeof(err)) == -1 && strstr(err, "session_ttl") &&
           strstr(err, path), "session_ttl == poll_timeout refused (%s)", err);
    path = writeConf("ttl2.conf", "session_ttl 10\npoll_timeout 20\n");
    TAP_OK(jugConfigLoad(&cfg, path, NULL, err, sizeof(err)) == -1 && strstr(err, "poll_timeout"),
           "session_ttl < poll_timeout refused");
    path = writeConf("ttl3.conf", "session_ttl 26\npoll_timeout 25\n");
    TAP_OK(jugConfigLoad(&cfg, path, NULL, err, sizeof(err)) == 0, "session_ttl > poll_timeout accepted");

    jugConfigDefaults(&cfg);
    TAP_OK(jugConfigSet(&cfg, "cors_origins", "*", err, sizeof(err)) == -1 && strstr(err, "'*'"),
           "jugConfigSet refuses cors_origins *");
    char many[4096] = "";
    for (int i = 0; i <= JUG_MAX_CORS_ORIGINS; i++) {
        char one[64];
        snprintf(one, sizeof(one), "https://o%d.example ", i);
        strcat(many, one);
    }
    TAP_OK(jugConfigSet(&cfg, "cors_origins", many, err, sizeof(err)) == -1,
           "more than %d origins refused", JUG_MAX_CORS_ORIGINS);

    /* Found by tests/fuzz/fuzz_config.c: a refused value changed the config. */
    jugConfig before;
    jugConfigDefaults(&cfg);
    TAP_OK(jugConfigSet(&cfg, "cors_origins", "https://a.example", err, sizeof(err)) == 0,
           "one origin accepted");
    before = cfg;
    TAP_OK(jugConfigSet(&cfg, "cors_origins", "https://b.example ftp://x", err, sizeof(err)) == -1 &&
           !memcmp(&cfg, &before, sizeof(cfg)), "a refused origin list leaves the old one whole");
    TAP_OK(jugConfigSet(&cfg, "cors_origins", many, err, sizeof(err)) == -1 &&
           !memcmp(&cfg, &before, sizeof(cfg)), "too many origins leave the old list whole");
    TAP_OK(jugConfigSet(&cfg, "redis_url", "unix:///tmp/r.sock?db=x", err, sizeof(err)) == -1 &&
           !memcmp(&cfg, &before, sizeof(cfg)) && !strcmp(cfg.redis_url, "redis://127.0.0.1:6379/0"),
           "a refused redis_url leaves redis_url and the address as they were");
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    testDefaults();
    testExampleFile();
    testGoodFile();
    testBadLines();
    testNewSettings();
    testRedisUrls();
    testEnvironment();
    testCrossChecks();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    return tapDone();
}
