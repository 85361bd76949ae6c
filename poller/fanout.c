/* fanout.c -- one published message, one fanout.lua call (see fanout.h). */
#include "autoconfig.h"
#include "fanout.h"
#include "log.h"
#include "message.h"
#include "redis.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREVIEW_BYTES 80

static uint64_t fnv1a(uint64_t h, const char *p, size_t len) {
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void jugFanoutHash(char out[JUG_HASH_LEN + 1], const char *channel, const char *payload, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL;
    if (channel) h = fnv1a(h, channel, strlen(channel) + 1); /* the NUL separates */
    h = fnv1a(h, payload, len);
    snprintf(out, JUG_HASH_LEN + 1, "%016llx", (unsigned long long)h);
}

void jugFanoutPreview(char *out, size_t outlen, const char *payload, size_t len) {
    size_t o = 0;
    for (size_t i = 0; i < len && i < PREVIEW_BYTES && o + 5 < outlen; i++) {
        unsigned char ch = (unsigned char)payload[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\') out[o++] = (char)ch;
        else o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
    }
    if (len > PREVIEW_BYTES && o + 4 < outlen) o += (size_t)snprintf(out + o, outlen - o, "...");
    if (outlen) out[o < outlen ? o : outlen - 1] = '\0';
}

/* Run fanout.lua for a parsed message and read its reply. */
static jugFanoutResult runScript(redisContext *c, const jugConfig *cfg, const char *poller_id,
                                 const jugMessage *msg, const char *hash) {
    int argc = 9 + msg->except_count + msg->channel_count;
    const char **argv = malloc(sizeof(char *) * (size_t)argc);
    if (!argv) {
        jugLog(JUG_LOG_ERROR, "out of memory: message %s dropped", hash);
        return JUG_FANOUT_DROPPED;
    }
    char max_queue[16], backstop[16], nexcept[16];
    int ttl = cfg->session_ttl * 10 > 600 ? cfg->session_ttl * 10 : 600;
    snprintf(max_queue, sizeof(max_queue), "%d", cfg->max_queue);
    snprintf(backstop, sizeof(backstop), "%d", ttl);
    snprintf(nexcept, sizeof(nexcept), "%d", msg->except_count);
    int n = 0;
    argv[n++] = cfg->key_prefix;
    argv[n++] = poller_id;
    argv[n++] = hash;
    argv[n++] = max_queue;
    argv[n++] = backstop;
    argv[n++] = msg->data_json;
    argv[n++] = msg->event ? msg->event : "";
    argv[n++] = "";   /* SSE event id: unused, the stream's own id is the resume point */
    argv[n++] = nexcept;
    for (int i = 0; i < msg->except_count; i++) argv[n++] = msg->except[i];
    for (int i = 0; i < msg->channel_count; i++) argv[n++] = msg->channels[i];

    redisReply *r = jugRedisScript(c, JUG_SCRIPT_FANOUT, 0, argc, argv, NULL);
    free(argv);
    if (!r) return JUG_FANOUT_LOST;
    jugFanoutResult rc = JUG_FANOUT_DONE;
    if (r->type == REDIS_REPLY_ERROR) {
        if (!strncmp(r->str, "NOTLEADER", 9)) {
            rc = JUG_FANOUT_NOTLEADER;
        } else {
            jugLog(JUG_LOG_ERROR, "fanout of message %s failed: %s", hash, r->str);
            rc = JUG_FANOUT_DROPPED;
        }
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        long long first = r->element[0]->integer, pushes = r->element[1]->integer;
        long long trimmed = r->element[2]->integer;
        jugLog(JUG_LOG_DEBUG, "message %s: %d channel(s), ids from %lld, %lld push(es)", hash,
               msg->channel_count, first, pushes);
        if (trimmed > 0)
            jugLog(JUG_LOG_WARNING,
                   "message %s: %lld session list(s) over max_queue %d trimmed (subscriber too slow)",
                   hash, trimmed, cfg->max_queue);
    } else {
        jugLog(JUG_LOG_ERROR, "fanout of message %s: unexpected reply type %d", hash, r->type);
    }
    freeReplyObject(r);
    return rc;
}

jugFanoutResult jugFanoutDeliver(redisContext *c, const jugConfig *cfg, const char *poller_id,
                                 const char *channel, const char *payload, size_t len,
                                 const char *hash) {
    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN];
    int rc = channel
        ? jugMessageFromRaw(&msg, channel, payload, len, cfg->max_message_size, err, sizeof(err))
        : jugMessageParse(&msg, payload, len, cfg->max_message_size, cfg->max_channels_per_message,
                          err, sizeof(err));
    if (rc < 0) {
        char preview[PREVIEW_BYTES * 4 + 8];
        jugFanoutPreview(preview, sizeof(preview), payload, len);
        jugLog(JUG_LOG_WARNING, "dropped invalid message on %s%s: %s: %s",
               channel ? "Jugglite channel " : cfg->channel, channel ? channel : "", err, preview);
        return JUG_FANOUT_DROPPED;
    }
    jugFanoutResult result = runScript(c, cfg, poller_id, &msg, hash);
    jugMessageFree(&msg);
    return result;
}
