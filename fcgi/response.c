/* response.c -- writing HTTP responses through FastCGI (see response.h).
 *
 * The head of every response is written here, so the no-cache headers,
 * nosniff and the CORS grant cannot be forgotten by a handler. The worker
 * speaks CGI to the web server: the status goes in a "Status:" header. */
#include "autoconfig.h"
#include "response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define NO_CACHE_HEADERS \
    "Cache-Control: no-cache, no-store, must-revalidate\r\n" \
    "Pragma: no-cache\r\n" \
    "Expires: 0\r\n"

#define CT_JSON "application/json; charset=utf-8"
#define CT_SCRIPT "application/javascript; charset=utf-8"

/* ---- jugBuf ---- */

void jugBufAppend(jugBuf *b, const char *data, size_t len) {
    if (b->oom) return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, data, len);
    b->len += len;
    b->s[b->len] = '\0';
}

void jugBufAppendStr(jugBuf *b, const char *s) {
    jugBufAppend(b, s, strlen(s));
}

void jugBufFree(jugBuf *b) {
    free(b->s);
    memset(b, 0, sizeof(*b));
}

/* ---- names ---- */

static const char *reasonPhrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

const char *jugErrorCode(int status) {
    switch (status) {
    case 400: return "bad_request";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 410: return "session_expired";
    case 413: return "too_large";
    case 501: return "not_implemented";
    case 503: return "unavailable";
    default: return "internal";
    }
}

static int identStart(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '$';
}

static int identChar(char c) {
    return identStart(c) || (c >= '0' && c <= '9');
}

/* ^[A-Za-z_$][A-Za-z0-9_$]{0,63}(\.[A-Za-z_$][A-Za-z0-9_$]{0,63}){0,3}$ */
int jugCallbackValid(const char *name) {
    if (!name) return 0;
    int parts = 0;
    const char *p = name;
    for (;;) {
        if (!identStart(*p)) return 0;
        int len = 1;
        for (p++; identChar(*p); p++) len++;
        if (len > 64 || ++parts > 4) return 0;
        if (*p == '\0') return 1;
        if (*p != '.') return 0;
        p++;
    }
}

char *jugJsonForScript(const char *json, size_t len) {
    /* Each byte grows to at most 6 ("\u003c"); U+2028 is 3 bytes -> 6. */
    char *out = malloc(len * 6 + 1);
    if (!out) return NULL;
    char *o = out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)json[i];
        if (c == '<' || c == '>' || c == '&') {
            o += sprintf(o, "\\u%04x", c);
        } else if (c == 0xe2 && i + 2 < len && (unsigned char)json[i + 1] == 0x80 &&
                   ((unsigned char)json[i + 2] == 0xa8 || (unsigned char)json[i + 2] == 0xa9)) {
            o += sprintf(o, "\\u%04x", (unsigned char)json[i + 2] == 0xa8 ? 0x2028 : 0x2029);
            i += 2;
        } else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

/* ---- writing ---- */

int jugResponseInit(jugResponse *res, const jugRequest *req, const jugConfig *cfg) {
    memset(res, 0, sizeof(*res));
    res->out = req->fcgx->out;
    res->cfg = cfg;
    res->req = req;
    const char *cb = jugRequestParam(req, "callback");
    if (!cb) return 0;
    if (!jugCallbackValid(cb)) return 400;
    res->callback = cb;
    return 0;
}

int jugResponseWrite(jugResponse *res, const char *data, size_t len) {
    if (res->gone) return -1;
    while (len > 0) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        if (FCGX_PutStr(data, chunk, res->out) != chunk) {
            res->gone = 1;
            return -1;
        }
        data += chunk;
        len -= (size_t)chunk;
    }
    return 0;
}

static int writeStr(jugResponse *res, const char *s) {
    return jugResponseWrite(res, s, strlen(s));
}

int jugResponseFlush(jugResponse *res) {
    if (res->gone) return -1;
    if (FCGX_FFlush(res->out) < 0 || FCGX_GetError(res->out) != 0) {
        res->gone = 1;
        return -1;
    }
    return 0;
}

static int corsAllowed(const jugResponse *res) {
    const char *origin = res->req->origin;
    return origin && *origin && jugConfigOriginAllowed(res->cfg, origin);
}

static void writeCors(jugResponse *res) {
    if (!corsAllowed(res)) return;
    writeStr(res, "Access-Control-Allow-Origin: ");
    writeStr(res, res->req->origin);
    writeStr(res, "\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n");
}

/* max_age < 0: not cacheable (every dynamic response). */
static int writeHead(jugResponse *res, int status, const char *content_type, int max_age,
                     const char *extra) {
    if (res->headers_sent) return -1;
    res->headers_sent = 1;
    char line[96];
    snprintf(line, sizeof(line), "Status: %d %s\r\n", status, reasonPhrase(status));
    writeStr(res, line);
    if (content_type) {
        writeStr(res, "Content-Type: ");
        writeStr(res, content_type);
        writeStr(res, "\r\n");
    }
    if (max_age < 0) {
        writeStr(res, NO_CACHE_HEADERS);
    } else {
        snprintf(line, sizeof(line), "Cache-Control: public, max-age=%d\r\n", max_age);
        writeStr(res, line);
    }
    writeStr(res, "X-Content-Type-Options: nosniff\r\n");
    writeCors(res);
    if (extra) writeStr(res, extra);
    return writeStr(res, "\r\n");
}

