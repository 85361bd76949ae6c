/* detach.c -- a request's connection taken over from libfcgi (see detach.h).
 *
 * The stream's buffer is allocated when something is written and given back
 * when the response ends, so a held request that is quiet costs no buffer.
 * A flush only frames what was written into "queued"; jugDetachedSend (the
 * owner calls it once it has written everything it has to write now) sends
 * it, so that an answer, its end records and whatever else went out at once
 * cost one write. Output the socket cannot take yet stays queued. */
#include "autoconfig.h"
#include "detach.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "response.h"

#define STREAM_BUFSIZE 4096
#define QUEUE_KEEP 16384          /* the most queue memory kept between messages */
#define FCGI_VERSION_1 1
#define FCGI_END_REQUEST 3
#define FCGI_STDOUT 6
#define FCGI_ABORT_REQUEST 2
#define FCGI_HEADER_LEN 8
#define FCGI_MAX_CONTENT 65535

struct jugDetached {
    FCGX_Stream stream;
    int fd;
    int request_id;
    int raw;              /* CGI: no FastCGI framing */
    int failed;
    int nothing_unread;   /* closing need not read first (jugDetachedNothingUnread) */
    unsigned char *buf;   /* the stream's buffer, NULL while idle */
    jugBuf queued;        /* framed output the socket has not taken yet */
    size_t sent;          /* bytes of queued already sent */
};

static void recordHeader(unsigned char *h, int type, int request_id, size_t len) {
    h[0] = FCGI_VERSION_1;
    h[1] = (unsigned char)type;
    h[2] = (unsigned char)((request_id >> 8) & 0xff);
    h[3] = (unsigned char)(request_id & 0xff);
    h[4] = (unsigned char)((len >> 8) & 0xff);
    h[5] = (unsigned char)(len & 0xff);
    h[6] = 0;   /* padding */
    h[7] = 0;
}

static void queueRecord(jugDetached *d, int type, const unsigned char *data, size_t len) {
    if (d->raw) {
        if (type == FCGI_STDOUT) jugBufAppend(&d->queued, (const char *)data, len);
        return;
    }
    do {
        size_t n = len > FCGI_MAX_CONTENT ? FCGI_MAX_CONTENT : len;
        unsigned char h[FCGI_HEADER_LEN];
        recordHeader(h, type, d->request_id, n);
        jugBufAppend(&d->queued, (const char *)h, sizeof(h));
        if (n) jugBufAppend(&d->queued, (const char *)data, n);
        data += n;
        len -= n;
    } while (len > 0);
}

static void fail(jugDetached *d, int err) {
    d->failed = 1;
    d->stream.isClosed = 1;
    d->stream.FCGI_errno = err ? err : EPIPE;
}

