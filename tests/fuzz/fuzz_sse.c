/* fuzz_sse.c -- libFuzzer target for fcgi/transport_sse.c's framing: the
 * data-line splitting and the Jugglite stream's extraction of a delivery's
 * raw "data" (static functions, so the file is included whole; the stream
 * loop and the store it calls are linked from fcgi/libjugfcgi.a, unused).
 * Input byte 0 picks a mode; the rest is text to frame, a raw Jugglite
 * payload to deliver as the poller would, or an arbitrary delivery. Checks
 * the SSE output is well formed and carries the published data. */
#include "transport_sse.c"
#include "json.h"
#include "message.h"
#include "oracle.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* ---- a writer stream into a jugBuf ---- */
typedef struct memOut {
    FCGX_Stream stream;
    jugBuf text;
    unsigned char buf[512];
} memOut;

static void memEmpty(FCGX_Stream *s, int doClose) {
    memOut *m = s->data;
    jugBufAppend(&m->text, (const char *)m->buf, (size_t)(s->wrNext - m->buf));
    s->wrNext = m->buf;
    (void)doClose;
}

static void memInit(memOut *m) {
    memset(m, 0, sizeof(*m));
    m->stream.data = m;
    m->stream.wrNext = m->buf;
    m->stream.stop = m->buf + sizeof(m->buf);
    m->stream.rdNext = m->stream.stop;
    m->stream.emptyBuffProc = memEmpty;
}

/* The whole output, "" if nothing was written. */
static const char *memText(memOut *m) {
    memEmpty(&m->stream, 0);
    ORACLE_CHECK(!m->text.oom);
    return m->text.s ? m->text.s : "";
}

/* ---- SSE reading, the way EventSource does ---- */
typedef struct sseEvent {
    jugBuf data, event, id;
    int has_data;
} sseEvent;

/* One event: "name: value" lines up to the empty line that ends the output. */
static void sseRead(const char *out, sseEvent *ev) {
    memset(ev, 0, sizeof(*ev));
    ORACLE_CHECK(!strchr(out, '\r'));
    size_t n = strlen(out);
    ORACLE_CHECK(n >= 2 && !strcmp(out + n - 2, "\n\n"));
    for (const char *p = out; p < out + n - 1;) {
        const char *nl = strchr(p, '\n');
        ORACLE_CHECK(nl && nl > p);
        const char *colon = memchr(p, ':', (size_t)(nl - p));
        ORACLE_CHECK(colon && colon[1] == ' ');
        const char *v = colon + 2;
        size_t vlen = (size_t)(nl - v);
        if (colon - p == 4 && !memcmp(p, "data", 4)) {
            if (ev->has_data) jugBufAppend(&ev->data, "\n", 1);
            jugBufAppend(&ev->data, v, vlen);
            ev->has_data = 1;
        } else if (colon - p == 5 && !memcmp(p, "event", 5)) {
            jugBufAppend(&ev->event, v, vlen);
        } else if (colon - p == 2 && !memcmp(p, "id", 2)) {
            jugBufAppend(&ev->id, v, vlen);
        } else {
            ORACLE_CHECK(!"unknown SSE field");
        }
        p = nl + 1;
    }
    jugBufAppend(&ev->data, "", 0);
    jugBufAppend(&ev->event, "", 0);
    jugBufAppend(&ev->id, "", 0);
}

static void sseFree(sseEvent *ev) {
    jugBufFree(&ev->data);
    jugBufFree(&ev->event);
    jugBufFree(&ev->id);
}

/* text with CRLF and CR turned into LF: what the data lines must carry. */
static char *lfOnly(const char *text, size_t len) {
    char *s = malloc(len + 1), *o = s;
    if (!s) abort();
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') continue;
        *o++ = text[i] == '\r' ? '\n' : text[i];
    }
    *o = '\0';
    return s;
}

/* s without leading and trailing JSON whitespace (modified in place). */
static char *trimmed(char *s) {
    s += strspn(s, " \t");
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t", s[n - 1])) s[--n] = '\0';
    return s;
}

static void setup(jugContext *ctx, jugResponse *res, memOut *m) {
    memInit(m);
    memset(res, 0, sizeof(*res));
    res->out = &m->stream;
    memset(ctx, 0, sizeof(*ctx));
    ctx->res = res;
}

