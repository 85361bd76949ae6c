/* config.c -- reading juggernaut.conf and the environment (see config.h). */
#include "autoconfig.h"
#include "config.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
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

const char *const jugTransportNames[JUG_TRANSPORT_COUNT] = {
    [JUG_TRANSPORT_SSE] = "sse",           [JUG_TRANSPORT_MULTIPART] = "multipart",
    [JUG_TRANSPORT_HTMLFILE] = "htmlfile", [JUG_TRANSPORT_LONGPOLL] = "longpoll",
    [JUG_TRANSPORT_JSONP] = "jsonp",
};

/* ---- the table (common/settings.def) ---- */

const jugSettingInfo jugSettings[] = {
#define JUG_SETTING(name, type, min, max, def, flags, summary, doc) \
    {#name, JUG_TYPE_##type, (min), (max), def, flags, summary, doc},
#include "settings.def"
#undef JUG_SETTING
};
const int jugSettingCount = (int)(sizeof(jugSettings) / sizeof(jugSettings[0]));

/* Where each setting lives in jugConfig, in the same order. */
static const size_t fieldOffsets[] = {
#define JUG_SETTING(name, type, min, max, def, flags, summary, doc) offsetof(jugConfig, name),
#include "settings.def"
#undef JUG_SETTING
};

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

/* Split a list on spaces, tabs and commas into at most max items (what:
 * their name in the error) of at most itemlen - 1 bytes each, copied into
 * items itemlen apart. Returns the count, or -1 with err. */
static int splitList(const char *value, char *items, size_t itemlen, int max, const char *what,
                     char *err, size_t errlen) {
    char copy[LINE_MAX_LEN];
    int count = 0;
    snprintf(copy, sizeof(copy), "%s", value);
    for (char *save, *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
        if (count == max) return fail(err, errlen, "more than %d %s", max, what);
        if (parseString(items + (size_t)count * itemlen, itemlen, tok, 0, err, errlen) < 0) return -1;
        count++;
    }
    return count;
}

/* Into a local list first: a refused list leaves the current one whole. */
static int parseOrigins(jugConfig *cfg, const char *value, char *err, size_t errlen) {
    char list[JUG_MAX_CORS_ORIGINS][sizeof(cfg->cors_origins[0])];
    int count = splitList(value, list[0], sizeof(list[0]), JUG_MAX_CORS_ORIGINS, "origins", err, errlen);
    if (count < 0) return -1;
    for (int i = 0; i < count; i++) {
        if (!strcmp(list[i], "*"))
            return fail(err, errlen, "'*' is not allowed: list each origin");
        if (strncmp(list[i], "http://", 7) && strncmp(list[i], "https://", 8))
            return fail(err, errlen, "'%s' is not an origin like https://example.com", list[i]);
    }
    memcpy(cfg->cors_origins, list, sizeof(list[0]) * (size_t)count);
    cfg->cors_origin_count = count;
    return 0;
}

/* An IPv4/IPv6 address, optionally "/prefix": its family, bytes and prefix. */
typedef struct addrRange {
    int family;
    unsigned char bytes[16];
    int bits;
} addrRange;

static int parseAddrRange(addrRange *r, const char *text) {
    char host[64];
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    if (len == 0 || len >= sizeof(host)) return -1;
    memcpy(host, text, len);
    host[len] = '\0';
    if (inet_pton(AF_INET, host, r->bytes) == 1) r->family = AF_INET, r->bits = 32;
    else if (inet_pton(AF_INET6, host, r->bytes) == 1) r->family = AF_INET6, r->bits = 128;
    else return -1;
    if (slash) {
        int bits;
        char ignored[8];
        if (parseInt(&bits, slash + 1, 0, r->bits, ignored, sizeof(ignored)) < 0) return -1;
        r->bits = bits;
    }
    return 0;
}

static int addrInRange(const addrRange *range, const addrRange *addr) {
    if (range->family != addr->family) return 0;
    int full = range->bits / 8, rest = range->bits % 8;
    if (memcmp(range->bytes, addr->bytes, (size_t)full)) return 0;
    if (!rest) return 1;
    unsigned mask = (0xffu << (8 - rest)) & 0xffu;
    return (range->bytes[full] & mask) == (addr->bytes[full] & mask);
}

static int parseAddrs(jugConfig *cfg, const char *value, char *err, size_t errlen) {
    char list[JUG_MAX_STATUS_ALLOW][sizeof(cfg->status_allow[0])];
    int count = splitList(value, list[0], sizeof(list[0]), JUG_MAX_STATUS_ALLOW, "addresses", err,
                          errlen);
    if (count < 0) return -1;
    for (int i = 0; i < count; i++) {
        addrRange r;
        if (parseAddrRange(&r, list[i]) < 0)
            return fail(err, errlen, "'%s' is not an IP address or address/prefix", list[i]);
    }
    memcpy(cfg->status_allow, list, sizeof(list[0]) * (size_t)count);
    cfg->status_allow_count = count;
    return 0;
}

static int parseTransports(jugConfig *cfg, const char *value, char *err, size_t errlen) {
    static const char valid[] = "auto, or a list of sse, multipart, htmlfile, longpoll, jsonp";
    char list[JUG_TRANSPORT_COUNT][16];
    int count = splitList(value, list[0], sizeof(list[0]), JUG_TRANSPORT_COUNT, "transports", err, errlen);
    if (count < 0) return -1;
    if (count == 0) return fail(err, errlen, "needs %s", valid);
    if (count == 1 && !strcmp(list[0], "auto")) {
        cfg->transport_count = 0;
        return 0;
    }
    unsigned char order[JUG_TRANSPORT_COUNT];
    for (int i = 0; i < count; i++) {
        int t = 0;
        while (t < JUG_TRANSPORT_COUNT && strcmp(list[i], jugTransportNames[t])) t++;
        if (t == JUG_TRANSPORT_COUNT) return fail(err, errlen, "'%s' is not %s", list[i], valid);
        if (memchr(order, t, (size_t)i)) return fail(err, errlen, "'%s' is listed twice", list[i]);
        order[i] = (unsigned char)t;
    }
    memcpy(cfg->transports, order, (size_t)count);
    cfg->transport_count = count;
    return 0;
}

/* Checked before it is stored, so a refused value never replaces a good one. */
static int parseChannelName(char *out, size_t outlen, const char *value, char *err, size_t errlen) {
    for (const char *p = value; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-.:/", *p))
            return fail(err, errlen, "'%s' may only use letters, digits and _-.:/", value);
    return parseString(out, outlen, value, 0, err, errlen);
}

static int parseRedisUrl(jugConfig *cfg, char *out, size_t outlen, const char *value, char *err,
                         size_t errlen) {
    /* Both checked before either is stored: they must stay in step. */
    char url[sizeof(cfg->redis_url)];
    jugRedisAddress addr;
    if (parseString(url, outlen < sizeof(url) ? outlen : sizeof(url), value, 0, err, errlen) < 0 ||
        jugRedisAddressParse(&addr, url, err, errlen) < 0)
        return -1;
    memcpy(out, url, strlen(url) + 1);
    cfg->redis = addr;
    return 0;
}

static int parseValue(jugConfig *cfg, const jugSettingInfo *s, void *field, const char *value,
                      char *err, size_t errlen) {
    size_t len = (size_t)s->max + 1; /* the size of a text field */
    int v;
    switch (s->type) {
    case JUG_TYPE_INT:
        return parseInt(field, value, (long)s->min, (long)s->max, err, errlen);
    case JUG_TYPE_SIZE:
        if (parseInt(&v, value, (long)s->min, (long)s->max, err, errlen) < 0) return -1;
        *(size_t *)field = (size_t)v;
        return 0;
    case JUG_TYPE_AUTOINT:
        if (!strcmp(value, "auto")) {
            *(int *)field = -1;
            return 0;
        }
        if (parseInt(&v, value, (long)s->min, (long)s->max, err, errlen) < 0) {
            if (strstr(err, "whole number")) return fail(err, errlen, "'%s' is not auto or a whole number", value);
            return -1;
        }
        *(int *)field = v;
        return 0;
    case JUG_TYPE_BOOL:
        return parseBool(field, value, err, errlen);
    case JUG_TYPE_STR:
        return parseString(field, len, value, s->min == 0, err, errlen);
    case JUG_TYPE_NAME:
        return parseChannelName(field, len, value, err, errlen);
    case JUG_TYPE_REDIS_URL:
        return parseRedisUrl(cfg, field, len, value, err, errlen);
    case JUG_TYPE_LOG_TARGET:
        if (strcmp(value, "stderr") && strcmp(value, "syslog") && value[0] != '/')
            return fail(err, errlen, "'%s' is not stderr, syslog or an absolute file path", value);
        return parseString(field, len, value, 0, err, errlen);
    case JUG_TYPE_LOG_LEVEL:
        if (jugLogLevelParse(value) < 0)
            return fail(err, errlen, "'%s' is not error, warning, info or debug", value);
        return parseString(field, len, value, 0, err, errlen);
    case JUG_TYPE_TOKEN:
        if (*value && strlen(value) < 16) return fail(err, errlen, "shorter than 16 bytes: too easy to guess");
        return parseString(field, len, value, 1, err, errlen);
    case JUG_TYPE_ORIGINS:
        return parseOrigins(cfg, value, err, errlen);
    case JUG_TYPE_ADDRS:
        return parseAddrs(cfg, value, err, errlen);
    case JUG_TYPE_TRANSPORTS:
        return parseTransports(cfg, value, err, errlen);
    }
    return fail(err, errlen, "unknown type");
}

int jugConfigSet(jugConfig *cfg, const char *key, const char *value, char *err, size_t errlen) {
    for (int i = 0; i < jugSettingCount; i++)
        if (!strcmp(key, jugSettings[i].name))
            return parseValue(cfg, &jugSettings[i], (char *)cfg + fieldOffsets[i], value, err, errlen);
    return fail(err, errlen, "unknown setting");
}

/* Every default goes through the parser, so the table's text is the value;
 * tests/unit/test_settings.c checks that each one parses. */
void jugConfigDefaults(jugConfig *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    char ignored[JUG_CONFIG_ERRLEN];
    for (int i = 0; i < jugSettingCount; i++)
        jugConfigSet(cfg, jugSettings[i].name, jugSettings[i].def, ignored, sizeof(ignored));
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

int jugConfigStatusAllowed(const jugConfig *cfg, const char *addr) {
    addrRange a, r;
    if (!addr || parseAddrRange(&a, addr) < 0 || strchr(addr, '/')) return 0;
    for (int i = 0; i < cfg->status_allow_count; i++)
        if (parseAddrRange(&r, cfg->status_allow[i]) == 0 && addrInRange(&r, &a)) return 1;
    return 0;
}
