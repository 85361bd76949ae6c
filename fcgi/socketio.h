/* socketio.h -- socket.io protocol 1 for pages written for Juggernaut 2.1.1.
 *
 * jugHandleSocketIo() answers every URL below .../socket.io/ (request.c
 * routes them here): the handshake, and the xhr-polling, jsonp-polling and
 * htmlfile transports, on the project's own sessions (docs/PROTOCOL.md,
 * "socket.io"). The framing itself is in sio_frame.h.
 *
 * For the long-poll machinery: a held socket.io poll is ONE call,
 * sioHold() in socketio.c, followed by jugSioFormatPoll() on what it got.
 * A parked implementation calls jugSioFormatPoll() on the deliveries it
 * wakes up with (count 0 when the hold timed out) and writes the result
 * with jugSioContentType() as the 200 answer. */
#ifndef JUG_SOCKETIO_H
#define JUG_SOCKETIO_H

#include <stddef.h>
#include "handlers.h"

void jugHandleSocketIo(jugContext *ctx);

/* The body of a socket.io poll answer: "8::" (noop) when d has nothing, the
 * message packet of one delivery bare, several framed. jsonp: the decimal
 * index of jsonp-polling ("io.j[<jsonp>](...);"), NULL for xhr-polling.
 * *last gets the highest delivery id in the body (0 if none): what the
 * session's next poll acknowledges. malloc'd; NULL when out of memory. */
char *jugSioFormatPoll(const jugDeliveries *d, const char *jsonp, size_t *len, long long *last);

/* Content-Type of a poll answer (jsonp as above). */
const char *jugSioContentType(const char *jsonp);

#endif
