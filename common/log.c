/* log.c -- logging to stderr or syslog (see log.h). */
#include "autoconfig.h"
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *levelNames[] = {"error", "warning", "info", "debug"};
static const int syslogPriorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

static struct {
    char program[32];
    int use_syslog;
    int level;
} logState = {"juggernaut", 0, JUG_LOG_INFO};

int jugLogLevelParse(const char *name) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, levelNames[i])) return i;
    return -1;
}

int jugLogInit(const char *program, const char *target, const char *level) {
    int lv = jugLogLevelParse(level);
    if (lv < 0) return -1;
    snprintf(logState.program, sizeof(logState.program), "%s", program);
    logState.level = lv;
    logState.use_syslog = target && !strcmp(target, "syslog");
    if (logState.use_syslog) openlog(logState.program, LOG_PID, LOG_DAEMON);
    return 0;
}

void jugLog(jugLogLevel level, const char *fmt, ...) {
    if ((int)level > logState.level) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (logState.use_syslog) {
        syslog(syslogPriorities[level], "%s", msg);
        return;
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", gmtime_r(&now, &tm));
    /* One fprintf per line: stdio locks the stream, so threads never interleave. */
    fprintf(stderr, "%s %s[%d] %s: %s\n", stamp, logState.program, (int)getpid(),
            levelNames[level], msg);
}
