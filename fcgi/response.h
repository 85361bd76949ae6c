/* response.h -- writing HTTP responses through FastCGI.
 *
 * Every response goes through here so that each one carries the no-cache
 * headers, nosniff, and CORS headers for allowed origins, and so that JSONP
 * and errors look the same everywhere. Writes that fail (the browser went
 * away) set res->gone; callers check it and stop. */
#ifndef JUG_RESPONSE_H
#define JUG_RESPONSE_H

#include <stddef.h>
#include "config.h"
#include "request.h"

typedef struct jugResponse {
    FCGX_Stream *out;
    const jugConfig *cfg;
    const jugRequest *req;
    const char *callback;   /* validated JSONP callback, or NULL */
    int headers_sent;
    int gone;               /* a write or flush failed */
} jugResponse;

/* Prepare a response; returns 0, or 400 if callback= is not a valid name. */
int jugResponseInit(jugResponse *res, const jugRequest *req, const jugConfig *cfg);

/* Status line and headers. extra: more header lines ("Name: value\r\n"...) or NULL. */
int jugResponseHeaders(jugResponse *res, int status, const char *content_type, const char *extra);

/* A complete JSON body, or JSONP (status 200, body "cb(json);") when a callback was given.
 * After jugResponseStartJson() only the body is written (status is ignored). */
int jugResponseJson(jugResponse *res, int status, const char *json);

/* The same for a JSON text given in pieces, written one after the other
 * (no copy of the whole unless it is JSONP or the head went out already). */
int jugResponseJsonParts(jugResponse *res, int status, const char *const *parts, int nparts);

/* Send and flush the head of a 200 JSON (or JSONP) response now, before the
 * body is known. A long-poll does this before it blocks: web servers such as
 * lighttpd watch the browser's connection only once a response has begun,
 * and close ours when the browser leaves -- which is how we notice. */
int jugResponseStartJson(jugResponse *res);

/* {"error":code,"message":message} with status (JSONP adds "status"). 503 adds Retry-After. */
int jugResponseError(jugResponse *res, int status, const char *code, const char *message);

int jugResponseWrite(jugResponse *res, const char *data, size_t len);
int jugResponseFlush(jugResponse *res);

/* 503 for a request that is not held here: Retry-After, and a body that
 * tells the client when to come back (retry_ms, 0 for not at all with this
 * transport) and which transports this host offers (a JSON array). */
int jugResponseRetry(jugResponse *res, int retry_ms, const char *transports_json);

/* 1 if name is a safe JSONP/htmlfile callback (docs/PROTOCOL.md, 3). */
int jugCallbackValid(const char *name);

/* Copy of json safe inside <script> and JSONP: <, >, &, U+2028, U+2029 as
 * \u escapes. malloc'd; NULL on allocation failure. */
char *jugJsonForScript(const char *json, size_t len);

/* The error code of an HTTP status (400 -> "bad_request", ...). */
const char *jugErrorCode(int status);

/* Like jugResponseHeaders, but cacheable for max_age seconds (static files). */
int jugResponseHeadersCached(jugResponse *res, int status, const char *content_type, int max_age,
                             const char *extra);

/* Answer an OPTIONS preflight: 204, with the CORS grant if the origin is allowed. */
int jugResponsePreflight(jugResponse *res);

/* A growing text buffer for building JSON bodies. A failed allocation sets
 * oom and makes later appends no-ops, so callers check once at the end. */
typedef struct jugBuf {
    char *s;
    size_t len, cap;
    int oom;
} jugBuf;

void jugBufAppend(jugBuf *b, const char *data, size_t len);
void jugBufAppendStr(jugBuf *b, const char *s);
void jugBufFree(jugBuf *b);

#endif
