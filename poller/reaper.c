/* reaper.c -- sweeping lapsed sessions in bounded batches (see reaper.h). */
#include "autoconfig.h"
#include "reaper.h"
#include "log.h"
#include "redis.h"

#include <stdio.h>

#define REAP_BATCH 1000
#define REAP_MAX_BATCHES 50   /* then let the poller serve messages again */

long jugReaperRun(redisContext *c, const jugConfig *cfg) {
    char ttl_ms[24], limit[16];
    snprintf(ttl_ms, sizeof(ttl_ms), "%lld", (long long)cfg->session_ttl * 1000);
    snprintf(limit, sizeof(limit), "%d", REAP_BATCH);
    const char *argv[] = {cfg->key_prefix, cfg->channel, ttl_ms, limit};
    long total = 0;
    for (int batch = 0; batch < REAP_MAX_BATCHES; batch++) {
        redisReply *r = jugRedisScript(c, JUG_SCRIPT_REAP, 0, 4, argv, NULL);
        if (!r) return -1;
        long long n = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
        if (r->type == REDIS_REPLY_ERROR) jugLog(JUG_LOG_ERROR, "reap script: %s", r->str);
        freeReplyObject(r);
        total += (long)n;
        if (n < REAP_BATCH) break;
    }
    if (total > 0) jugLog(JUG_LOG_DEBUG, "reaped %ld lapsed session(s)", total);
    return total;
}
