/* request.c -- parsing one CGI/FastCGI request (see request.h).
 *
 * The query string and a form-encoded POST body are copied into one buffer
 * owned by the request and percent-decoded in place, so parameters are
 * plain C strings for the life of the request and nothing is allocated per
 * parameter. Everything a client sends is checked here or in the getters;
 * handlers see only valid values. */
#include "autoconfig.h"
#include "request.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "message.h"
#include "sid.h"
#include "sio_frame.h"

/* Bytes of request body read past Content-Length before giving up on
 * finding the end of the FastCGI input stream. */
#define DRAIN_LIMIT (1 << 20)

/* Arrays/objects a meta or data value may nest. */
#define JSON_MAX_DEPTH 64

static const char *const endpointNames[JUG_EP_COUNT] = {
    [JUG_EP_UNKNOWN] = "",
    [JUG_EP_CONNECT] = "connect",
    [JUG_EP_SUBSCRIBE] = "subscribe",
    [JUG_EP_UNSUBSCRIBE] = "unsubscribe",
    [JUG_EP_META] = "meta",
    [JUG_EP_EVENT] = "event",
    [JUG_EP_DISCONNECT] = "disconnect",
    [JUG_EP_POLL] = "poll",
    [JUG_EP_SSE] = "sse",
    [JUG_EP_MULTIPART] = "multipart",
    [JUG_EP_HTMLFILE] = "htmlfile",
    [JUG_EP_STREAM] = "stream",
    [JUG_EP_SCRIPT] = "juggernaut.js",
    [JUG_EP_PUBLISH] = "publish",
    [JUG_EP_STATUS] = "status",
    [JUG_EP_SOCKETIO] = "socket.io",
    [JUG_EP_SCRIPT_APP] = "application.js",
    [JUG_EP_SCRIPT_MIN] = "juggernaut.min.js",
};

static int fail(int status, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int status, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return status;
}

jugEndpoint jugEndpointFromName(const char *name, size_t len) {
    if (len == 0) return JUG_EP_UNKNOWN;
    for (int i = 1; i < JUG_EP_COUNT; i++)
        if (strlen(endpointNames[i]) == len && !memcmp(endpointNames[i], name, len))
            return (jugEndpoint)i;
    return JUG_EP_UNKNOWN;
}

/* ---- percent-decoding and parameter splitting ---- */

static int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode s in place ('+' is a space). Returns 0, or -1 for a bad escape or
 * a NUL byte, which no parameter may contain. */
