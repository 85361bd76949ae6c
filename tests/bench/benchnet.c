/* benchnet.c -- the benchmark's non-blocking HTTP/1.1 client (see benchnet.h).
 *
 * Deliberately small: GET only on the loop, one request per connection at a
 * time, and just enough response parsing for what juggernaut.fcgi or Nchan
 * behind a web server sends (status line, Content-Length, chunked,
 * Connection: close, Last-Modified/Etag). */
#include "autoconfig.h"

#include "benchnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>

#define CHUNK_SIZE_LINE (-1)   /* expect "<hex>\r\n" */
#define CHUNK_TRAILER   (-2)   /* after the last chunk: trailers, then "\r\n" */
#define CHUNK_CRLF      (-3)   /* after a chunk's data: "\r\n" */

long long benchNowUs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void benchBufAppend(benchBuf *b, const char *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + len + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) abort();   /* a benchmark that runs out of memory has no figure to give */
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';   /* so parsers may use string functions */
}

void benchBufConsume(benchBuf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data) b->data[b->len] = '\0';
}

void benchBufFree(benchBuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int benchUrlParse(const char *url, struct sockaddr_in *addr, char *host, size_t hostlen,
                  char *path, size_t pathlen)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0) p += 7;
    const char *colon = strchr(p, ':');
    const char *slash = strchr(p, '/');
    if (!slash) slash = p + strlen(p);
    const char *hend = (colon && colon < slash) ? colon : slash;
    if ((size_t)(hend - p) + 1 > hostlen || hend == p) return -1;
    memcpy(host, p, (size_t)(hend - p));
    host[hend - p] = '\0';
    int port = (colon && colon < slash) ? atoi(colon + 1) : 80;
    if (port <= 0 || port > 65535) return -1;
    if (strlen(slash) + 1 > pathlen) return -1;
    strcpy(path, slash);
    size_t plen = strlen(path);
    if (plen > 0 && path[plen - 1] == '/') path[plen - 1] = '\0';   /* base path, no slash */
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_port = htons((unsigned short)port);
    const char *ip = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    return inet_pton(AF_INET, ip, &addr->sin_addr) == 1 ? 0 : -1;
}

int benchLoopInit(benchLoop *loop, const struct sockaddr_in *addr, const char *host,
                  benchHandler *handler)
{
    memset(loop, 0, sizeof(*loop));
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) return -1;
    loop->addr = *addr;
    snprintf(loop->host, sizeof(loop->host), "%s", host);
    loop->handler = handler;
    return 0;
}

void benchLoopClose(benchLoop *loop)
{
    if (loop->epfd >= 0) close(loop->epfd);
    loop->epfd = -1;
}

void benchConnInit(benchConn *conn, int index)
{
    memset(conn, 0, sizeof(*conn));
    conn->fd = -1;
    conn->index = index;
}

static void watch(benchLoop *loop, benchConn *c, int op)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLRDHUP;
    if (c->connecting || c->out_off < c->out.len) ev.events |= EPOLLOUT;
    ev.data.ptr = c;
    epoll_ctl(loop->epfd, op, c->fd, &ev);
}

void benchConnClose(benchLoop *loop, benchConn *conn)
{
    if (conn->fd >= 0) {
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
        close(conn->fd);
    }
    conn->fd = -1;
    conn->connecting = 0;
    conn->in.len = 0;
}

void benchConnFree(benchLoop *loop, benchConn *conn)
{
    benchConnClose(loop, conn);
    benchBufFree(&conn->out);
    benchBufFree(&conn->in);
    benchBufFree(&conn->body);
}

static int openConn(benchLoop *loop, benchConn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const struct sockaddr_in *to = c->addr ? c->addr : &loop->addr;
    if (connect(c->fd, (const struct sockaddr *)to, sizeof(*to)) < 0 &&
        errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->connecting = 1;
    loop->opened++;
    watch(loop, c, EPOLL_CTL_ADD);
    return 0;
}

/* Write what is pending; 0 when done or blocked, -1 on error. */
static int flushOut(benchLoop *loop, benchConn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -1;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out.len) {
        c->out.len = 0;
        c->out_off = 0;
    }
    watch(loop, c, EPOLL_CTL_MOD);
    return 0;
}

int benchConnGet(benchLoop *loop, benchConn *conn, const char *target, const char *extra_headers)
{
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive\r\n%s\r\n",
                     target, loop->host, extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof(req)) return -1;
    conn->busy = 1;
    conn->got_headers = 0;
    conn->status = 0;
    conn->body.len = 0;
    conn->out.len = 0;
    conn->out_off = 0;
    benchBufAppend(&conn->out, req, (size_t)n);
    if (conn->fd < 0) return openConn(loop, conn);
    if (conn->connecting) return 0;
    return flushOut(loop, conn);
}

