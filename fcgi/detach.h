/* detach.h -- a request's connection taken over from libfcgi, to be held.
 *
 * libfcgi ties a request to the thread that accepted it. A request that is
 * to wait (a long-poll, a stream) is detached instead: its connection to the
 * web server becomes a jugDetached, with an FCGX_Stream for writing that
 * frames what is written as FastCGI STDOUT records (or passes it through
 * unchanged in CGI mode) into a queue that jugDetachedSend sends without
 * ever blocking, keeping what the socket does not take yet (a flush of the
 * stream only queues: the owner sends once it has written what it had to).
 * The accepting thread goes back to accept; the event loop (park.c) owns
 * the request from then on. An idle detached request holds no output
 * buffer: a few hundred bytes in all. */
#ifndef JUG_DETACH_H
#define JUG_DETACH_H

#include <stddef.h>
#include <fcgiapp.h>

typedef struct jugDetached jugDetached;

/* Take over fcgx's connection (FastCGI) or stdout (CGI mode: fcgx has no
 * connection, ipcFd < 0). libfcgi's own buffers and parameters are freed
 * (unwritten output is written first), and fcgx is left ready for the next
 * FCGX_Accept_r. NULL when out of memory (fcgx is then untouched). */
jugDetached *jugDetach(FCGX_Request *fcgx);

/* The stream to write the response through (jugResponse's out). Writes
 * fail (stream error set) once the web server's connection failed. */
FCGX_Stream *jugDetachedStream(jugDetached *d);

/* The descriptor to watch: readable when the web server closed the
 * connection or aborted the request, writable when queued output can go. */
int jugDetachedFd(const jugDetached *d);

/* 1 in CGI mode: the descriptor is stdout, which jugDetachedFree leaves
 * open; 0 for a FastCGI connection (its only descriptor: it is closed). */
int jugDetachedRaw(const jugDetached *d);

/* Bytes written but not yet taken by the socket. */
size_t jugDetachedPending(const jugDetached *d);

/* Send queued output (after writing, or when the socket takes more): 0, or
 * -1 when the connection failed. */
int jugDetachedSend(jugDetached *d);

/* The descriptor was readable: 1 if the web server closed the connection or
 * aborted the request (the browser left), 0 if not. */
int jugDetachedGone(jugDetached *d);

/* End the response (FastCGI: empty STDOUT and END_REQUEST records) and send
 * what is queued. Output may still be queued afterwards: keep sending until
 * nothing is pending. */
void jugDetachedEnd(jugDetached *d);

/* Wait up to timeout_ms for queued output to go (for a thread that cannot
 * leave it to the event loop). 0 when all went, -1 otherwise. */
int jugDetachedDrain(jugDetached *d, int timeout_ms);

/* The owner knows that nothing the web server sent is left unread: its
 * event loop found the descriptor not readable after its last wait (or read
 * it empty since), and a web server sends nothing after a request but an
 * abort. jugDetachedFree then closes without reading first. */
void jugDetachedNothingUnread(jugDetached *d);

/* Close the connection and free everything. */
void jugDetachedFree(jugDetached *d);

#endif
