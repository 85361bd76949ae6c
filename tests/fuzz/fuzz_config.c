/* fuzz_config.c -- libFuzzer target for common/config.c: a whole
 * juggernaut.conf through jugConfigLoadFile, and the first line as
 * "key value" through jugConfigSet and as a URL through
 * jugRedisAddressParse. Checks that every string field stays terminated,
 * every list and number within its limits, and that a refused setting
 * leaves the configuration as it was. */
#include "autoconfig.h"
#include "config.h"
#include "oracle.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static void checkTerminated(const jugConfig *cfg) {
    ORACLE_CHECK(memchr(cfg->redis_url, 0, sizeof(cfg->redis_url)));
    ORACLE_CHECK(memchr(cfg->redis.host, 0, sizeof(cfg->redis.host)));
    ORACLE_CHECK(memchr(cfg->redis.unix_path, 0, sizeof(cfg->redis.unix_path)));
    ORACLE_CHECK(memchr(cfg->redis.password, 0, sizeof(cfg->redis.password)));
    ORACLE_CHECK(memchr(cfg->key_prefix, 0, sizeof(cfg->key_prefix)));
    ORACLE_CHECK(memchr(cfg->channel, 0, sizeof(cfg->channel)));
    ORACLE_CHECK(cfg->cors_origin_count >= 0 && cfg->cors_origin_count <= JUG_MAX_CORS_ORIGINS);
    for (int i = 0; i < cfg->cors_origin_count; i++)
        ORACLE_CHECK(memchr(cfg->cors_origins[i], 0, sizeof(cfg->cors_origins[i])));
    ORACLE_CHECK(cfg->redis.port >= 1 && cfg->redis.port <= 65535);
    ORACLE_CHECK(memchr(cfg->log, 0, sizeof(cfg->log)) && memchr(cfg->log_level, 0, sizeof(cfg->log_level)));
    ORACLE_CHECK(memchr(cfg->static_dir, 0, sizeof(cfg->static_dir)));
    ORACLE_CHECK(memchr(cfg->jugglite_namespace, 0, sizeof(cfg->jugglite_namespace)));
    ORACLE_CHECK(memchr(cfg->status_token, 0, sizeof(cfg->status_token)));
    ORACLE_CHECK(!cfg->status_token[0] || strlen(cfg->status_token) >= 16);
    ORACLE_CHECK(cfg->status_allow_count >= 0 && cfg->status_allow_count <= JUG_MAX_STATUS_ALLOW);
    for (int i = 0; i < cfg->status_allow_count; i++)
        ORACLE_CHECK(memchr(cfg->status_allow[i], 0, sizeof(cfg->status_allow[i])));
    /* transports: each listed once, in range; 0 of them is "auto" */
    ORACLE_CHECK(cfg->transport_count >= 0 && cfg->transport_count <= JUG_TRANSPORT_COUNT);
    for (int i = 0; i < cfg->transport_count; i++) {
        ORACLE_CHECK(cfg->transports[i] < JUG_TRANSPORT_COUNT);
        for (int j = 0; j < i; j++) ORACLE_CHECK(cfg->transports[i] != cfg->transports[j]);
    }
    ORACLE_CHECK(cfg->max_held == -1 || (cfg->max_held >= 0 && cfg->max_held <= 1000000));
    ORACLE_CHECK(cfg->log[0] == '/' || !strcmp(cfg->log, "stderr") || !strcmp(cfg->log, "syslog"));
}

static void fuzzFile(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof(path), "/tmp/fuzz_config.%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(data, 1, size, f);
    fclose(f);
    jugConfig cfg;
    char err[JUG_CONFIG_ERRLEN];
    jugConfigDefaults(&cfg);
    if (jugConfigLoadFile(&cfg, path, err, sizeof(err)) < 0) ORACLE_CHECK(err[0]);
    checkTerminated(&cfg);
    unlink(path);
}

/* "key value" on the first line, split at the first space. */
static void fuzzSet(const char *text) {
    char *copy = strdup(text);
    if (!copy) abort();
    copy[strcspn(copy, "\n")] = '\0';
    char *value = strchr(copy, ' ');
    if (value) *value++ = '\0';
    else value = copy + strlen(copy);
    jugConfig cfg, before;
    char err[JUG_CONFIG_ERRLEN];
    jugConfigDefaults(&cfg);
    before = cfg;
    if (jugConfigSet(&cfg, copy, value, err, sizeof(err)) < 0) {
        ORACLE_CHECK(err[0]);
        ORACLE_CHECK(!memcmp(&cfg, &before, sizeof(cfg)));
    }
    checkTerminated(&cfg);
    jugRedisAddress addr;
    memset(&addr, 0, sizeof(addr));
    if (jugRedisAddressParse(&addr, copy, err, sizeof(err)) == 0) {
        ORACLE_CHECK(memchr(addr.host, 0, sizeof(addr.host)) && memchr(addr.unix_path, 0, sizeof(addr.unix_path)));
        ORACLE_CHECK(!addr.host[0] != !addr.unix_path[0]);
        ORACLE_CHECK(addr.port >= 1 && addr.port <= 65535 && addr.db >= 0 && addr.db <= 1000);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzzFile(data, size);
    char *text = oracleCopy(data, size);
    fuzzSet(text);
    free(text);
    return 0;
}
