/* sio_frame.c -- socket.io protocol 1 framing (see sio_frame.h).
 *
 * Lengths on the wire are UTF-16 code units, text in memory is UTF-8, so
 * every walk over text here goes character by character through utf8Next(),
 * which also decides how malformed bytes count (one unit each, as the
 * U+FFFD a browser would make of them). */
#include "autoconfig.h"
#include "sio_frame.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK_LEN 3
/* Digits a frame length may have: payloads are far below 10^9 units. */
#define FRAME_DIGITS_MAX 9

/* Decode the character at s[0..len): its code point (0xFFFD for a malformed
 * byte) and the bytes it takes (>= 1). */
static size_t utf8Next(const unsigned char *s, size_t len, unsigned *cp) {
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        n = 2, min = 0x80, *cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, min = 0x800, *cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, min = 0x10000, *cp = c & 0x07;
    } else {
        *cp = 0xfffd;
        return 1;
    }
    if (n > len) {
        *cp = 0xfffd;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return 1;
        }
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) {
        *cp = 0xfffd;
        return 1;
    }
    return n;
}

static size_t utf16Units(unsigned cp) {
    return cp >= 0x10000 ? 2 : 1;
}

size_t jugSioUtf16Len(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t units = 0;
    for (size_t i = 0; i < len;) {
        unsigned cp;
        i += utf8Next(p + i, len - i, &cp);
        units += utf16Units(cp);
    }
    return units;
}

/* ---- URLs ---- */

const char *jugSioResource(const char *path) {
    static const char name[] = "socket.io/";
    size_t end = strcspn(path, "?#");
    for (size_t i = 0; i + sizeof(name) - 1 <= end; i++) {
        if ((i == 0 || path[i - 1] == '/') && !memcmp(path + i, name, sizeof(name) - 1))
            return path + i;
    }
    return NULL;
}

void jugSioParsePath(const char *rest, jugSioPath *out) {
    const char *seg[4];
    size_t seglen[4];
    int count = 0;
    size_t end = strcspn(rest, "?#");
    memset(out, 0, sizeof(*out));
    out->transport = out->sid = "";
    /* Segments separated by single slashes; one trailing slash allowed. */
    size_t i = 0;
    while (i < end) {
        size_t n = 0;
        while (i + n < end && rest[i + n] != '/') n++;
        if (n == 0 || count == 3) {
            out->kind = JUG_SIO_PATH_INVALID;
            return;
        }
        seg[count] = rest + i;
        seglen[count++] = n;
        i += n;
        if (i < end) i++;   /* the slash */
    }
    if (count == 0) {
        out->kind = JUG_SIO_PATH_WELCOME;
    } else if (seglen[0] != 1 || seg[0][0] != '1') {
        out->kind = JUG_SIO_PATH_BAD_PROTOCOL;
    } else if (count == 1) {
        out->kind = JUG_SIO_PATH_HANDSHAKE;
    } else {
        out->kind = JUG_SIO_PATH_TRANSPORT;
        out->transport = seg[1];
        out->transport_len = seglen[1];
        if (count == 3) {
            out->sid = seg[2];
            out->sid_len = seglen[2];
        }
    }
}

/* ---- packets ---- */

int jugSioParsePacket(const char *s, size_t len, jugSioPacket *out) {
    memset(out, 0, sizeof(*out));
    out->endpoint = out->data = "";
    if (len < 3 || s[0] < '0' || s[0] > '8' || s[1] != ':') return -1;
    out->type = s[0] - '0';
    size_t i = 2;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    if (i < len && s[i] == '+' && i > 2) i++;
    if (i >= len || s[i] != ':') return -1;
    i++;
    const char *colon = memchr(s + i, ':', len - i);
    size_t ep_end = colon ? (size_t)(colon - s) : len;
    out->endpoint = s + i;
    out->endpoint_len = ep_end - i;
    if (colon) {
        out->data = colon + 1;
        out->data_len = len - ep_end - 1;
    }
    return 0;
}

/* Bytes of text starting at s that make up `units` UTF-16 units; -1 if the
 * text ends first or the count splits an astral character. */
