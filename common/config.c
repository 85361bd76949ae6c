/* config.c -- reading juggernaut.conf and the environment (see config.h). */
#include "autoconfig.h"
#include "config.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void jugConfigDefaults(jugConfig *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->redis_url, sizeof(cfg->redis_url), "redis://127.0.0.1:6379/0");
    char ignored[8];
    jugRedisAddressParse(&cfg->redis, cfg->redis_url, ignored, sizeof(ignored));
    snprintf(cfg->key_prefix, sizeof(cfg->key_prefix), "jug:");
    snprintf(cfg->channel, sizeof(cfg->channel), "juggernaut");
    cfg->session_ttl = 60;
    cfg->poll_timeout = 25;
    cfg->keepalive_interval = 15;
    cfg->stream_max_duration = 300;
    cfg->max_message_size = 65536;
    cfg->max_request_size = 65536;
    cfg->max_meta_size = 4096;
    cfg->max_queue = 1000;
    cfg->max_channels_per_message = 100;
    cfg->max_channels_per_session = 100;
    cfg->threads = 256;
    cfg->poller_lease_ms = 5000;
    snprintf(cfg->log, sizeof(cfg->log), "stderr");
    snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
    snprintf(cfg->static_dir, sizeof(cfg->static_dir), "%s", JUG_DATADIR);
}

/* ---- value parsers: each returns 0 or -1 with the reason in err ---- */

static int parseInt(int *out, const char *value, long min, long max, char *err, size_t errlen) {
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (*value == '\0' || *end != '\0' || errno == ERANGE)
        return fail(err, errlen, "'%s' is not a whole number", value);
    if (v < min || v > max)
        return fail(err, errlen, "%ld is out of range (%ld to %ld)", v, min, max);
    *out = (int)v;
    return 0;
}

static int parseSize(size_t *out, const char *value, long min, long max, char *err, size_t errlen) {
    int v;
    if (parseInt(&v, value, min, max, err, errlen) < 0) return -1;
    *out = (size_t)v;
    return 0;
}

static int parseString(char *out, size_t outlen, const char *value, int allow_empty,
                       char *err, size_t errlen) {
    if (!allow_empty && *value == '\0') return fail(err, errlen, "needs a value");
    if (strlen(value) >= outlen)
        return fail(err, errlen, "value longer than %zu bytes", outlen - 1);
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            return fail(err, errlen, "value has a space or non-printable character");
    memcpy(out, value, strlen(value) + 1);
    return 0;
}

static int parseBool(int *out, const char *value, char *err, size_t errlen) {
    if (!strcmp(value, "on") || !strcmp(value, "yes") || !strcmp(value, "1")) *out = 1;
    else if (!strcmp(value, "off") || !strcmp(value, "no") || !strcmp(value, "0")) *out = 0;
    else return fail(err, errlen, "'%s' is not on/off", value);
    return 0;
}

/* Into a local list first: a refused list leaves the current one whole. */
static int parseOrigins(jugConfig *cfg, const char *value, char *err, size_t errlen) {
    char copy[LINE_MAX_LEN];
    char list[JUG_MAX_CORS_ORIGINS][sizeof(cfg->cors_origins[0])];
    int count = 0;
    snprintf(copy, sizeof(copy), "%s", value);
    for (char *save, *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (!strcmp(tok, "*"))
            return fail(err, errlen, "'*' is not allowed: list each origin");
        if (strncmp(tok, "http://", 7) && strncmp(tok, "https://", 8))
            return fail(err, errlen, "'%s' is not an origin like https://example.com", tok);
        if (count == JUG_MAX_CORS_ORIGINS)
            return fail(err, errlen, "more than %d origins", JUG_MAX_CORS_ORIGINS);
        if (parseString(list[count], sizeof(list[0]), tok, 0, err, errlen) < 0) return -1;
        count++;
    }
    memcpy(cfg->cors_origins, list, sizeof(list[0]) * (size_t)count);
    cfg->cors_origin_count = count;
    return 0;
}

