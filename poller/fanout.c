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

#define PREVIEW_BYTES 60

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

int jugFanoutTransient(const char *error) {
    return jugRedisErrorTransient(jugRedisErrorKindOf(error));
}

/* Run fanout.lua for a parsed message and read its reply. */
static jugFanoutResult runScript(redisContext *c, const jugConfig *cfg, const char *poller_id,
                                 const jugMessage *msg, const char *tag, jugFanoutReport *rep) {
    int argc = 9 + msg->except_count + msg->channel_count;
    const char **argv = malloc(sizeof(char *) * (size_t)argc);
    if (!argv) {
        snprintf(rep->error, sizeof(rep->error), "out of memory");
        return JUG_FANOUT_RETRY;
    }
    char max_queue[16], backstop[16], nexcept[16];
    int ttl = cfg->session_ttl * 10 > 600 ? cfg->session_ttl * 10 : 600;
    snprintf(max_queue, sizeof(max_queue), "%d", cfg->max_queue);
    snprintf(backstop, sizeof(backstop), "%d", ttl);
    snprintf(nexcept, sizeof(nexcept), "%d", msg->except_count);
    int n = 0;
    argv[n++] = cfg->key_prefix;
    argv[n++] = poller_id;
    argv[n++] = tag;
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
        snprintf(rep->error, sizeof(rep->error), "%s", r->str);
        if (!strncmp(r->str, "NOTLEADER", 9)) {
            rc = JUG_FANOUT_NOTLEADER;
        } else if (jugFanoutTransient(r->str)) {
            rc = JUG_FANOUT_RETRY;
        } else {
            rc = JUG_FANOUT_DROPPED;   /* a script error: the caller logs it */
        }
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
               r->element[0]->type == REDIS_REPLY_INTEGER) {
        rep->first_id = r->element[0]->integer;
        rep->last_id = rep->first_id + msg->channel_count - 1;
        rep->pushes = r->element[1]->integer;
        rep->trimmed = r->element[2]->integer;
        jugLog(JUG_LOG_DEBUG, "message %s: %d channel(s), ids from %lld, %lld push(es)", tag,
               msg->channel_count, rep->first_id, rep->pushes);
    } else {
        snprintf(rep->error, sizeof(rep->error), "unexpected reply type %d", r->type);
        rc = JUG_FANOUT_DROPPED;
    }
    freeReplyObject(r);
    return rc;
}

jugFanoutResult jugFanoutDeliver(redisContext *c, const jugConfig *cfg, const char *poller_id,
                                 const char *channel, const char *payload, size_t len,
                                 const char *tag, jugFanoutReport *report) {
    jugFanoutReport ignored;
    jugFanoutReport *rep = report ? report : &ignored;
    memset(rep, 0, sizeof(*rep));
    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN];
    int rc = channel
        ? jugMessageFromRaw(&msg, channel, payload, len, cfg->max_message_size, err, sizeof(err))
        : jugMessageParse(&msg, payload, len, cfg->max_message_size, cfg->max_channels_per_message,
                          err, sizeof(err));
    if (rc < 0) {
        char preview[PREVIEW_BYTES * 4 + 8];
        jugFanoutPreview(preview, sizeof(preview), payload, len);
        snprintf(rep->error, sizeof(rep->error), "invalid message on %.64s%.64s: %.120s: %s",
                 channel ? "Jugglite channel " : cfg->channel, channel ? channel : "", err, preview);
        return JUG_FANOUT_INVALID;
    }
    jugFanoutResult result = runScript(c, cfg, poller_id, &msg, tag, rep);
    jugMessageFree(&msg);
    return result;
}
