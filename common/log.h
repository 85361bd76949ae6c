/* log.h -- one logging entry point for both programs.
 *
 * Messages go to stderr (with a timestamp and the program name) or to
 * syslog; below the configured level they are dropped. Thread-safe. */
#ifndef JUG_LOG_H
#define JUG_LOG_H

typedef enum { JUG_LOG_ERROR = 0, JUG_LOG_WARNING, JUG_LOG_INFO, JUG_LOG_DEBUG } jugLogLevel;

/* target: "stderr" or "syslog"; level: "error", "warning", "info", "debug".
 * Returns -1 for an unknown level name. */
int jugLogInit(const char *program, const char *target, const char *level);

void jugLog(jugLogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a level name; -1 if unknown. */
int jugLogLevelParse(const char *name);

#endif
