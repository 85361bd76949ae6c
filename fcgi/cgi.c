/* cgi.c -- FCGX streams over plain file descriptors, for CGI mode (see cgi.h).
 *
 * FCGX_Stream is a public struct whose buffer is refilled and emptied
 * through two callbacks; FCGX_GetStr, FCGX_PutStr and FCGX_FFlush only use
 * those. Supplying callbacks that read(2) and write(2) a descriptor gives a
 * stream the rest of the worker cannot tell from a FastCGI one. */
#include "autoconfig.h"
#include "cgi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CGI_BUFSIZE 8192

extern char **environ;

typedef struct cgiStream {
    FCGX_Stream stream;
    int fd;
    unsigned char buf[CGI_BUFSIZE];
} cgiStream;

static void fdFill(FCGX_Stream *s) {
    cgiStream *cs = s->data;
    ssize_t n;
    do {
        n = read(cs->fd, cs->buf, sizeof(cs->buf));
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        s->isClosed = 1;
        if (n < 0) s->FCGI_errno = errno;
        s->rdNext = s->stop = cs->buf;
        return;
    }
    s->rdNext = cs->buf;
    s->stop = cs->buf + n;
}

static void fdEmpty(FCGX_Stream *s, int doClose) {
    cgiStream *cs = s->data;
    unsigned char *p = cs->buf;
    while (p < s->wrNext && !s->isClosed) {
        ssize_t n = write(cs->fd, p, (size_t)(s->wrNext - p));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            /* The reader went away: later writes fail at once. */
            s->isClosed = 1;
            s->FCGI_errno = n < 0 ? errno : EPIPE;
            break;
        }
        p += n;
    }
    s->wrNext = cs->buf;
    if (doClose) s->isClosed = 1;
}

static FCGX_Stream *newStream(int fd, int reader) {
    cgiStream *cs = calloc(1, sizeof(*cs));
    if (!cs) return NULL;
    FCGX_Stream *s = &cs->stream;
    cs->fd = fd;
    s->data = cs;
    s->isReader = reader;
    s->fillBuffProc = fdFill;
    s->emptyBuffProc = fdEmpty;
    if (reader) {
        s->rdNext = s->stop = s->stopUnget = cs->buf;
        s->wrNext = s->stop;
    } else {
        s->wrNext = cs->buf;
        s->stop = cs->buf + sizeof(cs->buf);
        s->rdNext = s->stop;
    }
    return s;
}

int jugCgiRequestInit(FCGX_Request *req) {
    memset(req, 0, sizeof(*req));
    req->ipcFd = -1;
    req->listen_sock = -1;
    req->envp = environ;
    req->in = newStream(0, 1);
    req->out = newStream(1, 0);
    req->err = newStream(2, 0);
    if (!req->in || !req->out || !req->err) {
        jugCgiRequestFinish(req);
        return -1;
    }
    return 0;
}

void jugCgiRequestFinish(FCGX_Request *req) {
    FCGX_Stream *streams[] = {req->in, req->out, req->err};
    for (int i = 0; i < 3; i++) {
        FCGX_Stream *s = streams[i];
        if (!s) continue;
        if (!s->isReader && !s->isClosed) s->emptyBuffProc(s, 1);
        free(s->data);
    }
    req->in = req->out = req->err = NULL;
}
