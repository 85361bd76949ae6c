/* keys.h -- the Redis key schema for C code (see docs/PROTOCOL.md, 2).
 *
 * Every function writes "<prefix><name>" into out and returns the length,
 * or -1 if it does not fit. The Lua scripts build the same names from the
 * prefix themselves (the scripts in common/lua cannot call C): a change of schema
 * changes this file, the scripts and docs/PROTOCOL.md together; the unit test
 * tests/unit/test_keys_sid.c pins the names. */
#ifndef JUG_KEYS_H
#define JUG_KEYS_H

#include <stddef.h>

#define JUG_KEY_MAX 256

int jugKeySession(char *out, size_t outlen, const char *prefix, const char *sid);
int jugKeySessionChannels(char *out, size_t outlen, const char *prefix, const char *sid);
int jugKeyQueue(char *out, size_t outlen, const char *prefix, const char *sid);
/* socket.io sessions (fcgi/socketio.c): the id the last poll handed out, and
 * the lease of the request holding the session open. */
int jugKeySioAck(char *out, size_t outlen, const char *prefix, const char *sid);
int jugKeySioHold(char *out, size_t outlen, const char *prefix, const char *sid);
int jugKeyChannel(char *out, size_t outlen, const char *prefix, const char *channel);
int jugKeySessions(char *out, size_t outlen, const char *prefix);
int jugKeySeq(char *out, size_t outlen, const char *prefix);
int jugKeyPollerLease(char *out, size_t outlen, const char *prefix);
int jugKeyPollerLast(char *out, size_t outlen, const char *prefix);
/* When the lease holder took it (Redis clock, ms), set by lease.lua. */
int jugKeyPollerSince(char *out, size_t outlen, const char *prefix);
/* Hash of counters the scripts keep for the status endpoint: fields
 * "subscriptions" (session-channel pairs) and "channels" (channels with a
 * subscriber), so that nothing needs to scan the key space. */
int jugKeyStats(char *out, size_t outlen, const char *prefix);
/* Count of the lease holder's renewals (lease.lua): going back means Redis lost writes. */
int jugKeyAlive(char *out, size_t outlen, const char *prefix);
int jugKeyHolds(char *out, size_t outlen, const char *prefix);
/* Worker processes counted alive (mod_fcgid), instance -> until (Redis ms). */
int jugKeyProcs(char *out, size_t outlen, const char *prefix);
/* Set for a few seconds when a worker process is first counted there. */
int jugKeyProcsSpawning(char *out, size_t outlen, const char *prefix);
/* Sessions opened in one unix second (connect.lua, where hold slots are
 * counted); second is its decimal text. */
int jugKeyConnects(char *out, size_t outlen, const char *prefix, const char *second);

/* Pub/sub channels: "<prefix>notify" (every fanned-out message) and
 * "<prefix>notify:<instance>" (about the requests one worker process holds). */
int jugNotifyChannel(char *out, size_t outlen, const char *prefix);
int jugNotifyInstanceChannel(char *out, size_t outlen, const char *prefix, const char *instance);

/* Server-event channels: "<channel>:subscribe" and so on. */
int jugEventChannel(char *out, size_t outlen, const char *channel, const char *event);

#endif
