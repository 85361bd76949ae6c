/* test_httpprobe.c -- the URL parser of "--check URL" (fcgi/httpprobe.c),
 * table-driven: what it accepts, what it refuses and why. */
#include "autoconfig.h"

#include <string.h>

#include "httpprobe.h"
#include "tap.h"

typedef struct urlCase {
    int line;
    const char *url;
    int rc;
    const char *host;
    int port;
    const char *path;
    const char *err;       /* a part of the message when refused */
} urlCase;

static const urlCase cases[] = {
    {__LINE__, "http://example.com/cgi-bin/juggernaut.fcgi", 0, "example.com", 80, "/cgi-bin/juggernaut.fcgi", NULL},
    {__LINE__, "http://127.0.0.1:8080/juggernaut", 0, "127.0.0.1", 8080, "/juggernaut", NULL},
    {__LINE__, "http://localhost", 0, "localhost", 80, "/", NULL},
    {__LINE__, "http://localhost:81", 0, "localhost", 81, "/", NULL},
    {__LINE__, "http://h/x?action=connect", 0, "h", 80, "/x?action=connect", NULL},
    {__LINE__, "http://h?x=1", 0, "h", 80, "/?x=1", NULL},
    {__LINE__, "https://example.com/x", -1, NULL, 0, NULL, "is not an http:// URL"},
    {__LINE__, "example.com/x", -1, NULL, 0, NULL, "is not an http:// URL"},
    {__LINE__, "http:///x", -1, NULL, 0, NULL, "no host name"},
    {__LINE__, "http://h:0/x", -1, NULL, 0, NULL, "bad port"},
    {__LINE__, "http://h:65536/x", -1, NULL, 0, NULL, "bad port"},
    {__LINE__, "http://h:/x", -1, NULL, 0, NULL, "bad port"},
    {__LINE__, "http://h:80x/x", -1, NULL, 0, NULL, "cannot read"},
    {__LINE__, "http://h#frag", -1, NULL, 0, NULL, "cannot read"},
};

int main(void) {
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const urlCase *c = &cases[i];
        char host[256] = "", path[256] = "", err[256] = "";
        int port = 0;
        int rc = jugProbeParseUrl(c->url, host, sizeof(host), &port, path, sizeof(path), err, sizeof(err));
        TAP_OK(rc == c->rc, "line %d: %s: %s", c->line, c->url, c->rc ? "refused" : "accepted");
        if (c->rc == 0 && rc == 0) {
            TAP_STR_EQ(host, c->host, "line %d: host", c->line);
            TAP_OK(port == c->port, "line %d: port %d", c->line, port);
            TAP_STR_EQ(path, c->path, "line %d: path", c->line);
        } else if (c->rc != 0 && rc != 0) {
            TAP_OK(strstr(err, c->err) != NULL, "line %d: says '%s' (%s)", c->line, c->err, err);
        }
    }
    char host[8], path[8], err[256];
    int port;
    TAP_OK(jugProbeParseUrl("http://a-very-long-host/x", host, sizeof(host), &port, path, sizeof(path), err,
                            sizeof(err)) < 0 && strstr(err, "no host name"),
           "a host longer than the buffer is refused");
    TAP_OK(jugProbeParseUrl("http://h/a-very-long-path", host, sizeof(host), &port, path, sizeof(path), err,
                            sizeof(err)) < 0 && strstr(err, "URL too long"),
           "a path longer than the buffer is refused");
    return tapDone();
}
