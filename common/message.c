/* message.c -- parsing and checking what apps publish (see message.h).
 *
 * A text is checked once by the JSON scanner (common/json.h), which refuses
 * anything some client could not decode; the fields are then read from the
 * checked text in place, so "data" reaches browsers byte for byte. */
#include "autoconfig.h"
#include "message.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int fail(jugMessage *msg, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(jugMessage *msg, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    jugMessageFree(msg);
    return -1;
}

int jugChannelValid(const char *name, size_t len) {
    if (len == 0 || len > JUG_CHANNEL_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) continue;
        if (!strchr("_-./:@~+=!*", c) || c == '\0') return 0;
    }
    return 1;
}

void jugMessageFree(jugMessage *msg) {
    for (int i = 0; i < msg->channel_count; i++) free(msg->channels[i]);
    for (int i = 0; i < msg->except_count; i++) free(msg->except[i]);
    free(msg->channels);
    free(msg->except);
    free(msg->data_json);
    free(msg->event);
    memset(msg, 0, sizeof(*msg));
}

/* A checked text without the whitespace around it. */
static jugJsonSpan trimmed(const char *text, size_t len) {
    jugJsonSpan v = {text, len};
    while (v.len && strchr(" \t\r\n", v.p[0])) v.p++, v.len--;
    while (v.len && strchr(" \t\r\n", v.p[v.len - 1])) v.len--;
    return v;
}

/* Add one channel name, validated. */
static int addChannel(jugMessage *msg, jugJsonSpan item, char *err, size_t errlen) {
    if (jugJsonTypeOf(item) != JUG_JSON_STRING) return fail(msg, err, errlen, "a channel is not a string");
    size_t len;
    char *name = jugJsonStringDup(item, &len);
    if (!name) return fail(msg, err, errlen, "out of memory");
    msg->channels[msg->channel_count] = name;   /* freed with msg from here on */
    msg->channel_count++;
    if (memchr(name, '\0', len)) return fail(msg, err, errlen, "invalid channel name (has a NUL character)");
    if (!jugChannelValid(name, len))
        return fail(msg, err, errlen, "invalid channel name (1-%d of A-Z a-z 0-9 _-./:@~+=!*)",
                    JUG_CHANNEL_MAX);
    return 0;
}

/* Elements of a checked array. */
static int arrayCount(jugJsonSpan array) {
    jugJsonIter it;
    jugJsonSpan v;
    int n = 0;
    if (jugJsonIterInit(&it, array) < 0) return 0;
    while (jugJsonIterNext(&it, NULL, &v) == 1) n++;
    return n;
}

static int parseChannels(jugMessage *msg, jugJsonSpan root, int max_channels, char *err,
                         size_t errlen) {
    jugJsonSpan many, one;
    int has_many = jugJsonMember(root, "channels", &many) == 0;
    int has_one = jugJsonMember(root, "channel", &one) == 0;
    if (has_many && jugJsonTypeOf(many) != JUG_JSON_ARRAY)
        return fail(msg, err, errlen, "\"channels\" is not an array");
    if (!has_many && !has_one) return fail(msg, err, errlen, "no \"channels\" or \"channel\"");
    int count = has_many ? arrayCount(many) : 1;
    if (count == 0) return fail(msg, err, errlen, "\"channels\" is empty");
    if (count > max_channels)
        return fail(msg, err, errlen, "%d channels, more than the limit of %d", count, max_channels);
    msg->channels = calloc((size_t)count, sizeof(char *));
    if (!msg->channels) return fail(msg, err, errlen, "out of memory");
    if (!has_many) return addChannel(msg, one, err, errlen);
    jugJsonIter it;
    jugJsonSpan item;
    jugJsonIterInit(&it, many);
    while (msg->channel_count < count && jugJsonIterNext(&it, NULL, &item) == 1)
        if (addChannel(msg, item, err, errlen) < 0) return -1;
    return 0;
}

/* Session ids may come as strings or (from old Juggernaut apps) numbers.
 * NULL for any other type, or a string with a NUL in it. */
static char *exceptId(jugJsonSpan item) {
    double v;
    if (jugJsonTypeOf(item) == JUG_JSON_STRING) {
        size_t len;
        char *id = jugJsonStringDup(item, &len);
        if (id && memchr(id, '\0', len)) {
            free(id);
            return NULL;
        }
        return id;
    }
    if (jugJsonTypeOf(item) != JUG_JSON_NUMBER || jugJsonNumber(item, &v) < 0) return NULL;
    char buf[64];
    /* Range first: converting a double beyond long long is undefined. */
    if (v > -9e18 && v < 9e18 && v == (double)(long long)v)
        snprintf(buf, sizeof(buf), "%lld", (long long)v);
    else
        snprintf(buf, sizeof(buf), "%.17g", v);
    return strdup(buf);
}

static int parseExcept(jugMessage *msg, jugJsonSpan root, char *err, size_t errlen) {
    jugJsonSpan except;
    if (jugJsonMember(root, "except", &except) < 0 || jugJsonTypeOf(except) == JUG_JSON_NULL) return 0;
    int is_array = jugJsonTypeOf(except) == JUG_JSON_ARRAY;
    int count = is_array ? arrayCount(except) : 1;
    if (count > 10000) return fail(msg, err, errlen, "\"except\" lists more than 10000 ids");
    msg->except = calloc((size_t)(count ? count : 1), sizeof(char *));
    if (!msg->except) return fail(msg, err, errlen, "out of memory");
    if (!is_array) {
        if (!(msg->except[0] = exceptId(except)))
            return fail(msg, err, errlen, "\"except\" is not a string, number or array");
        msg->except_count = 1;
        return 0;
    }
    jugJsonIter it;
    jugJsonSpan item;
    jugJsonIterInit(&it, except);
    while (msg->except_count < count && jugJsonIterNext(&it, NULL, &item) == 1) {
        char *id = exceptId(item);
        if (!id) return fail(msg, err, errlen, "an \"except\" id is not a string or number");
        msg->except[msg->except_count++] = id;
    }
    return 0;
}

