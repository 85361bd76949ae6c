/* message.h -- the message model: what apps publish and what browsers get.
 *
 * jugMessageParse() turns the JSON an app PUBLISHes on the "juggernaut"
 * channel into a jugMessage, checking every field against the rules of
 * docs/PROTOCOL.md, 1, after the JSON scanner (json.h) has checked that
 * every client can decode it. The data value is kept as the JSON text it
 * was published as, so it reaches the browser unchanged. */
#ifndef JUG_MESSAGE_H
#define JUG_MESSAGE_H

#include <stddef.h>

#define JUG_CHANNEL_MAX 128
#define JUG_MESSAGE_ERRLEN 160

typedef struct jugMessage {
    char **channels;     /* validated channel names */
    int channel_count;
    char **except;       /* session ids (numbers converted to text) */
    int except_count;
    char *data_json;     /* compact JSON text of "data"; "null" if absent */
    char *event;         /* Jugglite "event" key, or NULL */
} jugMessage;

/* Parse len bytes of JSON. Limits: max_size bytes, max_channels channels.
 * Returns 0 and fills msg (free with jugMessageFree), or -1 with the reason
 * in err (msg is then empty). */
int jugMessageParse(jugMessage *msg, const char *json, size_t len, size_t max_size,
                    int max_channels, char *err, size_t errlen);

/* Jugglite: wrap a raw PUBLISH <namespace><channel> payload as a message to
 * one channel. A strict JSON payload is passed as data; other UTF-8 text as
 * a string; anything else is refused. */
int jugMessageFromRaw(jugMessage *msg, const char *channel, const char *payload, size_t len,
                      size_t max_size, char *err, size_t errlen);

void jugMessageFree(jugMessage *msg);

/* 1 if name (len bytes) is a valid channel name, else 0. */
int jugChannelValid(const char *name, size_t len);

#endif
