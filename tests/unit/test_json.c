/* test_json.c -- unit tests of common/json.c, the one JSON scanner: what
 * the check accepts and refuses (and where), and the readers. */
#include "autoconfig.h"
#include "json.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

/* One checked text: its bytes (len 0: up to the NUL), what the check must
 * answer and at which byte. */
typedef struct checkCase {
    int line;
    const char *text;
    size_t len;
    jugJsonError want;
    size_t where;
} checkCase;

#define OK(text) {__LINE__, text, 0, JUG_JSON_OK, 0}
#define BAD(text, err, at) {__LINE__, text, 0, err, at}

static const checkCase checks[] = {
    /* RFC 8259 as JSON.parse reads it */
    OK("0"), OK("-0"), OK("1.5E+3"), OK("-0.5e-3"), OK("12345678901234567890"), OK("true"),
    OK("false"), OK("null"), OK("\"\""), OK(" [ ] "), OK("{}"), OK("\t{\"a\" : [1, {\"b\":null}]}\r\n"),
    OK("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000 \\u00e9\""),
    BAD("", JUG_JSON_SYNTAX, 0), BAD(" ", JUG_JSON_SYNTAX, 1), BAD("01", JUG_JSON_SYNTAX, 1),
    BAD("1.", JUG_JSON_SYNTAX, 0), BAD("-.5", JUG_JSON_SYNTAX, 0), BAD(".5", JUG_JSON_SYNTAX, 0),
    BAD("1e", JUG_JSON_SYNTAX, 0), BAD("+1", JUG_JSON_SYNTAX, 0), BAD("0x1", JUG_JSON_SYNTAX, 1),
    BAD("NaN", JUG_JSON_SYNTAX, 0), BAD("Infinity", JUG_JSON_SYNTAX, 0), BAD("tru", JUG_JSON_SYNTAX, 0),
    BAD("nul", JUG_JSON_SYNTAX, 0), BAD("[1,]", JUG_JSON_SYNTAX, 3), BAD("{\"a\":1,}", JUG_JSON_SYNTAX, 7),
    BAD("{a:1}", JUG_JSON_SYNTAX, 1), BAD("{'a':1}", JUG_JSON_SYNTAX, 1), BAD("[1 2]", JUG_JSON_SYNTAX, 3),
    BAD("1 2", JUG_JSON_SYNTAX, 2), BAD("{\"a\"}", JUG_JSON_SYNTAX, 4), BAD("[", JUG_JSON_SYNTAX, 1),
    BAD("\"a\tb\"", JUG_JSON_SYNTAX, 2), BAD("\"\\x\"", JUG_JSON_SYNTAX, 1), BAD("\"\\u12\"", JUG_JSON_SYNTAX, 1),
    BAD("\"abc", JUG_JSON_SYNTAX, 4), BAD("\xef\xbb\xbf{}", JUG_JSON_SYNTAX, 0), BAD("\v1", JUG_JSON_SYNTAX, 0),
    /* UTF-8 */
    OK("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\""),
    BAD("\"\xc3\"", JUG_JSON_UTF8, 1),                 /* cut short by the quote */
    BAD("\"\xe2\x82", JUG_JSON_UTF8, 1),               /* cut short by the end */
    BAD("\"\x80\"", JUG_JSON_UTF8, 1),                 /* a lone continuation byte */
    BAD("\"\xc0\xaf\"", JUG_JSON_UTF8, 1),             /* overlong '/' */
    BAD("\"\xc1\xbf\"", JUG_JSON_UTF8, 1),             /* overlong, 2 bytes */
    BAD("\"\xe0\x80\xaf\"", JUG_JSON_UTF8, 1),         /* overlong, 3 bytes */
    BAD("\"\xf0\x80\x80\xaf\"", JUG_JSON_UTF8, 1),     /* overlong, 4 bytes */
    BAD("\"a\xed\xa0\x80\"", JUG_JSON_UTF8, 2),        /* U+D800 encoded */
    BAD("\"\xed\xbf\xbf\"", JUG_JSON_UTF8, 1),         /* U+DFFF encoded */
    BAD("\"\xf4\x90\x80\x80\"", JUG_JSON_UTF8, 1),     /* U+110000 */
    BAD("\"\xf5\x80\x80\x80\"", JUG_JSON_UTF8, 1), BAD("\"\xff\"", JUG_JSON_UTF8, 1),
    BAD("{\"k\xfe\":1}", JUG_JSON_UTF8, 3),            /* in a key too */
    BAD("[\"ok\",\xc3\xa9]", JUG_JSON_SYNTAX, 6),      /* outside a string: not JSON at all */
    /* numbers beyond a double */
    OK("1e308"), OK("-1.7976931348623157e308"), OK("1e-999999"), OK("0e999999"), OK("0.0000e400"),
    OK("0.001e311"),
    BAD("1e999999", JUG_JSON_RANGE, 0), BAD("[1,-1e309]", JUG_JSON_RANGE, 3), BAD("1.8e308", JUG_JSON_RANGE, 0),
    BAD("10e308", JUG_JSON_RANGE, 0), BAD("{\"n\":1e00000000000000000000400}", JUG_JSON_RANGE, 5),
    BAD("0.01e311", JUG_JSON_RANGE, 0),
    /* escaped surrogates */
    OK("\"\\ud83d\\ude00\""), OK("\"\\uD83D\\uDE00x\""),
    BAD("\"\\ud800\"", JUG_JSON_SURROGATE, 1), BAD("\"x\\udc00\"", JUG_JSON_SURROGATE, 2),
    BAD("\"\\ud800\\u0041\"", JUG_JSON_SURROGATE, 1), BAD("\"\\ude00\\ud83d\"", JUG_JSON_SURROGATE, 1),
    BAD("{\"\\ud800\":1}", JUG_JSON_SURROGATE, 2),
    /* repeated keys, at any depth, however spelled */
    OK("{\"a\":1,\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}"), OK("{\"a\":1,\"A\":2,\"a \":3}"),
    OK("{\"data\\u0000x\":1,\"data\":2}"),
    BAD("{\"a\":1,\"a\":2}", JUG_JSON_DUPLICATE, 7), BAD("{\"a\":1,\"b\":{\"c\":1,\"c\":1}}", JUG_JSON_DUPLICATE, 18),
    BAD("{\"d\\u0061ta\":1,\"data\":2}", JUG_JSON_DUPLICATE, 15), BAD("[{\"\\/\":1,\"/\":1}]", JUG_JSON_DUPLICATE, 9),
    BAD("{\"\xc3\xa9\":1,\"\\u00e9\":2}", JUG_JSON_DUPLICATE, 8),
};

