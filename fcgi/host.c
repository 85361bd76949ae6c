/* host.c -- the host kind and what follows from it (see host.h). */
#include "autoconfig.h"
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "hold.h"

/* Where holding pins a process, this many may be held across the host:
 * ten processes (a common shared-host cap) keep six for everything else. */
#define FCGID_HELD_DEFAULT 4
#define CGI_HELD_DEFAULT 4

static jugHostKind kind;
static char transportsJson[128];
static const char *offered[6];
static int sharedLimit, processLimit;

static const char *const allTransports[] = {"sse", "multipart", "htmlfile", "longpoll", "jsonp", NULL};
static const char *const pollTransports[] = {"longpoll", "jsonp", NULL};

/* mod_fcgid starts its processes with the environment of the request that
 * made it start one (a FastCGI server spawned by lighttpd, nginx's
 * spawn-fcgi or systemd has no SERVER_SOFTWARE in its own environment). */
static jugHostKind detect(int cgi) {
    if (cgi) return JUG_HOST_CGI;
    const char *forced = getenv("JUGGERNAUT_HOST");
    if (forced && !strcmp(forced, "fcgid")) return JUG_HOST_FCGID;
    if (forced && !strcmp(forced, "threaded")) return JUG_HOST_THREADED;
    const char *sw = getenv("SERVER_SOFTWARE");
    if (sw && !strncmp(sw, "Apache", 6)) return JUG_HOST_FCGID;
    return JUG_HOST_THREADED;
}

void jugHostInit(const jugConfig *cfg, int cgi) {
    (void)cfg;
    kind = detect(cgi);
    const char *const *list = kind == JUG_HOST_THREADED ? allTransports : pollTransports;
    size_t n = 0;
    char *p = transportsJson;
    p += sprintf(p, "[");
    for (; list[n]; n++) {
        offered[n] = list[n];
        p += sprintf(p, "%s\"%s\"", n ? "," : "", list[n]);
    }
    offered[n] = NULL;
    sprintf(p, "]");
    sharedLimit = kind == JUG_HOST_FCGID ? FCGID_HELD_DEFAULT : kind == JUG_HOST_CGI ? CGI_HELD_DEFAULT : 0;
    /* Each held request needs its connection's descriptor; keep room for the rest. */
    struct rlimit rl;
    processLimit = 10000;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (long long)rl.rlim_cur - 64 < processLimit)
        processLimit = rl.rlim_cur > 128 ? (int)rl.rlim_cur - 64 : 64;
    jugHoldSetLimit(sharedLimit);
}

jugHostKind jugHostKindNow(void) {
    return kind;
}

const char *jugHostKindName(jugHostKind k) {
    return k == JUG_HOST_FCGID ? "mod_fcgid" : k == JUG_HOST_CGI ? "cgi" : "threaded";
}

const char *jugHostTransportsJson(const jugConfig *cfg) {
    (void)cfg;
    return transportsJson;
}

int jugHostOffers(const char *transport) {
    for (int i = 0; offered[i]; i++)
        if (!strcmp(offered[i], transport)) return 1;
    return 0;
}

int jugHostSharedHoldLimit(void) {
    return sharedLimit;
}

int jugHostProcessHoldLimit(void) {
    return processLimit;
}
