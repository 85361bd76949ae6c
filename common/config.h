/* config.h -- the configuration both juggernaut.fcgi and juggernaut-poller read.
 *
 * One file of "key value" lines (see conf/juggernaut.conf for every key and
 * its meaning), overridable by the environment: JUGGERNAUT_CONFIG names the
 * file, JUGGERNAUT_REDIS_URL replaces redis_url. A line that does not parse
 * is an error naming the file, line and key; the programs refuse to start. */
#ifndef JUG_CONFIG_H
#define JUG_CONFIG_H

#include <stddef.h>

#define JUG_CONFIG_ERRLEN 256
#define JUG_MAX_CORS_ORIGINS 16

typedef struct jugRedisAddress {
    char host[256];      /* empty when a unix socket is used */
    int port;
    char unix_path[256]; /* empty when TCP is used */
    char password[128];  /* empty: no AUTH */
    int db;
} jugRedisAddress;

typedef struct jugConfig {
    char redis_url[512];
    jugRedisAddress redis;
    char key_prefix[64];
    char channel[64];             /* pub/sub channel apps publish to */
    int session_ttl;              /* seconds */
    int poll_timeout;             /* seconds */
    int keepalive_interval;       /* seconds */
    int stream_max_duration;      /* seconds */
    size_t max_message_size;      /* bytes */
    size_t max_request_size;      /* bytes */
    size_t max_meta_size;         /* bytes */
    int max_queue;                /* deliveries per session list */
    int max_channels_per_message;
    int max_channels_per_session;
    int threads;
    int poller_lease_ms;
    char log[16];                 /* "stderr" or "syslog" */
    char log_level[16];
    char cors_origins[JUG_MAX_CORS_ORIGINS][256];
    int cors_origin_count;
    char jugglite_namespace[64];  /* empty: Jugglite raw publishing is off */
    int demo_publish;             /* demo-only publish endpoint; 0 unless set */
    char static_dir[512];         /* where juggernaut.js is served from */
} jugConfig;

/* Fill cfg with the built-in defaults (those of conf/juggernaut.conf). */
void jugConfigDefaults(jugConfig *cfg);

/* Read the file at path over the current values. Returns 0, or -1 with a
 * message "file:line: key: reason" in err. */
int jugConfigLoadFile(jugConfig *cfg, const char *path, char *err, size_t errlen);

/* Parse one "key value" setting; used by the file reader and by tests.
 * Returns 0, or -1 with the reason in err. */
int jugConfigSet(jugConfig *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Defaults, then the file (explicit_path, else $JUGGERNAUT_CONFIG, else
 * default_path if it exists), then the environment. Returns 0 or -1 + err. */
int jugConfigLoad(jugConfig *cfg, const char *explicit_path, const char *default_path,
                  char *err, size_t errlen);

/* Parse a redis URL (redis://[:password@]host[:port][/db], unix:///path[?db=N]
 * or /path) into addr. Returns 0, or -1 with the reason in err. */
int jugRedisAddressParse(jugRedisAddress *addr, const char *url, char *err, size_t errlen);

/* 1 if origin is listed in cors_origins. */
int jugConfigOriginAllowed(const jugConfig *cfg, const char *origin);

#endif
