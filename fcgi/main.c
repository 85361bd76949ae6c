/* main.c -- juggernaut.fcgi: the FastCGI (or plain CGI) worker browsers talk to.
 *
 * Under a FastCGI server it runs handler threads, started on demand up to
 * cfg.threads (one under mod_fcgid, which sends a process one request at a
 * time), each accepting requests on the listening socket the server passed
 * as fd 0 and each with its own Redis connection; requests that wait are
 * handed to the event loop (park.h), so a thread is busy only while a
 * request is worked on. Started as a plain CGI program it serves the one
 * request in its environment and exits. "--check [URL]" tells an admin
 * on a shared host what works and what to change (check.c). */
#include "autoconfig.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "cgi.h"
#include "check.h"
#include "config.h"
#include "embedded_poller.h"
#include "handlers.h"
#include "host.h"
#include "log.h"
#include "park.h"
#include "procalive.h"
#include "redis.h"
#include "stats.h"
#include "socketio.h"
#include "thread.h"

#define PROGRAM "juggernaut.fcgi"
#define DEFAULT_CONFIG JUG_SYSCONFDIR "/juggernaut.conf"

/* Worker stacks are small so that many threads fit a shared host's limits;
 * request code keeps big buffers on the heap. Sanitizers need more. */
#if defined(__SANITIZE_ADDRESS__)
#define WORKER_STACK (1024 * 1024)
#else
#define WORKER_STACK (128 * 1024)
#endif

/* How long SIGTERM waits for requests in progress before exiting anyway. */
#define SHUTDOWN_GRACE_MS 3000

static jugConfig config;
static atomic_int stopping;
static pthread_mutex_t acceptLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t runningLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t runningDone = PTHREAD_COND_INITIALIZER;
static int running;     /* handler threads started and not ended */
static int idle;        /* of those, waiting to accept */
static int maxThreads;

static const jugHandler handlers[JUG_EP_COUNT] = {
    [JUG_EP_CONNECT] = jugHandleConnect,
    [JUG_EP_SUBSCRIBE] = jugHandleSubscribe,
    [JUG_EP_UNSUBSCRIBE] = jugHandleUnsubscribe,
    [JUG_EP_META] = jugHandleMeta,
    [JUG_EP_EVENT] = jugHandleEvent,
    [JUG_EP_DISCONNECT] = jugHandleDisconnect,
    [JUG_EP_POLL] = jugHandlePoll,
    [JUG_EP_SSE] = jugHandleSse,
    [JUG_EP_MULTIPART] = jugHandleMultipart,
    [JUG_EP_HTMLFILE] = jugHandleHtmlfile,
    [JUG_EP_STREAM] = jugHandleStream,
    [JUG_EP_SCRIPT] = jugHandleScript,
    [JUG_EP_PUBLISH] = jugHandlePublish,
    [JUG_EP_STATUS] = jugHandleStatus,
    [JUG_EP_SOCKETIO] = jugHandleSocketIo,
    [JUG_EP_SCRIPT_APP] = jugHandleScript,
    [JUG_EP_SCRIPT_MIN] = jugHandleScript,
};

int jugShuttingDown(void) {
    return atomic_load(&stopping);
}

/* ---- one request ---- */

static void serveRequest(FCGX_Request *fcgx, jugStore *store) {
    jugRequest req;
    jugResponse res;
    char err[256];
    int rc = jugRequestParse(&req, fcgx, &config, err, sizeof(err));
    int cbrc = jugResponseInit(&res, &req, &config);
    if (!rc && cbrc) {
        rc = cbrc;
        snprintf(err, sizeof(err), "callback must be a JavaScript name (a.b.c, at most 64 characters each)");
    }
    if (rc) {
        jugLog(rc >= 500 ? JUG_LOG_ERROR : JUG_LOG_INFO, "%s %s: %d: %s", req.method ? req.method : "?",
               req.endpoint_name ? req.endpoint_name : "", rc, err);
        jugResponseError(&res, rc, jugErrorCode(rc), err);
    } else if (!strcmp(req.method, "OPTIONS")) {
        jugResponsePreflight(&res);
    } else if (req.endpoint == JUG_EP_UNKNOWN || !handlers[req.endpoint]) {
        snprintf(err, sizeof(err), "unknown endpoint '%s'", req.endpoint_name);
        jugLog(JUG_LOG_INFO, "%s: 404: %s", req.method, err);
        jugResponseError(&res, 404, "not_found", err);
    } else {
        jugContext ctx = {&config, &req, &res, store, NULL};
        handlers[req.endpoint](&ctx);
    }
    jugRequestFree(&req);
    jugStatsAdd(JUG_STAT_REQUESTS, 1);
}