/* Optional Jugglite-style string field ("event"): no control characters,
 * as it becomes an SSE field. */
static int parseOptionalString(jugMessage *msg, char **out, jugJsonSpan root, const char *key,
                               char *err, size_t errlen) {
    jugJsonSpan item;
    if (jugJsonMember(root, key, &item) < 0 || jugJsonTypeOf(item) == JUG_JSON_NULL) return 0;
    if (jugJsonTypeOf(item) != JUG_JSON_STRING) return fail(msg, err, errlen, "\"%s\" is not a string", key);
    size_t len;
    if (!(*out = jugJsonStringDup(item, &len))) return fail(msg, err, errlen, "out of memory");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)(*out)[i] < 0x20) return fail(msg, err, errlen, "\"%s\" has a control character", key);
    return 0;
}

/* A malloc'd copy of a checked JSON text on one line: raw CR/LF in valid
 * JSON can only be whitespace, and every delivery must be one line (SSE
 * data lines, multipart parts, scripts). */
static char *oneLine(jugJsonSpan v) {
    char *copy = malloc(v.len + 1);
    if (!copy) return NULL;
    for (size_t i = 0; i < v.len; i++) copy[i] = v.p[i] == '\r' || v.p[i] == '\n' ? ' ' : v.p[i];
    copy[v.len] = '\0';
    return copy;
}

/* Check text with the scanner; -1 with the reason in err if it fails. */
static int checkJson(jugMessage *msg, const char *text, size_t len, char *err, size_t errlen) {
    size_t where;
    jugJsonError e = jugJsonCheck(text, len, JUG_JSON_MAX_DEPTH, &where);
    if (e == JUG_JSON_OK) return 0;
    char why[96];
    jugJsonDescribe(why, sizeof(why), e, where);
    return fail(msg, err, errlen, "%s", why);
}

int jugMessageParse(jugMessage *msg, const char *json, size_t len, size_t max_size,
                    int max_channels, char *err, size_t errlen) {
    memset(msg, 0, sizeof(*msg));
    if (len > max_size)
        return fail(msg, err, errlen, "message of %zu bytes, more than the limit of %zu", len, max_size);
    if (checkJson(msg, json, len, err, errlen) < 0) return -1;
    jugJsonSpan root = trimmed(json, len), data;
    if (jugJsonTypeOf(root) != JUG_JSON_OBJECT) return fail(msg, err, errlen, "not a JSON object");
    if (parseChannels(msg, root, max_channels, err, errlen) < 0 ||
        parseExcept(msg, root, err, errlen) < 0 ||
        parseOptionalString(msg, &msg->event, root, "event", err, errlen) < 0)
        return -1;
    msg->data_json = jugJsonMember(root, "data", &data) == 0 ? oneLine(data) : strdup("null");
    if (!msg->data_json) return fail(msg, err, errlen, "out of memory");
    return 0;
}

int jugMessageFromRaw(jugMessage *msg, const char *channel, const char *payload, size_t len,
                      size_t max_size, char *err, size_t errlen) {
    memset(msg, 0, sizeof(*msg));
    if (len > max_size)
        return fail(msg, err, errlen, "message of %zu bytes, more than the limit of %zu", len, max_size);
    if (!jugChannelValid(channel, strlen(channel))) return fail(msg, err, errlen, "invalid channel name");
    msg->channels = calloc(1, sizeof(char *));
    if (!msg->channels || !(msg->channels[0] = strdup(channel))) return fail(msg, err, errlen, "out of memory");
    msg->channel_count = 1;
    jugJsonError e = jugJsonCheck(payload, len, JUG_JSON_MAX_DEPTH, NULL);
    if (e == JUG_JSON_NOMEM) return fail(msg, err, errlen, "out of memory");
    if (e == JUG_JSON_OK) {
        /* Jugglite: an "event" key of a JSON object names the SSE event. An
         * "id" key stays in the data only: the SSE id is the resume point. */
        jugJsonSpan root = trimmed(payload, len);
        if (jugJsonTypeOf(root) == JUG_JSON_OBJECT &&
            parseOptionalString(msg, &msg->event, root, "event", err, errlen) < 0)
            return -1;
        /* The payload itself, not a reprint: big numbers stay exact. */
        msg->data_json = oneLine((jugJsonSpan){payload, len});
    } else {
        /* Any other text goes as a JSON string, which it must fit. */
        if (!jugUtf8Valid(payload, len))
            return fail(msg, err, errlen, "raw payload is neither strict JSON nor UTF-8 text");
        if (memchr(payload, '\0', len)) return fail(msg, err, errlen, "raw payload has a NUL byte");
        char *text = malloc(len + 1);
        if (text) {
            memcpy(text, payload, len);
            text[len] = '\0';
            msg->data_json = jugJsonQuote(text);
            free(text);
        }
    }
    if (!msg->data_json) return fail(msg, err, errlen, "out of memory");
    return 0;
}
