/* test_lua_keys.c -- the Lua scripts spell the Redis keys as common/keys.c does.
 *
 * The scripts build key names from the prefix themselves (they cannot call
 * C), so a renamed key could silently split the schema in two. This reads
 * every embedded script (lib.lua included, as Redis runs them) and checks
 * each string literal used as a key piece against the names keys.c makes:
 *   prefix .. 'xxx'     must be a key's head: "sessions", "session:", ...
 *   <key or id> .. ':x' must be a key's tail: ":channels", ":queue", ...
 *   evchan .. ':x'      must be a server-event channel: ":subscribe", ...
 * The names keys.c makes are taken from keys.c itself, with placeholder ids,
 * so this test needs no change when a key is added or renamed in both. */
#include "autoconfig.h"
#include "keys.h"
#include "redis.h"
#include "redis_scripts.h"
#include "tap.h"

#include <ctype.h>
#include <string.h>

#define MAX_PIECES 64
#define SID "\x01"
#define CHANNEL "\x02"
#define INSTANCE "\x03"
#define SECOND "\x04"

static char heads[MAX_PIECES][JUG_KEY_MAX], tails[MAX_PIECES][JUG_KEY_MAX];
static int headCount, tailCount;

static void addPiece(char list[][JUG_KEY_MAX], int *count, const char *piece, size_t len) {
    for (int i = 0; i < *count; i++)
        if (strlen(list[i]) == len && !memcmp(list[i], piece, len)) return;
    if (*count == MAX_PIECES || len >= JUG_KEY_MAX) return;
    memcpy(list[*count], piece, len);
    list[(*count)++][len] = '\0';
}

/* A name made with an empty prefix: its head is what comes before the first
 * placeholder (or all of it), its tail what follows the placeholder. */
static void learn(int rc, const char *name) {
    if (rc < 0) return;
    size_t head = strcspn(name, SID CHANNEL INSTANCE SECOND);
    addPiece(heads, &headCount, name, head);
    if (name[head] && name[head + 1]) addPiece(tails, &tailCount, name + head + 1, strlen(name + head + 1));
}

static void learnSchema(void) {
    char k[JUG_KEY_MAX];
    learn(jugKeySession(k, sizeof(k), "", SID), k);
    learn(jugKeySessionChannels(k, sizeof(k), "", SID), k);
    learn(jugKeyQueue(k, sizeof(k), "", SID), k);
    learn(jugKeyChannel(k, sizeof(k), "", CHANNEL), k);
    learn(jugKeySessions(k, sizeof(k), ""), k);
    learn(jugKeySeq(k, sizeof(k), ""), k);
    learn(jugKeyPollerLease(k, sizeof(k), ""), k);
    learn(jugKeyPollerLast(k, sizeof(k), ""), k);
    learn(jugKeyPollerSince(k, sizeof(k), ""), k);
    learn(jugKeyStats(k, sizeof(k), ""), k);
    learn(jugKeyAlive(k, sizeof(k), ""), k);
    learn(jugKeyHolds(k, sizeof(k), ""), k);
    learn(jugKeyProcs(k, sizeof(k), ""), k);
    learn(jugKeyProcsSpawning(k, sizeof(k), ""), k);
    learn(jugKeyConnects(k, sizeof(k), "", SECOND), k);
    learn(jugNotifyChannel(k, sizeof(k), ""), k);
    learn(jugNotifyInstanceChannel(k, sizeof(k), "", INSTANCE), k);
}

static int listed(char list[][JUG_KEY_MAX], int count, const char *s, size_t len) {
    for (int i = 0; i < count; i++)
        if (strlen(list[i]) == len && !memcmp(list[i], s, len)) return 1;
    return 0;
}

/* The server events of docs/PROTOCOL.md, as jugEventChannel names them. */
static int isEventTail(const char *s, size_t len) {
    static const char *const events[] = {"subscribe", "unsubscribe", "custom"};
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        char k[JUG_KEY_MAX];
        if (jugEventChannel(k, sizeof(k), "", events[i]) > 0 && strlen(k) == len && !memcmp(k, s, len))
            return 1;
    }
    return 0;
}

/* The expression just before "..": the identifier (or ARGV[n]) ending at end. */
static size_t operandBefore(const char *src, const char *end, const char **start) {
    const char *p = end;
    while (p > src && p[-1] == ' ') p--;
    const char *stop = p;
    while (p > src && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '[' || p[-1] == ']')) p--;
    *start = p;
    return (size_t)(stop - p);
}

static int is(const char *s, size_t len, const char *word) {
    return strlen(word) == len && !memcmp(s, word, len);
}

/* Check one script; returns the number of key pieces it uses. */
static int checkScript(const char *name, const char *src) {
    int pieces = 0;
    for (const char *p = src; (p = strstr(p, "..")) != NULL; p += 2) {
        const char *q = p + 2;
        while (*q == ' ') q++;
        if (*q != '\'' && *q != '"') continue;
        const char *lit = q + 1, *close = strchr(lit, *q);
        if (!close) break;
        size_t len = (size_t)(close - lit);
        const char *op;
        size_t oplen = operandBefore(src, p, &op);
        int line = 1;
        for (const char *c = src; c < p; c++) line += *c == '\n';
        if (is(op, oplen, "prefix") || is(op, oplen, "ARGV[1]")) {
            pieces++;
            TAP_OK(listed(heads, headCount, lit, len), "%s.lua (line %d of lib.lua + script): prefix .. '%.*s' is a key of keys.c",
                   name, line, (int)len, lit);
        } else if (len > 0 && lit[0] == ':') {
            pieces++;
            if (is(op, oplen, "evchan"))
                TAP_OK(isEventTail(lit, len), "%s.lua (line %d): evchan .. '%.*s' is a server event", name, line,
                       (int)len, lit);
            else
                TAP_OK(listed(tails, tailCount, lit, len), "%s.lua (line %d): %.*s .. '%.*s' is a key tail of keys.c",
                       name, line, (int)oplen, op, (int)len, lit);
        }
    }
    return pieces;
}

int main(void) {
    learnSchema();
    TAP_OK(headCount >= 10 && tailCount >= 2, "keys.c gives %d key heads and %d tails", headCount, tailCount);
    int total = 0;
    for (int i = 0; i < JUG_SCRIPT_COUNT; i++) {
        const char *src = jugScriptSource((jugScript)i);
        total += checkScript(jugScriptTexts[i].name, src);
    }
    TAP_OK(total >= 20, "%d key pieces checked in %d scripts", total, JUG_SCRIPT_COUNT);
    return tapDone();
}