int jugResponseHeaders(jugResponse *res, int status, const char *content_type, const char *extra) {
    return writeHead(res, status, content_type, -1, extra);
}

int jugResponseHeadersCached(jugResponse *res, int status, const char *content_type, int max_age,
                             const char *extra) {
    return writeHead(res, status, content_type, max_age < 0 ? 0 : max_age, extra);
}

int jugResponsePreflight(jugResponse *res) {
    const char *grant = corsAllowed(res)
        ? "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
          "Access-Control-Allow-Headers: Content-Type, Last-Event-ID, X-Requested-With\r\n"
          "Access-Control-Max-Age: 600\r\nContent-Length: 0\r\n"
        : "Content-Length: 0\r\n";
    if (jugResponseHeaders(res, 204, NULL, grant) < 0) return -1;
    return jugResponseFlush(res);
}

/* Headers with Content-Length, then the body, for a complete response. */
static int writeWhole(jugResponse *res, int status, const char *content_type, const char *extra,
                      const char *const *parts, int nparts) {
    size_t total = 0;
    for (int i = 0; i < nparts; i++) total += strlen(parts[i]);
    char head[256];
    snprintf(head, sizeof(head), "%sContent-Length: %zu\r\n", extra ? extra : "", total);
    if (jugResponseHeaders(res, status, content_type, head) < 0) return -1;
    for (int i = 0; i < nparts; i++)
        if (writeStr(res, parts[i]) < 0) return -1;
    return jugResponseFlush(res);
}

int jugResponseStartJson(jugResponse *res) {
    if (jugResponseHeaders(res, 200, res->callback ? CT_SCRIPT : CT_JSON, NULL) < 0) return -1;
    return jugResponseFlush(res);
}

/* The body alone, after jugResponseStartJson(). */
static int writeJsonBody(jugResponse *res, const char *json) {
    if (!res->callback) {
        if (writeStr(res, json) < 0) return -1;
        return jugResponseFlush(res);
    }
    char *safe = jugJsonForScript(json, strlen(json));
    if (!safe) return -1;
    writeStr(res, res->callback);
    writeStr(res, "(");
    writeStr(res, safe);
    writeStr(res, ");");
    free(safe);
    return jugResponseFlush(res);
}

static int respondJson(jugResponse *res, int status, const char *json, const char *extra) {
    if (res->headers_sent) return writeJsonBody(res, json);
    if (!res->callback) {
        const char *parts[] = {json};
        return writeWhole(res, status, CT_JSON, extra, parts, 1);
    }
    char *safe = jugJsonForScript(json, strlen(json));
    if (!safe) return -1;
    /* JSONP cannot see a status: it is always 200, the status is in the body. */
    const char *parts[] = {res->callback, "(", safe, ");"};
    int rc = writeWhole(res, 200, CT_SCRIPT, extra, parts, 4);
    free(safe);
    return rc;
}

int jugResponseJson(jugResponse *res, int status, const char *json) {
    return respondJson(res, status, json, NULL);
}

int jugResponseJsonParts(jugResponse *res, int status, const char *const *parts, int nparts) {
    if (!res->headers_sent && !res->callback) return writeWhole(res, status, CT_JSON, NULL, parts, nparts);
    jugBuf b = {0};
    for (int i = 0; i < nparts; i++) jugBufAppendStr(&b, parts[i]);
    int rc = b.oom ? -1 : respondJson(res, status, b.s, NULL);
    jugBufFree(&b);
    return rc;
}

int jugResponseError(jugResponse *res, int status, const char *code, const char *message) {
    if (res->headers_sent) return -1;
    char *quoted = jugJsonQuote(message ? message : "");
    jugBuf b = {0};
    char num[32];
    jugBufAppendStr(&b, "{\"error\":\"");
    jugBufAppendStr(&b, code);
    jugBufAppendStr(&b, "\",\"message\":");
    jugBufAppendStr(&b, quoted ? quoted : "\"\"");
    if (res->callback) {
        snprintf(num, sizeof(num), ",\"status\":%d", status);
        jugBufAppendStr(&b, num);
    }
    jugBufAppendStr(&b, "}");
    free(quoted);
    const char *extra = status == 503 ? "Retry-After: 2\r\n"
                      : status == 405 ? "Allow: GET, POST, OPTIONS\r\n" : NULL;
    int rc = b.oom ? -1 : respondJson(res, status, b.s, extra);
    jugBufFree(&b);
    return rc;
}

int jugResponseRetry(jugResponse *res, int retry_ms, const char *transports_json) {
    char body[512], extra[48];
    snprintf(body, sizeof(body),
             "{\"error\":\"unavailable\",\"message\":\"%s\",\"retry\":%d,\"transports\":%s%s}",
             retry_ms > 0 ? "no request can be held open now: poll, or come back later"
                          : "this transport is not offered here: use another",
             retry_ms, transports_json, res->callback ? ",\"status\":503" : "");
    snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", retry_ms > 0 ? (retry_ms + 999) / 1000 : 1);
    return respondJson(res, 503, body, extra);
}
