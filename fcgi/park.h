/* park.h -- the event loop that holds every waiting request of a process.
 *
 * A long-poll with nothing to answer yet, or an open stream, is parked: one
 * loop per worker process watches all of them, so waiting costs no thread,
 * no Redis connection and no Redis call. The loop listens on Redis pub/sub
 * (<prefix>notify, where the fan-out announces every message, and
 * <prefix>notify:<instance> for what concerns this process's requests) and
 * hands each delivery to the parked requests of its channels from memory.
 * It also ends them on time, sends stream keepalives, keeps their sessions
 * alive, and notices when the web server closes a connection.
 *
 * Under a FastCGI server the loop runs in its own thread (jugParkStart);
 * in CGI mode jugParkRunOne runs it in the calling thread for the one
 * request. Everything about one held request is in hold.h. */
#ifndef JUG_PARK_H
#define JUG_PARK_H

#include "config.h"

struct jugHeld;

/* Start the loop thread and subscribe (waits up to a second for Redis; if it
 * is not there the loop keeps trying, and requests are not held until it
 * is). 0, or -1 if the thread could not start. */
int jugParkStart(const jugConfig *cfg);

/* CGI mode: set up the loop in this thread, and subscribe if listen (a
 * request that may wait). 0, or -1 if the loop cannot be set up; when Redis
 * cannot be reached the request is answered without being held. */
int jugParkInitInline(const jugConfig *cfg, int listen);

/* Hand a request (hold.h) to the loop, which owns it from now on: it reads
 * Redis for it, answers it or holds it. -1 (the caller still owns it) when
 * the loop is stopping. */
int jugParkSubmit(struct jugHeld *h);

/* CGI mode: run the loop until the one submitted request has ended. */
void jugParkRunInline(void);

/* This process's instance id (12 characters), the prefix of its tokens. */
const char *jugParkInstance(void);

/* Requests held now by this process. */
int jugParkHeldCount(void);

/* End every held request (shutdown) and stop the loop. */
void jugParkStop(void);

#endif