static long bytesForUnits(const char *s, size_t len, size_t units) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, got = 0;
    while (got < units) {
        if (i >= len) return -1;
        unsigned cp;
        i += utf8Next(p + i, len - i, &cp);
        got += utf16Units(cp);
    }
    return got == units ? (long)i : -1;
}

/* Walk a framed payload; fn NULL only checks. Returns packets or -1. */
static int walkFramed(const char *body, size_t len, jugSioPacketFn fn, void *arg) {
    int count = 0;
    size_t i = 0;
    while (i < len) {
        if (len - i < MARK_LEN || memcmp(body + i, JUG_SIO_MARK, MARK_LEN)) return -1;
        i += MARK_LEN;
        size_t units = 0, digits = 0;
        while (i < len && body[i] >= '0' && body[i] <= '9') {
            if (++digits > FRAME_DIGITS_MAX) return -1;
            units = units * 10 + (size_t)(body[i++] - '0');
        }
        /* No leading zeros: a length has one spelling (the client's). */
        if (digits == 0 || (digits > 1 && body[i - digits] == '0')) return -1;
        if (len - i < MARK_LEN || memcmp(body + i, JUG_SIO_MARK, MARK_LEN)) return -1;
        i += MARK_LEN;
        long n = bytesForUnits(body + i, len - i, units);
        if (n < 0) return -1;
        if (fn && fn(arg, body + i, (size_t)n) < 0) return -1;
        i += (size_t)n;
        count++;
    }
    return count;
}

int jugSioDecodePayload(const char *body, size_t len, jugSioPacketFn fn, void *arg) {
    if (len >= MARK_LEN && !memcmp(body, JUG_SIO_MARK, MARK_LEN)) {
        if (walkFramed(body, len, NULL, NULL) < 0) return -1;
        return walkFramed(body, len, fn, arg);
    }
    if (fn && fn(arg, body, len) < 0) return -1;
    return 1;
}

int jugSioAppendPacket(char **out, size_t *outlen, const char *packet, size_t len, int framed) {
    char head[2 * MARK_LEN + 24];
    int hl = 0;
    if (framed) hl = snprintf(head, sizeof(head), JUG_SIO_MARK "%zu" JUG_SIO_MARK,
                              jugSioUtf16Len(packet, len));
    char *grown = realloc(*out, *outlen + (size_t)hl + len + 1);
    if (!grown) {
        free(*out);
        *out = NULL;
        *outlen = 0;
        return -1;
    }
    memcpy(grown + *outlen, head, (size_t)hl);
    memcpy(grown + *outlen + hl, packet, len);
    *outlen += (size_t)hl + len;
    grown[*outlen] = '\0';
    *out = grown;
    return 0;
}

char *jugSioDeliveryPacket(const char *d, size_t len, size_t *outlen) {
    static const char id[] = "{\"id\":", ch[] = ",\"channel\":\"";
    if (len < sizeof(id) || memcmp(d, id, sizeof(id) - 1)) return NULL;
    size_t i = sizeof(id) - 1;
    while (i < len && d[i] >= '0' && d[i] <= '9') i++;
    if (len - i < sizeof(ch) - 1 || memcmp(d + i, ch, sizeof(ch) - 1)) return NULL;
    /* Channel names never hold a quote or backslash (docs/PROTOCOL.md, 1). */
    const char *name = d + i + sizeof(ch) - 1;
    const char *quote = memchr(name, '"', len - (size_t)(name - d));
    if (!quote) return NULL;
    size_t name_len = (size_t)(quote - name);
    const char *rest = quote + 1;                      /* ,"data":...} */
    size_t rest_len = len - (size_t)(rest - d);
    if (rest_len < 2 || rest[0] != ',' || d[len - 1] != '}') return NULL;
    /* "3:::{" + rest without ',' and '}' + ",\"channel\":\"" + name + "\"}" */
    size_t body_len = rest_len - 2;
    size_t n = 5 + body_len + sizeof(ch) - 1 + name_len + 2;
    char *out = malloc(n + 1);
    if (!out) return NULL;
    char *o = out;
    memcpy(o, "3:::{", 5), o += 5;
    memcpy(o, rest + 1, body_len), o += body_len;
    memcpy(o, ch, sizeof(ch) - 1), o += sizeof(ch) - 1;
    memcpy(o, name, name_len), o += name_len;
    memcpy(o, "\"}", 2), o += 2;
    *o = '\0';
    *outlen = n;
    return out;
}