static void testCheck(void) {
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        const checkCase *c = &checks[i];
        size_t len = c->len ? c->len : strlen(c->text), where = 99999;
        jugJsonError got = jugJsonCheck(c->text, len, JUG_JSON_MAX_DEPTH, &where);
        TAP_OK(got == c->want && (got == JUG_JSON_OK || where == c->where),
               "line %d: %s at %zu (want %s at %zu)", c->line, jugJsonErrorText(got), where,
               jugJsonErrorText(c->want), c->where);
    }
}

static void testLimits(void) {
    char deep[2100];
    memset(deep, '[', 1001);
    memset(deep + 1001, ']', 1001);
    TAP_OK(jugJsonCheck(deep, 2002, JUG_JSON_MAX_DEPTH, NULL) == JUG_JSON_DEPTH &&
           jugJsonValid(deep + 1, 2000), "nesting limit of %d", JUG_JSON_MAX_DEPTH);
    size_t where = 0;
    TAP_OK(jugJsonCheck("[[{\"a\":[1]}]]", 13, 3, &where) == JUG_JSON_DEPTH && where == 7,
           "a smaller limit, and where it was passed");
    TAP_OK(jugJsonCheck("[[{\"a\":1}]]", 11, 3, NULL) == JUG_JSON_OK, "exactly at a smaller limit");
    const char nul[] = "{}\0";
    TAP_OK(jugJsonCheck(nul, 3, 10, &where) == JUG_JSON_SYNTAX && where == 2, "a NUL after the value");

    /* Many keys in one object: every pair is compared, the last one repeats. */
    size_t n = 5000, cap = n * 20 + 32;
    char *big = malloc(cap), *p = big;
    p += sprintf(p, "{");
    for (size_t i = 0; i < n; i++) p += sprintf(p, "%s\"k%zu\":%zu", i ? "," : "", i, i);
    sprintf(p, "}");
    TAP_OK(jugJsonValid(big, strlen(big)), "5000 distinct keys accepted");
    sprintf(p, ",\"k4321\":0}");
    TAP_OK(jugJsonCheck(big, strlen(big), 10, &where) == JUG_JSON_DUPLICATE && where == (size_t)(p - big + 1),
           "the 5001st key repeating the 4322nd refused, at the repeat");
    free(big);

    /* The largest double written out in full, and the next digit up, which
     * rounds to infinity: only strtod can tell these apart. */
    char max[400];
    snprintf(max, sizeof(max), "17976931348623157%0292d", 0);
    TAP_OK(jugJsonValid(max, strlen(max)), "the largest double, 309 digits, accepted");
    max[16] = '9';
    TAP_OK(jugJsonCheck(max, strlen(max), 1, NULL) == JUG_JSON_RANGE, "a 309-digit number past it refused");

    char why[96];
    jugJsonDescribe(why, sizeof(why), JUG_JSON_UTF8, 17);
    TAP_STR_EQ(why, "invalid UTF-8 at byte 17", "jugJsonDescribe");
}

