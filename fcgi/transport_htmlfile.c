/* transport_htmlfile.c -- forever iframe: the "htmlfile" endpoint.
 *
 * For old IE (ActiveX htmlfile) and anything else that can only load a
 * document: an HTML page that never ends, each record a <script> calling
 * parent.<callback>(record). The JSON is escaped so that no data can close
 * the script element or break the line. The loop is in stream.c. */
#include "autoconfig.h"
#include "handlers.h"
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#define HTMLFILE_PADDING 1024
#define HTMLFILE_DEFAULT_CALLBACK "jugHtmlfile"
#define HTMLFILE_HEAD "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>"

typedef struct htmlfile {
    const char *callback;
} htmlfile;

static int writeStr(jugContext *ctx, const char *s) {
    return jugResponseWrite(ctx->res, s, strlen(s));
}

static int writeScript(jugContext *ctx, const htmlfile *hf, const char *json, size_t len) {
    char *safe = jugJsonForScript(json, len);
    int rc = -1;

    if (!safe) return -1;
    if (writeStr(ctx, "<script>parent.") == 0 && writeStr(ctx, hf->callback) == 0 &&
        writeStr(ctx, "(") == 0 && writeStr(ctx, safe) == 0 && writeStr(ctx, ");</script>\n") == 0)
        rc = 0;
    free(safe);
    return rc;
}

static int htmlfileMessage(jugContext *ctx, const char *delivery, size_t len, long long id,
                           void *state) {
    (void)id;
    return writeScript(ctx, state, delivery, len);
}

static int htmlfileKeepalive(jugContext *ctx, void *state) {
    const char *json = jugStreamControlJson("keepalive");
    return writeScript(ctx, state, json, strlen(json));
}

static int htmlfileMissed(jugContext *ctx, const char *json, void *state) {
    return writeScript(ctx, state, json, strlen(json));
}

static int htmlfileEnd(jugContext *ctx, const char *reason, void *state) {
    const char *json = jugStreamControlJson(reason);
    if (writeScript(ctx, state, json, strlen(json)) != 0) return -1;
    return writeStr(ctx, "</body></html>\n");
}

/* Old IE runs no script before it has about 256 bytes; pad with a comment.
 * Then a first keepalive at once: a frame only shows life through scripts,
 * and the client must see the stream open even on a quiet channel. */
static int htmlfileBegin(jugContext *ctx, void *state) {
    char padding[HTMLFILE_PADDING];
    memset(padding, ' ', sizeof(padding));
    memcpy(padding, "<!--", 4);
    memcpy(padding + sizeof(padding) - 4, "-->\n", 4);
    if (jugResponseWrite(ctx->res, HTMLFILE_HEAD, sizeof(HTMLFILE_HEAD) - 1) != 0) return -1;
    if (jugResponseWrite(ctx->res, padding, sizeof(padding)) != 0) return -1;
    return htmlfileKeepalive(ctx, state);
}

static const jugStreamOps htmlfileOps = {
    .state_size = sizeof(htmlfile),
    .name = "htmlfile",
    .content_type = "text/html; charset=utf-8",
    .begin = htmlfileBegin,
    .message = htmlfileMessage,
    .keepalive = htmlfileKeepalive,
    .end = htmlfileEnd,
    .missed = htmlfileMissed,
};

void jugHandleHtmlfile(jugContext *ctx) {
    htmlfile hf;
    const char *sid;
    long long ack;

    hf.callback = jugRequestParam(ctx->req, "callback");
    if (!hf.callback || !hf.callback[0]) hf.callback = HTMLFILE_DEFAULT_CALLBACK;
    if (!jugCallbackValid(hf.callback)) {
        jugResponseError(ctx->res, 400, jugErrorCode(400), "callback is not a valid function name");
        return;
    }
    if (jugStreamSession(ctx, &sid, &ack) < 0) return;
    jugStreamRun(ctx, sid, ack, &htmlfileOps, &hf);
}
