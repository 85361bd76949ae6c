/* message.c -- parsing and checking what apps publish (see message.h). */
#include "autoconfig.h"
#include "message.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    free(msg->event_id);
    memset(msg, 0, sizeof(*msg));
}

/* Add one channel name, validated. */
static int addChannel(jugMessage *msg, const cJSON *item, char *err, size_t errlen) {
    if (!cJSON_IsString(item)) return fail(msg, err, errlen, "a channel is not a string");
    const char *name = item->valuestring;
    if (!jugChannelValid(name, strlen(name)))
        return fail(msg, err, errlen, "invalid channel name (1-%d of A-Z a-z 0-9 _-./:@~+=!*)",
                    JUG_CHANNEL_MAX);
    msg->channels[msg->channel_count] = strdup(name);
    if (!msg->channels[msg->channel_count]) return fail(msg, err, errlen, "out of memory");
    msg->channel_count++;
    return 0;
}

static int parseChannels(jugMessage *msg, const cJSON *root, int max_channels, char *err,
                         size_t errlen) {
    const cJSON *many = cJSON_GetObjectItemCaseSensitive(root, "channels");
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(root, "channel");
    if (many && !cJSON_IsArray(many)) return fail(msg, err, errlen, "\"channels\" is not an array");
    if (!many && !one) return fail(msg, err, errlen, "no \"channels\" or \"channel\"");
    int count = many ? cJSON_GetArraySize(many) : 1;
    if (count == 0) return fail(msg, err, errlen, "\"channels\" is empty");
    if (count > max_channels)
        return fail(msg, err, errlen, "%d channels, more than the limit of %d", count, max_channels);
    msg->channels = calloc((size_t)count, sizeof(char *));
    if (!msg->channels) return fail(msg, err, errlen, "out of memory");
    if (!many) return addChannel(msg, one, err, errlen);
    const cJSON *item;
    cJSON_ArrayForEach(item, many) {
        if (addChannel(msg, item, err, errlen) < 0) return -1;
    }
    return 0;
}

/* Session ids may come as strings or (from old Juggernaut apps) numbers. */
static char *exceptId(const cJSON *item) {
    if (cJSON_IsString(item)) return strdup(item->valuestring);
    if (cJSON_IsNumber(item)) {
        char buf[64];
        double v = item->valuedouble;
        /* Range first: converting a double beyond long long is undefined. */
        if (v > -9e18 && v < 9e18 && v == (double)(long long)v)
            snprintf(buf, sizeof(buf), "%lld", (long long)v);
        else
            snprintf(buf, sizeof(buf), "%.17g", v);
        return strdup(buf);
    }
    return NULL;
}

static int parseExcept(jugMessage *msg, const cJSON *root, char *err, size_t errlen) {
    const cJSON *except = cJSON_GetObjectItemCaseSensitive(root, "except");
    if (!except || cJSON_IsNull(except)) return 0;
    int count = cJSON_IsArray(except) ? cJSON_GetArraySize(except) : 1;
    if (count > 10000) return fail(msg, err, errlen, "\"except\" lists more than 10000 ids");
    msg->except = calloc((size_t)(count ? count : 1), sizeof(char *));
    if (!msg->except) return fail(msg, err, errlen, "out of memory");
    if (!cJSON_IsArray(except)) {
        if (!(msg->except[0] = exceptId(except)))
            return fail(msg, err, errlen, "\"except\" is not a string, number or array");
        msg->except_count = 1;
        return 0;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, except) {
        char *id = exceptId(item);
        if (!id) return fail(msg, err, errlen, "an \"except\" id is not a string or number");
        msg->except[msg->except_count++] = id;
    }
    return 0;
}

/* Optional Jugglite-style string fields. */
static int parseOptionalString(jugMessage *msg, char **out, const cJSON *root, const char *key,
                               char *err, size_t errlen) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item || cJSON_IsNull(item)) return 0;
    if (!cJSON_IsString(item)) return fail(msg, err, errlen, "\"%s\" is not a string", key);
    for (const char *p = item->valuestring; *p; p++)
        if ((unsigned char)*p < 0x20) return fail(msg, err, errlen, "\"%s\" has a control character", key);
    if (!(*out = strdup(item->valuestring))) return fail(msg, err, errlen, "out of memory");
    return 0;
}

/* ---- strict JSON syntax (RFC 8259) ----
 * cJSON also takes "01", "1." and "-.5", raw control characters and NUL
 * bytes in strings, and a leading BOM. Browsers' JSON.parse refuses all of
 * them, and one such delivery would fail every poll that carries it, so
 * nothing that only cJSON accepts is passed on. */

#define STRICT_MAX_DEPTH 1000   /* cJSON's own nesting limit */

