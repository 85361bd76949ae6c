/* test_sio_frame.c -- unit tests of the socket.io framing (fcgi/sio_frame.c):
 * UTF-16 lengths, payload framing both ways, packets, deliveries as message
 * packets, ASCII-only JavaScript literals, the jsonp-polling "d=" POST, URLs. */
#include "autoconfig.h"
#include "sio_frame.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define FFFD JUG_SIO_MARK
#define SMILE "\xf0\x9f\x98\x80"   /* U+1F600: 4 bytes, 2 UTF-16 units */
#define LS "\xe2\x80\xa8"          /* U+2028 */
#define PS "\xe2\x80\xa9"          /* U+2029 */

static void testUtf16(void) {
    TAP_OK(jugSioUtf16Len("", 0) == 0, "empty text: 0 units");
    TAP_OK(jugSioUtf16Len("abc", 3) == 3, "ASCII: 1 unit per byte");
    TAP_OK(jugSioUtf16Len("caf\xc3\xa9", 5) == 4, "2-byte character: 1 unit");
    TAP_OK(jugSioUtf16Len(FFFD, 3) == 1, "U+FFFD: 3 bytes, 1 unit");
    TAP_OK(jugSioUtf16Len(SMILE, 4) == 2, "astral character: 4 bytes, 2 units");
    const char *spec = "3:::{\"data\":\"caf\xc3\xa9 " SMILE "\",\"channel\":\"c\"}";
    TAP_OK(strlen(spec) == 39 && jugSioUtf16Len(spec, strlen(spec)) == 36,
           "the spec's example: 39 bytes, 36 units");
    TAP_OK(jugSioUtf16Len("\xff\xfe", 2) == 2, "invalid bytes: 1 unit each");
    TAP_OK(jugSioUtf16Len("\xf0\x9f\x98", 3) == 3, "truncated astral character: 1 unit per byte");
    TAP_OK(jugSioUtf16Len("\xed\xa0\x80", 3) == 3, "encoded surrogate: invalid, 1 unit per byte");
}

typedef struct collected {
    int count;
    char packets[8][128];
} collected;

static int collect(void *arg, const char *p, size_t len) {
    collected *c = arg;
    if (c->count >= 8 || len >= 128) return -1;
    memcpy(c->packets[c->count], p, len);
    c->packets[c->count][len] = '\0';
    c->count++;
    return 0;
}

static int decode(const char *body, collected *c) {
    memset(c, 0, sizeof(*c));
    return jugSioDecodePayload(body, strlen(body), collect, c);
}

static void testDecode(void) {
    collected c;
    TAP_OK(decode("3:::{\"type\":\"meta\",\"data\":{\"user_id\":1}}", &c) == 1 && c.count == 1 &&
           !strcmp(c.packets[0], "3:::{\"type\":\"meta\",\"data\":{\"user_id\":1}}"),
           "an unframed body is one packet");
    const char *framed = FFFD "45" FFFD "3:::{\"type\":\"subscribe\",\"channel\":\"channel1\"}"
                         FFFD "39" FFFD "3:::{\"type\":\"subscribe\",\"channel\":\"c2\"}";
    TAP_OK(decode(framed, &c) == 2 && !strcmp(c.packets[0], "3:::{\"type\":\"subscribe\",\"channel\":\"channel1\"}") &&
           !strcmp(c.packets[1], "3:::{\"type\":\"subscribe\",\"channel\":\"c2\"}"),
           "the spec's framed POST: two packets");
    const char *astral = FFFD "8" FFFD "3:::" SMILE "ab" FFFD "3" FFFD "8::";
    TAP_OK(decode(astral, &c) == 2 && !strcmp(c.packets[0], "3:::" SMILE "ab") && !strcmp(c.packets[1], "8::"),
           "frame lengths count an astral character as 2");
    TAP_OK(decode(FFFD "5" FFFD "3:::" SMILE, &c) == -1 && c.count == 0,
           "a length that splits an astral character is malformed, nothing passed on");
    TAP_OK(decode(FFFD "3" FFFD "8::" FFFD "9" FFFD "1::", &c) == -1 && c.count == 0,
           "a length past the end: malformed, not even the first packet is passed on");
    TAP_OK(decode(FFFD "3" FFFD "8::x", &c) == -1, "garbage after the last frame");
    TAP_OK(decode(FFFD FFFD "8::", &c) == -1, "a frame without a length");
    TAP_OK(decode(FFFD "1234567890" FFFD "8::", &c) == -1, "a length of 10 digits");
    TAP_OK(decode(FFFD "00" FFFD, &c) == -1 && decode(FFFD "03" FFFD "8::", &c) == -1,
           "a length with a leading zero (found by fuzz_sio)");
    TAP_OK(decode(FFFD "0" FFFD, &c) == 1 && c.packets[0][0] == '\0', "an empty frame is an empty packet");
    TAP_OK(jugSioDecodePayload("", 0, NULL, NULL) == 1, "an empty body is one (empty) packet");
}

