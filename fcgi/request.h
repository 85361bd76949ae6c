/* request.h -- one HTTP request as the worker sees it.
 *
 * jugRequestParse() reads the CGI/FastCGI environment and body of an accepted
 * request once: which endpoint it names, its method, and every parameter from
 * the query string and a form-encoded POST body, percent-decoded. Handlers
 * then ask for parameters by name; the validating getters turn bad input into
 * an HTTP status and a message, never into a crash. */
#ifndef JUG_REQUEST_H
#define JUG_REQUEST_H

#include <stddef.h>
#include <fcgiapp.h>
#include "config.h"

typedef enum {
    JUG_EP_UNKNOWN = 0,
    JUG_EP_CONNECT,
    JUG_EP_SUBSCRIBE,
    JUG_EP_UNSUBSCRIBE,
    JUG_EP_META,
    JUG_EP_EVENT,
    JUG_EP_DISCONNECT,
    JUG_EP_POLL,        /* long-poll; JSONP long-poll when callback= is given */
    JUG_EP_SSE,         /* Server-Sent Events */
    JUG_EP_MULTIPART,   /* streaming XHR */
    JUG_EP_HTMLFILE,    /* forever iframe / htmlfile */
    JUG_EP_STREAM,      /* Jugglite-compatible SSE on an ephemeral session */
    JUG_EP_SCRIPT,      /* juggernaut.js */
    JUG_EP_PUBLISH,     /* demo-only publish endpoint (config demo_publish on) */
    JUG_EP_STATUS,      /* operator status (config status_allow / status_token) */
    JUG_EP_SOCKETIO,    /* .../socket.io/...: Juggernaut 2.1.1 pages (socketio.c) */
    JUG_EP_SCRIPT_APP,  /* application.js: juggernaut.js under the name of the original */
    JUG_EP_SCRIPT_MIN,  /* juggernaut.min.js */
    JUG_EP_COUNT
} jugEndpoint;

typedef struct jugParam {
    char *name;
    char *value;
} jugParam;

typedef struct jugRequest {
    FCGX_Request *fcgx;
    jugEndpoint endpoint;
    const char *endpoint_name;   /* as found in the URL, for messages */
    const char *method;          /* REQUEST_METHOD */
    const char *origin;          /* HTTP_ORIGIN, or NULL */
    const char *last_event_id;   /* HTTP_LAST_EVENT_ID, or NULL */
    jugParam *params;
    int param_count;
    int client_fd;               /* connection to the web server; -1 in CGI mode */
    char *storage;               /* owns every name and value of params */
    char *detached;              /* owns method, origin and last_event_id once detached */
    const char *body;            /* JUG_EP_SOCKETIO only: the raw POST body (NUL-terminated) */
    size_t body_len;
} jugRequest;

/* Parameters one request may carry; more is a 400. */
#define JUG_MAX_PARAMS 256

/* The endpoint of a name from the URL ("poll", "juggernaut.js"), or JUG_EP_UNKNOWN. */
jugEndpoint jugEndpointFromName(const char *name, size_t len);

/* Parse an accepted request. Returns 0, or an HTTP status (400, 405, 413)
 * with the reason in err. */
int jugRequestParse(jugRequest *req, FCGX_Request *fcgx, const jugConfig *cfg, char *err, size_t errlen);
void jugRequestFree(jugRequest *req);

/* Make req independent of its FCGX_Request, which is about to be freed
 * (the request is being held: hold.h): strings taken from the FastCGI
 * environment are copied, fcgx becomes NULL. 0, or -1 when out of memory. */
int jugRequestDetach(jugRequest *req);

/* First value of a parameter, or NULL. */
const char *jugRequestParam(const jugRequest *req, const char *name);

/* The session_id parameter, checked. Returns 0 or 400 with err. */
int jugRequestSessionId(const jugRequest *req, const char **sid, char *err, size_t errlen);

/* Every "channel" value (repeated and/or comma-separated), each validated.
 * *channels is malloc'd (strings point into the request). required: 1 if at
 * least one is needed. Returns 0, or 400/413 with err. */
int jugRequestChannels(const jugRequest *req, const char ***channels, int *count, int max,
                       int required, char *err, size_t errlen);

/* A JSON-valued parameter (meta, data): JSON that jugJsonCheck (json.h)
 * accepts, nested at most 64 deep, at most max bytes; missing gives "null".
 * Returns 0, or 400/413 (500: out of memory) with err. */
int jugRequestJson(const jugRequest *req, const char *name, size_t max, const char **json,
                   char *err, size_t errlen);

/* The acknowledged id: the larger of "ack" and the Last-Event-ID header (a
 * plain number, or Jugglite form "<sid>.<n>"; unreadable counts as 0), or 0
 * if neither is given. Returns 0, or 400 with err for a malformed "ack". */
int jugRequestAck(const jugRequest *req, long long *ack, char *err, size_t errlen);

#endif
