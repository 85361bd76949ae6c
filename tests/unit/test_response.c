/* test_response.c -- unit tests of fcgi/response.c, table-driven (each case
 * names its __LINE__), lighttpd src/t style: the file under test is
 * included to reach its statics, and whole responses are written to an
 * in-memory FastCGI request (fcgi_mem.h) and compared byte for byte. */
#include "autoconfig.h"
#include "../../fcgi/response.c"

#include "fcgi_mem.h"
#include "tap.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define NO_CACHE "Cache-Control: no-cache, no-store, must-revalidate\r\nPragma: no-cache\r\nExpires: 0\r\n"
#define NOSNIFF "X-Content-Type-Options: nosniff\r\n"

static void testCallbackNames(void) {
    static char longest[300], tooLong[300];
    memset(longest, 'a', 64);
    memset(tooLong, 'a', 65);
    static const struct { int line; const char *name; int valid; } cases[] = {
        {__LINE__, "cb", 1},
        {__LINE__, "_", 1},
        {__LINE__, "$", 1},
        {__LINE__, "jQuery123_456", 1},
        {__LINE__, "a.b.c.d", 1},
        {__LINE__, "a.b.c.d.e", 0},          /* at most four parts */
        {__LINE__, "a..b", 0},
        {__LINE__, "a.", 0},
        {__LINE__, ".a", 0},
        {__LINE__, "1a", 0},
        {__LINE__, "a.1b", 0},
        {__LINE__, "", 0},
        {__LINE__, NULL, 0},
        {__LINE__, "a b", 0},
        {__LINE__, "alert(1)", 0},
        {__LINE__, "a[0]", 0},
        {__LINE__, "a-b", 0},
        {__LINE__, "caf\xc3\xa9", 0},
        {__LINE__, longest, 1},
        {__LINE__, tooLong, 0},
    };
    for (size_t i = 0; i < COUNT(cases); i++)
        TAP_OK(jugCallbackValid(cases[i].name) == cases[i].valid, "line %d: callback '%.20s%s' is %s",
               cases[i].line, cases[i].name ? cases[i].name : "(null)",
               cases[i].name && strlen(cases[i].name) > 20 ? "..." : "",
               cases[i].valid ? "valid" : "refused");
    char joined[300 * 4 + 4];
    snprintf(joined, sizeof(joined), "%s.%s.%s.%s", longest, longest, longest, longest);
    TAP_OK(jugCallbackValid(joined), "four parts of 64 characters");
}

static void testJsonForScript(void) {
    static const struct { int line; const char *in, *out; } cases[] = {
        {__LINE__, "{}", "{}"},
        {__LINE__, "\"</script>\"", "\"\\u003c/script\\u003e\""},
        {__LINE__, "\"a&b\"", "\"a\\u0026b\""},
        {__LINE__, "\"\xe2\x80\xa8\xe2\x80\xa9\"", "\"\\u2028\\u2029\""},
        {__LINE__, "\"\xe2\x80\xa7\"", "\"\xe2\x80\xa7\""},   /* its neighbour stays */
        {__LINE__, "\"\xe2\x80\"", "\"\xe2\x80\""},           /* cut short: copied */
        {__LINE__, "\"caf\xc3\xa9\"", "\"caf\xc3\xa9\""},
        {__LINE__, "", ""},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char *got = jugJsonForScript(cases[i].in, strlen(cases[i].in));
        TAP_STR_EQ(got, cases[i].out, "line %d: JSON made safe for <script>", cases[i].line);
        free(got);
    }
}