static void testUtf8(void) {
    TAP_OK(jugUtf8Valid("a\0b\xc3\xa9", 5) && jugUtf8Valid("", 0), "UTF-8 text, NUL included");
    TAP_OK(!jugUtf8Valid("\xc3", 1) && !jugUtf8Valid("\xed\xa0\x80", 3) && !jugUtf8Valid("\xc0\x80", 2),
           "cut, surrogate and overlong sequences refused");
}

static jugJsonSpan span(const char *s) {
    return (jugJsonSpan){s, strlen(s)};
}

/* One member lookup: the raw value found, or NULL for none. */
typedef struct memberCase {
    int line;
    const char *object, *name, *want;
} memberCase;

static const memberCase members[] = {
    {__LINE__, "{\"a\":1,\"data\":[1,\"]\"],\"z\":2}", "data", "[1,\"]\"]"},
    {__LINE__, " { \"data\" : { \"k\" : 1 } } ", "data", "{ \"k\" : 1 }"},
    {__LINE__, "{\"x\":{\"data\":1},\"data\":2}", "data", "2"},
    {__LINE__, "{\"da\\\"ta\":1,\"data\":3}", "data", "3"},
    {__LINE__, "{\"d\\u0061ta\":\"v\"}", "data", "\"v\""},
    {__LINE__, "{\"data\\u0000x\":1}", "data", NULL},
    {__LINE__, "{\"\\u00e9\":true}", "\xc3\xa9", "true"},
    {__LINE__, "{\"a\":1}", "data", NULL},
    {__LINE__, "[\"data\",1]", "data", NULL},
    {__LINE__, "{\"data\":", "data", NULL},   /* unchecked and cut: no value, no overrun */
    {__LINE__, "{\"data\":\"abc", "data", NULL},
};

