/* httpprobe.h -- a tiny blocking HTTP/1.0 client for "--check URL": one
 * request to the web server in front of the worker, timed (headers, first
 * body byte, end), so the check can tell what the host does to responses.
 * Plain http:// only; every wait is bounded by the caller's limit. */
#ifndef JUG_HTTPPROBE_H
#define JUG_HTTPPROBE_H

#include <stddef.h>

#define JUG_PROBE_BODY_MAX 8192

typedef struct jugProbe {
    int status;                   /* HTTP status; 0: no status line arrived */
    long long head_ms;            /* ms until the headers had arrived; -1: never */
    long long body_ms;            /* ms until the first body byte; -1: none */
    long long end_ms;             /* ms until the server closed; -1: open at the limit */
    char content_type[128];
    char body[JUG_PROBE_BODY_MAX];  /* the first bytes of the body, NUL-terminated */
    size_t body_len;
    char err[256];                /* a network error, or empty */
} jugProbe;

/* Return as soon as a first body byte arrived (a stream: we only want to
 * know whether it flows). */
#define JUG_PROBE_STOP_AT_BODY 1

/* Splits "http://host[:port]/path" into its parts; 0, or -1 with err. */
int jugProbeParseUrl(const char *url, char *host, size_t hostlen, int *port, char *path,
                     size_t pathlen, char *err, size_t errlen);

/* Sends method (GET or POST with form as an urlencoded body, may be NULL) to
 * url and reads the answer for at most limit_ms. Returns 0 when a connection
 * was made (p says what arrived, and when), -1 when the URL is bad or
 * nothing could be sent (p->err says why). */
int jugProbeFetch(const char *url, const char *method, const char *form, int limit_ms, int flags,
                  jugProbe *p);

#endif
