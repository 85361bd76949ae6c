/* reset.c -- the reset event and the re-announcement (see reset.h). */
#include "autoconfig.h"
#include "reset.h"
#include "keys.h"
#include "log.h"
#include "redis.h"

#include <stdio.h>
#include <string.h>

#define ANNOUNCE_COUNT "500"     /* ZSCAN count hint per script call */
#define ANNOUNCE_MAX_CALLS 100000

int jugResetAnnounce(redisContext *c, const jugConfig *cfg) {
    char chan[JUG_KEY_MAX];
    jugEventChannel(chan, sizeof(chan), cfg->channel, "reset");
    redisReply *r = redisCommand(c, "PUBLISH %s %s", chan, "{\"reason\":\"redis_lost_data\"}");
    if (!r) return -1;
    freeReplyObject(r);
    char cursor[32] = "0";
    long calls = 0;
    do {
        const char *argv[] = {cfg->key_prefix, cfg->channel, cursor, ANNOUNCE_COUNT};
        r = jugRedisScript(c, JUG_SCRIPT_ANNOUNCE, 0, 4, argv, NULL);
        if (!r) return -1;
        if (r->type != REDIS_REPLY_STRING) {
            jugLog(JUG_LOG_ERROR, "announce script: %s",
                   r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            freeReplyObject(r);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->str);
        freeReplyObject(r);
    } while (strcmp(cursor, "0") && ++calls < ANNOUNCE_MAX_CALLS);
    jugLog(JUG_LOG_WARNING, "Redis lost writes (restart without persistence, older snapshot or "
           "promoted replica): published %s and re-announced the surviving sessions", chan);
    return 0;
}
