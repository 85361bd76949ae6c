/* json.h -- the one JSON scanner: checking and reading JSON texts.
 *
 * Everything that checks or reads a JSON text goes through here: published
 * messages (common/message.c), meta/data parameters (fcgi/request.c),
 * deliveries taken apart by the Jugglite stream (fcgi/transport_sse.c) and
 * socket.io's messages and jsonp-polling form (fcgi/socketio.c, sio_frame.c).
 *
 * jugJsonCheck() accepts exactly what every client of a delivery can decode:
 * RFC 8259 as browsers' JSON.parse reads it, in well-formed UTF-8 (RFC 3629:
 * no overlong forms, no encoded surrogates, nothing above U+10FFFF, no cut
 * sequences), and three rules JSON.parse itself does not make, because what
 * it does with them is not what a strict decoder or a re-encoder does
 * (docs/PROTOCOL.md, "Publishing"):
 *   - no number beyond a double's range (1e999999: JSON.parse gives Infinity,
 *     which JSON.stringify turns into null);
 *   - no escaped lone surrogate ("\ud800": no UTF-8 text can hold it);
 *   - no object that names a key twice (JSON.parse keeps the last, other
 *     decoders the first or refuse: RFC 8259, 4 calls it unpredictable).
 * It never recurses (worker threads have small stacks) and allocates only
 * to remember the keys of open objects.
 *
 * The readers below walk a checked text in place, without copying it; given
 * an unchecked one they stay within its length and fail rather than crash. */
#ifndef JUG_JSON_H
#define JUG_JSON_H

#include <stddef.h>

/* The deepest nesting any check allows (arrays and objects). */
#define JUG_JSON_MAX_DEPTH 1000

typedef enum {
    JUG_JSON_OK = 0,
    JUG_JSON_SYNTAX,      /* not RFC 8259 JSON */
    JUG_JSON_UTF8,        /* bytes that are not well-formed UTF-8 */
    JUG_JSON_DEPTH,       /* arrays/objects nested deeper than allowed */
    JUG_JSON_RANGE,       /* a number a double cannot hold */
    JUG_JSON_SURROGATE,   /* an escaped lone surrogate */
    JUG_JSON_DUPLICATE,   /* an object names the same key twice */
    JUG_JSON_NOMEM        /* out of memory while checking */
} jugJsonError;

/* Check len bytes: one JSON value with optional whitespace around it, nested
 * at most max_depth deep (capped at JUG_JSON_MAX_DEPTH). Returns JUG_JSON_OK,
 * or the first problem found with its byte offset in *where (may be NULL). */
jugJsonError jugJsonCheck(const char *text, size_t len, int max_depth, size_t *where);

/* "invalid UTF-8", "duplicate key", ... for log lines and error answers. */
const char *jugJsonErrorText(jugJsonError error);

/* Describe a failed check as "<error text> at byte <where>" into buf. */
void jugJsonDescribe(char *buf, size_t buflen, jugJsonError error, size_t where);

/* 1 if jugJsonCheck(text, len, JUG_JSON_MAX_DEPTH) passes, else 0. */
int jugJsonValid(const char *text, size_t len);

/* 1 if s (len bytes) is well-formed UTF-8 (NUL bytes included), else 0. */
int jugUtf8Valid(const char *s, size_t len);

/* ---- reading a checked text ---- */

typedef enum {
    JUG_JSON_NONE = 0,   /* not the start of a value */
    JUG_JSON_STRING,
    JUG_JSON_NUMBER,
    JUG_JSON_OBJECT,
    JUG_JSON_ARRAY,
    JUG_JSON_TRUE,
    JUG_JSON_FALSE,
    JUG_JSON_NULL
} jugJsonType;

/* A value (or key) as it stands in the text: p points at its first byte. */
typedef struct jugJsonSpan {
    const char *p;
    size_t len;
} jugJsonSpan;

/* The type of the value a span holds, judged by its first byte. */
jugJsonType jugJsonTypeOf(jugJsonSpan v);

/* Members of an object or elements of an array, in order. */
typedef struct jugJsonIter {
    const char *p, *end;
    char close;          /* '}' or ']' */
    int count;           /* items returned so far */
} jugJsonIter;

/* Start iterating the object or array v (leading whitespace allowed).
 * Returns 0, or -1 if v is neither. */
int jugJsonIterInit(jugJsonIter *it, jugJsonSpan v);

/* The next member (key is set for objects: the string with its quotes) or
 * element. Returns 1 with *key / *value set, 0 at the end, -1 on text that
 * is not well formed. key may be NULL. */
int jugJsonIterNext(jugJsonIter *it, jugJsonSpan *key, jugJsonSpan *value);

/* The value of the member of object v whose key decodes to name (escaped
 * keys such as "d\u0061ta" included). Returns 0, or -1 if there is none. */
int jugJsonMember(jugJsonSpan v, const char *name, jugJsonSpan *value);

/* The decoded text of string value v: malloc'd and NUL-terminated, its
 * length (which counts any "\u0000") in *outlen if not NULL. NULL if v is
 * not a well-formed string or memory ran out. */
char *jugJsonStringDup(jugJsonSpan v, size_t *outlen);

/* The same for a string literal a browser wrote that no check has passed
 * (socket.io's jsonp-polling form): an escaped lone surrogate becomes
 * U+FFFD, as a browser's UTF-8 encoder makes it, and bytes that are not
 * UTF-8 are copied as they are; anything else that is not a well-formed
 * string literal gives NULL. *after (if not NULL) is set just past its
 * closing quote. */
char *jugJsonStringDupLenient(jugJsonSpan v, size_t *outlen, const char **after);

/* The number value v as a double. Returns 0, or -1 if v is not a number. */
int jugJsonNumber(jugJsonSpan v, double *out);

/* The JSON string literal of s (quotes and escapes added), malloc'd; NULL
 * if memory ran out. s must be UTF-8 for the result to be valid JSON. */
char *jugJsonQuote(const char *s);

#endif
