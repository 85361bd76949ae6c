/* keys.c -- the Redis key schema (see keys.h and docs/PROTOCOL.md, 2). */
#include "autoconfig.h"
#include "keys.h"

#include <stdio.h>

static int fit(int n, size_t outlen) {
    return (n < 0 || (size_t)n >= outlen) ? -1 : n;
}

int jugKeySession(char *out, size_t outlen, const char *prefix, const char *sid) {
    return fit(snprintf(out, outlen, "%ssession:%s", prefix, sid), outlen);
}

int jugKeySessionChannels(char *out, size_t outlen, const char *prefix, const char *sid) {
    return fit(snprintf(out, outlen, "%ssession:%s:channels", prefix, sid), outlen);
}

int jugKeyQueue(char *out, size_t outlen, const char *prefix, const char *sid) {
    return fit(snprintf(out, outlen, "%ssession:%s:queue", prefix, sid), outlen);
}

int jugKeySioAck(char *out, size_t outlen, const char *prefix, const char *sid) {
    return fit(snprintf(out, outlen, "%ssession:%s:sio", prefix, sid), outlen);
}

int jugKeySioHold(char *out, size_t outlen, const char *prefix, const char *sid) {
    return fit(snprintf(out, outlen, "%ssession:%s:siohold", prefix, sid), outlen);
}

int jugKeyChannel(char *out, size_t outlen, const char *prefix, const char *channel) {
    return fit(snprintf(out, outlen, "%schannel:%s", prefix, channel), outlen);
}

int jugKeySessions(char *out, size_t outlen, const char *prefix) {
    return fit(snprintf(out, outlen, "%ssessions", prefix), outlen);
}

int jugKeySeq(char *out, size_t outlen, const char *prefix) {
    return fit(snprintf(out, outlen, "%sseq", prefix), outlen);
}

int jugKeyPollerLease(char *out, size_t outlen, const char *prefix) {
    return fit(snprintf(out, outlen, "%spoller:lease", prefix), outlen);
}

int jugKeyPollerLast(char *out, size_t outlen, const char *prefix) {
    return fit(snprintf(out, outlen, "%spoller:last", prefix), outlen);
}

int jugKeyPollerSince(char *out, size_t outlen, const char *prefix) {
    return fit(snprintf(out, outlen, "%spoller:since", prefix), outlen);
}

int jugKeyStats(char *out, size_t outlen, const char *prefix) {
    return fit(snprintf(out, outlen, "%sstats", prefix), outlen);
}

int jugKeyAlive(char *out, size_t outlen, const char *prefix) {
    return fit(snprintf(out, outlen, "%salive", prefix), outlen);
}

int jugKeyHolds(char *out, size_t outlen, const char *prefix) {
    return fit(snprintf(out, outlen, "%sholds", prefix), outlen);
}

int jugKeyProcs(char *out, size_t outlen, const char *prefix) {
    return fit(snprintf(out, outlen, "%sprocs", prefix), outlen);
}

int jugKeyProcsSpawning(char *out, size_t outlen, const char *prefix) {
    return fit(snprintf(out, outlen, "%sprocs:spawning", prefix), outlen);
}

int jugKeyConnects(char *out, size_t outlen, const char *prefix, const char *second) {
    return fit(snprintf(out, outlen, "%sconnects:%s", prefix, second), outlen);
}
int jugNotifyChannel(char *out, size_t outlen, const char *prefix) {
    return fit(snprintf(out, outlen, "%snotify", prefix), outlen);
}
int jugNotifyInstanceChannel(char *out, size_t outlen, const char *prefix, const char *instance) {
    return fit(snprintf(out, outlen, "%snotify:%s", prefix, instance), outlen);
}
int jugEventChannel(char *out, size_t outlen, const char *channel, const char *event) {
    return fit(snprintf(out, outlen, "%s:%s", channel, event), outlen);
}
