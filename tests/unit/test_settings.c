/* test_settings.c -- the settings table (common/settings.def) against what
 * is written from it, and the generator of those texts.
 *
 * With no argument (as "make check" runs it) it is a TAP test: every default
 * in the table parses, and conf/juggernaut.conf.in, the settings table of
 * README.md and man/juggernaut.conf.5.in (under $JUG_SRCDIR) are exactly what
 * the table makes of them. With an argument it prints one of them:
 *     test_settings conf | man | readme README.md
 * ("readme" prints the whole README with its table replaced), which is what
 * "make update-settings" writes back into the source tree.
 *
 * It is built with its own copy of common/config.c compiled with
 * JUG_DATADIR set to the default prefix's, so the texts do not depend on
 * the prefix this tree was configured with. The two templates name the
 * installation directories as @pkgdatadir@, @sysconfdir@ and @docdir@,
 * which make fills in like every conf/ and man/ template (Makefile.am); the
 * README shows the default prefix's. */
#include "autoconfig.h"
#include "config.h"
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define README_BEGIN "<!-- settings table: generated from common/settings.def by \"make update-settings\" -->\n"
#define README_END "<!-- end of settings table -->\n"

/* A growing string; aborts when memory runs out (a test tool). */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        if (!t->s) abort();
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* The values a setting takes, in words. */
static void addValues(text *t, const jugSettingInfo *s) {
    switch (s->type) {
    case JUG_TYPE_INT:
    case JUG_TYPE_SIZE: add(t, "a whole number from %lld to %lld", s->min, s->max); break;
    case JUG_TYPE_AUTOINT: add(t, "auto, or a whole number from %lld to %lld", s->min, s->max); break;
    case JUG_TYPE_BOOL: add(t, "on or off"); break;
    case JUG_TYPE_STR:
        if (s->min == 0) add(t, "empty, or text of up to %lld bytes without spaces", s->max);
        else add(t, "text of %lld to %lld bytes without spaces", s->min, s->max);
        break;
    case JUG_TYPE_NAME: add(t, "%lld to %lld letters, digits or _-.:/", s->min, s->max); break;
    case JUG_TYPE_REDIS_URL: add(t, "a Redis URL or socket path of up to %lld bytes", s->max); break;
    case JUG_TYPE_LOG_TARGET: add(t, "stderr, syslog, or an absolute file path of up to %lld bytes", s->max); break;
    case JUG_TYPE_LOG_LEVEL: add(t, "error, warning, info or debug"); break;
    case JUG_TYPE_TOKEN: add(t, "empty, or 16 to %lld printable bytes without spaces", s->max); break;
    case JUG_TYPE_ORIGINS: add(t, "up to %d origins (http:// or https://)", JUG_MAX_CORS_ORIGINS); break;
    case JUG_TYPE_ADDRS: add(t, "up to %d IPv4/IPv6 addresses or address/prefix ranges", JUG_MAX_STATUS_ALLOW); break;
    case JUG_TYPE_TRANSPORTS:
        add(t, "auto, or any of");
        for (int i = 0; i < JUG_TRANSPORT_COUNT; i++) add(t, " %s", jugTransportNames[i]);
        add(t, " in the order of preference");
        break;
    }
}

/* A default as the templates write it: the data directory as @pkgdatadir@. */
static const char *templateDefault(const jugSettingInfo *s) {
    return strcmp(s->def, JUG_DATADIR) ? s->def : "@pkgdatadir@";
}

/* ---- conf/juggernaut.conf.in ---- */

/* Append words as "# " comment lines of at most 76 columns. */
static void addComment(text *t, const char *words) {
    const char *p = words;
    while (*p) {
        size_t room = 74, len = strlen(p);
        size_t cut = len;
        if (len > room) {
            cut = room;
            while (cut > 0 && p[cut] != ' ') cut--;
            if (cut == 0) cut = strcspn(p, " ");
        }
        add(t, "# %.*s\n", (int)cut, p);
        p += cut;
        while (*p == ' ') p++;
    }
}