/* Mode 0: any NUL-free text split into data lines. */
static void fuzzDataLines(const char *text) {
    jugContext ctx;
    jugResponse res;
    memOut m;
    setup(&ctx, &res, &m);
    size_t len = strlen(text);
    ORACLE_CHECK(writeDataLines(&ctx, text, len) == 0 && writeStr(&ctx, "\n") == 0);
    sseEvent ev;
    sseRead(memText(&m), &ev);
    char *want = lfOnly(text, len);
    ORACLE_CHECK(ev.has_data && !strcmp(ev.data.s, want));
    free(want);
    sseFree(&ev);
    jugBufFree(&m.text);
}

/* Mode 1: a raw Jugglite payload, made into a delivery as fanout.lua does. */
static void fuzzJugglite(const char *payload, size_t len) {
    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN];
    if (jugMessageFromRaw(&msg, "c", payload, len, 65536, err, sizeof(err)) < 0) return;
    jugBuf item = {0};
    jugBufAppendStr(&item, "{\"id\":7,\"channel\":\"c\",\"data\":");
    jugBufAppendStr(&item, msg.data_json);
    if (msg.event && *msg.event) {
        char *q = jugJsonQuote(msg.event);
        jugBufAppendStr(&item, ",\"event\":");
        jugBufAppendStr(&item, q);
        free(q);
    }
    jugBufAppendStr(&item, "}");

    jugContext ctx;
    jugResponse res;
    memOut m;
    jugglite jl = {"AbCdEfGhIjKlMnOpQrSt-_"};
    setup(&ctx, &res, &m);
    ORACLE_CHECK(juggliteMessage(&ctx, item.s, item.len, 7, &jl) == 0);
    sseEvent ev;
    sseRead(memText(&m), &ev);

    cJSON *data = cJSON_Parse(msg.data_json);
    ORACLE_CHECK(data && ev.has_data);
    if (cJSON_IsString(data)) {
        char *want = lfOnly(data->valuestring, strlen(data->valuestring));
        ORACLE_CHECK(!strcmp(ev.data.s, want));
        free(want);
    } else {
        /* Byte for byte, but for the spaces around the value. */
        ORACLE_CHECK(!strcmp(trimmed(ev.data.s), trimmed(msg.data_json)));
    }
    /* Always the resume point, whatever "id" the payload has. */
    ORACLE_CHECK(!strcmp(ev.id.s, "AbCdEfGhIjKlMnOpQrSt-_.7"));
    if (msg.event && *msg.event) ORACLE_CHECK(!strcmp(ev.event.s, msg.event));
    cJSON_Delete(data);
    sseFree(&ev);
    jugBufFree(&m.text);
    jugBufFree(&item);
    jugMessageFree(&msg);
}

/* Mode 2: any bytes as a delivery: only memory safety is checked. */
static void fuzzDelivery(const char *item, size_t len) {
    jugContext ctx;
    jugResponse res;
    memOut m;
    jugglite jl = {"AbCdEfGhIjKlMnOpQrSt-_"};
    jugJsonSpan raw;
    setup(&ctx, &res, &m);
    juggliteMessage(&ctx, item, len, 1, &jl);
    sseMessage(&ctx, item, len, 1, NULL);
    if (jugJsonMember((jugJsonSpan){item, len}, "data", &raw) == 0)
        ORACLE_CHECK(raw.p >= item && raw.p + raw.len <= item + len);
    memText(&m);
    jugBufFree(&m.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) quiet = jugLogInit("fuzz_sse", "stderr", "error", NULL, 0) == 0;
    if (size < 1) return 0;
    /* Exact-size copies, so ASan sees any read past the end. */
    char *rest = malloc(size - 1 ? size - 1 : 1);
    if (!rest) abort();
    memcpy(rest, data + 1, size - 1);
    switch (data[0] % 3) {
    case 0: {
        char *text = oracleCopy(data + 1, size - 1);
        fuzzDataLines(text);
        free(text);
        break;
    }
    case 1: fuzzJugglite(rest, size - 1); break;
    default: fuzzDelivery(rest, size - 1); break;
    }
    free(rest);
    return 0;
}