int jugDetachedSend(jugDetached *d) {
    if (d->failed) return -1;
    if (d->queued.oom) {
        fail(d, ENOMEM);
        return -1;
    }
    while (d->sent < d->queued.len) {
        ssize_t n = d->raw ? write(d->fd, d->queued.s + d->sent, d->queued.len - d->sent)
                           : send(d->fd, d->queued.s + d->sent, d->queued.len - d->sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (n <= 0) {
            fail(d, n < 0 ? errno : EPIPE);
            return -1;
        }
        d->sent += (size_t)n;
    }
    /* All sent: keep the queue's memory for the next message, unless a big
     * burst grew it or the response has ended. */
    if (d->queued.cap > QUEUE_KEEP || d->stream.isClosed) jugBufFree(&d->queued);
    d->queued.len = 0;
    d->sent = 0;
    return 0;
}

/* FCGX_PutStr wants room, or FCGX_FFlush wants it all out: frame what the
 * buffer holds and queue it (jugDetachedSend sends it). The buffer is
 * allocated at the first write and kept until the response ends: a stream
 * writes again and again, and giving it back after each flush made the
 * allocator trim and refault the heap on every message (a long-poll that
 * waits has written nothing, and has none). */
static void emptyBuffer(FCGX_Stream *s, int doClose) {
    jugDetached *d = s->data;
    (void)doClose;
    if (d->failed) return;
    if (d->buf && s->wrNext > d->buf) queueRecord(d, FCGI_STDOUT, d->buf, (size_t)(s->wrNext - d->buf));
    if (!d->buf && !(d->buf = malloc(STREAM_BUFSIZE))) {
        fail(d, ENOMEM);
        return;
    }
    s->wrNext = d->buf;
    s->stop = d->buf + STREAM_BUFSIZE;
}

jugDetached *jugDetach(FCGX_Request *fcgx) {
    jugDetached *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    d->raw = fcgx->ipcFd < 0;
    d->fd = d->raw ? 1 : fcgx->ipcFd;
    d->request_id = fcgx->requestId;
    d->stream.data = d;
    d->stream.emptyBuffProc = emptyBuffer;
    d->stream.isReader = 0;
    if (!d->raw) {
        /* What libfcgi holds is sent first (normally nothing). */
        FCGX_FFlush(fcgx->out);
        FCGX_Free(fcgx, 0);
        fcgx->ipcFd = -1;
        fcgx->keepConnection = 0;
    } else {
        FCGX_FFlush(fcgx->out);
    }
    int flags = fcntl(d->fd, F_GETFL);
    if (flags >= 0) fcntl(d->fd, F_SETFL, flags | O_NONBLOCK);
    return d;
}

FCGX_Stream *jugDetachedStream(jugDetached *d) {
    return &d->stream;
}

int jugDetachedFd(const jugDetached *d) {
    return d->fd;
}

int jugDetachedRaw(const jugDetached *d) {
    return d->raw;
}

size_t jugDetachedPending(const jugDetached *d) {
    return d->queued.len - d->sent;
}

/* Whatever the web server sends while a response is held is the end of it:
 * end of file (it closed the connection) or an FCGI_ABORT_REQUEST. */
int jugDetachedGone(jugDetached *d) {
    unsigned char b[512];
    if (d->raw) return 0;
    for (;;) {
        ssize_t n = recv(d->fd, b, sizeof(b), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (n <= 0) return 1;
        for (ssize_t i = 0; i + 1 < n; i++)
            if (b[i] == FCGI_VERSION_1 && b[i + 1] == FCGI_ABORT_REQUEST) return 1;
    }
}

void jugDetachedEnd(jugDetached *d) {
    FCGX_Stream *s = &d->stream;
    if (d->failed) return;
    if (d->buf && s->wrNext > d->buf) queueRecord(d, FCGI_STDOUT, d->buf, (size_t)(s->wrNext - d->buf));
    free(d->buf);
    d->buf = NULL;
    s->wrNext = s->stop = NULL;
    s->isClosed = 1;
    if (!d->raw) {
        static const unsigned char end_body[8] = {0, 0, 0, 0, 0 /* REQUEST_COMPLETE */, 0, 0, 0};
        queueRecord(d, FCGI_STDOUT, NULL, 0);
        queueRecord(d, FCGI_END_REQUEST, end_body, sizeof(end_body));
    }
    jugDetachedSend(d);
}

int jugDetachedDrain(jugDetached *d, int timeout_ms) {
    while (jugDetachedPending(d) > 0) {
        struct pollfd pfd = {d->fd, POLLOUT, 0};
        if (poll(&pfd, 1, timeout_ms) <= 0 || jugDetachedSend(d) < 0) return -1;
    }
    return 0;
}

void jugDetachedNothingUnread(jugDetached *d) {
    d->nothing_unread = 1;
}

void jugDetachedFree(jugDetached *d) {
    if (!d) return;
    if (!d->raw) {
        /* Read what the web server sent, so closing does not reset the
         * connection under a response it has not read yet (unless the
         * owner knows nothing is left: the read cost as much as the close). */
        unsigned char b[512];
        while (!d->nothing_unread && recv(d->fd, b, sizeof(b), MSG_DONTWAIT) > 0) {
        }
        close(d->fd);   /* the only descriptor of the connection: the FIN goes now */
    }
    free(d->buf);
    jugBufFree(&d->queued);
    free(d);
}
