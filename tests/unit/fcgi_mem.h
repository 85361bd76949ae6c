/* fcgi_mem.h -- an FCGX_Request in memory, for the unit tests of the worker.
 *
 * Its environment is a list of "NAME=value" strings, its input stream reads
 * a given body and its output stream collects what the worker writes, so
 * request.c and response.c run exactly as under a FastCGI server (FCGX_GetStr,
 * FCGX_PutStr and FCGX_FFlush only use a stream's two buffer callbacks, as
 * fcgi/cgi.c explains). ipcFd is -1: there is no connection to watch. */
#ifndef JUG_FCGI_MEM_H
#define JUG_FCGI_MEM_H

#include <fcgiapp.h>
#include <stdlib.h>
#include <string.h>

#define MEM_CHUNK 64   /* small, so that every refill and flush path runs */

typedef struct memStream {
    FCGX_Stream stream;
    const char *in;        /* reader: what is left to read */
    size_t in_len;
    char *out;             /* writer: everything written and flushed */
    size_t out_len;
    unsigned char buf[MEM_CHUNK];
} memStream;

static inline void memFill(FCGX_Stream *s) {
    memStream *m = s->data;
    size_t n = m->in_len < sizeof(m->buf) ? m->in_len : sizeof(m->buf);
    memcpy(m->buf, m->in, n);
    m->in += n;
    m->in_len -= n;
    s->rdNext = m->buf;
    s->stop = m->buf + n;
    if (n == 0) s->isClosed = 1;
}

static inline void memEmpty(FCGX_Stream *s, int doClose) {
    memStream *m = s->data;
    size_t n = (size_t)(s->wrNext - m->buf);
    char *grown = realloc(m->out, m->out_len + n + 1);
    if (grown) {
        memcpy(grown + m->out_len, m->buf, n);
        m->out = grown;
        m->out_len += n;
        m->out[m->out_len] = '\0';
    }
    s->wrNext = m->buf;
    if (doClose) s->isClosed = 1;
}

static inline FCGX_Stream *memStreamNew(const char *in, size_t in_len, int reader) {
    memStream *m = calloc(1, sizeof(*m));
    if (!m) abort();
    FCGX_Stream *s = &m->stream;
    s->data = m;
    s->isReader = reader;
    s->fillBuffProc = memFill;
    s->emptyBuffProc = memEmpty;
    m->in = in;
    m->in_len = in_len;
    m->out = calloc(1, 1);
    if (reader) {
        s->rdNext = s->stop = s->stopUnget = m->buf;
        s->wrNext = s->stop;
    } else {
        s->wrNext = m->buf;
        s->stop = m->buf + sizeof(m->buf);
        s->rdNext = s->stop;
    }
    return s;
}

/* envp: NULL-terminated "NAME=value" strings (kept by the caller). */
static inline void memRequestInit(FCGX_Request *req, char **envp, const char *body) {
    memset(req, 0, sizeof(*req));
    req->ipcFd = -1;
    req->listen_sock = -1;
    req->envp = envp;
    req->in = memStreamNew(body ? body : "", body ? strlen(body) : 0, 1);
    req->out = memStreamNew(NULL, 0, 0);
    req->err = memStreamNew(NULL, 0, 0);
}

/* Everything written to the output so far (flushed first). */
static inline const char *memRequestOutput(FCGX_Request *req) {
    FCGX_FFlush(req->out);
    return ((memStream *)req->out->data)->out;
}

static inline void memRequestFree(FCGX_Request *req) {
    FCGX_Stream *streams[] = {req->in, req->out, req->err};
    for (int i = 0; i < 3; i++) {
        memStream *m = streams[i]->data;
        free(m->out);
        free(m);
    }
}

#endif