static void testStatusNames(void) {
    static const struct { int line, status; const char *code, *reason; } cases[] = {
        {__LINE__, 200, "internal", "OK"},
        {__LINE__, 204, "internal", "No Content"},
        {__LINE__, 400, "bad_request", "Bad Request"},
        {__LINE__, 403, "forbidden", "Forbidden"},
        {__LINE__, 404, "not_found", "Not Found"},
        {__LINE__, 405, "method_not_allowed", "Method Not Allowed"},
        {__LINE__, 410, "session_expired", "Gone"},
        {__LINE__, 413, "too_large", "Payload Too Large"},
        {__LINE__, 500, "internal", "Internal Server Error"},
        {__LINE__, 501, "not_implemented", "Not Implemented"},
        {__LINE__, 503, "unavailable", "Service Unavailable"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        int ok = (cases[i].status < 400 || !strcmp(jugErrorCode(cases[i].status), cases[i].code)) &&
                 !strcmp(reasonPhrase(cases[i].status), cases[i].reason);
        TAP_OK(ok, "line %d: %d is %s, '%s' (got %s, '%s')", cases[i].line, cases[i].status,
               cases[i].code, cases[i].reason, jugErrorCode(cases[i].status), reasonPhrase(cases[i].status));
    }
}

static void testBuf(void) {
    jugBuf b = {0};
    for (int i = 0; i < 1000; i++) jugBufAppendStr(&b, "0123456789");
    jugBufAppend(&b, "xyz", 2);
    TAP_OK(!b.oom && b.len == 10002 && b.s[b.len] == '\0' && !memcmp(b.s + 9990, "0123456789xy", 12),
           "jugBuf grows, keeps every byte and stays terminated");
    jugBufFree(&b);
    TAP_OK(b.s == NULL && b.len == 0 && b.cap == 0, "jugBufFree resets it");
}

/* ---- whole responses ---- */

static jugConfig testConfig;

typedef struct responseCase {
    int line;
    const char *query;      /* the request's parameters (callback=...) */
    const char *origin;     /* Origin header, or NULL */
    int kind;               /* what to write, below */
    int status;
    const char *body;       /* JSON, or the error message */
    const char *want;       /* the exact output */
} responseCase;

enum { WRITE_JSON, WRITE_ERROR, WRITE_PREFLIGHT };

static void testResponses(void) {
    const responseCase cases[] = {
        {__LINE__, "", NULL, WRITE_JSON, 200, "{\"ok\":true}",
         "Status: 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n" NO_CACHE NOSNIFF
         "Content-Length: 11\r\n\r\n{\"ok\":true}"},
        {__LINE__, "callback=a.cb", NULL, WRITE_JSON, 200, "{\"x\":\"</script>\"}",
         "Status: 200 OK\r\nContent-Type: application/javascript; charset=utf-8\r\n" NO_CACHE NOSNIFF
         "Content-Length: 34\r\n\r\na.cb({\"x\":\"\\u003c/script\\u003e\"});"},
        {__LINE__, "", NULL, WRITE_ERROR, 410, "gone away",
         "Status: 410 Gone\r\nContent-Type: application/json; charset=utf-8\r\n" NO_CACHE NOSNIFF
         "Content-Length: 49\r\n\r\n{\"error\":\"session_expired\",\"message\":\"gone away\"}"},
        {__LINE__, "callback=cb", NULL, WRITE_ERROR, 410, "gone",
         "Status: 200 OK\r\nContent-Type: application/javascript; charset=utf-8\r\n" NO_CACHE NOSNIFF
         "Content-Length: 62\r\n\r\ncb({\"error\":\"session_expired\",\"message\":\"gone\",\"status\":410});"},
        {__LINE__, "", NULL, WRITE_ERROR, 503, "later",
         "Status: 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n" NO_CACHE
         NOSNIFF "Retry-After: 2\r\nContent-Length: 41\r\n\r\n{\"error\":\"unavailable\",\"message\":\"later\"}"},
        {__LINE__, "", NULL, WRITE_ERROR, 405, "no",
         "Status: 405 Method Not Allowed\r\nContent-Type: application/json; charset=utf-8\r\n" NO_CACHE
         NOSNIFF "Allow: GET, POST, OPTIONS\r\nContent-Length: 45\r\n\r\n"
         "{\"error\":\"method_not_allowed\",\"message\":\"no\"}"},
        {__LINE__, "", NULL, WRITE_ERROR, 400, "bad \"quote\"\n",
         "Status: 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n" NO_CACHE NOSNIFF
         "Content-Length: 51\r\n\r\n{\"error\":\"bad_request\",\"message\":\"bad \\\"quote\\\"\\n\"}"},
        {__LINE__, "", "https://app.example", WRITE_JSON, 200, "{}",
         "Status: 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n" NO_CACHE NOSNIFF
         "Access-Control-Allow-Origin: https://app.example\r\nAccess-Control-Allow-Credentials: true\r\n"
         "Vary: Origin\r\nContent-Length: 2\r\n\r\n{}"},
        {__LINE__, "", "https://evil.example", WRITE_JSON, 200, "{}",
         "Status: 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n" NO_CACHE NOSNIFF
         "Content-Length: 2\r\n\r\n{}"},
        {__LINE__, "", "https://app.example", WRITE_PREFLIGHT, 204, NULL,
         "Status: 204 No Content\r\n" NO_CACHE NOSNIFF
         "Access-Control-Allow-Origin: https://app.example\r\nAccess-Control-Allow-Credentials: true\r\n"
         "Vary: Origin\r\nAccess-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
         "Access-Control-Allow-Headers: Content-Type, Last-Event-ID, X-Requested-With\r\n"
         "Access-Control-Max-Age: 600\r\nContent-Length: 0\r\n\r\n"},
        {__LINE__, "", "https://evil.example", WRITE_PREFLIGHT, 204, NULL,
         "Status: 204 No Content\r\n" NO_CACHE NOSNIFF "Content-Length: 0\r\n\r\n"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        const responseCase *c = &cases[i];
        static char query[256], origin[256];
        char *envp[4] = {"REQUEST_METHOD=GET", query, NULL, NULL};
        snprintf(query, sizeof(query), "QUERY_STRING=%s", c->query);
        if (c->origin) {
            snprintf(origin, sizeof(origin), "HTTP_ORIGIN=%s", c->origin);
            envp[2] = origin;
        }
        FCGX_Request fcgx;
        memRequestInit(&fcgx, envp, NULL);
        jugRequest req;
        jugResponse res;
        char err[200];
        int rc = jugRequestParse(&req, &fcgx, &testConfig, err, sizeof(err));
        if (!rc) rc = jugResponseInit(&res, &req, &testConfig);
        if (!rc) {
            if (c->kind == WRITE_JSON) rc = jugResponseJson(&res, c->status, c->body);
            else if (c->kind == WRITE_ERROR) rc = jugResponseError(&res, c->status, jugErrorCode(c->status), c->body);
            else rc = jugResponsePreflight(&res);
        }
        const char *got = memRequestOutput(&fcgx);
        TAP_OK(rc == 0, "line %d: written", c->line);
        TAP_STR_EQ(got, c->want, "line %d: the exact response", c->line);
        TAP_OK(jugResponseHeaders(&res, 200, "text/plain", NULL) == -1, "line %d: headers go once", c->line);
        jugRequestFree(&req);
        memRequestFree(&fcgx);
    }

    /* A bad callback is refused before anything is written. */
    char *envp[] = {"REQUEST_METHOD=GET", "QUERY_STRING=callback=alert(1)", NULL};
    FCGX_Request fcgx;
    jugRequest req;
    jugResponse res;
    char err[200];
    memRequestInit(&fcgx, envp, NULL);
    TAP_OK(jugRequestParse(&req, &fcgx, &testConfig, err, sizeof(err)) == 0 &&
           jugResponseInit(&res, &req, &testConfig) == 400 && res.callback == NULL,
           "an invalid callback makes jugResponseInit answer 400 and no JSONP");
    jugRequestFree(&req);
    memRequestFree(&fcgx);

    /* A closed output: the write fails once, and every later one at once. */
    memRequestInit(&fcgx, envp + 2, NULL);
    fcgx.envp = (char *[]){"REQUEST_METHOD=GET", NULL};
    jugRequestParse(&req, &fcgx, &testConfig, err, sizeof(err));
    jugResponseInit(&res, &req, &testConfig);
    fcgx.out->isClosed = 1;
    TAP_OK(jugResponseJson(&res, 200, "{}") == -1 && res.gone, "a closed output sets gone");
    TAP_OK(jugResponseWrite(&res, "x", 1) == -1 && jugResponseFlush(&res) == -1, "later writes fail at once");
    jugRequestFree(&req);
    memRequestFree(&fcgx);
}

int main(void) {
    jugConfigDefaults(&testConfig);
    char err[JUG_CONFIG_ERRLEN];
    if (jugConfigSet(&testConfig, "cors_origins", "https://app.example", err, sizeof(err)) < 0)
        printf("# cors_origins: %s\n", err);
    testCallbackNames();
    testJsonForScript();
    testStatusNames();
    testBuf();
    testResponses();
    return tapDone();
}
