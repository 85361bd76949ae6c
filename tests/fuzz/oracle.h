/* oracle.h -- checks the fuzz targets apply to what the code under test
 * returns: an independent recognizer of the JSON every client decodes alike
 * (strict RFC 8259 as a browser's JSON.parse reads it, in strict UTF-8, with
 * finite numbers, paired surrogates and unique keys), written apart from
 * common/json.c (recursive, decoding as it goes), and helpers. */
#ifndef JUG_FUZZ_ORACLE_H
#define JUG_FUZZ_ORACLE_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct oracleText {
    const char *p, *end;
    int depth, max_depth;
} oracleText;

static inline int oracleValue(oracleText *t);

static inline void oracleSpace(oracleText *t) {
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r')) t->p++;
}

static inline int oracleLit(oracleText *t, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(t->end - t->p) < n || memcmp(t->p, word, n)) return 0;
    t->p += n;
    return 1;
}

static inline int oracleDigits(oracleText *t) {
    const char *s = t->p;
    while (t->p < t->end && *t->p >= '0' && *t->p <= '9') t->p++;
    return t->p > s;
}

/* A number of RFC 8259 form that a double holds (strtod does not overflow). */
static inline int oracleNumber(oracleText *t) {
    const char *s = t->p;
    if (t->p < t->end && *t->p == '-') t->p++;
    if (t->p < t->end && *t->p == '0') t->p++;
    else if (!oracleDigits(t)) return 0;
    if (t->p < t->end && *t->p == '.') {
        t->p++;
        if (!oracleDigits(t)) return 0;
    }
    if (t->p < t->end && (*t->p == 'e' || *t->p == 'E')) {
        t->p++;
        if (t->p < t->end && (*t->p == '+' || *t->p == '-')) t->p++;
        if (!oracleDigits(t)) return 0;
    }
    char *copy = malloc((size_t)(t->p - s) + 1);
    if (!copy) abort();
    memcpy(copy, s, (size_t)(t->p - s));
    copy[t->p - s] = '\0';
    double v = strtod(copy, NULL);
    free(copy);
    return !isinf(v);
}

/* Append code point cp as UTF-8 to out (if not NULL). */
static inline void oraclePut(char *out, size_t *n, unsigned long cp) {
    unsigned char b[4];
    int k;
    if (cp < 0x80) b[0] = (unsigned char)cp, k = 1;
    else if (cp < 0x800) b[0] = (unsigned char)(0xC0 + (cp >> 6)), b[1] = (unsigned char)(0x80 + cp % 64), k = 2;
    else if (cp < 0x10000)
        b[0] = (unsigned char)(0xE0 + (cp >> 12)), b[1] = (unsigned char)(0x80 + (cp >> 6) % 64),
        b[2] = (unsigned char)(0x80 + cp % 64), k = 3;
    else
        b[0] = (unsigned char)(0xF0 + (cp >> 18)), b[1] = (unsigned char)(0x80 + (cp >> 12) % 64),
        b[2] = (unsigned char)(0x80 + (cp >> 6) % 64), b[3] = (unsigned char)(0x80 + cp % 64), k = 4;
    if (out) memcpy(out + *n, b, (size_t)k);
    *n += (size_t)k;
}

/* Four hex digits at p as a number, -1 if they are not. */
static inline long oracleHex(const char *p, const char *end) {
    char buf[5];
    if (end - p < 4) return -1;
    for (int i = 0; i < 4; i++) {
        if (!p[i] || !strchr("0123456789abcdefABCDEF", p[i])) return -1;
        buf[i] = p[i];
    }
    buf[4] = '\0';
    return strtol(buf, NULL, 16);
}

/* A string in strict UTF-8 (RFC 3629: shortest form, no surrogates, at most
 * U+10FFFF) whose escapes pair every surrogate; decoded into out (room for
 * the literal's length) if out is not NULL, its length in *outlen. */