static void copyValue(char *dst, size_t size, const char *v, size_t len)
{
    while (len > 0 && *v == ' ') v++, len--;
    if (len >= size) len = size - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static void parseHeaderLine(benchConn *c, const char *line, size_t len)
{
    if (len > 14 && strncasecmp(line, "Last-Modified:", 14) == 0)
        copyValue(c->last_modified, sizeof(c->last_modified), line + 14, len - 14);
    else if (len > 5 && strncasecmp(line, "Etag:", 5) == 0)
        copyValue(c->etag, sizeof(c->etag), line + 5, len - 5);
    if (len > 15 && strncasecmp(line, "Content-Length:", 15) == 0) {
        c->content_length = strtoll(line + 15, NULL, 10);
    } else if (len > 18 && strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
        c->chunked = strstr(line, "chunked") != NULL;
    } else if (len > 11 && strncasecmp(line, "Connection:", 11) == 0) {
        const char *v = line + 11;
        while (*v == ' ') v++;
        if (strncasecmp(v, "close", 5) == 0) c->close_after = 1;
    }
}

/* 1 when the headers were parsed, 0 when more bytes are needed, -1 on junk. */
static int parseHeaders(benchConn *c)
{
    char *end = c->in.len >= 4 ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL;
    if (!end) return 0;
    *end = '\0';
    if (strncmp(c->in.data, "HTTP/1.", 7) != 0) return -1;
    c->close_after = c->in.data[7] == '0';
    c->status = atoi(c->in.data + 9);
    c->content_length = -1;
    c->chunked = 0;
    c->chunk_left = CHUNK_SIZE_LINE;
    char *line = strstr(c->in.data, "\r\n");
    while (line) {
        line += 2;
        char *next = strstr(line, "\r\n");
        parseHeaderLine(c, line, next ? (size_t)(next - line) : strlen(line));
        line = next;
    }
    if (c->status == 204 || c->status == 304 || c->status < 200) c->content_length = 0;
    benchBufConsume(&c->in, (size_t)(end + 4 - c->in.data));
    c->got_headers = 1;
    return 1;
}

/* Move chunked body bytes from in to body. 1 when the last chunk ended. */
static int decodeChunked(benchConn *c)
{
    for (;;) {
        if (c->chunk_left == CHUNK_SIZE_LINE || c->chunk_left == CHUNK_TRAILER) {
            char *eol = memmem(c->in.data, c->in.len, "\r\n", 2);
            if (!eol) return 0;
            size_t linelen = (size_t)(eol - c->in.data);
            if (c->chunk_left == CHUNK_SIZE_LINE) {
                long long size = strtoll(c->in.data, NULL, 16);
                c->chunk_left = size == 0 ? CHUNK_TRAILER : size;
                benchBufConsume(&c->in, linelen + 2);
            } else {
                benchBufConsume(&c->in, linelen + 2);
                if (linelen == 0) return 1;
            }
        } else if (c->chunk_left == CHUNK_CRLF) {
            if (c->in.len < 2) return 0;
            benchBufConsume(&c->in, 2);
            c->chunk_left = CHUNK_SIZE_LINE;
        } else {
            if (c->in.len == 0) return 0;
            size_t n = c->in.len < (size_t)c->chunk_left ? c->in.len : (size_t)c->chunk_left;
            benchBufAppend(&c->body, c->in.data, n);
            benchBufConsume(&c->in, n);
            c->chunk_left -= (long long)n;
            if (c->chunk_left == 0) c->chunk_left = CHUNK_CRLF;
        }
    }
}

/* Move body bytes from in to body. 1 when the response is complete. */
static int decodeBody(benchConn *c)
{
    if (c->chunked) return decodeChunked(c);
    if (c->content_length >= 0) {
        size_t n = c->in.len < (size_t)c->content_length ? c->in.len : (size_t)c->content_length;
        benchBufAppend(&c->body, c->in.data, n);
        benchBufConsume(&c->in, n);
        c->content_length -= (long long)n;
        return c->content_length == 0;
    }
    benchBufAppend(&c->body, c->in.data, c->in.len);   /* ends when the server closes */
    benchBufConsume(&c->in, c->in.len);
    return 0;
}

static void finish(benchLoop *loop, benchConn *c, benchEvent ev)
{
    c->busy = 0;
    if (ev == BENCH_EV_FAILED) loop->failures++;
    if (ev == BENCH_EV_FAILED || c->close_after) benchConnClose(loop, c);
    loop->handler(loop, c, ev);
}

/* Parse what has been read; report progress to the handler. */
static void process(benchLoop *loop, benchConn *c)
{
    if (!c->busy) return;
    if (!c->got_headers) {
        int r = parseHeaders(c);
        if (r < 0) {
            finish(loop, c, BENCH_EV_FAILED);
            return;
        }
        if (r == 0) return;
    }
    size_t before = c->body.len;
    if (decodeBody(c)) {
        finish(loop, c, BENCH_EV_DONE);
    } else if (c->body.len > before) {
        loop->handler(loop, c, BENCH_EV_BODY);
    }
}

static void onEof(benchLoop *loop, benchConn *c)
{
    if (!c->busy) {
        benchConnClose(loop, c);   /* keep-alive timeout: reopened by the next request */
        return;
    }
    int delimited = c->got_headers && !c->chunked && c->content_length < 0;
    c->close_after = 1;
    finish(loop, c, delimited ? BENCH_EV_DONE : BENCH_EV_FAILED);
}

static void onReadable(benchLoop *loop, benchConn *c)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n > 0) {
            benchBufAppend(&c->in, buf, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        process(loop, c);
        if (c->fd >= 0) onEof(loop, c);
        return;
    }
    process(loop, c);
}