static void testReaders(void) {
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        const memberCase *c = &members[i];
        jugJsonSpan v = {NULL, 0};
        int rc = jugJsonMember(span(c->object), c->name, &v);
        int ok = c->want ? rc == 0 && v.len == strlen(c->want) && !memcmp(v.p, c->want, v.len) : rc == -1;
        TAP_OK(ok, "line %d: member \"%s\" of %s", c->line, c->name, c->object);
    }

    jugJsonIter it;
    jugJsonSpan key, value;
    const char *arr = "[ 1 , \"two\" , [3] , {\"four\":4} , null ]";
    const char *want[] = {"1", "\"two\"", "[3]", "{\"four\":4}", "null"};
    int n = 0, good = jugJsonIterInit(&it, span(arr)) == 0;
    while (jugJsonIterNext(&it, NULL, &value) == 1)
        good = good && n < 5 && value.len == strlen(want[n]) && !memcmp(value.p, want[n], value.len), n++;
    TAP_OK(good && n == 5, "array elements in order");
    TAP_OK(jugJsonIterInit(&it, span("{\"k\":\"v\"}")) == 0 && jugJsonIterNext(&it, &key, &value) == 1 &&
           key.len == 3 && !memcmp(key.p, "\"k\"", 3) && jugJsonIterNext(&it, &key, &value) == 0,
           "object members with their keys");
    TAP_OK(jugJsonIterInit(&it, span("[1 2]")) == 0 && jugJsonIterNext(&it, NULL, &value) == 1 &&
           jugJsonIterNext(&it, NULL, &value) == -1, "a malformed array is reported");
    TAP_OK(jugJsonIterInit(&it, span("42")) == -1, "a number cannot be iterated");

    size_t len = 0;
    char *s = jugJsonStringDup(span("\"a\\u0000\\u00e9\\ud83d\\ude00\\n\\/\""), &len);
    TAP_OK(s && len == 10 && !memcmp(s, "a\0\xc3\xa9\xf0\x9f\x98\x80\n/", 10), "strings decoded to UTF-8");
    free(s);
    TAP_OK(!jugJsonStringDup(span("\"\\ud800\""), NULL) && !jugJsonStringDup(span("12"), NULL),
           "no decoding of a lone surrogate or a non-string");
    const char *after = NULL, *text = "\"\\ud800x\xff\\udc00\\ud83d\\ude00\" tail";
    s = jugJsonStringDupLenient(span(text), &len, &after);
    TAP_OK(s && len == 12 && !memcmp(s, "\xef\xbf\xbdx\xff\xef\xbf\xbd\xf0\x9f\x98\x80", 12),
           "lenient: lone surrogates become U+FFFD, a byte that is not UTF-8 stays, pairs join");
    TAP_OK(after == text + strlen(text) - 5, "lenient: after is past the closing quote");
    free(s);
    TAP_OK(!jugJsonStringDupLenient(span("\"a\\x\""), NULL, NULL) &&
           !jugJsonStringDupLenient(span("\"a"), NULL, NULL) &&
           !jugJsonStringDupLenient(span("\"\n\""), NULL, NULL),
           "lenient: a bad escape, no closing quote, a raw control character: refused");

    double d = 0;
    TAP_OK(jugJsonNumber(span("-2.5e3"), &d) == 0 && d == -2500.0 && jugJsonNumber(span("x"), &d) == -1,
           "numbers");
    const jugJsonType types[] = {JUG_JSON_STRING, JUG_JSON_NUMBER, JUG_JSON_OBJECT, JUG_JSON_ARRAY,
                                 JUG_JSON_TRUE, JUG_JSON_FALSE, JUG_JSON_NULL, JUG_JSON_NONE};
    const char *texts[] = {"\"s\"", "-1", "{}", "[]", "true", "false", "null", "x"};
    good = 1;
    for (int i = 0; i < 8; i++) good = good && jugJsonTypeOf(span(texts[i])) == types[i];
    TAP_OK(good, "types by first byte");

    char *q = jugJsonQuote("a\"b\\c\n\x01\x1f\xc3\xa9/");
    TAP_STR_EQ(q, "\"a\\\"b\\\\c\\n\\u0001\\u001f\xc3\xa9/\"", "jugJsonQuote escapes");
    TAP_OK(q && jugJsonValid(q, strlen(q)), "and its output is valid");
    free(q);
}

int main(void) {
    testCheck();
    testLimits();
    testUtf8();
    testReaders();
    return tapDone();
}
