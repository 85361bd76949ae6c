/* subscriber.h -- the pub/sub connection the poller listens on.
 *
 * SUBSCRIBE to the app channel and, with Jugglite on, PSUBSCRIBE to
 * "<namespace>*". The caller poll()s the descriptor and calls
 * jugSubscriberRead() when it is readable; every buffered message is handed
 * to the callback, so a burst costs one wakeup. */
#ifndef JUG_POLLER_SUBSCRIBER_H
#define JUG_POLLER_SUBSCRIBER_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include "config.h"

/* channel is NULL for the app channel, else the Jugglite channel (the
 * namespace removed). */
typedef void jugSubscriberHandler(void *ctx, const char *channel, const char *payload, size_t len);

typedef struct jugSubscriber {
    const jugConfig *cfg;
    redisContext *c;
} jugSubscriber;

/* Connect and send the subscriptions. Returns 0 or -1 with err. */
int jugSubscriberConnect(jugSubscriber *s, const jugConfig *cfg, char *err, size_t errlen);

/* Read what the socket holds and dispatch every complete message.
 * Returns 0, or -1 with err when the connection is gone. */
int jugSubscriberRead(jugSubscriber *s, jugSubscriberHandler *handler, void *ctx,
                      char *err, size_t errlen);

int jugSubscriberFd(const jugSubscriber *s);
void jugSubscriberClose(jugSubscriber *s);

#endif