static void testEncode(void) {
    char *out = NULL;
    size_t len = 0;
    TAP_OK(jugSioAppendPacket(&out, &len, "8::", 3, 0) == 0 && !strcmp(out, "8::") && len == 3,
           "a single packet goes bare");
    free(out);
    out = NULL;
    len = 0;
    const char *one = "3:::{\"data\":\"one\",\"channel\":\"channel1\"}";
    const char *three = "3:::{\"data\":\"three\",\"channel\":\"channel1\"}";
    jugSioAppendPacket(&out, &len, one, strlen(one), 1);
    jugSioAppendPacket(&out, &len, three, strlen(three), 1);
    const char *want = FFFD "39" FFFD "3:::{\"data\":\"one\",\"channel\":\"channel1\"}"
                       FFFD "41" FFFD "3:::{\"data\":\"three\",\"channel\":\"channel1\"}";
    TAP_STR_EQ(out, want, "framed packets as the transcript shows them");
    TAP_OK(len == strlen(want), "length in bytes");
    free(out);
    out = NULL;
    len = 0;
    const char *a = "3:::{\"data\":\"caf\xc3\xa9 " SMILE "\",\"channel\":\"c\"}";
    jugSioAppendPacket(&out, &len, a, strlen(a), 1);
    TAP_OK(!strncmp(out, FFFD "36" FFFD, 8), "frame length of an astral text is UTF-16 units (36), not bytes (39)");
    collected c;
    memset(&c, 0, sizeof(c));
    TAP_OK(jugSioDecodePayload(out, len, collect, &c) == 1 && !strcmp(c.packets[0], a),
           "what is encoded decodes back");
    free(out);
}

static void testPacket(void) {
    jugSioPacket p;
    TAP_OK(jugSioParsePacket("1::", 3, &p) == 0 && p.type == 1 && p.endpoint_len == 0 && p.data_len == 0,
           "connect packet");
    const char *m = "3:::{\"a\":\"x:y\"}";
    TAP_OK(jugSioParsePacket(m, strlen(m), &p) == 0 && p.type == 3 && p.data_len == 11 &&
           !strncmp(p.data, "{\"a\":\"x:y\"}", 11), "message data keeps its colons");
    TAP_OK(jugSioParsePacket("3:12+::hi", 9, &p) == 0 && p.data_len == 2, "an id with '+' is accepted");
    TAP_OK(jugSioParsePacket("5:1:/chat:{}", 12, &p) == 0 && p.endpoint_len == 5, "an endpoint is found");
    TAP_OK(jugSioParsePacket("9::", 3, &p) < 0, "type 9 is no packet");
    TAP_OK(jugSioParsePacket("3:x::", 5, &p) < 0, "an id that is not digits");
    TAP_OK(jugSioParsePacket("3:+::", 5, &p) < 0, "a '+' without an id");
    TAP_OK(jugSioParsePacket("3", 1, &p) < 0 && jugSioParsePacket("3:", 2, &p) < 0, "too short");
}