/* Checked before it is stored, so a refused value never replaces a good one. */
static int parseChannelName(char *out, size_t outlen, const char *value, char *err, size_t errlen) {
    for (const char *p = value; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-.:/", *p))
            return fail(err, errlen, "'%s' may only use letters, digits and _-.:/", value);
    return parseString(out, outlen, value, 0, err, errlen);
}

int jugConfigSet(jugConfig *cfg, const char *key, const char *value, char *err, size_t errlen) {
    if (!strcmp(key, "redis_url")) {
        /* Both checked before either is stored: they must stay in step. */
        char url[sizeof(cfg->redis_url)];
        jugRedisAddress addr;
        if (parseString(url, sizeof(url), value, 0, err, errlen) < 0 ||
            jugRedisAddressParse(&addr, url, err, errlen) < 0)
            return -1;
        memcpy(cfg->redis_url, url, sizeof(url));
        cfg->redis = addr;
        return 0;
    }
    if (!strcmp(key, "key_prefix"))
        return parseChannelName(cfg->key_prefix, sizeof(cfg->key_prefix), value, err, errlen);
    if (!strcmp(key, "channel"))
        return parseChannelName(cfg->channel, sizeof(cfg->channel), value, err, errlen);
    if (!strcmp(key, "session_ttl")) return parseInt(&cfg->session_ttl, value, 5, 86400, err, errlen);
    if (!strcmp(key, "poll_timeout")) return parseInt(&cfg->poll_timeout, value, 1, 3600, err, errlen);
    if (!strcmp(key, "keepalive_interval"))
        return parseInt(&cfg->keepalive_interval, value, 1, 3600, err, errlen);
    if (!strcmp(key, "stream_max_duration"))
        return parseInt(&cfg->stream_max_duration, value, 1, 86400, err, errlen);
    if (!strcmp(key, "max_message_size"))
        return parseSize(&cfg->max_message_size, value, 64, 64L << 20, err, errlen);
    if (!strcmp(key, "max_request_size"))
        return parseSize(&cfg->max_request_size, value, 256, 64L << 20, err, errlen);
    if (!strcmp(key, "max_meta_size"))
        return parseSize(&cfg->max_meta_size, value, 16, 1L << 20, err, errlen);
    if (!strcmp(key, "max_queue")) return parseInt(&cfg->max_queue, value, 1, 1000000, err, errlen);
    if (!strcmp(key, "max_channels_per_message"))
        return parseInt(&cfg->max_channels_per_message, value, 1, 10000, err, errlen);
    if (!strcmp(key, "max_channels_per_session"))
        return parseInt(&cfg->max_channels_per_session, value, 1, 10000, err, errlen);
    if (!strcmp(key, "threads")) return parseInt(&cfg->threads, value, 1, 20000, err, errlen);
    if (!strcmp(key, "poller_lease_ms"))
        return parseInt(&cfg->poller_lease_ms, value, 300, 600000, err, errlen);
    if (!strcmp(key, "log")) {
        if (strcmp(value, "stderr") && strcmp(value, "syslog"))
            return fail(err, errlen, "'%s' is not stderr or syslog", value);
        return parseString(cfg->log, sizeof(cfg->log), value, 0, err, errlen);
    }
    if (!strcmp(key, "log_level")) {
        if (jugLogLevelParse(value) < 0)
            return fail(err, errlen, "'%s' is not error, warning, info or debug", value);
        return parseString(cfg->log_level, sizeof(cfg->log_level), value, 0, err, errlen);
    }
    if (!strcmp(key, "cors_origins")) return parseOrigins(cfg, value, err, errlen);
    if (!strcmp(key, "jugglite_namespace"))
        return parseString(cfg->jugglite_namespace, sizeof(cfg->jugglite_namespace), value, 1,
                           err, errlen);
    if (!strcmp(key, "demo_publish")) return parseBool(&cfg->demo_publish, value, err, errlen);
    if (!strcmp(key, "static_dir"))
        return parseString(cfg->static_dir, sizeof(cfg->static_dir), value, 0, err, errlen);
    return fail(err, errlen, "unknown setting");
}

/* Split one line into key and value (both trimmed, comment removed).
 * Returns 0 for a blank line, 1 for a setting. */
static int splitLine(char *line, char **key, char **value) {
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char *p = line;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '\0') return 0;
    *key = p;
    while (*p && !isspace((unsigned char)*p)) p++;
    if (*p) *p++ = '\0';
    while (isspace((unsigned char)*p)) p++;
    char *end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1])) *--end = '\0';
    *value = p;
    return 1;
}

int jugConfigLoadFile(jugConfig *cfg, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    char line[LINE_MAX_LEN];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = fail(err, errlen, "%s:%d: line longer than %d bytes", path, lineno, LINE_MAX_LEN - 2);
            break;
        }
        char *key, *value, reason[JUG_CONFIG_ERRLEN];
        if (!splitLine(line, &key, &value)) continue;
        if (jugConfigSet(cfg, key, value, reason, sizeof(reason)) < 0) {
            rc = fail(err, errlen, "%s:%d: %s: %s", path, lineno, key, reason);
            break;
        }
    }
    fclose(f);
    return rc;
}

