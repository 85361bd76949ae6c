/* fuzz_request.c -- libFuzzer target for fcgi/request.c: a whole request
 * (environment + body) through jugRequestParse, then every getter a handler
 * uses. Input: "NAME=value" lines up to the first empty line are the CGI
 * environment, the rest is the body, read through an FCGX_Stream over
 * memory as cgi.c reads one over stdin. Checks that the getters only ever
 * hand out valid values. */
#include "autoconfig.h"
#include "request.h"
#include "message.h"
#include "response.h"
#include "sid.h"
#include "oracle.h"

#include <stdint.h>

static void memFill(FCGX_Stream *s) {
    s->isClosed = 1;
    s->rdNext = s->stop;
}

/* A reader stream over exactly len bytes, so ASan sees any overread. */
static FCGX_Stream *memStream(unsigned char *buf, size_t len) {
    FCGX_Stream *s = calloc(1, sizeof(*s));
    if (!s) abort();
    s->isReader = 1;
    s->rdNext = s->stopUnget = buf;
    s->stop = s->wrNext = buf + len;
    s->fillBuffProc = memFill;
    return s;
}

/* Split "NAME=value\n...\n\nbody" into a NULL-terminated env and the body. */
static char **splitInput(const char *text, size_t size, const char **body) {
    char **env = calloc(size / 2 + 2, sizeof(char *));
    int n = 0;
    const char *p = text, *end = text + size;
    if (!env) abort();
    while (p < end && *p != '\n') {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        env[n] = malloc(len + 1);
        if (!env[n]) abort();
        memcpy(env[n], p, len);
        env[n++][len] = '\0';
        p = nl ? nl + 1 : end;
    }
    *body = p < end ? p + 1 : end;
    return env;
}

static void checkGetters(const jugRequest *req) {
    char err[256];
    for (const char *p = req->endpoint_name; *p; p++)
        ORACLE_CHECK(*p > 0x20 && *p < 0x7f && *p != '"' && *p != '\\');
    const char *sid;
    if (jugRequestSessionId(req, &sid, err, sizeof(err)) == 0) ORACLE_CHECK(jugSidValid(sid, strlen(sid)));
    const char **channels;
    int count;
    if (jugRequestChannels(req, &channels, &count, 100, 1, err, sizeof(err)) == 0) {
        ORACLE_CHECK(count >= 1 && count <= 100);
        for (int i = 0; i < count; i++) {
            ORACLE_CHECK(jugChannelValid(channels[i], strlen(channels[i])));
            for (int j = 0; j < i; j++) ORACLE_CHECK(strcmp(channels[i], channels[j]));
        }
        free(channels);
    }
    const char *json;
    if (jugRequestJson(req, "meta", 4096, &json, err, sizeof(err)) == 0) {
        ORACLE_CHECK(strlen(json) <= 4096 && oracleJsonDepth(json, strlen(json), 64));
    }
    long long ack;
    if (jugRequestAck(req, &ack, err, sizeof(err)) == 0) ORACLE_CHECK(ack >= 0);
    const char *cb = jugRequestParam(req, "callback");
    if (cb && jugCallbackValid(cb)) ORACLE_CHECK(strlen(cb) <= 4 * 65);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body;
    char **env = splitInput((const char *)data, size, &body);
    size_t blen = (size_t)((const char *)data + size - body);
    unsigned char *bodycopy = malloc(blen ? blen : 1);
    if (!bodycopy) abort();
    memcpy(bodycopy, body, blen);

    static jugConfig cfg;
    if (!cfg.max_request_size) {
        jugConfigDefaults(&cfg);
        cfg.max_request_size = 1024;   /* small enough for the fuzzer to pass */
    }
    FCGX_Request fcgx;
    memset(&fcgx, 0, sizeof(fcgx));
    fcgx.envp = env;
    fcgx.ipcFd = size & 1 ? 0 : -1;   /* 0: also drain the input */
    fcgx.in = memStream(bodycopy, blen);

    jugRequest req;
    char err[256] = "";
    int rc = jugRequestParse(&req, &fcgx, &cfg, err, sizeof(err));
    if (rc == 0) checkGetters(&req);
    else ORACLE_CHECK((rc == 400 || rc == 405 || rc == 413) && err[0]);
    jugRequestFree(&req);

    free(fcgx.in);
    free(bodycopy);
    for (char **e = env; *e; e++) free(*e);
    free(env);
    return 0;
}
