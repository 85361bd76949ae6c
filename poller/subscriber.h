/* subscriber.h -- the pub/sub connection the poller listens on.
 *
 * SUBSCRIBE to the app channel and <prefix>notify in one command (so a
 * message and the notification that it was handled come in order on one
 * connection, see leader.h) and, with Jugglite on, PSUBSCRIBE to
 * "<namespace>*". The caller poll()s the descriptor and calls
 * jugSubscriberRead() when it is readable; every buffered message is handed
 * to the callback, so a burst costs one wakeup. */
#ifndef JUG_POLLER_SUBSCRIBER_H
#define JUG_POLLER_SUBSCRIBER_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include "config.h"

typedef enum {
    JUG_SUB_APP,        /* a message on the app channel (channel is NULL) */
    JUG_SUB_JUGGLITE,   /* a Jugglite message (channel: namespace removed) */
    JUG_SUB_NOTIFY,     /* a line on <prefix>notify (channel is NULL) */
    JUG_SUB_LISTENING   /* every subscription is confirmed: from here on we get
                           everything published (payload is NULL) */
} jugSubscriberKind;

typedef void jugSubscriberHandler(void *ctx, jugSubscriberKind kind, const char *channel,
                                  const char *payload, size_t len);

typedef struct jugSubscriber {
    const jugConfig *cfg;
    redisContext *c;
    char notify[256];   /* <prefix>notify */
    int unconfirmed;    /* confirmations still to come (channels and pattern) */
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