static void testDelivery(void) {
    size_t n;
    const char *d = "{\"id\":1843900000000001,\"channel\":\"channel1\",\"data\":\"hello from python\"}";
    char *p = jugSioDeliveryPacket(d, strlen(d), &n);
    TAP_STR_EQ(p, "3:::{\"data\":\"hello from python\",\"channel\":\"channel1\"}",
               "a delivery becomes the original's message packet");
    TAP_OK(p && n == 53, "its length matches the transcript's Content-Length (53)");
    free(p);
    d = "{\"id\":7,\"channel\":\"/chat\",\"data\":{\"from\":\"ruby\",\"n\":[1,2]}}";
    p = jugSioDeliveryPacket(d, strlen(d), &n);
    TAP_STR_EQ(p, "3:::{\"data\":{\"from\":\"ruby\",\"n\":[1,2]},\"channel\":\"/chat\"}", "object data");
    free(p);
    TAP_OK(jugSioDeliveryPacket("{\"id\":0}", 8, &n) == NULL, "a nudge is no delivery");
    TAP_OK(jugSioDeliveryPacket("{\"id\":1,\"channel\":\"c\"}", 22, &n) == NULL, "no data member");
    TAP_OK(jugSioDeliveryPacket("{\"id\":1,\"channel\":\"c", 20, &n) == NULL, "cut off");
}

static char *lit(const char *s) {
    size_t n;
    return jugSioJsString(s, strlen(s), &n);
}

static void testJsString(void) {
    char *s;
    TAP_STR_EQ(s = lit("3:::{\"data\":\"x\"}"), "\"3:::{\\\"data\\\":\\\"x\\\"}\"", "quotes escaped");
    free(s);
    TAP_STR_EQ(s = lit("a" LS "b" PS "c"), "\"a\\u2028b\\u2029c\"", "U+2028 and U+2029 escaped");
    free(s);
    TAP_STR_EQ(s = lit("</script><script>x</SCRIPT>"), "\"<\\/script><script>x<\\/SCRIPT>\"",
               "\"</\" cannot close the script element");
    free(s);
    TAP_STR_EQ(s = lit("<!--"), "\"\\u003c!--\"", "no HTML comment opener");
    free(s);
    TAP_STR_EQ(s = lit("caf\xc3\xa9 " SMILE " " FFFD), "\"caf\\u00e9 \\ud83d\\ude00 \\ufffd\"",
               "non-ASCII as \\u escapes, astral as a surrogate pair");
    free(s);
    TAP_STR_EQ(s = lit("\x01\n\t\\\x7f"), "\"\\u0001\\u000a\\u0009\\\\\\u007f\"", "controls and DEL escaped");
    free(s);
    TAP_STR_EQ(s = lit("\xff"), "\"\\ufffd\"", "an invalid byte becomes U+FFFD");
    free(s);
    s = lit("\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9\xff");
    int ascii = 1;
    for (const char *p = s; p && *p; p++) ascii &= (unsigned char)*p < 0x7f;
    TAP_OK(s && ascii, "the literal is pure ASCII");
    free(s);
}

static char *form(const char *body) {
    size_t n;
    return jugSioFormPayload(body, strlen(body), &n);
}

static void testForm(void) {
    char *s;
    TAP_STR_EQ(s = form("d=%223%3A%3A%3A%7B%5C%22type%5C%22%3A%5C%22subscribe%5C%22%2C%5C%22channel%5C%22%3A%5C%22channel1%5C%22%7D%22"),
               "3:::{\"type\":\"subscribe\",\"channel\":\"channel1\"}",
               "d= is form-decoded, then JSON-decoded (the transcript's body)");
    free(s);
    TAP_STR_EQ(s = form("x=1&d=%22a+b%2Bc%22&y=2"), "a b+c", "a plus is a space, an escaped plus a plus; other fields ignored");
    free(s);
    TAP_STR_EQ(s = form("d=%22%5Cufffd45%5Cufffd%5Cud83d%5Cude00%22"), FFFD "45" FFFD SMILE,
               "\\u escapes, a surrogate pair becomes one astral character");
    free(s);
    TAP_STR_EQ(s = form("d=%22" "\xef\xbf\xbd" "%22"), FFFD, "raw UTF-8 passes through");
    free(s);
    TAP_STR_EQ(s = form("d=%22%5Cud800x%22"), FFFD "x", "a lone surrogate becomes U+FFFD");
    free(s);
    TAP_OK(form("d=%22abc") == NULL, "an unterminated string is refused");
    TAP_OK(form("d=abc") == NULL, "a value that is no JSON string is refused");
    TAP_OK(form("d=%22a%22x") == NULL, "text after the string is refused");
    TAP_OK(form("d=%22%5Cu0000%22") == NULL, "a NUL is refused");
    TAP_OK(form("d=%2") == NULL && form("d=%zz") == NULL, "bad percent-encoding is refused");
    TAP_OK(form("e=%22a%22") == NULL && form("") == NULL, "no d field");
    TAP_OK(form("d=%22%0A%22") == NULL, "a raw control character inside the string is refused");
}

