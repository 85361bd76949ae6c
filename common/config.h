/* config.h -- the configuration both juggernaut.fcgi and juggernaut-poller read.
 *
 * One file of "key value" lines (every key's type, limits, default and
 * meaning are in common/settings.def, the one table of settings),
 * overridable by the environment: JUGGERNAUT_CONFIG names the file,
 * JUGGERNAUT_REDIS_URL replaces redis_url. A line that does not parse
 * is an error naming the file, line and key; the programs refuse to start. */
#ifndef JUG_CONFIG_H
#define JUG_CONFIG_H

#include <stddef.h>

#define JUG_CONFIG_ERRLEN 256
#define JUG_MAX_CORS_ORIGINS 16
#define JUG_MAX_STATUS_ALLOW 16

typedef struct jugRedisAddress {
    char host[256];      /* empty when a unix socket is used */
    int port;
    char unix_path[256]; /* empty when TCP is used */
    char password[128];  /* empty: no AUTH */
    int db;
} jugRedisAddress;

/* The transports of the "transports" setting (names as in docs/PROTOCOL.md). */
typedef enum {
    JUG_TRANSPORT_SSE = 0,
    JUG_TRANSPORT_MULTIPART,
    JUG_TRANSPORT_HTMLFILE,
    JUG_TRANSPORT_LONGPOLL,
    JUG_TRANSPORT_JSONP,
    JUG_TRANSPORT_COUNT
} jugTransport;

/* "sse", "multipart", "htmlfile", "longpoll", "jsonp", indexed by jugTransport. */
extern const char *const jugTransportNames[JUG_TRANSPORT_COUNT];

/* How a setting's value is parsed and stored (see common/settings.def). */
typedef enum {
    JUG_TYPE_INT,        /* int, min..max */
    JUG_TYPE_SIZE,       /* size_t, min..max */
    JUG_TYPE_AUTOINT,    /* int: -1 for "auto", else min..max */
    JUG_TYPE_BOOL,       /* int 0/1 from on/off, yes/no, 1/0 */
    JUG_TYPE_STR,        /* char[max + 1]: min..max printable bytes, no spaces */
    JUG_TYPE_NAME,       /* char[max + 1]: letters, digits and _-.:/ */
    JUG_TYPE_REDIS_URL,  /* char[max + 1], also parsed into jugConfig.redis */
    JUG_TYPE_LOG_TARGET, /* char[max + 1]: "stderr", "syslog" or an absolute path */
    JUG_TYPE_LOG_LEVEL,  /* char[max + 1]: "error", "warning", "info", "debug" */
    JUG_TYPE_TOKEN,      /* char[max + 1]: empty, or 16..max printable bytes */
    JUG_TYPE_ORIGINS,    /* cors_origins[][max + 1] + cors_origin_count */
    JUG_TYPE_ADDRS,      /* status_allow[][max + 1] + status_allow_count */
    JUG_TYPE_TRANSPORTS  /* transports[] (jugTransport, in order) + transport_count */
} jugSettingType;

/* The example file shows the setting commented out (installation-dependent default). */
#define JUG_SETTING_COMMENTED 1

/* The field each type stores its value in (used by the X-macro below). */
#define JUG_FIELD_INT(name, max) int name;
#define JUG_FIELD_SIZE(name, max) size_t name;
#define JUG_FIELD_AUTOINT(name, max) int name;
#define JUG_FIELD_BOOL(name, max) int name;
#define JUG_FIELD_STR(name, max) char name[(max) + 1];
#define JUG_FIELD_NAME(name, max) char name[(max) + 1];
#define JUG_FIELD_REDIS_URL(name, max) char name[(max) + 1];
#define JUG_FIELD_LOG_TARGET(name, max) char name[(max) + 1];
#define JUG_FIELD_LOG_LEVEL(name, max) char name[(max) + 1];
#define JUG_FIELD_TOKEN(name, max) char name[(max) + 1];
#define JUG_FIELD_ORIGINS(name, max) char name[JUG_MAX_CORS_ORIGINS][(max) + 1]; int cors_origin_count;
#define JUG_FIELD_ADDRS(name, max) char name[JUG_MAX_STATUS_ALLOW][(max) + 1]; int status_allow_count;
#define JUG_FIELD_TRANSPORTS(name, max) \
    unsigned char name[JUG_TRANSPORT_COUNT]; int transport_count; /* 0: "auto" */

/* One field per setting of common/settings.def, named as the key (each
 * described there), plus the parsed Redis address. Notable encodings:
 * max_held is -1 for "auto"; transports[0..transport_count) are jugTransport
 * values in the configured order, transport_count 0 meaning "auto";
 * status_allow[0..status_allow_count) and cors_origins[0..cors_origin_count)
 * are the listed items; an empty string is an unset text setting. */
typedef struct jugConfig {
#define JUG_SETTING(name, type, min, max, def, flags, summary, doc) JUG_FIELD_##type(name, max)
#include "settings.def"
#undef JUG_SETTING
    jugRedisAddress redis;        /* redis_url, parsed */
} jugConfig;

/* One row of the settings table, for generators and tests. */
typedef struct jugSettingInfo {
    const char *name;
    jugSettingType type;
    long long min, max;
    const char *def;              /* the default as written in the file */
    int flags;                    /* JUG_SETTING_COMMENTED or 0 */
    const char *summary, *doc;
} jugSettingInfo;

/* Every setting, in the order of common/settings.def. */
extern const jugSettingInfo jugSettings[];
extern const int jugSettingCount;

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

/* 1 if addr (a REMOTE_ADDR, IPv4 or IPv6 text) matches an item of status_allow. */
int jugConfigStatusAllowed(const jugConfig *cfg, const char *addr);

#endif