/* ---- FastCGI: worker threads ---- */

static int startWorker(void);

static void *workerMain(void *arg) {
    (void)arg;
    jugStore store;
    jugStoreInit(&store, &config);
    FCGX_Request fcgx;
    if (FCGX_InitRequest(&fcgx, 0, 0) != 0) {
        jugLog(JUG_LOG_ERROR, "cannot set up a FastCGI request");
        goto done;
    }
    while (!atomic_load(&stopping)) {
        pthread_mutex_lock(&runningLock);
        idle++;
        pthread_mutex_unlock(&runningLock);
        pthread_mutex_lock(&acceptLock);
        int rc = atomic_load(&stopping) ? -1 : FCGX_Accept_r(&fcgx);
        pthread_mutex_unlock(&acceptLock);
        pthread_mutex_lock(&runningLock);
        int spawn = --idle == 0 && running < maxThreads && rc >= 0;
        pthread_mutex_unlock(&runningLock);
        if (rc < 0) {
            if (atomic_load(&stopping)) break;
            jugLog(JUG_LOG_ERROR, "FastCGI accept failed (%d); retrying", rc);
            sleep(1);
            continue;
        }
        /* Nobody is left accepting: another thread takes over that job. */
        if (spawn) startWorker();
        serveRequest(&fcgx, &store);
        /* Finish at once so the web server sees the end now, not at the next
         * accept (a held request was detached: nothing is left to finish). */
        FCGX_Finish_r(&fcgx);
    }
    FCGX_Free(&fcgx, 0);
done:
    jugStoreClose(&store);
    pthread_mutex_lock(&runningLock);
    running--;
    pthread_cond_signal(&runningDone);
    pthread_mutex_unlock(&runningLock);
    return NULL;
}

static int startWorker(void) {
    pthread_t t;
    pthread_mutex_lock(&runningLock);
    running++;
    pthread_mutex_unlock(&runningLock);
    int rc = jugThreadStart(&t, WORKER_STACK, 1, workerMain, NULL);
    if (rc) {
        pthread_mutex_lock(&runningLock);
        running--;
        pthread_mutex_unlock(&runningLock);
        jugLog(JUG_LOG_ERROR, "cannot start a handler thread: %s", strerror(rc));
        return -1;
    }
    return 0;
}

/* Wait up to SHUTDOWN_GRACE_MS for the workers; 1 if all ended. */
static int waitWorkers(void) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SHUTDOWN_GRACE_MS / 1000;
    pthread_mutex_lock(&runningLock);
    int rc = 0;
    while (running > 0 && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&runningDone, &runningLock, &until);
    int left = running;
    pthread_mutex_unlock(&runningLock);
    return left == 0;
}

static int serveFastCgi(void) {
    /* Workers never take signals: the main thread waits for them below. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    /* Keep freed memory for the next burst: giving it back after each wave of
     * deliveries (madvise) shot down the TLBs of every thread, and the next
     * wave faulted it in again. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    jugHostInit(&config, 0);
    maxThreads = jugHostKindNow() == JUG_HOST_FCGID ? 1 : config.threads;
    if (jugParkStart(&config) < 0) return 1;
    if (jugEmbeddedPollerWanted(&config)) jugEmbeddedPollerStart(&config);
    jugProcAliveStart(&config, jugParkInstance());
    if (startWorker() < 0) return 1;
    jugLog(JUG_LOG_INFO, "serving FastCGI (%s host: up to %d handler threads, transports %s)",
           jugHostKindName(jugHostKindNow()), maxThreads, jugHostTransportsJson(&config));
    int sig = 0;
    while (sigwait(&sigs, &sig) != 0 || sig == SIGHUP) {
        /* SIGHUP: reopen the log file (logrotate); the configuration is
         * not reloaded in place: the server restarts us for that. */
        if (sig == SIGHUP && jugLogReopen() < 0)
            jugLog(JUG_LOG_ERROR, "cannot reopen the log file: %s", strerror(errno));
        sig = 0;
    }
    jugLog(JUG_LOG_INFO, "signal %d: stopping", sig);
    atomic_store(&stopping, 1);
    jugEmbeddedPollerStop();
    jugProcAliveStop();
    jugParkStop();
    FCGX_ShutdownPending();
    /* Wakes the thread blocked in accept(); the others see "stopping". */
    shutdown(0, SHUT_RDWR);
    if (!waitWorkers()) {
        jugLog(JUG_LOG_INFO, "requests still running after %d ms; exiting anyway", SHUTDOWN_GRACE_MS);
        _exit(0);
    }
    return 0;
}