int jugConfigLoad(jugConfig *cfg, const char *explicit_path, const char *default_path,
                  char *err, size_t errlen) {
    jugConfigDefaults(cfg);
    const char *path = explicit_path;
    if (!path || !*path) path = getenv("JUGGERNAUT_CONFIG");
    if ((!path || !*path) && default_path && access(default_path, R_OK) == 0) path = default_path;
    if (path && *path && jugConfigLoadFile(cfg, path, err, errlen) < 0) return -1;
    const char *url = getenv("JUGGERNAUT_REDIS_URL");
    if (url && *url) {
        char reason[JUG_CONFIG_ERRLEN];
        if (jugConfigSet(cfg, "redis_url", url, reason, sizeof(reason)) < 0)
            return fail(err, errlen, "JUGGERNAUT_REDIS_URL: %s", reason);
    }
    if (cfg->session_ttl <= cfg->poll_timeout)
        return fail(err, errlen, "%s: session_ttl (%d) must be greater than poll_timeout (%d)",
                    path ? path : "defaults", cfg->session_ttl, cfg->poll_timeout);
    return 0;
}

/* ---- Redis URLs ---- */

static int parseUnixUrl(jugRedisAddress *addr, const char *path, char *err, size_t errlen) {
    const char *query = strchr(path, '?');
    size_t len = query ? (size_t)(query - path) : strlen(path);
    if (len == 0 || path[0] != '/') return fail(err, errlen, "unix socket path must be absolute");
    if (len >= sizeof(addr->unix_path)) return fail(err, errlen, "unix socket path too long");
    memcpy(addr->unix_path, path, len);
    addr->unix_path[len] = '\0';
    if (query) {
        if (strncmp(query, "?db=", 4)) return fail(err, errlen, "only ?db=N may follow the socket path");
        return parseInt(&addr->db, query + 4, 0, 1000, err, errlen);
    }
    return 0;
}

static int parseTcpUrl(jugRedisAddress *addr, const char *rest, char *err, size_t errlen) {
    const char *at = strrchr(rest, '@');
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        const char *pw = colon ? colon + 1 : rest;
        size_t pwlen = (size_t)(at - pw);
        if (pwlen >= sizeof(addr->password)) return fail(err, errlen, "password too long");
        memcpy(addr->password, pw, pwlen);
        addr->password[pwlen] = '\0';
        rest = at + 1;
    }
    const char *slash = strchr(rest, '/');
    const char *colon = strchr(rest, ':');
    if (colon && slash && colon > slash) colon = NULL;
    const char *hostend = colon ? colon : (slash ? slash : rest + strlen(rest));
    size_t hostlen = (size_t)(hostend - rest);
    if (hostlen == 0 || hostlen >= sizeof(addr->host)) return fail(err, errlen, "missing or long host");
    memcpy(addr->host, rest, hostlen);
    addr->host[hostlen] = '\0';
    if (colon) {
        char port[16];
        size_t plen = (size_t)((slash ? slash : colon + strlen(colon)) - colon - 1);
        if (plen == 0 || plen >= sizeof(port)) return fail(err, errlen, "bad port");
        memcpy(port, colon + 1, plen);
        port[plen] = '\0';
        if (parseInt(&addr->port, port, 1, 65535, err, errlen) < 0) return -1;
    }
    if (slash && slash[1] && parseInt(&addr->db, slash + 1, 0, 1000, err, errlen) < 0) return -1;
    return 0;
}

int jugRedisAddressParse(jugRedisAddress *addr, const char *url, char *err, size_t errlen) {
    jugRedisAddress parsed;
    memset(&parsed, 0, sizeof(parsed));
    parsed.port = 6379;
    int rc;
    if (url[0] == '/') rc = parseUnixUrl(&parsed, url, err, errlen);
    else if (!strncmp(url, "unix://", 7)) rc = parseUnixUrl(&parsed, url + 7, err, errlen);
    else if (!strncmp(url, "redis://", 8)) rc = parseTcpUrl(&parsed, url + 8, err, errlen);
    else rc = fail(err, errlen, "'%s' is not redis://host:port/db or a socket path", url);
    if (rc == 0) *addr = parsed;
    return rc;
}

int jugConfigOriginAllowed(const jugConfig *cfg, const char *origin) {
    for (int i = 0; i < cfg->cors_origin_count; i++)
        if (!strcmp(cfg->cors_origins[i], origin)) return 1;
    return 0;
}