/* ---- JavaScript string literals ---- */

char *jugSioJsString(const char *s, size_t len, size_t *outlen) {
    const unsigned char *p = (const unsigned char *)s;
    /* Worst case 12 bytes per input byte would be wasteful; 6 per byte covers
     * every case (a 4-byte astral character becomes 12 bytes). */
    char *out = malloc(len * 6 + 3);
    if (!out) return NULL;
    char *o = out;
    *o++ = '"';
    for (size_t i = 0; i < len;) {
        unsigned cp;
        size_t n = utf8Next(p + i, len - i, &cp);
        if (cp == '"' || cp == '\\') {
            *o++ = '\\';
            *o++ = (char)cp;
        } else if (cp == '/' && i > 0 && p[i - 1] == '<') {
            *o++ = '\\';
            *o++ = '/';
        } else if (cp == '<' && i + 1 < len && p[i + 1] == '!') {
            o += sprintf(o, "\\u003c");   /* no "<!--" either */
        } else if (cp >= 0x20 && cp < 0x7f) {
            *o++ = (char)cp;
        } else if (cp >= 0x10000) {
            unsigned v = cp - 0x10000;
            o += sprintf(o, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
        } else {
            o += sprintf(o, "\\u%04x", cp);
        }
        i += n;
    }
    *o++ = '"';
    *o = '\0';
    *outlen = (size_t)(o - out);
    return out;
}

/* ---- the jsonp-polling form POST ---- */

static int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..len) into out (at most len bytes). -1 on a bad escape. */
static long formDecode(const char *s, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int hi = i + 2 < len ? hexValue(s[i + 1]) : -1, lo = hi < 0 ? -1 : hexValue(s[i + 2]);
            if (lo < 0) return -1;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return (long)o;
}

/* Decode the JSON string literal s[0..len) (quotes included, nothing around
 * it but JSON whitespace): malloc'd, its length in *outlen; NULL if it is
 * not one. A lone surrogate becomes U+FFFD, as a browser's UTF-8 encoder
 * would make it (common/json.c, the one JSON scanner). */
static char *jsonString(const char *s, size_t len, size_t *outlen) {
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    const char *after = NULL;
    char *out = jugJsonStringDupLenient((jugJsonSpan){s + i, len - i}, outlen, &after);
    if (!out) return NULL;
    while (after < s + len && (*after == ' ' || *after == '\t' || *after == '\n' || *after == '\r')) after++;
    if (after != s + len) {
        free(out);
        return NULL;
    }
    return out;
}

char *jugSioFormPayload(const char *body, size_t len, size_t *outlen) {
    const char *value = NULL;
    size_t vlen = 0;
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        while (i + n < len && body[i + n] != '&') n++;
        if (n >= 2 && body[i] == 'd' && body[i + 1] == '=') {
            value = body + i + 2;
            vlen = n - 2;
            break;
        }
        i += n + 1;
    }
    if (!value) return NULL;
    char *decoded = malloc(vlen + 1);
    long dl = decoded ? formDecode(value, vlen, decoded) : -1;
    size_t ol = 0;
    char *out = dl < 0 ? NULL : jsonString(decoded, (size_t)dl, &ol);
    free(decoded);
    if (out && memchr(out, '\0', ol)) {
        free(out);
        return NULL;
    }
    if (out) *outlen = ol;
    return out;
}

const char *jugSioCookieNext(const char **pos, const char *name, size_t *len) {
    const char *c = *pos;
    size_t nl = strlen(name);
    while (c && *c) {
        while (*c == ' ' || *c == ';') c++;
        size_t n = strcspn(c, ";");
        const char *item = c;
        c += n;
        if (n > nl && !strncmp(item, name, nl) && item[nl] == '=') {
            const char *v = item + nl + 1;
            size_t vlen = n - nl - 1;
            while (vlen > 0 && v[vlen - 1] == ' ') vlen--;
            *pos = c;
            *len = vlen;
            return v;
        }
    }
    *pos = c;
    return NULL;
}
