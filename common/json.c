/* json.c -- the one JSON scanner: checking and reading (see json.h). */
#include "autoconfig.h"
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- characters of a string literal ----
 * readChar() is the only place that knows escapes and UTF-8: the checker,
 * the decoder and the key comparisons all read through it. */

typedef enum { CH_OK, CH_END, CH_SYNTAX, CH_UTF8, CH_SURROGATE } charStatus;

static long hex4(const unsigned char *p, const unsigned char *end) {
    long v = 0;
    if (end - p < 4) return -1;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A \u escape at p (the backslash): the code point, pairs joined. */
static charStatus readEscapeU(const unsigned char **pp, const unsigned char *end, uint32_t *cp) {
    const unsigned char *p = *pp;
    long u = hex4(p + 2, end);
    if (u < 0) return CH_SYNTAX;
    p += 6;
    if (u >= 0xDC00 && u <= 0xDFFF) return CH_SURROGATE;
    if (u >= 0xD800 && u <= 0xDBFF) {
        long lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2, end) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) return CH_SURROGATE;
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
    }
    *cp = (uint32_t)u;
    *pp = p;
    return CH_OK;
}

/* A multi-byte UTF-8 sequence at p, as Unicode's table 3-7 allows it. */
static charStatus readUtf8(const unsigned char **pp, const unsigned char *end, uint32_t *cp) {
    const unsigned char *p = *pp;
    unsigned c = *p;
    int n;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) n = 1, v = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 2, v = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 3, v = c & 0x07;
    else return CH_UTF8;
    if (end - p <= n) return CH_UTF8;
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80) return CH_UTF8;
        v = v << 6 | (p[i] & 0x3F);
    }
    if ((n == 2 && v < 0x800) || (v >= 0xD800 && v <= 0xDFFF) || (n == 3 && (v < 0x10000 || v > 0x10FFFF)))
        return CH_UTF8;
    *cp = v;
    *pp = p + n + 1;
    return CH_OK;
}

/* The next character of a string literal at *pp (past its opening quote).
 * CH_END when *pp was the closing quote (then consumed). */
static charStatus readChar(const char **pp, const char *end, uint32_t *cp) {
    const unsigned char *p = (const unsigned char *)*pp, *e = (const unsigned char *)end;
    charStatus st = CH_OK;
    if (p >= e) return CH_SYNTAX;
    if (*p == '"') {
        *pp = (const char *)p + 1;
        return CH_END;
    }
    if (*p < 0x20) return CH_SYNTAX;
    if (*p == '\\') {
        if (e - p < 2) return CH_SYNTAX;
        const char *plain = strchr("\"\\/bfnrt", p[1]);
        if (p[1] == 'u') {
            st = readEscapeU(&p, e, cp);
        } else if (p[1] && plain) {
            *cp = (uint32_t)"\"\\/\b\f\n\r\t"[plain - "\"\\/bfnrt"];
            p += 2;
        } else {
            return CH_SYNTAX;
        }
    } else if (*p < 0x80) {
        *cp = *p++;
    } else {
        st = readUtf8(&p, e, cp);
    }
    *pp = (const char *)p;
    return st;
}

/* UTF-8 bytes of cp into out (room for 4); their count. */
static size_t putUtf8(char *out, uint32_t cp) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int jugUtf8Valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    uint32_t cp;
    while (p < end) {
        if (*p < 0x80) p++;
        else if (readUtf8(&p, end, &cp) != CH_OK) return 0;
    }
    return 1;
}

/* ---- numbers ---- */

/* p..end is a number of RFC 8259 form: 1 if a double holds it (it does not
 * overflow to infinity), 0 if not, -1 if memory ran out. The decimal
 * magnitude decides all but numbers near 1e308, which strtod settles. */
static int numberFinite(const char *p, const char *end) {
    const char *s = p;
    long long mag = 0;   /* the value is below 10^mag, and at least 10^(mag-1) */
    int seen = 0, fraction = 0;
    if (*p == '-') p++;
    for (; p < end && ((*p >= '0' && *p <= '9') || *p == '.'); p++) {
        if (*p == '.') fraction = 1;
        else if (!seen && *p == '0') mag -= fraction;
        else if (!seen) seen = 1, mag += !fraction;
        else mag += !fraction;
    }
    if (!seen) return 1;   /* zero */
    if (p < end) {         /* e or E */
        p++;
        int neg = *p == '-';
        if (*p == '+' || *p == '-') p++;
        long long exp = 0;
        for (; p < end; p++)
            if (exp < 1000000000) exp = exp * 10 + (*p - '0');
        mag += neg ? -exp : exp;
    }
    if (mag <= 308) return 1;
    if (mag > 309) return 0;
    char *copy = malloc((size_t)(end - s) + 1);
    if (!copy) return -1;
    memcpy(copy, s, (size_t)(end - s));
    copy[end - s] = '\0';
    int finite = isfinite(strtod(copy, NULL));
    free(copy);
    return finite;
}