static const char *strictSpace(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static const char *strictDigits(const char *p, const char *end) {
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    return p > start ? p : NULL;
}

static const char *strictNumber(const char *p, const char *end) {
    if (p < end && *p == '-') p++;
    if (p < end && *p == '0') p++;
    else if (!(p = strictDigits(p, end))) return NULL;
    if (p < end && *p == '.' && !(p = strictDigits(p + 1, end))) return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        p = strictDigits(p, end);
    }
    return p;
}

/* p is at the opening quote; returns the byte after the closing one. */
static const char *strictString(const char *p, const char *end) {
    for (p++; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        if (c != '\\') continue;
        if (++p >= end) return NULL;
        if (*p == 'u') {
            for (int i = 0; i < 4; i++)
                if (++p >= end || !isxdigit((unsigned char)*p)) return NULL;
        } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
            return NULL;
        }
    }
    return NULL;
}

static const char *strictLiteral(const char *p, const char *end, const char *word) {
    size_t n = strlen(word);
    return (size_t)(end - p) >= n && !memcmp(p, word, n) ? p + n : NULL;
}

static const char *strictScalar(const char *p, const char *end) {
    if (p >= end) return NULL;
    switch (*p) {
    case '"': return strictString(p, end);
    case 't': return strictLiteral(p, end, "true");
    case 'f': return strictLiteral(p, end, "false");
    case 'n': return strictLiteral(p, end, "null");
    default: return strictNumber(p, end);
    }
}

/* An object member's "key": (with the spaces around it); NULL if not one. */
static const char *strictKey(const char *p, const char *end) {
    p = strictSpace(p, end);
    if (p >= end || *p != '"' || !(p = strictString(p, end))) return NULL;
    p = strictSpace(p, end);
    return p < end && *p == ':' ? p + 1 : NULL;
}

/* Without recursion: worker threads have small stacks. */
static int strictJson(const char *p, size_t len) {
    const char *end = p + len;
    char open[STRICT_MAX_DEPTH];
    int depth = 0;
    for (;;) {
        /* A value is expected at p. */
        p = strictSpace(p, end);
        if (p < end && (*p == '{' || *p == '[')) {
            if (depth == STRICT_MAX_DEPTH) return 0;
            open[depth++] = *p == '{' ? '}' : ']';
            p = strictSpace(p + 1, end);
            if (p < end && *p == open[depth - 1]) {
                depth--;
                p++;
            } else {
                if (open[depth - 1] == '}' && !(p = strictKey(p, end))) return 0;
                continue;
            }
        } else if (!(p = strictScalar(p, end))) {
            return 0;
        }
        /* After a value: close containers until a ',' asks for the next. */
        for (;;) {
            p = strictSpace(p, end);
            if (depth == 0) return p == end;
            if (p >= end) return 0;
            if (*p == open[depth - 1]) {
                depth--;
                p++;
                continue;
            }
            if (*p++ != ',') return 0;
            if (open[depth - 1] == '}' && !(p = strictKey(p, end))) return 0;
            break;
        }
    }
}

/* Parse exactly len bytes of strict JSON: cJSON alone would accept
 * trailing garbage and the forms above. */
static cJSON *parseWhole(const char *text, size_t len) {
    if (!strictJson(text, len)) return NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) return NULL;
    while (end && end < text + len && strchr(" \t\r\n", *end) && *end) end++;
    if (end != text + len) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static const char *skipString(const char *p, const char *end) {
    for (p++; p < end && *p != '"'; p++)
        if (*p == '\\') p++;
    return p < end ? p + 1 : end;
}

/* Skip one JSON value of already-validated text; returns the byte after it. */
static const char *skipValue(const char *p, const char *end) {
    if (p < end && *p == '"') return skipString(p, end);
    if (p < end && (*p == '{' || *p == '[')) {
        int depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = skipString(p, end);
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0) return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && !strchr(",}] \t\r\n", *p)) p++;
    return p;
}

/* 1 if the raw key text (between its quotes) names key as cJSON reads it:
 * an escaped key such as "d\u0061ta" is decoded by cJSON too, so it must
 * match here, or the raw value found would not be the one cJSON checked. */
static int keyIs(const char *kstart, const char *kend, const char *key, size_t keylen) {
    size_t len = (size_t)(kend - kstart);
    if (!memchr(kstart, '\\', len)) return len == keylen && !memcmp(kstart, key, keylen);
    cJSON *name = cJSON_ParseWithLength(kstart - 1, len + 2);
    int same = cJSON_IsString(name) && !strcmp(name->valuestring, key);
    cJSON_Delete(name);
    return same;
}

/* Find the raw text of top-level key "key" in a validated JSON object, so
 * that "data" reaches browsers byte for byte (cJSON would reformat numbers). */
