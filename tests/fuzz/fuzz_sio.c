/* fuzz_sio.c -- libFuzzer target for the socket.io framing (fcgi/sio_frame.c):
 * payload decoding (what a page POSTs), packets, the jsonp-polling "d=" form,
 * URLs, the Cookie header, deliveries as packets and the ASCII-only
 * JavaScript literals.
 * Checks: a decoded payload encodes back to the same bytes; packets point
 * inside their text; a literal is printable ASCII, strict JSON, holds no
 * "</" or "<!", and decodes back (through the "d=" form) to the input when
 * that is valid UTF-8; UTF-16 lengths match an independent count. */
#include "autoconfig.h"
#include "sio_frame.h"
#include "oracle.h"

#include <stdint.h>

typedef struct packets {
    char *encoded;
    size_t len;
    int count;
    const char *base, *end;
} packets;

static int onPacket(void *arg, const char *p, size_t len) {
    packets *ps = arg;
    jugSioPacket pk;
    ORACLE_CHECK(p >= ps->base && p + len <= ps->end);
    if (jugSioParsePacket(p, len, &pk) == 0) {
        ORACLE_CHECK(pk.type >= 0 && pk.type <= 8);
        ORACLE_CHECK(pk.endpoint >= p && pk.endpoint + pk.endpoint_len <= p + len);
        ORACLE_CHECK(pk.data_len == 0 || (pk.data > p && pk.data + pk.data_len == p + len));
    }
    ORACLE_CHECK(jugSioAppendPacket(&ps->encoded, &ps->len, p, len, 1) == 0);
    ps->count++;
    return 0;
}

/* 1 if s is valid UTF-8 without NUL, surrogates or overlong forms. */
static int validUtf8(const unsigned char *s, size_t len, size_t *units) {
    *units = 0;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i], cp, n;
        if (c == 0) return 0;
        if (c < 0x80) n = 1, cp = c;
        else if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
        else return 0;
        if (i + n > len) return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        *units += n == 4 ? 2 : 1;
        i += n;
    }
    return 1;
}

static void checkPayload(const char *s, size_t size) {
    packets ps = {NULL, 0, 0, s, s + size};
    int n = jugSioDecodePayload(s, size, onPacket, &ps);
    if (n >= 0) {
        ORACLE_CHECK(n == ps.count);
        int framed = size >= 3 && !memcmp(s, JUG_SIO_MARK, 3);
        if (framed) ORACLE_CHECK(ps.len == size && !memcmp(ps.encoded, s, size));
        else ORACLE_CHECK(n == 1);
    }
    free(ps.encoded);
}

static void checkLiteral(const char *s, size_t size) {
    size_t n, units;
    char *lit = jugSioJsString(s, size, &n);
    ORACLE_CHECK(lit && strlen(lit) == n && n >= 2 && lit[0] == '"' && lit[n - 1] == '"');
    for (size_t i = 0; i < n; i++) ORACLE_CHECK(lit[i] >= 0x20 && lit[i] < 0x7f);
    ORACLE_CHECK(!strstr(lit, "</") && !strstr(lit, "<!"));
    ORACLE_CHECK(oracleJson(lit, n));
    if (validUtf8((const unsigned char *)s, size, &units)) {
        ORACLE_CHECK(jugSioUtf16Len(s, size) == units);
        /* Back through the jsonp-polling form: "d=" + every byte %-escaped. */
        char *form = malloc(2 + 3 * n + 1);
        ORACLE_CHECK(form != NULL);
        memcpy(form, "d=", 2);
        for (size_t i = 0; i < n; i++) snprintf(form + 2 + 3 * i, 4, "%%%02X", (unsigned char)lit[i]);
        size_t back_len;
        char *back = jugSioFormPayload(form, 2 + 3 * n, &back_len);
        ORACLE_CHECK(back && back_len == size && !memcmp(back, s, size));
        free(back);
        free(form);
    }
    free(lit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = oracleCopy(data, size);
    size_t n;
    checkPayload(s, size);
    checkLiteral(s, size);
    ORACLE_CHECK(jugSioUtf16Len(s, size) <= size);
    char *form = jugSioFormPayload(s, size, &n);
    if (form) ORACLE_CHECK(strlen(form) == n);
    free(form);
    char *packet = jugSioDeliveryPacket(s, size, &n);
    if (packet) ORACLE_CHECK(n >= 7 && !strncmp(packet, "3:::{", 5) && !strcmp(packet + n - 2, "\"}"));
    free(packet);
    jugSioPath path;
    jugSioParsePath(s, &path);
    ORACLE_CHECK(path.kind <= JUG_SIO_PATH_INVALID);
    if (path.kind == JUG_SIO_PATH_TRANSPORT) ORACLE_CHECK(path.transport >= s && path.transport_len > 0);
    const char *res = jugSioResource(s);
    ORACLE_CHECK(!res || (res >= s && !strncmp(res, "socket.io/", 10)));
    const char *pos = s, *v, *prev = s;
    while ((v = jugSioCookieNext(&pos, "jug_sio", &n)) != NULL) {
        ORACLE_CHECK(v >= prev && v + n <= s + strlen(s) && pos >= v + n && !memchr(v, ';', n));
        prev = pos;
    }
    free(s);
    return 0;
}
