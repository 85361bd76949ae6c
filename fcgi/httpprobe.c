/* httpprobe.c -- a tiny blocking HTTP/1.0 client for "--check URL" (see
 * httpprobe.h): connect, send one request, read the answer with a deadline
 * and note when the headers, the first body byte and the end arrived.
 * HTTP/1.0 keeps the answer unchunked and closes the connection at its end. */
#include "autoconfig.h"

#include "httpprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 8192

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int jugProbeParseUrl(const char *url, char *host, size_t hostlen, int *port, char *path,
                     size_t pathlen, char *err, size_t errlen) {
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "'%s' is not an http:// URL (https cannot be probed: give the "
                 "http:// address of the same site)", url);
        return -1;
    }
    const char *h = url + 7;
    size_t n = strcspn(h, ":/?#");
    if (n == 0 || n >= hostlen) {
        snprintf(err, errlen, "no host name in '%s'", url);
        return -1;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    const char *rest = h + n;
    *port = 80;
    if (*rest == ':') {
        char *end;
        long p = strtol(rest + 1, &end, 10);
        if (end == rest + 1 || p < 1 || p > 65535) {
            snprintf(err, errlen, "bad port in '%s'", url);
            return -1;
        }
        *port = (int)p;
        rest = end;
    }
    if (*rest && *rest != '/' && *rest != '?') {
        snprintf(err, errlen, "cannot read '%s' as http://host[:port]/path", url);
        return -1;
    }
    if (snprintf(path, pathlen, "%s%s", *rest == '/' ? "" : "/", rest) >= (int)pathlen) {
        snprintf(err, errlen, "URL too long");
        return -1;
    }
    return 0;
}

static int connectTo(const char *host, int port, long long deadline, char *err, size_t errlen) {
    char portstr[16];
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %.100s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        int ok = 0;
        if (errno == EINPROGRESS) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            long long left = deadline - nowMs();
            if (left > 0 && poll(&pfd, 1, (int)left) == 1) {
                int soerr = 0;
                socklen_t len = sizeof(soerr);
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
                ok = soerr == 0;
                if (!ok) errno = soerr;
            } else {
                errno = ETIMEDOUT;
            }
        }
        if (!ok) {
            snprintf(err, errlen, "cannot connect to %.100s:%d: %s", host, port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static int sendAll(int fd, const char *buf, size_t len, long long deadline) {
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
        struct pollfd pfd = {fd, POLLOUT, 0};
        long long left = deadline - nowMs();
        if (left <= 0 || poll(&pfd, 1, (int)left) < 0) return -1;
    }
    return 0;
}

/* Status line and the Content-Type header from a complete head. */
static void parseHead(char *head, jugProbe *p) {
    int major, minor, status;
    if (sscanf(head, "HTTP/%d.%d %d", &major, &minor, &status) == 3) p->status = status;
    for (char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Type:", 13) == 0) {
            const char *v = line + 15;
            while (*v == ' ') v++;
            size_t n = strcspn(v, "\r");
            if (n >= sizeof(p->content_type)) n = sizeof(p->content_type) - 1;
            memcpy(p->content_type, v, n);
            p->content_type[n] = '\0';
        }
    }
}

static void keepBody(jugProbe *p, const char *data, size_t len, long long t) {
    if (len == 0) return;
    if (p->body_ms < 0) p->body_ms = t;
    size_t room = sizeof(p->body) - 1 - p->body_len;
    if (len > room) len = room;
    memcpy(p->body + p->body_len, data, len);
    p->body_len += len;
    p->body[p->body_len] = '\0';
}

int jugProbeFetch(const char *url, const char *method, const char *form, int limit_ms, int flags,
                  jugProbe *p) {
    char host[256], path[2048];
    int port;
    memset(p, 0, sizeof(*p));
    p->head_ms = p->body_ms = p->end_ms = -1;
    if (jugProbeParseUrl(url, host, sizeof(host), &port, path, sizeof(path), p->err, sizeof(p->err)) < 0)
        return -1;
    long long start = nowMs(), deadline = start + limit_ms;
    int fd = connectTo(host, port, deadline, p->err, sizeof(p->err));
    if (fd < 0) return -1;
    size_t bodylen = form ? strlen(form) : 0;
    size_t reqlen = strlen(path) + strlen(host) + bodylen + 256;
    char *req = malloc(reqlen);
    if (!req) {
        close(fd);
        snprintf(p->err, sizeof(p->err), "out of memory");
        return -1;
    }
    int n = snprintf(req, reqlen,
                     "%s %s HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: juggernaut.fcgi --check\r\n"
                     "Accept: */*\r\n", method, path, host, port);
    if (form)
        n += snprintf(req + n, reqlen - (size_t)n,
                      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
                      bodylen, form);
    else
        n += snprintf(req + n, reqlen - (size_t)n, "\r\n");
    int sent = sendAll(fd, req, (size_t)n, deadline);
    free(req);
    if (sent < 0) {
        snprintf(p->err, sizeof(p->err), "cannot send the request to %.100s:%d: %s", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    char head[HEAD_MAX + 1];
    size_t headlen = 0;
    char buf[4096];
    for (;;) {
        if ((flags & JUG_PROBE_STOP_AT_BODY) && p->body_ms >= 0) break;
        long long left = deadline - nowMs();
        if (left <= 0) break;
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) break;
        ssize_t got = recv(fd, buf, sizeof(buf), 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        long long t = nowMs() - start;
        if (got <= 0) {
            p->end_ms = t;
            if (got < 0) snprintf(p->err, sizeof(p->err), "connection reset: %s", strerror(errno));
            break;
        }
        if (p->head_ms >= 0) {
            keepBody(p, buf, (size_t)got, t);
            continue;
        }
        size_t take = (size_t)got;
        if (take > HEAD_MAX - headlen) take = HEAD_MAX - headlen;
        memcpy(head + headlen, buf, take);
        headlen += take;
        head[headlen] = '\0';
        char *end = strstr(head, "\r\n\r\n");
        if (!end && headlen < HEAD_MAX) continue;
        p->head_ms = t;
        size_t used = end ? (size_t)(end + 4 - head) : headlen;
        if (end) *end = '\0';
        parseHead(head, p);
        /* What came after the head in this read (of head[] and of the rest of buf). */
        keepBody(p, head + used, headlen - used, t);
        keepBody(p, buf + take, (size_t)got - take, t);
    }
    close(fd);
    return 0;
}