/* ---- plain CGI: one request ---- */

static int serveCgi(void) {
    FCGX_Request fcgx;
    if (jugCgiRequestInit(&fcgx) < 0) {
        jugLog(JUG_LOG_ERROR, "out of memory");
        return 1;
    }
    jugHostInit(&config, 1);
    jugStore store;
    jugStoreInit(&store, &config);
    serveRequest(&fcgx, &store);
    jugStoreClose(&store);
    jugCgiRequestFinish(&fcgx);
    return 0;
}

/* Started as CGI with a broken configuration: still answer in JSON. */
static void cgiConfigError(void) {
    fputs("Status: 500 Internal Server Error\r\n"
          "Content-Type: application/json; charset=utf-8\r\n"
          "Cache-Control: no-cache, no-store, must-revalidate\r\n"
          "Pragma: no-cache\r\nExpires: 0\r\nX-Content-Type-Options: nosniff\r\n\r\n"
          "{\"error\":\"internal\",\"message\":\"juggernaut.fcgi is misconfigured; see the server log\"}",
          stdout);
    fflush(stdout);
}

/* ---- --check ---- */

static const char *configPath(const char *explicit_path) {
    if (explicit_path && *explicit_path) return explicit_path;
    const char *env = getenv("JUGGERNAUT_CONFIG");
    if (env && *env) return env;
    if (access(DEFAULT_CONFIG, R_OK) == 0) return DEFAULT_CONFIG;
    return NULL;
}

static int runCheck(const char *path, int config_ok, const char *config_err, const char *url) {
    const char *shown = configPath(path);
    if (!config_ok) {
        printf("config: PROBLEM: %s\n", config_err);
        return 1;
    }
    return jugCheckRun(&config, shown ? shown : "built-in defaults", url, stdout);
}

/* ---- main ---- */

static void usage(FILE *out) {
    fprintf(out, "Usage: %s [-c FILE] [--check [URL]]\n"
                 "       %s -h|--help | -V|--version\n"
                 "\n"
                 "Run by a FastCGI server (or as a CGI program) to serve juggernaut clients.\n"
                 "\n"
                 "  -c FILE        configuration file (default $JUGGERNAUT_CONFIG, else\n"
                 "                 %s)\n"
                 "  --check [URL]  report whether the configuration loads, Redis answers and\n"
                 "                 a poller runs; with the worker's URL as browsers use it\n"
                 "                 (http://...), also what the web server does to requests\n"
                 "                 (takes about poll_timeout + 15 s)\n"
                 "  -h, --help     show this help\n"
                 "  -V, --version  show the version\n"
                 "\n"
                 "SIGTERM or SIGINT: finish the requests in progress and exit. SIGHUP: reopen\n"
                 "the log file. See juggernaut.fcgi(8) and juggernaut.conf(5).\n",
            PROGRAM, PROGRAM, DEFAULT_CONFIG);
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int check = 0;
    const char *check_url = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check")) {
            check = 1;
            if (i + 1 < argc && argv[i + 1][0] != '-') check_url = argv[++i];
        } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
            printf(PROGRAM " " PACKAGE_VERSION "\n");
            return 0;
        } else {
            usage(stderr);
            return 1;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    jugStatsInit();
    char err[JUG_CONFIG_ERRLEN];
    int config_ok = jugConfigLoad(&config, path, DEFAULT_CONFIG, err, sizeof(err)) == 0;
    if (check) return runCheck(path, config_ok, err, check_url);
    if (config_ok && jugLogInit(PROGRAM, config.log, config.log_level, err, sizeof(err)) < 0)
        config_ok = 0;
    FCGX_Init();
    int cgi = FCGX_IsCGI();
    if (!config_ok) {
        jugLogInit(PROGRAM, "stderr", "info", NULL, 0);
        jugLog(JUG_LOG_ERROR, "configuration: %s", err);
        if (cgi) cgiConfigError();
        return 1;
    }
    if (config.threads < 1) config.threads = 1;
    return cgi ? serveCgi() : serveFastCgi();
}