static void makeConf(text *t) {
    add(t, "# juggernaut.conf -- read by both juggernaut.fcgi and juggernaut-poller.\n"
           "#\n"
           "# Syntax: one \"key value\" per line; \"#\" starts a comment; blank lines are\n"
           "# ignored. A line the programs do not understand stops them with its file,\n"
           "# line number and key, so a typo is never silently ignored. Every key is\n"
           "# shown below with its default; see also juggernaut.conf(5).\n"
           "#\n"
           "# Environment overrides:\n"
           "#   JUGGERNAUT_CONFIG      path of this file\n"
           "#   JUGGERNAUT_REDIS_URL   replaces redis_url below\n"
           "#\n"
           "# Generated from common/settings.def by \"make update-settings\".\n");
    for (int i = 0; i < jugSettingCount; i++) {
        const jugSettingInfo *s = &jugSettings[i];
        text values = {0};
        addValues(&values, s);
        add(t, "\n");
        addComment(t, s->doc);
        add(t, "# Values: %s.\n", values.s);
        free(values.s);
        add(t, "%s%s%s%s\n", s->flags & JUG_SETTING_COMMENTED ? "#" : "", s->name, *s->def ? " " : "",
            templateDefault(s));
    }
}

/* ---- README.md's table ---- */

static void makeReadmeTable(text *t) {
    add(t, "%s| key | default | values | meaning |\n|-----|---------|--------|---------|\n", README_BEGIN);
    for (int i = 0; i < jugSettingCount; i++) {
        const jugSettingInfo *s = &jugSettings[i];
        text values = {0};
        addValues(&values, s);
        add(t, "| `%s` | ", s->name);
        if (*s->def) add(t, "`%s` | ", s->def);
        else add(t, "(none) | ");
        add(t, "%s | %s |\n", values.s, s->summary);
        free(values.s);
    }
    add(t, "%s", README_END);
}

/* The README with its table replaced; 0, or -1 if the markers are missing. */
static int makeReadme(text *t, const char *readme) {
    const char *begin = strstr(readme, README_BEGIN);
    const char *end = begin ? strstr(begin, README_END) : NULL;
    if (!end) return -1;
    add(t, "%.*s", (int)(begin - readme), readme);
    makeReadmeTable(t);
    add(t, "%s", end + strlen(README_END));
    return 0;
}

/* ---- man/juggernaut.conf.5.in ---- */

/* Text for roff: backslashes and hyphens escaped, no line starting with a dot. */
static void addRoff(text *t, const char *s) {
    if (*s == '.' || *s == '\'') add(t, "\\&");
    for (; *s; s++) {
        if (*s == '\\') add(t, "\\e");
        else if (*s == '-') add(t, "\\-");
        else if (*s == '`') continue;
        else add(t, "%c", *s);
    }
}

static void makeMan(text *t) {
    add(t, ".\\\" juggernaut.conf.5.in -- generated from common/settings.def by \"make update-settings\".\n"
           ".TH JUGGERNAUT.CONF 5 \"\" \"juggernaut-fcgi @PACKAGE_VERSION@\" \"File Formats Manual\"\n"
           ".SH NAME\n"
           "juggernaut.conf \\- configuration of juggernaut.fcgi and juggernaut\\-poller\n"
           ".SH SYNOPSIS\n"
           ".I @sysconfdir@/juggernaut.conf\n"
           ".SH DESCRIPTION\n"
           "Both programs of juggernaut\\-fcgi, the FastCGI worker\n"
           ".BR juggernaut.fcgi (8)\n"
           "and the Redis poller\n"
           ".BR juggernaut\\-poller (8),\n"
           "read this file when they start.\n"
           "It holds one setting per line: a key, white space, and the value.\n"
           "A\n"
           ".B #\n"
           "starts a comment that runs to the end of the line; blank lines are ignored.\n"
           "A key may appear more than once: the last line wins\n"
           "(for a list, the last line is the whole list).\n"
           "A line that does not parse stops the program with the message\n"
           ".IR file : line : \" key\" : \" reason\",\n"
           "so a typo is never silently ignored.\n"
           "Keys that are not in the file keep the defaults shown below.\n"
           ".PP\n"
           "Lists are separated by spaces or commas.\n"
           "Text values may not contain spaces.\n"
           ".SH SETTINGS\n");
    for (int i = 0; i < jugSettingCount; i++) {
        const jugSettingInfo *s = &jugSettings[i];
        text values = {0};
        addValues(&values, s);
        add(t, ".TP\n.B ");
        addRoff(t, s->name);
        add(t, "\n");
        addRoff(t, s->doc);
        add(t, "\n.br\nValues: ");
        addRoff(t, values.s);
        add(t, "\n.br\nDefault: ");
        if (*s->def) {
            add(t, "\\fB");
            addRoff(t, templateDefault(s));
            add(t, "\\fR");
        } else {
            add(t, "empty");
        }
        add(t, "\n");
        free(values.s);
    }
    add(t, ".SH ENVIRONMENT\n"
           ".TP\n.B JUGGERNAUT_CONFIG\n"
           "The path of the configuration file, when no\n.B \\-c\noption names one.\n"
           ".TP\n.B JUGGERNAUT_REDIS_URL\n"
           "Replaces\n.BR redis_url .\n"
           ".SH FILES\n"
           ".TP\n.I @sysconfdir@/juggernaut.conf\n"
           "The configuration file when neither\n.B \\-c\nnor\n.B JUGGERNAUT_CONFIG\nnames another.\n"
           ".TP\n.I @docdir@/examples/juggernaut.conf\n"
           "The example: every key with its description and default.\n"
           ".SH SIGNALS\n"
           "The programs read this file only when they start.\n"
           "On\n.B SIGHUP\n"
           "they reopen the log file named by\n.B log\n"
           "(for logrotate) but do not read the configuration again.\n"
           ".SH SEE ALSO\n"
           ".BR juggernaut.fcgi (8),\n"
           ".BR juggernaut\\-poller (8),\n"
           ".BR redis\\-server (1)\n");
}