static int rawMember(const char *json, size_t len, const char *key, const char **vstart, size_t *vlen) {
    const char *p = json, *end = json + len;
    size_t keylen = strlen(key);
    while (p < end && *p != '{') p++;
    p++;
    while (p < end) {
        while (p < end && strchr(" \t\r\n,", *p)) p++;
        if (p >= end || *p != '"') return -1;
        const char *kstart = p + 1;
        const char *kend = skipValue(p, end) - 1;
        p = kend + 1;
        while (p < end && *p != ':') p++;
        p++;
        while (p < end && strchr(" \t\r\n", *p)) p++;
        const char *vend = skipValue(p, end);
        if (keyIs(kstart, kend, key, keylen)) {
            *vstart = p;
            *vlen = (size_t)(vend - p);
            return 0;
        }
        p = vend;
    }
    return -1;
}

/* Raw CR/LF in valid JSON can only be whitespace: turn them into spaces so
 * every delivery is one line (SSE data lines, multipart parts, scripts). */
static char *oneLine(char *json) {
    for (char *p = json; p && *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
    return json;
}

/* cJSON ends strings at an escaped NUL, so "a\u0000b" would read as "a":
 * refuse any such escape in the channel fields instead of misdelivering. */
static int channelsHaveNul(const char *json, size_t len) {
    static const char *const keys[] = {"channels", "channel"};
    for (int k = 0; k < 2; k++) {
        const char *raw;
        size_t rawlen;
        if (rawMember(json, len, keys[k], &raw, &rawlen) < 0) continue;
        for (size_t i = 0; i + 6 <= rawlen; i++)
            if (!memcmp(raw + i, "\\u0000", 6)) return 1;
    }
    return 0;
}

static char *dataText(const cJSON *data, const char *json, size_t len) {
    if (!data) return strdup("null");
    const char *raw;
    size_t rawlen;
    if (rawMember(json, len, "data", &raw, &rawlen) == 0 && rawlen > 0) {
        char *copy = malloc(rawlen + 1);
        if (copy) {
            memcpy(copy, raw, rawlen);
            copy[rawlen] = '\0';
            if (jugJsonValid(copy, rawlen)) return oneLine(copy);
            free(copy);
        }
    }
    return cJSON_PrintUnformatted(data);
}

int jugMessageParse(jugMessage *msg, const char *json, size_t len, size_t max_size,
                    int max_channels, char *err, size_t errlen) {
    memset(msg, 0, sizeof(*msg));
    if (len > max_size)
        return fail(msg, err, errlen, "message of %zu bytes, more than the limit of %zu", len, max_size);
    cJSON *root = parseWhole(json, len);
    if (!root) return fail(msg, err, errlen, "not valid JSON");
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        fail(msg, err, errlen, "not a JSON object");
        goto done;
    }
    if (parseChannels(msg, root, max_channels, err, errlen) < 0) goto done;
    if (channelsHaveNul(json, len)) {
        fail(msg, err, errlen, "invalid channel name (has a NUL character)");
        goto done;
    }
    if (parseExcept(msg, root, err, errlen) < 0) goto done;
    if (parseOptionalString(msg, &msg->event, root, "event", err, errlen) < 0) goto done;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    msg->data_json = dataText(data, json, len);
    if (!msg->data_json) {
        fail(msg, err, errlen, "out of memory");
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
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
    cJSON *parsed = parseWhole(payload, len);
    if (parsed) {
        /* Jugglite: "event" and "id" keys of a JSON object become SSE fields. */
        if (cJSON_IsObject(parsed) &&
            (parseOptionalString(msg, &msg->event, parsed, "event", err, errlen) < 0 ||
             parseOptionalString(msg, &msg->event_id, parsed, "id", err, errlen) < 0)) {
            cJSON_Delete(parsed);
            return -1;
        }
        cJSON_Delete(parsed);
        /* The payload itself, not cJSON's reprint: big numbers stay exact. */
        if ((msg->data_json = malloc(len + 1))) {
            memcpy(msg->data_json, payload, len);
            msg->data_json[len] = '\0';
            oneLine(msg->data_json);
        }
    } else {
        /* Text is sent as a JSON string, which a C string would cut short. */
        if (memchr(payload, '\0', len)) return fail(msg, err, errlen, "raw payload has a NUL byte");
        char *text = malloc(len + 1);
        if (text) {
            memcpy(text, payload, len);
            text[len] = '\0';
            msg->data_json = jugJsonQuote(text);
            free(text);
        }
    }
    if (!msg->data_json) return fail(msg, err, errlen, "out of memory or not UTF-8 text");
    return 0;
}

char *jugJsonQuote(const char *s) {
    cJSON *str = cJSON_CreateString(s);
    if (!str) return NULL;
    char *out = cJSON_PrintUnformatted(str);
    cJSON_Delete(str);
    return out;
}

int jugJsonValid(const char *text, size_t len) {
    cJSON *parsed = parseWhole(text, len);
    if (!parsed) return 0;
    cJSON_Delete(parsed);
    return 1;
}
