/* transport_multipart.c -- streaming XHR: the "multipart" endpoint.
 *
 * For browsers without EventSource: one long response of
 * multipart/mixed parts, each holding one JSON record (a delivery or a
 * control record), read incrementally from responseText at readyState 3.
 * The framing is in docs/PROTOCOL.md; the loop is in stream.c. */
#include "autoconfig.h"
#include "handlers.h"
#include "stream.h"

#include <string.h>

#define MULTIPART_PADDING 2048
#define PART_HEAD "--jugpart\r\nContent-Type: application/json\r\n\r\n"

/* Some browsers and proxies hold back the first couple of KiB. */
static int multipartBegin(jugContext *ctx, void *state) {
    char spaces[MULTIPART_PADDING];
    (void)state;
    memset(spaces, ' ', sizeof(spaces));
    if (jugResponseWrite(ctx->res, spaces, sizeof(spaces)) != 0) return -1;
    return jugResponseWrite(ctx->res, "\r\n", 2);
}

/* The closing CRLF is what tells the client the part is complete. */
static int writePart(jugContext *ctx, const char *json, size_t len) {
    if (jugResponseWrite(ctx->res, PART_HEAD, sizeof(PART_HEAD) - 1) != 0) return -1;
    if (jugResponseWrite(ctx->res, json, len) != 0) return -1;
    return jugResponseWrite(ctx->res, "\r\n", 2);
}

static int multipartMessage(jugContext *ctx, const char *delivery, size_t len, long long id,
                            void *state) {
    (void)id;
    (void)state;
    return writePart(ctx, delivery, len);
}

static int multipartKeepalive(jugContext *ctx, void *state) {
    const char *json = jugStreamControlJson("keepalive");
    (void)state;
    return writePart(ctx, json, strlen(json));
}

static int multipartEnd(jugContext *ctx, const char *reason, void *state) {
    const char *json = jugStreamControlJson(reason);
    (void)state;
    return writePart(ctx, json, strlen(json));
}

static int multipartMissed(jugContext *ctx, const char *json, void *state) {
    (void)state;
    return writePart(ctx, json, strlen(json));
}

static const jugStreamOps multipartOps = {
    .name = "multipart",
    .content_type = "multipart/mixed; boundary=\"jugpart\"",
    .begin = multipartBegin,
    .message = multipartMessage,
    .keepalive = multipartKeepalive,
    .end = multipartEnd,
    .missed = multipartMissed,
};

void jugHandleMultipart(jugContext *ctx) {
    const char *sid;
    long long ack;

    if (jugStreamSession(ctx, &sid, &ack) < 0) return;
    jugStreamRun(ctx, sid, ack, &multipartOps, NULL);
}