static void testPath(void) {
    jugSioPath p;
    const char *r = jugSioResource("/cgi-bin/juggernaut.fcgi/socket.io/1/?t=1");
    TAP_STR_EQ(r, "socket.io/1/?t=1", "resource found after the script");
    TAP_OK(jugSioResource("/mysocket.io/1/") == NULL, "only as a whole segment");
    TAP_OK(jugSioResource("/poll?x=/socket.io/") == NULL, "not in the query");
    TAP_OK(jugSioResource("socket.io/") != NULL, "at the start of a relative path");
    jugSioParsePath("", &p);
    TAP_OK(p.kind == JUG_SIO_PATH_WELCOME, "nothing: welcome");
    jugSioParsePath("1/?t=5", &p);
    TAP_OK(p.kind == JUG_SIO_PATH_HANDSHAKE, "1/: handshake");
    jugSioParsePath("1", &p);
    TAP_OK(p.kind == JUG_SIO_PATH_HANDSHAKE, "1: handshake");
    jugSioParsePath("2/", &p);
    TAP_OK(p.kind == JUG_SIO_PATH_BAD_PROTOCOL, "protocol 2: not supported");
    jugSioParsePath("1/xhr-polling/AAAAAAAAAAAAAAAAAAAAAA?t=1", &p);
    TAP_OK(p.kind == JUG_SIO_PATH_TRANSPORT && p.transport_len == 11 && !strncmp(p.transport, "xhr-polling", 11) &&
           p.sid_len == 22, "transport and sid");
    jugSioParsePath("1/jsonp-polling/", &p);
    TAP_OK(p.kind == JUG_SIO_PATH_TRANSPORT && p.sid_len == 0, "transport without sid");
    jugSioParsePath("1/a/b/c", &p);
    TAP_OK(p.kind == JUG_SIO_PATH_INVALID, "four segments: invalid");
    jugSioParsePath("1//b", &p);
    TAP_OK(p.kind == JUG_SIO_PATH_INVALID, "an empty segment: invalid");
}

/* Every value of cookie name in header, joined by "|". */
static char *cookies(const char *header, const char *name) {
    static char out[256];
    const char *pos = header, *v;
    size_t n, used = 0;
    out[0] = '\0';
    while ((v = jugSioCookieNext(&pos, name, &n)) != NULL)
        used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%.*s", used ? "|" : "", (int)n, v);
    return out;
}

static void testCookie(void) {
    TAP_STR_EQ(cookies("jug_sio=abc", "jug_sio"), "abc", "one cookie");
    TAP_STR_EQ(cookies("a=1; jug_sio=abc ; b=2", "jug_sio"), "abc", "among others, trailing space dropped");
    TAP_STR_EQ(cookies("jug_sio=x;jug_sio=y", "jug_sio"), "x|y", "every cookie of the name, in order");
    TAP_STR_EQ(cookies("xjug_sio=1; jug_siox=2; jug_sio", "jug_sio"), "", "only the exact name with '='");
    TAP_STR_EQ(cookies("jug_sio=", "jug_sio"), "", "an empty value");
    TAP_STR_EQ(cookies(" ; ;; ", "jug_sio"), "", "separators only");
    const char *pos = NULL;
    size_t n;
    TAP_OK(jugSioCookieNext(&pos, "jug_sio", &n) == NULL, "no Cookie header");
}

int main(void) {
    testUtf16();
    testDecode();
    testEncode();
    testPacket();
    testDelivery();
    testJsString();
    testForm();
    testPath();
    testCookie();
    return tapDone();
}
