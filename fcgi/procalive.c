/* procalive.c -- this worker process, counted alive in Redis (see procalive.h). */
#include "autoconfig.h"
#include "procalive.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "log.h"
#include "store.h"
#include "thread.h"

/* Refreshed this often; an entry not refreshed counts this much longer. */
#define REFRESH_MS 2000
#define TTL_MS 7000
/* After a process is first counted beside others, the host counts as
 * starting processes this long (mod_fcgid starts them a second or more apart). */
#define SPAWNING_MS 3000

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int stopping, running;
static const jugConfig *config;
static char self[64];

static void *aliveMain(void *arg) {
    (void)arg;
    jugStore store;
    jugStoreInit(&store, config);
    int failing = 0;
    long long live = 0;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        pthread_mutex_unlock(&lock);
        jugStoreStatus st = jugStoreProcAlive(&store, self, TTL_MS, SPAWNING_MS, &live);
        /* Logged once per episode of failures, not every refresh. */
        if (st != JUG_STORE_OK && !failing)
            jugLog(JUG_LOG_WARNING, "counting this process alive: %s", store.err);
        failing = st != JUG_STORE_OK;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += REFRESH_MS / 1000;
        until.tv_nsec += (long)(REFRESH_MS % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&lock);
        while (!stopping && pthread_cond_timedwait(&wake, &lock, &until) != ETIMEDOUT) {}
    }
    pthread_mutex_unlock(&lock);
    jugStoreProcAlive(&store, self, 0, 0, &live);
    jugStoreClose(&store);
    return NULL;
}

int jugProcAliveStart(const jugConfig *cfg, const char *instance) {
    if (jugHostHoldReserve() <= 0 || running) return 0;
    config = cfg;
    snprintf(self, sizeof(self), "%s", instance);
    int rc = jugThreadStart(&thread, 512 * 1024, 0, aliveMain, NULL);
    if (rc) {
        jugLog(JUG_LOG_ERROR, "cannot start counting this process alive: %s", strerror(rc));
        return -1;
    }
    running = 1;
    return 0;
}

void jugProcAliveStop(void) {
    if (!running) return;
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    running = 0;
}
