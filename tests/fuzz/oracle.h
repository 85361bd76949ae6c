/* oracle.h -- checks the fuzz targets apply to what the code under test
 * returns: an independent strict RFC 8259 JSON recognizer (what a browser's
 * JSON.parse accepts) and a byte-exact reader for memory streams. */
#ifndef JUG_FUZZ_ORACLE_H
#define JUG_FUZZ_ORACLE_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct oracleText {
    const char *p, *end;
    int depth;
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

static inline int oracleNumber(oracleText *t) {
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
    return 1;
}

static inline int oracleString(oracleText *t) {
    t->p++;
    while (t->p < t->end) {
        unsigned char c = (unsigned char)*t->p++;
        if (c == '"') return 1;
        if (c < 0x20) return 0;
        if (c != '\\') continue;
        if (t->p >= t->end) return 0;
        c = (unsigned char)*t->p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++, t->p++)
                if (t->p >= t->end || !strchr("0123456789abcdefABCDEF", *t->p) || !*t->p) return 0;
        } else if (!strchr("\"\\/bfnrt", c) || !c) {
            return 0;
        }
    }
    return 0;
}

static inline int oracleList(oracleText *t, char close, int keyed) {
    if (++t->depth > 500) return 0;
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
            if (t->p >= t->end || *t->p != '"' || !oracleString(t)) return 0;
            oracleSpace(t);
            if (t->p >= t->end || *t->p++ != ':') return 0;
            oracleSpace(t);
        }
        if (!oracleValue(t)) return 0;
        oracleSpace(t);
        if (t->p >= t->end) return 0;
        char c = *t->p++;
        if (c == close) break;
        if (c != ',') return 0;
    }
    t->depth--;
    return 1;
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

/* 1 if text (len bytes) is exactly one strict JSON value (+ whitespace). */
static inline int oracleJson(const char *text, size_t len) {
    oracleText t = {text, text + len, 0};
    oracleSpace(&t);
    if (!oracleValue(&t)) return 0;
    oracleSpace(&t);
    return t.p == t.end;
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
