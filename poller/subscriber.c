/* subscriber.c -- SUBSCRIBE/PSUBSCRIBE and reading pub/sub replies (see subscriber.h). */
#include "autoconfig.h"
#include "subscriber.h"
#include "keys.h"
#include "log.h"
#include "redis.h"

#include <stdio.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 2000

int jugSubscriberConnect(jugSubscriber *s, const jugConfig *cfg, char *err, size_t errlen) {
    s->cfg = cfg;
    s->unconfirmed = cfg->jugglite_namespace[0] ? 3 : 2;
    if (jugNotifyChannel(s->notify, sizeof(s->notify), cfg->key_prefix) < 0) {
        snprintf(err, errlen, "key_prefix too long");
        return -1;
    }
    s->c = jugRedisConnect(&cfg->redis, CONNECT_TIMEOUT_MS, err, errlen);
    if (!s->c) return -1;
    /* Confirmations are read by jugSubscriberRead like any other reply: a
     * message may arrive between the two, so we never wait for them here. */
    const char *sub[] = {"SUBSCRIBE", cfg->channel, s->notify};
    redisAppendCommandArgv(s->c, 3, sub, NULL);
    if (cfg->jugglite_namespace[0]) {
        char pattern[sizeof(cfg->jugglite_namespace) + 1];
        snprintf(pattern, sizeof(pattern), "%s*", cfg->jugglite_namespace);
        const char *psub[] = {"PSUBSCRIBE", pattern};
        redisAppendCommandArgv(s->c, 2, psub, NULL);
    }
    int done = 0;
    while (!done) {
        if (redisBufferWrite(s->c, &done) == REDIS_ERR) {
            snprintf(err, errlen, "SUBSCRIBE: %s", s->c->errstr);
            jugSubscriberClose(s);
            return -1;
        }
    }
    return 0;
}

int jugSubscriberFd(const jugSubscriber *s) {
    return s->c ? s->c->fd : -1;
}

void jugSubscriberClose(jugSubscriber *s) {
    if (s->c) redisFree(s->c);
    s->c = NULL;
}

static int isString(const redisReply *r) {
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

/* Jugglite: "<namespace><channel>" -> "<channel>", or NULL to ignore it (the
 * app channel, its event channels and <prefix>notify may match the pattern too). */
static const char *jugglite(const jugSubscriber *s, const char *full) {
    const jugConfig *cfg = s->cfg;
    size_t applen = strlen(cfg->channel);
    if (!strncmp(full, cfg->channel, applen) && (full[applen] == '\0' || full[applen] == ':'))
        return NULL;
    if (!strcmp(full, s->notify)) return NULL;
    return full + strlen(cfg->jugglite_namespace);
}

/* One reply: a message, a pmessage, a confirmation or an error. */
static int dispatch(jugSubscriber *s, redisReply *r, jugSubscriberHandler *handler, void *ctx,
                    char *err, size_t errlen) {
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "subscription refused: %s", r->str);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 || !isString(r->element[0])) return 0;
    const char *kind = r->element[0]->str;
    if (!strcmp(kind, "message") && r->elements == 3 && isString(r->element[1]) &&
        isString(r->element[2])) {
        int notify = !strcmp(r->element[1]->str, s->notify);
        handler(ctx, notify ? JUG_SUB_NOTIFY : JUG_SUB_APP, NULL, r->element[2]->str,
                r->element[2]->len);
    } else if (!strcmp(kind, "pmessage") && r->elements == 4 && isString(r->element[2]) &&
               isString(r->element[3])) {
        const char *channel = jugglite(s, r->element[2]->str);
        if (channel)
            handler(ctx, JUG_SUB_JUGGLITE, channel, r->element[3]->str, r->element[3]->len);
    } else if (!strcmp(kind, "subscribe") || !strcmp(kind, "psubscribe")) {
        jugLog(JUG_LOG_DEBUG, "%s %s confirmed", kind,
               isString(r->element[1]) ? r->element[1]->str : "?");
        if (s->unconfirmed > 0 && --s->unconfirmed == 0) handler(ctx, JUG_SUB_LISTENING, NULL, NULL, 0);
    }
    return 0;
}

int jugSubscriberRead(jugSubscriber *s, jugSubscriberHandler *handler, void *ctx,
                      char *err, size_t errlen) {
    if (redisBufferRead(s->c) == REDIS_ERR) {
        snprintf(err, errlen, "%s", s->c->errstr);
        return -1;
    }
    for (;;) {
        void *reply = NULL;
        if (redisGetReplyFromReader(s->c, &reply) == REDIS_ERR) {
            snprintf(err, errlen, "%s", s->c->errstr);
            return -1;
        }
        if (!reply) return 0;
        int rc = dispatch(s, reply, handler, ctx, err, errlen);
        freeReplyObject(reply);
        if (rc < 0) return -1;
    }
}
