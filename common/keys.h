/* keys.h -- the Redis key schema, in one place (see docs/PROTOCOL.md, 2).
 *
 * Every function writes "<prefix><name>" into out and returns the length,
 * or -1 if it does not fit. Keys of one session share the "session:<sid>"
 * stem so the Lua scripts can derive the others from it. */
#ifndef JUG_KEYS_H
#define JUG_KEYS_H

#include <stddef.h>

#define JUG_KEY_MAX 256

int jugKeySession(char *out, size_t outlen, const char *prefix, const char *sid);
int jugKeySessionChannels(char *out, size_t outlen, const char *prefix, const char *sid);
int jugKeyInbox(char *out, size_t outlen, const char *prefix, const char *sid);
int jugKeySent(char *out, size_t outlen, const char *prefix, const char *sid);
int jugKeyChannel(char *out, size_t outlen, const char *prefix, const char *channel);
int jugKeySessions(char *out, size_t outlen, const char *prefix);
int jugKeySeq(char *out, size_t outlen, const char *prefix);
int jugKeyPollerLease(char *out, size_t outlen, const char *prefix);
int jugKeyPollerLast(char *out, size_t outlen, const char *prefix);

/* Server-event channels: "<channel>:subscribe" and so on. */
int jugEventChannel(char *out, size_t outlen, const char *channel, const char *event);

#endif