static const char *digits(const char *p, const char *end) {
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    return p > start ? p : NULL;
}

/* The end of the number at p, or NULL if it is not one. */
static const char *numberEnd(const char *p, const char *end) {
    if (p < end && *p == '-') p++;
    if (p < end && *p == '0') p++;
    else if (!(p = digits(p, end))) return NULL;
    if (p < end && *p == '.' && !(p = digits(p + 1, end))) return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        p = digits(p, end);
    }
    return p;
}

/* ---- the checker ---- */

/* A key of an open object: its literal (from the opening quote) and the
 * hash of its decoded characters. */
typedef struct keyRef {
    const char *p;
    uint64_t hash;
} keyRef;

typedef struct checker {
    const char *start, *p, *end;
    jugJsonError err;
    const char *at;
    keyRef *keys;        /* keys of every open object, innermost last */
    size_t nkeys, capkeys;
} checker;

static int failAt(checker *c, jugJsonError err, const char *at) {
    c->err = err;
    c->at = at;
    return -1;
}

static void skipSpace(checker *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

/* The string at c->p (its opening quote); with hash set, also hashes it. */
static int checkString(checker *c, uint64_t *hash) {
    static const jugJsonError errs[] = {
        [CH_SYNTAX] = JUG_JSON_SYNTAX, [CH_UTF8] = JUG_JSON_UTF8, [CH_SURROGATE] = JUG_JSON_SURROGATE};
    uint64_t h = 0xcbf29ce484222325ULL;
    const char *p = c->p + 1;
    for (;;) {
        const char *at = p;
        uint32_t cp;
        charStatus st = readChar(&p, c->end, &cp);
        if (st == CH_END) break;
        if (st != CH_OK) return failAt(c, errs[st], at);
        h = (h ^ cp) * 0x100000001b3ULL;
    }
    c->p = p;
    if (hash) *hash = h;
    return 0;
}

static int checkNumber(checker *c) {
    const char *e = numberEnd(c->p, c->end);
    if (!e) return failAt(c, JUG_JSON_SYNTAX, c->p);
    int finite = numberFinite(c->p, e);
    if (finite <= 0) return failAt(c, finite < 0 ? JUG_JSON_NOMEM : JUG_JSON_RANGE, c->p);
    c->p = e;
    return 0;
}

static int checkScalar(checker *c) {
    static const char *const words[] = {"true", "false", "null"};
    if (c->p >= c->end) return failAt(c, JUG_JSON_SYNTAX, c->p);
    if (*c->p == '"') return checkString(c, NULL);
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (*c->p != words[i][0]) continue;
        if ((size_t)(c->end - c->p) < n || memcmp(c->p, words[i], n)) break;
        c->p += n;
        return 0;
    }
    return checkNumber(c);
}

/* An object member's "key": (spaces around it); the key is remembered. */
static int checkKey(checker *c) {
    skipSpace(c);
    if (c->p >= c->end || *c->p != '"') return failAt(c, JUG_JSON_SYNTAX, c->p);
    if (c->nkeys == c->capkeys) {
        size_t cap = c->capkeys ? c->capkeys * 2 : 16;
        keyRef *k = realloc(c->keys, cap * sizeof(*k));
        if (!k) return failAt(c, JUG_JSON_NOMEM, c->p);
        c->keys = k;
        c->capkeys = cap;
    }
    keyRef *k = &c->keys[c->nkeys];
    k->p = c->p;
    if (checkString(c, &k->hash) < 0) return -1;
    c->nkeys++;
    skipSpace(c);
    if (c->p >= c->end || *c->p != ':') return failAt(c, JUG_JSON_SYNTAX, c->p);
    c->p++;
    return 0;
}

/* 1 if two checked key literals decode to the same characters. */
static int sameKey(const char *a, const char *b, const char *end) {
    a++, b++;
    for (;;) {
        uint32_t ca = 0, cb = 0;
        charStatus sa = readChar(&a, end, &ca), sb = readChar(&b, end, &cb);
        if (sa != sb || ca != cb) return 0;
        if (sa != CH_OK) return 1;
    }
}

static int byHash(const void *x, const void *y) {
    const keyRef *a = x, *b = y;
    return a->hash < b->hash ? -1 : a->hash > b->hash;
}

/* An object closes: refuse a repeated key among keys[base..], forget them. */
static int closeObject(checker *c, size_t base) {
    size_t n = c->nkeys - base;
    keyRef *k = c->keys + base;
    c->nkeys = base;
    if (n < 2) return 0;
    qsort(k, n, sizeof(*k), byHash);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j-- > 0 && k[j].hash == k[i].hash;)
            if (sameKey(k[j].p, k[i].p, c->end))
                return failAt(c, JUG_JSON_DUPLICATE, k[j].p > k[i].p ? k[j].p : k[i].p);
    return 0;
}