static inline int oracleStringOut(oracleText *t, char *out, size_t *outlen) {
    size_t n = 0;
    t->p++;
    while (t->p < t->end) {
        unsigned char c = (unsigned char)*t->p++;
        if (c == '"') {
            if (outlen) *outlen = n;
            return 1;
        }
        if (c < 0x20) return 0;
        if (c >= 0x80) {
            int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
            if (more < 0 || c > 0xF4 || t->end - t->p < more) return 0;
            unsigned long cp = c & (0x3F >> more);
            for (int i = 0; i < more; i++) {
                unsigned char d = (unsigned char)*t->p++;
                if (d < 0x80 || d > 0xBF) return 0;
                cp = cp * 64 + (d & 0x3F);
            }
            static const unsigned long least[] = {0, 0x80, 0x800, 0x10000};
            if (cp < least[more] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
            oraclePut(out, &n, cp);
            continue;
        }
        if (c != '\\') {
            oraclePut(out, &n, c);
            continue;
        }
        if (t->p >= t->end) return 0;
        c = (unsigned char)*t->p++;
        if (c == 'u') {
            long u = oracleHex(t->p, t->end);
            if (u < 0) return 0;
            t->p += 4;
            if (u >= 0xDC00 && u <= 0xDFFF) return 0;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (t->end - t->p < 6 || t->p[0] != '\\' || t->p[1] != 'u') return 0;
                long lo = oracleHex(t->p + 2, t->end);
                if (lo < 0xDC00 || lo > 0xDFFF) return 0;
                t->p += 6;
                u = 0x10000 + (u - 0xD800) * 1024 + (lo - 0xDC00);
            }
            oraclePut(out, &n, (unsigned long)u);
        } else {
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *at = c ? strchr(from, c) : NULL;
            if (!at) return 0;
            oraclePut(out, &n, (unsigned char)to[at - from]);
        }
    }
    return 0;
}

static inline int oracleString(oracleText *t) {
    return oracleStringOut(t, NULL, NULL);
}

/* A decoded key of the object being read. */
typedef struct oracleKey {
    char *text;
    size_t len;
} oracleKey;

/* An array or object; an object may not repeat a key (compared decoded). */
static inline int oracleList(oracleText *t, char close, int keyed) {
    oracleKey *keys = NULL;
    size_t nkeys = 0;
    int ok = 0;
    if (++t->depth > t->max_depth) return 0;
    t->p++;
    oracleSpace(t);
    if (t->p < t->end && *t->p == close) {
        t->p++;
        t->depth--;
        return 1;
    }
    for (;;) {
        oracleSpace(t);
        if (keyed) {
            if (t->p >= t->end || *t->p != '"') goto out;
            keys = realloc(keys, (nkeys + 1) * sizeof(*keys));
            if (!keys || !(keys[nkeys].text = malloc((size_t)(t->end - t->p)))) abort();
            if (!oracleStringOut(t, keys[nkeys].text, &keys[nkeys].len)) {
                free(keys[nkeys].text);
                goto out;
            }
            for (size_t i = 0; i < nkeys; i++)
                if (keys[i].len == keys[nkeys].len && !memcmp(keys[i].text, keys[nkeys].text, keys[i].len)) {
                    free(keys[nkeys].text);
                    goto out;
                }
            nkeys++;
            oracleSpace(t);
            if (t->p >= t->end || *t->p++ != ':') goto out;
            oracleSpace(t);
        }
        if (!oracleValue(t)) goto out;
        oracleSpace(t);
        if (t->p >= t->end) goto out;
        char c = *t->p++;
        if (c == close) break;
        if (c != ',') goto out;
    }
    t->depth--;
    ok = 1;
out:
    for (size_t i = 0; i < nkeys; i++) free(keys[i].text);
    free(keys);
    return ok;
}

static inline int oracleValue(oracleText *t) {
    if (t->p >= t->end) return 0;
    switch (*t->p) {
    case '{': return oracleList(t, '}', 1);
    case '[': return oracleList(t, ']', 0);
    case '"': return oracleString(t);
    case 't': return oracleLit(t, "true");
    case 'f': return oracleLit(t, "false");
    case 'n': return oracleLit(t, "null");
    default: return oracleNumber(t);
    }
}

/* 1 if text (len bytes) is exactly one value (+ whitespace) nested at most
 * max_depth deep, that every client decodes alike (docs/PROTOCOL.md,
 * "Publishing"): strict RFC 8259, strict UTF-8, every number finite as a
 * double, no escaped lone surrogate, no key twice in one object. */
static inline int oracleJsonDepth(const char *text, size_t len, int max_depth) {
    oracleText t = {text, text + len, 0, max_depth};
    oracleSpace(&t);
    if (!oracleValue(&t)) return 0;
    oracleSpace(&t);
    return t.p == t.end;
}

static inline int oracleJson(const char *text, size_t len) {
    return oracleJsonDepth(text, len, 500);
}

/* A NUL-terminated copy of fuzz input. */
static inline char *oracleCopy(const unsigned char *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#define ORACLE_CHECK(cond)                                                      \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                            \
        }                                                                       \
    } while (0)

#endif
