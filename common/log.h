/* log.h -- one logging entry point for both programs.
 *
 * Messages go to stderr or to a file (one line each: local time in ISO 8601
 * with its UTC offset and milliseconds, program[pid], level, message), or
 * to syslog; below the configured level they are dropped. Thread-safe: a
 * line is written with one write(2), so threads never interleave and a
 * file opened for appending stays whole. */
#ifndef JUG_LOG_H
#define JUG_LOG_H

#include <stddef.h>

typedef enum { JUG_LOG_ERROR = 0, JUG_LOG_WARNING, JUG_LOG_INFO, JUG_LOG_DEBUG } jugLogLevel;

/* target: "stderr", "syslog" or an absolute file path (opened for
 * appending, created 0640); level: "error", "warning", "info", "debug".
 * Returns 0, or -1 with the reason in err (unknown level, file that cannot
 * be opened); the previous target then stays in use. */
int jugLogInit(const char *program, const char *target, const char *level, char *err, size_t errlen);

/* Reopen the log file (after logrotate moved it); nothing to do for stderr
 * and syslog. Async-signal-safe: a SIGHUP handler may call it. Returns 0, or
 * -1 with errno set (the old file stays in use). */
int jugLogReopen(void);

void jugLog(jugLogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a level name; -1 if unknown. */
int jugLogLevelParse(const char *name);

/* Format the time t (seconds, milliseconds) as ISO 8601 local time with its
 * UTC offset ("2026-01-31T13:45:07.123+01:00") into out (at least 32 bytes). */
void jugLogTimestamp(char *out, size_t outlen, long long sec, int ms);

#endif