static int checkValues(checker *c, int max_depth) {
    char open[JUG_JSON_MAX_DEPTH];
    size_t keybase[JUG_JSON_MAX_DEPTH];
    int depth = 0;
    for (;;) {
        /* A value is expected at p. */
        skipSpace(c);
        if (c->p < c->end && (*c->p == '{' || *c->p == '[')) {
            if (depth == max_depth) return failAt(c, JUG_JSON_DEPTH, c->p);
            keybase[depth] = c->nkeys;
            open[depth++] = *c->p == '{' ? '}' : ']';
            c->p++;
            skipSpace(c);
            if (c->p < c->end && *c->p == open[depth - 1]) {
                depth--;
                c->p++;
            } else {
                if (open[depth - 1] == '}' && checkKey(c) < 0) return -1;
                continue;
            }
        } else if (checkScalar(c) < 0) {
            return -1;
        }
        /* After a value: close containers until a ',' asks for the next. */
        for (;;) {
            skipSpace(c);
            if (depth == 0) return c->p == c->end ? 0 : failAt(c, JUG_JSON_SYNTAX, c->p);
            if (c->p >= c->end) return failAt(c, JUG_JSON_SYNTAX, c->p);
            if (*c->p == open[depth - 1]) {
                depth--;
                if (open[depth] == '}' && closeObject(c, keybase[depth]) < 0) return -1;
                c->p++;
                continue;
            }
            if (*c->p != ',') return failAt(c, JUG_JSON_SYNTAX, c->p);
            c->p++;
            if (open[depth - 1] == '}' && checkKey(c) < 0) return -1;
            break;
        }
    }
}

jugJsonError jugJsonCheck(const char *text, size_t len, int max_depth, size_t *where) {
    checker c = {text, text, text + len, JUG_JSON_OK, text, NULL, 0, 0};
    if (max_depth > JUG_JSON_MAX_DEPTH) max_depth = JUG_JSON_MAX_DEPTH;
    if (max_depth < 0) max_depth = 0;
    checkValues(&c, max_depth);
    free(c.keys);
    if (where) *where = (size_t)(c.at - text);
    return c.err;
}

const char *jugJsonErrorText(jugJsonError error) {
    switch (error) {
    case JUG_JSON_OK: return "valid JSON";
    case JUG_JSON_SYNTAX: return "not valid JSON";
    case JUG_JSON_UTF8: return "invalid UTF-8";
    case JUG_JSON_DEPTH: return "nested too deeply";
    case JUG_JSON_RANGE: return "number out of range";
    case JUG_JSON_SURROGATE: return "escaped lone surrogate";
    case JUG_JSON_DUPLICATE: return "duplicate key";
    case JUG_JSON_NOMEM: return "out of memory";
    }
    return "unknown JSON error";
}

void jugJsonDescribe(char *buf, size_t buflen, jugJsonError error, size_t where) {
    snprintf(buf, buflen, "%s at byte %zu", jugJsonErrorText(error), where);
}

int jugJsonValid(const char *text, size_t len) {
    return jugJsonCheck(text, len, JUG_JSON_MAX_DEPTH, NULL) == JUG_JSON_OK;
}

/* ---- readers ---- */

static const char *spaceEnd(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* The byte after the string literal at p, or NULL if it does not end. */
static const char *stringEnd(const char *p, const char *end) {
    for (p++; p < end; p++) {
        if (*p == '"') return p + 1;
        if (*p == '\\') p++;
    }
    return NULL;
}

/* The byte after the value at p, or NULL if it is cut short. */
static const char *valueEnd(const char *p, const char *end) {
    if (p >= end) return NULL;
    if (*p == '"') return stringEnd(p, end);
    if (*p != '{' && *p != '[') {
        const char *s = p;
        while (p < end && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || strchr("+-.E", *p)))
            p++;
        return p > s ? p : NULL;
    }
    size_t depth = 0;
    while (p < end) {
        if (*p == '"') {
            if (!(p = stringEnd(p, end))) return NULL;
            continue;
        }
        if (*p == '{' || *p == '[') depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0) return p + 1;
        p++;
    }
    return NULL;
}

