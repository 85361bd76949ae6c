/* test_request.c -- unit tests of fcgi/request.c, table-driven (each case
 * names its __LINE__), lighttpd src/t style: the file under test is
 * included, so its static helpers (percent-decoding, path segments, body
 * types, ids) are tested directly, and whole requests go through
 * jugRequestParse() on an in-memory FastCGI request (fcgi_mem.h). */
#include "autoconfig.h"
#include "../../fcgi/request.c"

#include "fcgi_mem.h"
#include "tap.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void testPercentDecode(void) {
    static const struct { int line; const char *in, *out; } cases[] = {
        {__LINE__, "", ""},
        {__LINE__, "plain", "plain"},
        {__LINE__, "a+b", "a b"},
        {__LINE__, "%41%42", "AB"},
        {__LINE__, "%4a%4A", "JJ"},
        {__LINE__, "%2541", "%41"},          /* decoded once, never twice */
        {__LINE__, "%2B+", "+ "},
        {__LINE__, "%e2%80%a8", "\xe2\x80\xa8"},
        {__LINE__, "%", NULL},
        {__LINE__, "%4", NULL},
        {__LINE__, "a%2", NULL},
        {__LINE__, "%G1", NULL},
        {__LINE__, "%1G", NULL},
        {__LINE__, "%00", NULL},              /* no NUL in a parameter */
        {__LINE__, "ok%00tail", NULL},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", cases[i].in);
        int rc = percentDecode(buf);
        if (cases[i].out)
            TAP_OK(rc == 0 && !strcmp(buf, cases[i].out), "line %d: '%s' decodes to '%s' (got %d '%s')",
                   cases[i].line, cases[i].in, cases[i].out, rc, buf);
        else
            TAP_OK(rc == -1, "line %d: '%s' is refused", cases[i].line, cases[i].in);
    }
}

static void testLastSegment(void) {
    static const struct { int line; const char *path, *segment; } cases[] = {
        {__LINE__, "/juggernaut/poll", "poll"},
        {__LINE__, "/juggernaut/poll?x=1/2", "poll"},
        {__LINE__, "/juggernaut/poll#frag", "poll"},
        {__LINE__, "/cgi-bin/juggernaut.fcgi/connect", "connect"},
        {__LINE__, "poll", "poll"},
        {__LINE__, "/a/b/", ""},
        {__LINE__, "/", ""},
        {__LINE__, "", ""},
        {__LINE__, "?q=/poll", ""},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        size_t len;
        const char *seg = lastSegment(cases[i].path, &len);
        TAP_OK(len == strlen(cases[i].segment) && !memcmp(seg, cases[i].segment, len),
               "line %d: last segment of '%s' is '%s' (got '%.*s')", cases[i].line, cases[i].path,
               cases[i].segment, (int)len, seg);
    }
}

static void testBodyType(void) {
    static const struct { int line; const char *type; int accepted; } cases[] = {
        {__LINE__, NULL, 1},
        {__LINE__, "", 1},
        {__LINE__, "application/x-www-form-urlencoded", 1},
        {__LINE__, "application/x-www-form-urlencoded; charset=UTF-8", 1},
        {__LINE__, "APPLICATION/X-WWW-FORM-URLENCODED", 1},
        {__LINE__, "text/plain", 1},                  /* old IE's XDomainRequest */
        {__LINE__, "text/plain;charset=utf-8", 1},
        {__LINE__, "text/plainx", 0},
        {__LINE__, "application/x-www-form-urlencodedx", 0},
        {__LINE__, "application/json", 0},
        {__LINE__, "multipart/form-data; boundary=x", 0},
        {__LINE__, "text/html", 0},
    };
    for (size_t i = 0; i < COUNT(cases); i++)
        TAP_OK(bodyTypeAccepted(cases[i].type) == cases[i].accepted, "line %d: body type '%s' %s",
               cases[i].line, cases[i].type ? cases[i].type : "(none)",
               cases[i].accepted ? "parsed" : "refused");
}

