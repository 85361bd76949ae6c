/* test_leader.c -- the poller's takeover buffer (poller/leader.c), table-driven.
 *
 * Includes leader.c to reach its file-local helpers (as lighttpd's src/t
 * tests do). Each row is a script of events and the buffer it must leave:
 *   +X   a message with payload hash X arrives
 *   mX   "M <id> <hash X>\n..." on <prefix>notify     dX   "D <hash X>"
 *   s    a worker's "S ..." line (ignored)             ?    a malformed M line
 *   A    we are active       S  standby       T  we start a takeover
 *   t    our takeover marker comes back
 *   y    the next undelivered entry is delivered by us (handled, next++)
 *   u    the next undelivered entry was sent when the connection died
 *   L    the connections were lost
 *   >    settle after a reconnect with <prefix>seq advanced (the fan-out ran)
 *   <    settle after a reconnect with <prefix>seq unchanged (it did not)
 * Expected: the hashes left, oldest first; lower case for entries we
 * handled (YES), '!' before one UNSURE; then "/<next>" and the role letter. */
#include "autoconfig.h"
#include "../../poller/leader.c"
#include "tap.h"

static jugConfig cfg;

static void hashOf(char out[JUG_HASH_LEN + 1], char x) {
    memset(out, '0', JUG_HASH_LEN);
    out[JUG_HASH_LEN - 1] = x;
    out[JUG_HASH_LEN] = '\0';
}

/* "<before><hash of x><after>" on <prefix>notify. */
static void notify(jugLeader *l, const char *before, char x, const char *after) {
    char hash[JUG_HASH_LEN + 1], line[128];
    hashOf(hash, x);
    int n = snprintf(line, sizeof(line), "%s%s%s", before, hash, after);
    jugLeaderNotification(l, line, (size_t)n);
}

static void run(jugLeader *l, const char *script) {
    char hash[JUG_HASH_LEN + 1];
    for (const char *p = script; *p; p++) {
        switch (*p) {
        case '+':
            hashOf(hash, *++p);
            jugLeaderRemember(l, NULL, hash, JUG_HASH_LEN, hash, 1000);
            break;
        case 'm': notify(l, "M 1800000000000001 ", *++p, "\nch1 ch2\n\n,\"data\":1}"); break;
        case 'd': notify(l, "D ", *++p, ""); break;
        case 's': jugLeaderNotification(l, "S abc tok", 9); break;
        case '?':
            jugLeaderNotification(l, "M x", 3);
            jugLeaderNotification(l, "M 12", 4);
            jugLeaderNotification(l, "M 12 0000000000000", 18);
            jugLeaderNotification(l, "", 0);
            break;
        case 'A': l->role = JUG_ROLE_ACTIVE; break;
        case 'S': l->role = JUG_ROLE_STANDBY; break;
        case 'T':
            l->role = JUG_ROLE_TAKING;
            snprintf(l->marker, sizeof(l->marker), "T %s 1", l->id);
            break;
        case 't': jugLeaderNotification(l, l->marker, strlen(l->marker)); break;
        case 'y': entry(l, l->next++)->handled = JUG_HANDLED_YES; break;
        case 'u': entry(l, l->next++)->handled = JUG_HANDLED_UNSURE; break;
        case 'L': jugLeaderLost(l); break;
        case '>': settle(l, 10, 9); break;
        case '<': settle(l, 9, 9); break;
        default: break;   /* spaces */
        }
    }
}

static void describe(jugLeader *l, char *out, size_t outlen) {
    size_t o = 0;
    for (size_t i = 0; i < l->count && o + 3 < outlen; i++) {
        jugRemembered *e = entry(l, i);
        if (e->handled == JUG_HANDLED_UNSURE) out[o++] = '!';
        char x = e->hash[JUG_HASH_LEN - 1];
        out[o++] = e->handled == JUG_HANDLED_YES ? (char)(x - 'A' + 'a') : x;
    }
    static const char roles[] = {'S', 'T', 'A'};
    snprintf(out + o, outlen - o, "/%zu%c", l->next, roles[l->role]);
}

static const struct {
    int line;
    const char *script, *want, *what;
} cases[] = {
    {__LINE__, "+A +B mA mB", "/0S", "a standby forgets what the active poller delivered"},
    {__LINE__, "+A +B mA", "B/0S", "the oldest only"},
    {__LINE__, "+A +B mZ", "AB/0S", "a notification for an earlier message is ignored"},
    {__LINE__, "+A +B mB", "AB/0S", "never out of order: B cannot be confirmed before A"},
    {__LINE__, "+A +A +A mA mA", "A/0S", "repeated payloads: one per notification"},
    {__LINE__, "+A +B +A +C mA mB", "AC/0S", "a repeat after other messages stays"},
    {__LINE__, "+A +B dA", "B/0S", "a D line confirms like an M line"},
    {__LINE__, "+A s ? mA", "/0S", "worker lines and malformed lines change nothing"},
    {__LINE__, "A +X y +Y mX", "Y/0A", "the active poller forgets what it delivered once notified"},
    {__LINE__, "A +X y +Y y mX", "y/1A", "...keeping what is not notified yet"},
    {__LINE__, "A +X y +Y S mX", "Y/0S", "a poller that lost the lease unknowingly still counts"},
    {__LINE__, "+A +B T mA", "B/0T", "during a takeover the previous holder's notifications count"},
    {__LINE__, "+A +B T mA t", "B/0A", "marker back: active, what is left is undelivered"},
    {__LINE__, "+A +B T t mA", "B/0A", "a stray line after the marker still counts (see confirm)"},
    {__LINE__, "A +X y +Y S T t", "Y/0A", "what we handled before the marker is never replayed"},
    {__LINE__, "+A +B T mA mB t", "/0A", "nothing to replay"},
    {__LINE__, "+A S +B T", "AB/0T", "no marker yet: still taking over"},
    {__LINE__, "+A +B L", "/0S", "a standby that lost its connection forgets everything"},
    {__LINE__, "+A +B T L", "/0S", "so does a poller in the middle of a takeover"},
    {__LINE__, "A +A y +B u +C L", "!BC/1A", "active: forgets what it delivered, keeps the rest"},
    {__LINE__, "A +A y +B u +C L >", "C/0A", "the fan-out whose answer was lost had run"},
    {__LINE__, "A +A y +B u +C L <", "BC/0A", "...or had not: delivered again"},
    {__LINE__, "A +A +B L <", "AB/0A", "nothing in flight: nothing to settle"},
};

int main(void) {
    jugConfigDefaults(&cfg);
    jugLogInit("test_leader", "stderr", "error", NULL, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jugLeader l;
        jugLeaderInit(&l, &cfg, "me");
        run(&l, cases[i].script);
        char got[128];
        describe(&l, got, sizeof(got));
        TAP_STR_EQ(got, cases[i].want, "line %d: %s (%s)", cases[i].line, cases[i].what,
                   cases[i].script);
        jugLeaderFree(&l);
    }
    return tapDone();
}