static int percentDecode(char *s) {
    char *out = s;
    for (const char *in = s; *in; in++) {
        if (*in == '+') {
            *out++ = ' ';
        } else if (*in == '%') {
            int hi = hexValue(in[1]), lo = hi < 0 ? -1 : hexValue(in[2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return -1;
            *out++ = (char)(hi * 16 + lo);
            in += 2;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return 0;
}

/* Split "a=1&b=2" (NUL-terminated, modified in place) into req->params. */
static int parsePairs(jugRequest *req, char *text, int capacity, char *err, size_t errlen) {
    char *p = text;
    while (*p) {
        char *amp = strchr(p, '&');
        if (amp) *amp = '\0';
        if (*p) {
            if (req->param_count >= capacity)
                return fail(400, err, errlen, "more than %d parameters", JUG_MAX_PARAMS);
            char *eq = strchr(p, '=');
            char *value = eq ? eq + 1 : p + strlen(p);
            if (eq) *eq = '\0';
            if (percentDecode(p) < 0 || percentDecode(value) < 0)
                return fail(400, err, errlen, "bad percent-encoding or NUL byte in a parameter");
            req->params[req->param_count].name = p;
            req->params[req->param_count].value = value;
            req->param_count++;
        }
        if (!amp) break;
        p = amp + 1;
    }
    return 0;
}

/* ---- the body ---- */

/* Form bodies are parsed; so are bodies without a type or typed text/plain,
 * which is all old IE's XDomainRequest can send. */
static int bodyTypeAccepted(const char *type) {
    if (!type || !*type) return 1;
    size_t n = strcspn(type, "; \t");
    return (n == 33 && !strncasecmp(type, "application/x-www-form-urlencoded", n)) ||
           (n == 10 && !strncasecmp(type, "text/plain", n));
}

static int bodyLength(const jugRequest *req, const jugConfig *cfg, size_t *len, char *err,
                      size_t errlen) {
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->fcgx->envp);
    *len = 0;
    if (!cl || !*cl) return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(cl, &end, 10);
    if (*end || errno || cl[0] == '-') return fail(400, err, errlen, "bad Content-Length");
    if (v > cfg->max_request_size)
        return fail(413, err, errlen, "request body over %zu bytes", cfg->max_request_size);
    *len = (size_t)v;
    return 0;
}

/* Read the rest of the input stream so that its end-of-stream record is
 * consumed: afterwards any activity on the connection means the web server
 * hung up, which is how a waiting request notices a browser that left. */
static void drainInput(FCGX_Stream *in) {
    char buf[256];
    long total = 0;
    int n;
    while ((n = FCGX_GetStr(buf, (int)sizeof(buf), in)) > 0 && total < DRAIN_LIMIT) total += n;
}

static int readBody(jugRequest *req, char *dst, size_t len, char *err, size_t errlen) {
    size_t got = 0;
    while (got < len) {
        size_t chunk = len - got > (1u << 20) ? (1u << 20) : len - got;
        int n = FCGX_GetStr(dst + got, (int)chunk, req->fcgx->in);
        if (n <= 0) break;
        got += (size_t)n;
    }
    dst[got] = '\0';
    if (got < len) return fail(400, err, errlen, "body shorter than Content-Length");
    if (strlen(dst) != len) return fail(400, err, errlen, "NUL byte in the request body");
    return 0;
}

/* ---- the endpoint ---- */

/* The last segment of path (up to '?' or the end), which may be empty. */
static const char *lastSegment(const char *path, size_t *len) {
    size_t n = strcspn(path, "?#");
    const char *start = path;
    for (size_t i = 0; i < n; i++)
        if (path[i] == '/') start = path + i + 1;
    *len = (size_t)(path + n - start);
    return start;
}

static void setEndpoint(jugRequest *req, jugEndpoint ep, const char *name, size_t len) {
    req->endpoint = ep;
    if (ep != JUG_EP_UNKNOWN) {
        req->endpoint_name = endpointNames[ep];
        return;
    }
    /* Keep the unknown name for the 404 message, bounded and printable. */
    static __thread char unknown[64];
    size_t n = len < sizeof(unknown) - 1 ? len : sizeof(unknown) - 1;
    for (size_t i = 0; i < n; i++)
        unknown[i] = (name[i] > 0x20 && name[i] < 0x7f && name[i] != '"' && name[i] != '\\') ? name[i] : '?';
    unknown[n] = '\0';
    req->endpoint_name = unknown;
}

/* PATH_INFO decides when the server sets it; otherwise the first of the
 * request path, DOCUMENT_URI and SCRIPT_NAME that names an endpoint; then
 * ?action= for hosts that rewrite paths (once the parameters are parsed). */
static void findEndpoint(jugRequest *req, int use_action) {
    char **envp = req->fcgx->envp;
    const char *path_info = FCGX_GetParam("PATH_INFO", envp);
    size_t len;
    const char *seg;
    /* socket.io URLs have several segments (.../socket.io/1/xhr-polling/<sid>). */
    const char *uri = FCGX_GetParam("REQUEST_URI", envp);
    if ((path_info && jugSioResource(path_info)) || (uri && jugSioResource(uri))) {
        setEndpoint(req, JUG_EP_SOCKETIO, NULL, 0);
        return;
    }
    if (path_info && *path_info) {
        seg = lastSegment(path_info, &len);
        if (len > 0) {
            setEndpoint(req, jugEndpointFromName(seg, len), seg, len);
            return;
        }
    }
    const char *sources[] = {"REQUEST_URI", "DOCUMENT_URI", "SCRIPT_NAME"};
    const char *first = NULL;
    size_t first_len = 0;
    for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
        const char *v = FCGX_GetParam(sources[i], envp);
        if (!v || !*v) continue;
        seg = lastSegment(v, &len);
        jugEndpoint ep = jugEndpointFromName(seg, len);
        if (ep != JUG_EP_UNKNOWN) {
            setEndpoint(req, ep, seg, len);
            return;
        }
        if (!first) {
            first = seg;
            first_len = len;
        }
    }
    const char *action = use_action ? jugRequestParam(req, "action") : NULL;
    if (action && *action) {
        setEndpoint(req, jugEndpointFromName(action, strlen(action)), action, strlen(action));
        return;
    }
    setEndpoint(req, JUG_EP_UNKNOWN, first ? first : "", first_len);
}

/* ---- parse ---- */

static int methodAllowed(const char *m) {
    return !strcmp(m, "GET") || !strcmp(m, "POST") || !strcmp(m, "OPTIONS");
}

int jugRequestParse(jugRequest *req, FCGX_Request *fcgx, const jugConfig *cfg, char *err, size_t errlen) {
    memset(req, 0, sizeof(*req));
    req->fcgx = fcgx;
    req->client_fd = fcgx->ipcFd >= 0 ? fcgx->ipcFd : -1;
    req->endpoint_name = "";
    char **envp = fcgx->envp;
    req->method = FCGX_GetParam("REQUEST_METHOD", envp);
    if (!req->method) req->method = "GET";
    req->origin = FCGX_GetParam("HTTP_ORIGIN", envp);
    req->last_event_id = FCGX_GetParam("HTTP_LAST_EVENT_ID", envp);
    /* From the path first, so that errors found below can name it. */
    findEndpoint(req, 0);
    if (!methodAllowed(req->method))
        return fail(405, err, errlen, "method %.16s is not allowed", req->method);

    const char *query = FCGX_GetParam("QUERY_STRING", envp);
    if (!query) query = "";
    size_t qlen = strlen(query), blen = 0;
    if (qlen > cfg->max_request_size)
        return fail(413, err, errlen, "query string over %zu bytes", cfg->max_request_size);
    int post = !strcmp(req->method, "POST");
    /* socket.io bodies are packets, not forms: socketio.c reads them raw. */
    int raw = req->endpoint == JUG_EP_SOCKETIO;
    if (post) {
        int rc = bodyLength(req, cfg, &blen, err, errlen);
        if (rc) return rc;
        const char *type = FCGX_GetParam("CONTENT_TYPE", envp);
        if (blen > 0 && !raw && !bodyTypeAccepted(type))
            return fail(400, err, errlen, "body must be application/x-www-form-urlencoded");
    }
    req->storage = malloc(qlen + blen + 2);
    /* Upper bound of pairs: separators + 1 per part, capped one past the limit. */
    req->params = malloc(sizeof(jugParam) * (JUG_MAX_PARAMS + 1));
    if (!req->storage || !req->params) return fail(500, err, errlen, "out of memory");
    memcpy(req->storage, query, qlen + 1);
    char *body = req->storage + qlen + 1;
    body[0] = '\0';
    if (post && blen > 0) {
        int rc = readBody(req, body, blen, err, errlen);
        if (rc) return rc;
    }
    if (req->client_fd >= 0) drainInput(fcgx->in);
    req->body = body;
    req->body_len = strlen(body);
    int rc = parsePairs(req, req->storage, JUG_MAX_PARAMS, err, errlen);
    if (!rc && !raw) rc = parsePairs(req, body, JUG_MAX_PARAMS, err, errlen);
    if (rc) return rc;
    if (req->endpoint == JUG_EP_UNKNOWN) findEndpoint(req, 1);
    return 0;
}

int jugRequestDetach(jugRequest *req) {
    const char *from[3] = {req->method, req->origin ? req->origin : "", req->last_event_id ? req->last_event_id : ""};
    size_t len[3], total = 0;
    for (int i = 0; i < 3; i++) total += (len[i] = strlen(from[i])) + 1;
    char *copy = malloc(total);
    if (!copy) return -1;
    char *p = copy;
    const char **to[3] = {&req->method, &req->origin, &req->last_event_id};
    for (int i = 0; i < 3; i++) {
        int had = i == 0 || *to[i] != NULL;
        memcpy(p, from[i], len[i] + 1);
        *to[i] = had ? p : NULL;
        p += len[i] + 1;
    }
    req->detached = copy;
    /* The parameter array was sized for the most a request may carry. */
    jugParam *fit = realloc(req->params, sizeof(jugParam) * (size_t)(req->param_count > 0 ? req->param_count : 1));
    if (fit) req->params = fit;
    req->fcgx = NULL;
    req->client_fd = -1;
    return 0;
}

void jugRequestFree(jugRequest *req) {
    free(req->detached);
    req->detached = NULL;
    free(req->params);
    free(req->storage);
    req->params = NULL;
    req->storage = NULL;
    req->param_count = 0;
}

/* ---- getters ---- */

const char *jugRequestParam(const jugRequest *req, const char *name) {
    for (int i = 0; i < req->param_count; i++)
        if (!strcmp(req->params[i].name, name)) return req->params[i].value;
    return NULL;
}

int jugRequestSessionId(const jugRequest *req, const char **sid, char *err, size_t errlen) {
    const char *v = jugRequestParam(req, "session_id");
    if (!v || !*v) return fail(400, err, errlen, "missing session_id");
    if (!jugSidValid(v, strlen(v))) return fail(400, err, errlen, "invalid session_id");
    *sid = v;
    return 0;
}

static int isChannelParam(const char *name) {
    return !strcmp(name, "channel") || !strcmp(name, "channel[]");
}

static int alreadyListed(const char **list, int count, const char *name) {
    for (int i = 0; i < count; i++)
        if (!strcmp(list[i], name)) return 1;
    return 0;
}

/* One block holds the pointer array and a copy of the text, so the caller's
 * single free() releases both. */
int jugRequestChannels(const jugRequest *req, const char ***channels, int *count, int max,
                       int required, char *err, size_t errlen) {
    size_t bytes = 0, slots = 0;
    *channels = NULL;
    *count = 0;
    for (int i = 0; i < req->param_count; i++) {
        if (!isChannelParam(req->params[i].name)) continue;
        const char *v = req->params[i].value;
        bytes += strlen(v) + 1;
        slots++;
        for (; *v; v++) slots += *v == ',';
    }
    if (slots == 0) {
        if (required) return fail(400, err, errlen, "missing channel");
        return 0;
    }
    const char **list = malloc(slots * sizeof(char *) + bytes);
    if (!list) return fail(500, err, errlen, "out of memory");
    char *text = (char *)(list + slots);
    int n = 0;
    for (int i = 0; i < req->param_count; i++) {
        if (!isChannelParam(req->params[i].name)) continue;
        size_t len = strlen(req->params[i].value);
        memcpy(text, req->params[i].value, len + 1);
        for (char *piece = text, *end = text + len; piece <= end;) {
            char *comma = memchr(piece, ',', (size_t)(end - piece));
            if (comma) *comma = '\0';
            size_t plen = strlen(piece);
            if (plen > 0) {
                if (!jugChannelValid(piece, plen)) {
                    free(list);
                    return fail(400, err, errlen, "invalid channel name");
                }
                if (!alreadyListed(list, n, piece)) {
                    if (n >= max) {
                        free(list);
                        return fail(413, err, errlen, "more than %d channels", max);
                    }
                    list[n++] = piece;
                }
            }
            if (!comma) break;
            piece = comma + 1;
        }
        text += len + 1;
    }
    if (n == 0) {
        free(list);
        if (required) return fail(400, err, errlen, "missing channel");
        return 0;
    }
    *channels = list;
    *count = n;
    return 0;
}

int jugRequestJson(const jugRequest *req, const char *name, size_t max, const char **json,
                   char *err, size_t errlen) {
    const char *v = jugRequestParam(req, name);
    if (!v) {
        *json = "null";
        return 0;
    }
    size_t len = strlen(v);
    if (len > max) return fail(413, err, errlen, "%s is larger than %zu bytes", name, max);
    size_t where;
    char why[96];
    jugJsonError e = jugJsonCheck(v, len, JSON_MAX_DEPTH, &where);
    if (e == JUG_JSON_DEPTH)
        return fail(400, err, errlen, "%s nests deeper than %d levels", name, JSON_MAX_DEPTH);
    if (e == JUG_JSON_NOMEM) return fail(500, err, errlen, "out of memory");
    if (e != JUG_JSON_OK) {
        jugJsonDescribe(why, sizeof(why), e, where);
        return fail(400, err, errlen, "%s is not accepted JSON: %s", name, why);
    }
    *json = v;
    return 0;
}

/* A delivery id: 1 to 18 digits. */
static int parseId(const char *s, long long *out) {
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n) return -1;
    *out = strtoll(s, NULL, 10);
    return 0;
}

int jugRequestAck(const jugRequest *req, long long *ack, char *err, size_t errlen) {
    long long header = 0;
    *ack = 0;
    const char *v = jugRequestParam(req, "ack");
    if (v && parseId(v, ack) < 0) return fail(400, err, errlen, "ack must be a whole number >= 0");
    /* A browser sends back whatever id it last saw; one we cannot read
     * resumes from the oldest unacknowledged delivery rather than failing
     * every automatic reconnect. EventSource reconnects to the URL it was
     * opened with, whose ack= is older than every id the stream sent since:
     * the larger of the two is where the client really is. */
    const char *h = req->last_event_id;
    if (h && *h) {
        const char *dot = strrchr(h, '.');
        if (parseId(dot ? dot + 1 : h, &header) == 0 && header > *ack) *ack = header;
    }
    return 0;
}