static void testEndpointNames(void) {
    for (int i = 1; i < JUG_EP_COUNT; i++)
        TAP_OK(jugEndpointFromName(endpointNames[i], strlen(endpointNames[i])) == (jugEndpoint)i,
               "endpoint '%s' found by its name", endpointNames[i]);
    static const struct { int line; const char *name; } unknown[] = {
        {__LINE__, ""}, {__LINE__, "pol"}, {__LINE__, "polls"}, {__LINE__, "POLL"},
        {__LINE__, "juggernaut"}, {__LINE__, "status/"},
    };
    for (size_t i = 0; i < COUNT(unknown); i++)
        TAP_OK(jugEndpointFromName(unknown[i].name, strlen(unknown[i].name)) == JUG_EP_UNKNOWN,
               "line %d: '%s' is no endpoint", unknown[i].line, unknown[i].name);
    TAP_OK(jugEndpointFromName("pollx", 4) == JUG_EP_POLL, "a name is compared by its length");
}

/* ---- whole requests ---- */

typedef struct reqCase {
    int line;
    const char *method, *path_info, *request_uri, *query;
    const char *content_length, *content_type, *body;
    int status;                 /* what jugRequestParse returns */
    jugEndpoint endpoint;
    const char *endpoint_name;  /* NULL: not checked */
    const char *param, *value;  /* a parameter to check, or NULL */
} reqCase;

static jugConfig testConfig;

/* Parse c into req (caller frees req and fcgx). */
static int parseCase(const reqCase *c, jugRequest *req, FCGX_Request *fcgx, char *err, size_t errlen) {
    static char env[8][8192];
    static char *envp[9];
    int n = 0;
    const char *names[] = {"REQUEST_METHOD", "PATH_INFO", "REQUEST_URI", "QUERY_STRING",
                           "CONTENT_LENGTH", "CONTENT_TYPE"};
    const char *values[] = {c->method, c->path_info, c->request_uri, c->query, c->content_length,
                            c->content_type};
    for (size_t i = 0; i < COUNT(names); i++)
        if (values[i]) {
            snprintf(env[n], sizeof(env[n]), "%s=%s", names[i], values[i]);
            envp[n] = env[n];
            n++;
        }
    envp[n] = NULL;
    memRequestInit(fcgx, envp, c->body);
    return jugRequestParse(req, fcgx, &testConfig, err, errlen);
}

