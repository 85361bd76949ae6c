/* host.h -- what kind of host the worker runs under, and what follows.
 *
 * Under lighttpd or nginx one worker process serves many requests at once,
 * and a held request costs a few hundred bytes in the event loop. Under
 * Apache mod_fcgid each process gets one request at a time, so a held
 * request pins a whole process and its output is buffered (no streams);
 * plain CGI is the same. The defaults of `transports` and `max_held` follow
 * from this (docs/PROTOCOL.md, 4). */
#ifndef JUG_HOST_H
#define JUG_HOST_H

#include "config.h"

typedef enum {
    JUG_HOST_THREADED = 0,   /* lighttpd, nginx, spawn-fcgi: many requests per process */
    JUG_HOST_FCGID,          /* Apache mod_fcgid: one request per process, output buffered */
    JUG_HOST_CGI             /* plain CGI: one process per request */
} jugHostKind;

/* Decide the host kind (cgi: started as CGI) and the settings that follow. */
void jugHostInit(const jugConfig *cfg, int cgi);

jugHostKind jugHostKindNow(void);
const char *jugHostKindName(jugHostKind kind);

/* The transports offered here, in the order clients should try them, as a
 * JSON array ("[\"sse\",...]"), and whether one is offered. */
const char *jugHostTransportsJson(const jugConfig *cfg);
int jugHostOffers(const char *transport);

/* Held requests: host-wide slots counted in Redis (0: not counted), and the
 * most one process parks. */
int jugHostSharedHoldLimit(void);
int jugHostProcessHoldLimit(void);

/* Under mod_fcgid offering no stream (a stock host), how many of the worker
 * processes counted alive (procalive.h) a hold must leave unheld for short
 * requests; 0 elsewhere (nothing counted). */
int jugHostHoldReserve(void);

#endif
