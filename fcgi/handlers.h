/* handlers.h -- one function per endpoint; main.c dispatches to them.
 *
 * A handler gets the parsed request, a response ready to write and the
 * thread's store; it writes a complete response (or a stream) and returns.
 * Errors are answered with jugResponseError(); nothing is thrown upward. */
#ifndef JUG_HANDLERS_H
#define JUG_HANDLERS_H

#include "config.h"
#include "request.h"
#include "response.h"
#include "store.h"

struct jugHeld;

typedef struct jugContext {
    const jugConfig *cfg;
    jugRequest *req;
    jugResponse *res;
    jugStore *store;             /* the thread's; NULL for a request the loop holds */
    struct jugHeld *held;        /* the held request being served, if any (hold.h) */
} jugContext;

typedef void (*jugHandler)(jugContext *ctx);

/* handlers.c: session and subscription endpoints */
void jugHandleConnect(jugContext *ctx);
void jugHandleSubscribe(jugContext *ctx);
void jugHandleUnsubscribe(jugContext *ctx);
void jugHandleMeta(jugContext *ctx);
void jugHandleEvent(jugContext *ctx);
void jugHandleDisconnect(jugContext *ctx);
void jugHandlePublish(jugContext *ctx);      /* demo only */
void jugHandleScript(jugContext *ctx);       /* juggernaut.js, application.js, juggernaut.min.js */

/* longpoll.c: long-poll, and JSONP long-poll */
void jugHandlePoll(jugContext *ctx);

/* transport_sse.c, transport_multipart.c, transport_htmlfile.c */
void jugHandleSse(jugContext *ctx);
void jugHandleStream(jugContext *ctx);       /* Jugglite /stream?channel=a,b */
void jugHandleMultipart(jugContext *ctx);
void jugHandleHtmlfile(jugContext *ctx);

/* status.c: counts, rates, poller and Redis health (status_allow / status_token) */
void jugHandleStatus(jugContext *ctx);

/* main.c: 1 once SIGTERM arrived; long waits should end soon (answer or
 * close normally) so the process can exit. */
int jugShuttingDown(void);

/* Log that Redis is unusable (ctx->store->err): one line when it starts, a
 * count now and then while it lasts, never one per request. */
void jugLogUnavailable(jugContext *ctx);

/* Answer a store failure with the fitting status (410, 413, 503, 500). */
void jugRespondStoreError(jugContext *ctx, jugStoreStatus status);

#endif