jugJsonType jugJsonTypeOf(jugJsonSpan v) {
    if (v.len == 0) return JUG_JSON_NONE;
    switch (v.p[0]) {
    case '"': return JUG_JSON_STRING;
    case '{': return JUG_JSON_OBJECT;
    case '[': return JUG_JSON_ARRAY;
    case 't': return JUG_JSON_TRUE;
    case 'f': return JUG_JSON_FALSE;
    case 'n': return JUG_JSON_NULL;
    default: return (v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9')) ? JUG_JSON_NUMBER : JUG_JSON_NONE;
    }
}

int jugJsonIterInit(jugJsonIter *it, jugJsonSpan v) {
    const char *end = v.p + v.len, *p = spaceEnd(v.p, end);
    if (p >= end || (*p != '{' && *p != '[')) return -1;
    it->close = *p == '{' ? '}' : ']';
    it->p = p + 1;
    it->end = end;
    it->count = 0;
    return 0;
}

int jugJsonIterNext(jugJsonIter *it, jugJsonSpan *key, jugJsonSpan *value) {
    const char *p = spaceEnd(it->p, it->end), *e;
    if (p >= it->end) return -1;
    if (*p == it->close) return 0;
    if (it->count > 0) {
        if (*p != ',') return -1;
        p = spaceEnd(p + 1, it->end);
    }
    if (it->close == '}') {
        if (p >= it->end || *p != '"' || !(e = stringEnd(p, it->end))) return -1;
        if (key) *key = (jugJsonSpan){p, (size_t)(e - p)};
        p = spaceEnd(e, it->end);
        if (p >= it->end || *p != ':') return -1;
        p = spaceEnd(p + 1, it->end);
    }
    if (!(e = valueEnd(p, it->end))) return -1;
    *value = (jugJsonSpan){p, (size_t)(e - p)};
    it->p = e;
    it->count++;
    return 1;
}

/* 1 if the key literal decodes to exactly name. */
static int keyIs(jugJsonSpan key, const char *name) {
    const char *p = key.p + 1, *end = key.p + key.len;
    char buf[4];
    for (;;) {
        uint32_t cp;
        charStatus st = readChar(&p, end, &cp);
        if (st == CH_END) return *name == '\0';
        if (st != CH_OK) return 0;
        size_t n = putUtf8(buf, cp);
        if (strncmp(name, buf, n) || memchr(buf, '\0', n)) return 0;
        name += n;
    }
}

int jugJsonMember(jugJsonSpan v, const char *name, jugJsonSpan *value) {
    jugJsonIter it;
    jugJsonSpan key;
    if (jugJsonIterInit(&it, v) < 0 || it.close != '}') return -1;
    while (jugJsonIterNext(&it, &key, value) == 1)
        if (keyIs(key, name)) return 0;
    return -1;
}

/* jugJsonStringDup and its lenient sibling: one decoder. */
static char *stringDup(jugJsonSpan v, int lenient, size_t *outlen, const char **after) {
    if (jugJsonTypeOf(v) != JUG_JSON_STRING) return NULL;
    const char *p = v.p + 1, *end = v.p + v.len;
    /* Decoding never lengthens: an escape is at least as long as its UTF-8
     * (U+FFFD's 3 bytes stand for a 6-byte escape, a raw byte for itself). */
    char *out = malloc(v.len), *o = out;
    if (!out) return NULL;
    for (;;) {
        uint32_t cp;
        charStatus st = readChar(&p, end, &cp);
        if (st == CH_END) break;
        if (lenient && st == CH_SURROGATE) {
            p += 6;                          /* the lone \uXXXX */
            cp = 0xFFFD;
        } else if (lenient && st == CH_UTF8) {
            *o++ = *p++;                     /* as it came */
            continue;
        } else if (st != CH_OK) {
            free(out);
            return NULL;
        }
        o += putUtf8(o, cp);
    }
    *o = '\0';
    if (outlen) *outlen = (size_t)(o - out);
    if (after) *after = p;
    return out;
}

char *jugJsonStringDup(jugJsonSpan v, size_t *outlen) {
    return stringDup(v, 0, outlen, NULL);
}

char *jugJsonStringDupLenient(jugJsonSpan v, size_t *outlen, const char **after) {
    return stringDup(v, 1, outlen, after);
}

int jugJsonNumber(jugJsonSpan v, double *out) {
    const char *e = numberEnd(v.p, v.p + v.len);
    char small[64];
    if (!e || e == v.p) return -1;
    size_t n = (size_t)(e - v.p);
    char *copy = n < sizeof(small) ? small : malloc(n + 1);
    if (!copy) return -1;
    memcpy(copy, v.p, n);
    copy[n] = '\0';
    *out = strtod(copy, NULL);
    if (copy != small) free(copy);
    return 0;
}

char *jugJsonQuote(const char *s) {
    size_t len = strlen(s);
    char *out = malloc(len * 6 + 3), *o = out;   /* worst case: every byte as \u00XX */
    if (!out) return NULL;
    *o++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *short_form = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
                               : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                               : c == '\t' ? "\\t" : NULL;
        if (short_form) {
            memcpy(o, short_form, 2);
            o += 2;
        } else if (c < 0x20) {
            o += sprintf(o, "\\u%04x", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}