/* ---- the test ---- */

static char *readFile(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    text t = {0};
    char buf[4096];
    size_t n;
    add(&t, "%s", "");
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) add(&t, "%.*s", (int)n, buf);
    fclose(f);
    return t.s;
}

/* Compare a committed file with what the table makes; on a difference, say where. */
static void checkSame(const char *srcdir, const char *file, const char *want) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", srcdir, file);
    char *got = readFile(path);
    if (!got) {
        TAP_OK(0, "%s is readable", file);
        return;
    }
    size_t line = 1, i = 0;
    while (got[i] && got[i] == want[i]) line += got[i++] == '\n';
    int same = !got[i] && !want[i];
    TAP_OK(same, "%s is what common/settings.def makes of it", file);
    if (!same) {
        const char *g = got + i, *w = want + i;
        while (g > got && g[-1] != '\n') g--, w--;
        printf("#   first difference at line %zu: run \"make update-settings\" (or fix the table)\n"
               "#   file:  %.*s\n#   table: %.*s\n", line, (int)strcspn(g, "\n"), g,
               (int)strcspn(w, "\n"), w);
    }
    free(got);
}

static int runTests(void) {
    jugConfig cfg;
    char err[JUG_CONFIG_ERRLEN];
    jugConfigDefaults(&cfg);
    for (int i = 0; i < jugSettingCount; i++) {
        const jugSettingInfo *s = &jugSettings[i];
        err[0] = '\0';
        TAP_OK(jugConfigSet(&cfg, s->name, s->def, err, sizeof(err)) == 0,
               "%s: default '%s' parses (%s)", s->name, s->def, err);
        TAP_OK(*s->summary && !strchr(s->summary, '|') && !strchr(s->summary, '\n') && *s->doc &&
               !strchr(s->doc, '\n'), "%s: summary and doc are single lines, summary without '|'", s->name);
        for (int j = 0; j < i; j++)
            if (!strcmp(jugSettings[j].name, s->name)) TAP_OK(0, "%s is in the table twice", s->name);
    }
    const char *srcdir = getenv("JUG_SRCDIR");
    if (!srcdir) {
        TAP_OK(1, "# SKIP JUG_SRCDIR unset: the committed texts are not compared");
        return tapDone();
    }
    text conf = {0}, man = {0}, readme = {0};
    makeConf(&conf);
    makeMan(&man);
    checkSame(srcdir, "conf/juggernaut.conf.in", conf.s);
    checkSame(srcdir, "man/juggernaut.conf.5.in", man.s);
    char path[1024];
    snprintf(path, sizeof(path), "%s/README.md", srcdir);
    char *old = readFile(path);
    TAP_OK(old && makeReadme(&readme, old) == 0, "README.md has the settings table markers");
    if (readme.s) checkSame(srcdir, "README.md", readme.s);
    free(old);
    free(conf.s);
    free(man.s);
    free(readme.s);
    return tapDone();
}

int main(int argc, char **argv) {
    if (argc < 2) return runTests();
    text t = {0};
    add(&t, "%s", "");
    if (!strcmp(argv[1], "conf") && argc == 2) {
        makeConf(&t);
    } else if (!strcmp(argv[1], "man") && argc == 2) {
        makeMan(&t);
    } else if (!strcmp(argv[1], "readme") && argc == 3) {
        char *old = readFile(argv[2]);
        if (!old || makeReadme(&t, old) < 0) {
            fprintf(stderr, "test_settings: %s: cannot read it, or it lacks the line\n  %s", argv[2],
                    README_BEGIN);
            return 1;
        }
        free(old);
    } else {
        fprintf(stderr, "usage: test_settings [conf | man | readme README.md]\n");
        return 2;
    }
    fputs(t.s, stdout);
    free(t.s);
    return fflush(stdout) == 0 ? 0 : 1;
}
