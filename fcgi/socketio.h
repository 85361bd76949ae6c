/* socketio.h -- socket.io protocol 1 for pages written for Juggernaut 2.1.1.
 *
 * jugHandleSocketIo() answers every URL below .../socket.io/ (request.c
 * routes them here): the handshake, and the xhr-polling, jsonp-polling and
 * htmlfile transports, on the project's own sessions (docs/PROTOCOL.md,
 * "socket.io"). The framing itself is in sio_frame.h.
 *
 * Held GETs and htmlfile streams go through the held-request machinery
 * (hold.h: jugHoldStart / jugStreamRun) with socket.io's own jugStreamOps,
 * which only frame (sio_frame.h). */
#ifndef JUG_SOCKETIO_H
#define JUG_SOCKETIO_H

#include <stddef.h>
#include "handlers.h"

void jugHandleSocketIo(jugContext *ctx);

#endif
