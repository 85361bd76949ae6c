/* host.c -- the host kind and what follows from it (see host.h). */
#include "autoconfig.h"
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Where holding pins a process, this many may be held across the host:
 * ten processes (a common shared-host cap) keep six for everything else. */
#define FCGID_HELD_DEFAULT 4
#define CGI_HELD_DEFAULT 4

/* Under mod_fcgid a request that finds every process of the class busy
 * sleeps a whole second before it looks again, and only then asks for a
 * new process: where only polling is offered (a stock host: output
 * buffered), holds leave this many of the live processes free (one more
 * while the host is starting processes, poll.lua). Where the server was
 * set up for streams (FcgidOutputBufferSize 0), holding is what it is for:
 * max_held alone limits it. */
#define FCGID_HOLD_RESERVE 1

static jugHostKind kind;
static char transportsJson[128];
static const char *offered[JUG_TRANSPORT_COUNT + 1];
static int sharedLimit, processLimit, holdReserve;

static const char *const allTransports[] = {"sse", "multipart", "htmlfile", "longpoll", "jsonp", NULL};
static const char *const pollTransports[] = {"longpoll", "jsonp", NULL};

/* mod_fcgid names the socket it listens on for each process
 * "<FcgidIPCDir>/<pid>.<n>"; lighttpd ("<socket>-<n>"), spawn-fcgi and
 * systemd use the name they were given, or TCP. JUGGERNAUT_HOST=fcgid or
 * =threaded (FcgidInitialEnv, bin-environment) overrides the guess. */
static int fcgidSocketName(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t digits = strspn(base, "0123456789");
    if (digits == 0 || base[digits] != '.') return 0;
    const char *n = base + digits + 1;
    return *n && strspn(n, "0123456789") == strlen(n);
}

static jugHostKind detect(int cgi) {
    if (cgi) return JUG_HOST_CGI;
    const char *forced = getenv("JUGGERNAUT_HOST");
    if (forced && !strcmp(forced, "fcgid")) return JUG_HOST_FCGID;
    if (forced && !strcmp(forced, "threaded")) return JUG_HOST_THREADED;
    struct sockaddr_un addr;
    socklen_t len = sizeof(addr);
    memset(&addr, 0, sizeof(addr));
    if (getsockname(0, (struct sockaddr *)&addr, &len) == 0 && addr.sun_family == AF_UNIX &&
        fcgidSocketName(addr.sun_path))
        return JUG_HOST_FCGID;
    return JUG_HOST_THREADED;
}

void jugHostInit(const jugConfig *cfg, int cgi) {
    kind = detect(cgi);
    /* transports: as configured, else all where output streams, else polling. */
    size_t n = 0;
    if (cfg->transport_count > 0) {
        for (int i = 0; i < cfg->transport_count; i++) offered[n++] = jugTransportNames[cfg->transports[i]];
    } else {
        /* mod_fcgid buffers output unless FcgidOutputBufferSize is 0, which
         * only the server configuration can say; it then says so to us. */
        const char *streams = getenv("JUGGERNAUT_STREAMS");
        int flushed = kind == JUG_HOST_THREADED || (kind == JUG_HOST_FCGID && streams && !strcmp(streams, "1"));
        const char *const *list = flushed ? allTransports : pollTransports;
        for (; list[n]; n++) offered[n] = list[n];
    }
    offered[n] = NULL;
    char *p = transportsJson;
    p += sprintf(p, "[");
    for (size_t i = 0; i < n; i++) p += sprintf(p, "%s\"%s\"", i ? "," : "", offered[i]);
    sprintf(p, "]");

    if (cfg->max_held >= 0) sharedLimit = cfg->max_held;
    else sharedLimit = kind == JUG_HOST_FCGID ? FCGID_HELD_DEFAULT : kind == JUG_HOST_CGI ? CGI_HELD_DEFAULT : 0;
    /* Each held request needs its connection's descriptor; the rest need
     * room too: each handler thread its connection and its Redis one, and
     * the process a few of its own. The soft limit is raised as far as the
     * hard one allows (systemd and most shells start services at 1,024). */
    struct rlimit rl;
    long long room = 64 + 2LL * cfg->threads;
    processLimit = cfg->max_held_per_process;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        rlim_t want = (rlim_t)(processLimit + room);
        if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) want = rl.rlim_max;
        if (want > rl.rlim_cur) {
            rl.rlim_cur = want;
            setrlimit(RLIMIT_NOFILE, &rl);   /* on failure the limit stays what it was */
        }
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (long long)rl.rlim_cur - room < processLimit)
        processLimit = (long long)rl.rlim_cur > room + 64 ? (int)((long long)rl.rlim_cur - room) : 64;
    int streams = jugHostOffers("sse") || jugHostOffers("multipart") || jugHostOffers("htmlfile");
    holdReserve = kind == JUG_HOST_FCGID && sharedLimit > 0 && !streams ? FCGID_HOLD_RESERVE : 0;
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

int jugHostHoldReserve(void) {
    return holdReserve;
}