static void onWritable(benchLoop *loop, benchConn *c)
{
    if (c->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        c->connecting = 0;
        if (err) {
            c->close_after = 1;
            finish(loop, c, BENCH_EV_FAILED);
            return;
        }
    }
    if (flushOut(loop, c) < 0) finish(loop, c, BENCH_EV_FAILED);
}

int benchLoopRun(benchLoop *loop, int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(loop->epfd, evs, 256, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        benchConn *c = evs[i].data.ptr;
        int fd = c->fd;   /* a handler may close and reopen: later flags are stale then */
        if (fd < 0) continue;
        if (evs[i].events & (EPOLLOUT | EPOLLERR)) onWritable(loop, c);
        if (c->fd == fd && (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) onReadable(loop, c);
    }
    return n;
}

static int waitFd(int fd, short events, long long deadline)
{
    long long left = deadline - benchNowUs();
    if (left <= 0) return -1;
    struct pollfd p = { .fd = fd, .events = events };
    return poll(&p, 1, (int)(left / 1000) + 1) > 0 ? 0 : -1;
}

/* The response handler of benchHttpOnce: marks the one connection done. */
static void onceDone(benchLoop *loop, benchConn *c, benchEvent ev)
{
    (void)c;
    if (ev != BENCH_EV_BODY) loop->opened = ev == BENCH_EV_DONE ? 2 : 3;
}

int benchHttpOnce(const struct sockaddr_in *addr, const char *method, const char *target,
                  const char *extra_headers, const char *body, int timeout_ms, benchBuf *out)
{
    long long deadline = benchNowUs() + (long long)timeout_ms * 1000;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char head[1024];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n%s\r\n", method, target, blen,
                     extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof(head) ||
        connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0 ||
        send(fd, head, (size_t)n, MSG_NOSIGNAL) != n ||
        (blen && send(fd, body, blen, MSG_NOSIGNAL) != (ssize_t)blen)) {
        close(fd);
        return -1;
    }
    /* Parse with the loop's own code: a connection that is never in epoll. */
    benchLoop loop = { .epfd = -1, .handler = onceDone };
    benchConn c;
    benchConnInit(&c, 0);
    c.fd = fd;
    c.busy = 1;
    char buf[16384];
    while (loop.opened == 0 && waitFd(fd, POLLIN, deadline) == 0) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r > 0) {
            benchBufAppend(&c.in, buf, (size_t)r);
            process(&loop, &c);
        } else {
            onEof(&loop, &c);
        }
    }
    int status = loop.opened == 2 ? c.status : -1;
    if (status >= 0 && c.body.len) benchBufAppend(out, c.body.data, c.body.len);
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    benchConnFree(&loop, &c);
    return status;
}

long benchRaiseNofile(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return -1;
    rlim_t target = (rlim_t)want;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max) {
        struct rlimit up = { target, target };
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) return want;   /* root may raise the hard limit */
        target = rl.rlim_max;
    }
    if (target > rl.rlim_cur) {
        rl.rlim_cur = target;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    return (long)rl.rlim_cur;
}
