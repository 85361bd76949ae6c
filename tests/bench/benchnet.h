/* benchnet.h -- the benchmark's HTTP/1.1 client: many non-blocking keep-alive
 * connections to one web server on loopback, driven by one epoll loop.
 *
 * Each connection carries one request at a time (no pipelining). The loop
 * decodes Content-Length, chunked and close-delimited bodies incrementally,
 * so streaming responses (SSE, multipart) can be consumed while they last.
 * A connection the server closed is reopened by the next request.
 * benchHttpOnce is a blocking one-shot request, for publishers and probes. */
#ifndef BENCH_NET_H
#define BENCH_NET_H

#include <stddef.h>
#include <netinet/in.h>

typedef struct benchBuf {
    char *data;
    size_t len, cap;
} benchBuf;

typedef enum {
    BENCH_EV_BODY = 1,   /* more body bytes were appended to conn->body */
    BENCH_EV_DONE,       /* the response is complete (conn->body holds the rest) */
    BENCH_EV_FAILED      /* the request failed: connection refused, reset, cut off */
} benchEvent;

typedef struct benchConn benchConn;
typedef struct benchLoop benchLoop;
typedef void benchHandler(benchLoop *loop, benchConn *conn, benchEvent ev);

struct benchConn {
    int fd;                  /* -1 when closed */
    int index;               /* the caller's client number */
    int busy;                /* a request is in flight */
    int connecting;
    int got_headers;
    int status;
    long long content_length;   /* -1: not given */
    int chunked;
    long long chunk_left;    /* bytes left in the current chunk; -1: expect a size line */
    int close_after;         /* server said Connection: close (or HTTP/1.0) */
    const struct sockaddr_in *addr;   /* server to open to; NULL: the loop's */
    char last_modified[64];  /* the last response's Last-Modified and Etag */
    char etag[64];           /* (Nchan long-poll resumes from them) */
    benchBuf out;            /* request bytes not yet written */
    size_t out_off;
    benchBuf in;             /* raw bytes not yet parsed */
    benchBuf body;           /* decoded body the handler has not consumed */
    void *user;
};

struct benchLoop {
    int epfd;
    struct sockaddr_in addr;
    char host[64];
    benchHandler *handler;
    long long opened;        /* connections opened, for reporting */
    long long failures;
    void *user;
};

/* Monotonic clock in microseconds. */
long long benchNowUs(void);

void benchBufAppend(benchBuf *b, const char *data, size_t len);
void benchBufConsume(benchBuf *b, size_t n);
void benchBufFree(benchBuf *b);

/* Parse "http://host:port/path" into the loop's address and base path.
 * Returns 0 or -1. */
int benchUrlParse(const char *url, struct sockaddr_in *addr, char *host, size_t hostlen,
                  char *path, size_t pathlen);

int benchLoopInit(benchLoop *loop, const struct sockaddr_in *addr, const char *host,
                  benchHandler *handler);
void benchLoopClose(benchLoop *loop);

/* Wait up to timeout_ms for events and handle them. Returns the number of
 * events handled, or -1 on an epoll failure. */
int benchLoopRun(benchLoop *loop, int timeout_ms);

void benchConnInit(benchConn *conn, int index);
/* Send "GET <target>" (opening the connection if needed). Returns 0 or -1. */
int benchConnGet(benchLoop *loop, benchConn *conn, const char *target, const char *extra_headers);
void benchConnClose(benchLoop *loop, benchConn *conn);
void benchConnFree(benchLoop *loop, benchConn *conn);

/* One blocking request on a new connection: "<method> <target>" with body
 * (may be NULL), at most timeout_ms. Returns the status and puts the body
 * in *out (appended), or -1. */
int benchHttpOnce(const struct sockaddr_in *addr, const char *method, const char *target,
                  const char *extra_headers, const char *body, int timeout_ms, benchBuf *out);

/* Raise RLIMIT_NOFILE to want (or the hard limit). Returns the new soft limit. */
long benchRaiseNofile(long want);

#endif