static void testParse(void) {
    static char many[4096], tooMany[4200], longQuery[4200];
    for (int i = 0; i < JUG_MAX_PARAMS; i++) {
        char one[16];
        snprintf(one, sizeof(one), "%sp%d=%d", i ? "&" : "", i, i);
        strcat(many, one);
    }
    snprintf(tooMany, sizeof(tooMany), "%s&last=1", many);
    memset(longQuery, 'a', sizeof(longQuery) - 1);
    memcpy(longQuery, "x=", 2);

    const reqCase cases[] = {
        {__LINE__, "GET", "/poll", NULL, "session_id=abc", NULL, NULL, NULL, 0, JUG_EP_POLL, "poll",
         "session_id", "abc"},
        {__LINE__, NULL, "/connect", NULL, NULL, NULL, NULL, NULL, 0, JUG_EP_CONNECT, "connect", NULL, NULL},
        {__LINE__, "GET", NULL, "/juggernaut/subscribe?channel=a", "channel=a", NULL, NULL, NULL, 0,
         JUG_EP_SUBSCRIBE, "subscribe", "channel", "a"},
        {__LINE__, "GET", NULL, "/cgi-bin/juggernaut.fcgi?action=meta", "action=meta", NULL, NULL, NULL,
         0, JUG_EP_META, "meta", NULL, NULL},
        {__LINE__, "GET", "/status", NULL, "action=poll", NULL, NULL, NULL, 0, JUG_EP_STATUS, "status",
         NULL, NULL},                                   /* the path wins over ?action= */
        {__LINE__, "GET", "/nope", NULL, NULL, NULL, NULL, NULL, 0, JUG_EP_UNKNOWN, "nope", NULL, NULL},
        {__LINE__, "GET", "/a\"b\\c", NULL, NULL, NULL, NULL, NULL, 0, JUG_EP_UNKNOWN, "a?b?c", NULL, NULL},
        {__LINE__, "GET", "/poll", NULL, "a=1+2&b=%26&c&=x&&d=", NULL, NULL, NULL, 0, JUG_EP_POLL, NULL,
         "a", "1 2"},
        {__LINE__, "GET", "/poll", NULL, "a=1&b=%26", NULL, NULL, NULL, 0, JUG_EP_POLL, NULL, "b", "&"},
        {__LINE__, "GET", "/poll", NULL, "c&d=", NULL, NULL, NULL, 0, JUG_EP_POLL, NULL, "c", ""},
        {__LINE__, "GET", "/poll", NULL, "a=1&a=2", NULL, NULL, NULL, 0, JUG_EP_POLL, NULL, "a", "1"},
        {__LINE__, "PUT", "/poll", NULL, NULL, NULL, NULL, NULL, 405, JUG_EP_POLL, "poll", NULL, NULL},
        {__LINE__, "DELETE", "/x", NULL, NULL, NULL, NULL, NULL, 405, JUG_EP_UNKNOWN, "x", NULL, NULL},
        {__LINE__, "GET", "/poll", NULL, "a=%zz", NULL, NULL, NULL, 400, JUG_EP_POLL, NULL, NULL, NULL},
        {__LINE__, "GET", "/poll", NULL, "a%00=1", NULL, NULL, NULL, 400, JUG_EP_POLL, NULL, NULL, NULL},
        {__LINE__, "GET", "/poll", NULL, longQuery, NULL, NULL, NULL, 413, JUG_EP_POLL, NULL, NULL, NULL},
        {__LINE__, "GET", "/poll", NULL, many, NULL, NULL, NULL, 0, JUG_EP_POLL, NULL, "p255", "255"},
        {__LINE__, "GET", "/poll", NULL, tooMany, NULL, NULL, NULL, 400, JUG_EP_POLL, NULL, NULL, NULL},
        {__LINE__, "POST", "/meta", NULL, "q=1", "11", "application/x-www-form-urlencoded",
         "meta=%7B%7D", 0, JUG_EP_META, NULL, "meta", "{}"},
        {__LINE__, "POST", "/meta", NULL, "q=1", "11", NULL, "meta=%7B%7D", 0, JUG_EP_META, NULL, "q", "1"},
        {__LINE__, "POST", "/event", NULL, NULL, "9", "text/plain", "data=%5B1%5D", 0, JUG_EP_EVENT,
         NULL, "data", "[1"},                           /* Content-Length cuts the body */
        {__LINE__, "POST", NULL, "/x.fcgi", NULL, "11", NULL, "action=poll", 0, JUG_EP_POLL, "poll",
         NULL, NULL},                                   /* ?action= from the body */
        {__LINE__, "POST", "/meta", NULL, NULL, "20", NULL, "meta=1", 400, JUG_EP_META, NULL, NULL, NULL},
        {__LINE__, "POST", "/meta", NULL, NULL, "abc", NULL, "", 400, JUG_EP_META, NULL, NULL, NULL},
        {__LINE__, "POST", "/meta", NULL, NULL, "-1", NULL, "", 400, JUG_EP_META, NULL, NULL, NULL},
        {__LINE__, "POST", "/meta", NULL, NULL, "4097", NULL, "", 413, JUG_EP_META, NULL, NULL, NULL},
        {__LINE__, "POST", "/meta", NULL, NULL, "6", "application/json", "{\"a\":1", 400, JUG_EP_META,
         NULL, NULL, NULL},
        {__LINE__, "POST", "/meta", NULL, NULL, "0", "application/json", NULL, 0, JUG_EP_META, NULL, NULL,
         NULL},                                         /* an empty body has no type to check */
        {__LINE__, "POST", "/meta", NULL, NULL, NULL, NULL, NULL, 0, JUG_EP_META, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        const reqCase *c = &cases[i];
        jugRequest req;
        FCGX_Request fcgx;
        char err[200] = "";
        int rc = parseCase(c, &req, &fcgx, err, sizeof(err));
        int ok = rc == c->status && req.endpoint == c->endpoint &&
                 (!c->endpoint_name || !strcmp(req.endpoint_name, c->endpoint_name));
        const char *v = c->param && rc == 0 ? jugRequestParam(&req, c->param) : NULL;
        if (c->param && rc == 0) ok = ok && v && !strcmp(v, c->value);
        TAP_OK(ok, "line %d: %s %s%s -> %d, endpoint %d '%s'%s%s (got %d '%s', endpoint %d '%s', %s=%s)",
               c->line, c->method ? c->method : "(no method)",
               c->path_info ? c->path_info : c->request_uri, c->query ? "?..." : "", c->status,
               (int)c->endpoint, c->endpoint_name ? c->endpoint_name : "", c->param ? ", param " : "",
               c->param ? c->param : "", rc, err, (int)req.endpoint, req.endpoint_name,
               c->param ? c->param : "-", v ? v : "(none)");
        TAP_OK(rc == 0 || err[0], "line %d: a refusal says why (%s)", c->line, err);
        jugRequestFree(&req);
        memRequestFree(&fcgx);
    }
}

/* ---- the getters, on parsed queries ---- */

typedef struct getterReq {
    jugRequest req;
    FCGX_Request fcgx;
} getterReq;

static void getterParse(getterReq *g, const char *query, const char *last_event_id) {
    static char q[2048], lei[256];
    static char *envp[4];
    snprintf(q, sizeof(q), "QUERY_STRING=%s", query);
    envp[0] = "REQUEST_METHOD=GET";
    envp[1] = q;
    envp[2] = NULL;
    if (last_event_id) {
        snprintf(lei, sizeof(lei), "HTTP_LAST_EVENT_ID=%s", last_event_id);
        envp[2] = lei;
        envp[3] = NULL;
    }
    memRequestInit(&g->fcgx, envp, NULL);
    char err[200];
    if (jugRequestParse(&g->req, &g->fcgx, &testConfig, err, sizeof(err)) != 0)
        printf("# parse of '%s' failed: %s\n", query, err);
}

static void getterFree(getterReq *g) {
    jugRequestFree(&g->req);
    memRequestFree(&g->fcgx);
}

static void testChannels(void) {
    static const struct { int line; const char *query; int max, required, status; const char *want; } cases[] = {
        {__LINE__, "channel=a", 5, 1, 0, "a"},
        {__LINE__, "channel=a&channel=b", 5, 1, 0, "a b"},
        {__LINE__, "channel=a,b&channel[]=c", 5, 1, 0, "a b c"},
        {__LINE__, "channel=a,,b,", 5, 1, 0, "a b"},
        {__LINE__, "channel=a,a&channel=a", 5, 1, 0, "a"},        /* listed once */
        {__LINE__, "channel=a,b,c", 3, 1, 0, "a b c"},
        {__LINE__, "channel=a,b,c,d", 3, 1, 413, NULL},
        {__LINE__, "channel=a,a,a,a,b", 2, 1, 0, "a b"},           /* repeats do not count */
        {__LINE__, "", 5, 1, 400, NULL},
        {__LINE__, "", 5, 0, 0, ""},
        {__LINE__, "channel=", 5, 1, 400, NULL},
        {__LINE__, "channel=,", 5, 0, 0, ""},
        {__LINE__, "channel=a%20b", 5, 1, 400, NULL},
        {__LINE__, "channel=ok,bad%3Cx%3E", 5, 1, 400, NULL},
        {__LINE__, "other=a", 5, 1, 400, NULL},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        getterReq g;
        getterParse(&g, cases[i].query, NULL);
        const char **list;
        int count;
        char err[200] = "", got[256] = "";
        int rc = jugRequestChannels(&g.req, &list, &count, cases[i].max, cases[i].required, err,
                                    sizeof(err));
        for (int k = 0; rc == 0 && k < count; k++) {
            if (k) strcat(got, " ");
            strcat(got, list[k]);
        }
        TAP_OK(rc == cases[i].status && (rc || !strcmp(got, cases[i].want)),
               "line %d: channels of '%s' (max %d%s): %d '%s' (got %d '%s' %s)", cases[i].line,
               cases[i].query, cases[i].max, cases[i].required ? ", required" : "", cases[i].status,
               cases[i].want ? cases[i].want : "", rc, got, err);
        if (rc == 0) free(list);
        getterFree(&g);
    }
}

static void testAckAndSession(void) {
    static const struct { int line; const char *query, *last_event_id; int status; long long ack; } acks[] = {
        {__LINE__, "", NULL, 0, 0},
        {__LINE__, "ack=0", NULL, 0, 0},
        {__LINE__, "ack=42", NULL, 0, 42},
        {__LINE__, "ack=1862465209475072", NULL, 0, 1862465209475072LL},  /* TIME ms * 1024 */
        {__LINE__, "ack=999999999999999999", NULL, 0, 999999999999999999LL},
        {__LINE__, "ack=1000000000000000000", NULL, 400, 0},                /* 19 digits */
        {__LINE__, "ack=-1", NULL, 400, 0},
        {__LINE__, "ack=", NULL, 400, 0},
        {__LINE__, "ack=1e3", NULL, 400, 0},
        {__LINE__, "ack=+5", NULL, 400, 0},
        {__LINE__, "", "17", 0, 17},
        {__LINE__, "", "AAAAAAAAAAAAAAAAAAAAAA.23", 0, 23},                  /* Jugglite form */
        {__LINE__, "", "garbage", 0, 0},                                     /* resumes from the start */
        {__LINE__, "", "x.", 0, 0},
        {__LINE__, "ack=5", "99", 0, 99},                 /* the newer of the two: a stream's URL */
        {__LINE__, "ack=99", "5", 0, 99},                 /* keeps its first ack= */
        {__LINE__, "ack=99", "garbage", 0, 99},
        {__LINE__, "ack=x", "99", 400, 0},
    };
    for (size_t i = 0; i < COUNT(acks); i++) {
        getterReq g;
        getterParse(&g, acks[i].query, acks[i].last_event_id);
        long long ack = -1;
        char err[200] = "";
        int rc = jugRequestAck(&g.req, &ack, err, sizeof(err));
        TAP_OK(rc == acks[i].status && (rc || ack == acks[i].ack),
               "line %d: ack of '%s' / Last-Event-ID %s: %d %lld (got %d %lld %s)", acks[i].line,
               acks[i].query, acks[i].last_event_id ? acks[i].last_event_id : "-", acks[i].status,
               acks[i].ack, rc, ack, err);
        getterFree(&g);
    }

    static const struct { int line; const char *query; int status; } sids[] = {
        {__LINE__, "session_id=AAAAAAAAAAAAAAAAAAAAAA", 0},
        {__LINE__, "session_id=abc-_0123456789ABCDEFG", 0},
        {__LINE__, "", 400},
        {__LINE__, "session_id=", 400},
        {__LINE__, "session_id=AAAAAAAAAAAAAAAAAAAAA", 400},
        {__LINE__, "session_id=AAAAAAAAAAAAAAAAAAAAAAA", 400},
        {__LINE__, "session_id=AAAAAAAAAAAAAAAAAAAAA%2B", 400},
        {__LINE__, "session_id=..%2F..%2F..%2Fetc%2Fpasswd", 400},
    };
    for (size_t i = 0; i < COUNT(sids); i++) {
        getterReq g;
        getterParse(&g, sids[i].query, NULL);
        const char *sid = NULL;
        char err[200] = "";
        int rc = jugRequestSessionId(&g.req, &sid, err, sizeof(err));
        TAP_OK(rc == sids[i].status && (rc || (sid && strlen(sid) == JUG_SID_LEN)),
               "line %d: session_id of '%s': %d (got %d %s)", sids[i].line, sids[i].query,
               sids[i].status, rc, err);
        getterFree(&g);
    }
}

int main(void) {
    jugConfigDefaults(&testConfig);
    testConfig.max_request_size = 4096;
    testPercentDecode();
    testLastSegment();
    testBodyType();
    testEndpointNames();
    testParse();
    testChannels();
    testAckAndSession();
    return tapDone();
}
