/* embedded_poller.c -- the poller's work in a thread of the worker (see
 * embedded_poller.h). */
#include "autoconfig.h"
#include "embedded_poller.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "host.h"
#include "log.h"
#include "loop.h"
#include "thread.h"

static jugPollerLoop loop;
static pthread_t thread;
static atomic_int stopping;
static int running;

int jugEmbeddedPollerWanted(const jugConfig *cfg) {
    if (cfg->embedded_poller >= 0) return cfg->embedded_poller;
    return jugHostKindNow() == JUG_HOST_FCGID;
}

static void *pollerMain(void *arg) {
    (void)arg;
    while (!atomic_load(&stopping)) jugPollerLoopStep(&loop);
    jugPollerLoopFinish(&loop);
    return NULL;
}

int jugEmbeddedPollerStart(const jugConfig *cfg) {
    char id[128], base[100];
    jugPollerMakeId(base, sizeof(base), NULL);
    snprintf(id, sizeof(id), "%s:worker", base);
    jugPollerLoopInit(&loop, cfg, id);
    int rc = jugThreadStart(&thread, 512 * 1024, 0, pollerMain, NULL);
    if (rc) {
        jugLog(JUG_LOG_ERROR, "cannot start the embedded poller: %s", strerror(rc));
        return -1;
    }
    running = 1;
    jugLog(JUG_LOG_INFO, "embedded poller %s started", id);
    return 0;
}

void jugEmbeddedPollerStop(void) {
    if (!running) return;
    atomic_store(&stopping, 1);
    pthread_join(thread, NULL);   /* a turn returns within about a second */
    running = 0;
}
