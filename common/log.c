/* log.c -- logging to stderr, a file or syslog (see log.h). */
#include "autoconfig.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *levelNames[] = {"error", "warning", "info", "debug"};
static const int syslogPriorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

#define FILE_FLAGS (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC)
#define FILE_MODE 0640

/* Set once at start-up (jugLogInit), read by every thread. The file's
 * descriptor number never changes: jugLogReopen() dup2()s the new file onto
 * it, so a writer never sees a closed or half-switched descriptor. */
static struct {
    char program[32];
    int use_syslog;
    int level;
    int fd;              /* stderr or the log file */
    char path[512];      /* the log file, or empty */
} logState = {"juggernaut", 0, JUG_LOG_INFO, STDERR_FILENO, ""};

int jugLogLevelParse(const char *name) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, levelNames[i])) return i;
    return -1;
}

int jugLogInit(const char *program, const char *target, const char *level, char *err, size_t errlen) {
    int lv = jugLogLevelParse(level);
    if (lv < 0) {
        snprintf(err, errlen, "unknown log level '%s'", level);
        return -1;
    }
    int fd = STDERR_FILENO;
    if (target && target[0] == '/') {
        if (strlen(target) >= sizeof(logState.path)) {
            snprintf(err, errlen, "log file path too long");
            return -1;
        }
        fd = open(target, FILE_FLAGS, FILE_MODE);
        if (fd < 0) {
            snprintf(err, errlen, "cannot open log file %s: %s", target, strerror(errno));
            return -1;
        }
    }
    if (logState.fd != STDERR_FILENO) close(logState.fd);
    logState.fd = fd;
    snprintf(logState.path, sizeof(logState.path), "%s", fd == STDERR_FILENO ? "" : target);
    snprintf(logState.program, sizeof(logState.program), "%s", program);
    logState.level = lv;
    logState.use_syslog = target && !strcmp(target, "syslog");
    if (logState.use_syslog) openlog(logState.program, LOG_PID, LOG_DAEMON);
    return 0;
}

int jugLogReopen(void) {
    if (!logState.path[0]) return 0;
    int saved = errno;
    int fd = open(logState.path, FILE_FLAGS, FILE_MODE);
    if (fd < 0) return -1;
    int rc = dup2(fd, logState.fd) < 0 ? -1 : 0;
    close(fd);
    if (rc == 0) errno = saved;
    return rc;
}

void jugLogTimestamp(char *out, size_t outlen, long long sec, int ms) {
    time_t t = (time_t)sec;
    struct tm tm;
    char date[24], zone[8];
    localtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    /* %z is "+0100"; ISO 8601's extended form wants "+01:00". */
    if (strftime(zone, sizeof(zone), "%z", &tm) != 5) snprintf(zone, sizeof(zone), "+0000");
    snprintf(out, outlen, "%s.%03d%.3s:%.2s", date, ms, zone, zone + 3);
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
    struct timespec now;
    char stamp[40], line[1200];
    clock_gettime(CLOCK_REALTIME, &now);
    jugLogTimestamp(stamp, sizeof(stamp), (long long)now.tv_sec, (int)(now.tv_nsec / 1000000));
    int n = snprintf(line, sizeof(line), "%s %s[%d] %s: %s\n", stamp, logState.program, (int)getpid(),
                     levelNames[level], msg);
    if (n < 0) return;
    if ((size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    /* One write per line: whole lines, in order, from any thread. */
    ssize_t w;
    do w = write(logState.fd, line, (size_t)n); while (w < 0 && errno == EINTR);
}
