/* test_leader.c -- the poller's takeover buffer (poller/leader.c), table-driven.
 *
 * Includes leader.c to reach its file-local helpers (as lighttpd's src/t
 * tests do). Each row is a script of events and the buffer it must leave.
 * Peers are pollers "x", "y" (subscription tokens "x/1", "y/1"); "i" is our
 * current subscription, "h" our previous one:
 *   N    every subscription confirmed        +X   a message with payload X arrives
 *   mPn  "M <id> <hash> <P's token> n"       dPn  "D <hash> <P's token> n"
 *   jP   "J <P's token>"                     aPQn "A <P's token> <Q's token> n"
 *   s    a worker's "S ..." line (ignored)   ?    malformed lines
 *   A    we are active       S  standby       T  we start a takeover
 *   t    our takeover marker comes back
 *   y    the next undelivered entry is delivered by us (handled, next++)
 *   u    the next undelivered entry was sent when the connection died
 *   L    the connections were lost
 *   >    settle after a reconnect with <prefix>seq advanced (the fan-out ran)
 *   <    settle after a reconnect with <prefix>seq unchanged (it did not)
 * Expected: the payloads left, oldest first; lower case for entries we
 * handled (YES), '!' before one UNSURE; then "/<next>" and the role letter;
 * then the lines we owe: "J", or "A<count>". */
#include "autoconfig.h"
#include "../../poller/leader.c"
#include "tap.h"

static jugConfig cfg;

static void hashOf(char out[JUG_HASH_LEN + 1], char x) {
    memset(out, '0', JUG_HASH_LEN);
    out[JUG_HASH_LEN - 1] = x;
    out[JUG_HASH_LEN] = '\0';
}

static void tokenOf(const jugLeader *l, char p, char *out, size_t outlen) {
    if (p == 'i') snprintf(out, outlen, "%s", l->token);
    else if (p == 'h') snprintf(out, outlen, "%s/%u", l->id, l->sub - 1);
    else snprintf(out, outlen, "%c/1", p);
}

static void line(jugLeader *l, const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    jugLeaderNotification(l, text, (size_t)n);
}

static const char *run(jugLeader *l, const char *p) {
    char hash[JUG_HASH_LEN + 1], tok[JUG_TOKEN_MAX], tok2[JUG_TOKEN_MAX];
    for (; *p; p++) {
        switch (*p) {
        case 'N': jugLeaderListening(l); break;
        case '+':
            hashOf(hash, *++p);
            jugLeaderRemember(l, NULL, hash, JUG_HASH_LEN, hash, 1000);
            break;
        case 'm':
        case 'd':
            hashOf(hash, 'Z');
            tokenOf(l, p[1], tok, sizeof(tok));
            if (*p == 'm') line(l, "M 1800000000000001 %s %s %c\nch1 ch2\n\n,\"data\":1}", hash, tok, p[2]);
            else line(l, "D %s %s %c", hash, tok, p[2]);
            p += 2;
            break;
        case 'j':
            tokenOf(l, *++p, tok, sizeof(tok));
            line(l, "J %s", tok);
            break;
        case 'a':
            tokenOf(l, p[1], tok, sizeof(tok));
            tokenOf(l, p[2], tok2, sizeof(tok2));
            line(l, "A %s %s %c", tok, tok2, p[3]);
            p += 3;
            break;
        case 's': line(l, "S abc tok"); break;
        case '?':
            line(l, "M x");
            line(l, "M 12");
            line(l, "M 12 0000000000000");
            line(l, "M 12 0000000000000 x/1");
            line(l, "M 12 0000000000000 x/1 -3");
            line(l, "D 0000000000000 x/1 9z");
            line(l, "J");
            line(l, "A x/1");
            line(l, "A x/1 me/1 z");
            line(l, "%s", "");
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
        case ' ': break;
        default: return p;   /* a typo in the table */
        }
    }
    return NULL;
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
    o += (size_t)snprintf(out + o, outlen - o, "/%zu%c", l->next, roles[l->role]);
    for (size_t i = 0; i < l->nowed && o + 8 < outlen; i++) {
        const char *last = strrchr(l->owed[i], ' ');
        if (l->owed[i][0] == 'A') o += (size_t)snprintf(out + o, outlen - o, " A%s", last + 1);
        else o += (size_t)snprintf(out + o, outlen - o, " %c", l->owed[i][0]);
    }
}

static const struct {
    int line;
    const char *script, *want, *what;
} cases[] = {
    {__LINE__, "N ji axi5 +A +B mx6", "B/0S J", "a standby forgets what the active poller handled"},
    {__LINE__, "N ji axi5 +A +B mx6 mx7", "/0S J", "...up to the mapped index"},
    {__LINE__, "N ji axi5 +A +B mx7", "/0S J", "a line covers everything before it"},
    {__LINE__, "N +A ji +B mx6 axi6", "B/0S J", "lines before the answer count when it comes"},
    {__LINE__, "N +A ji +B mx5 mx7 axi6", "/0S J", "...the highest of them"},
    {__LINE__, "+A N ji axi5 +B mx5", "B/0S J", "a message before every subscription was confirmed has no number"},
    {__LINE__, "jx N +A axx0 mx1", "A/0S J", "a J line from before is not used"},
    {__LINE__, "N ji axi5 +X mx5", "X/0S J", "a line about a message from before we started: ignored"},
    {__LINE__, "N ji axi5 +X mx5 T t", "X/0A J J", "the same payload just before and after we started: replayed"},
    {__LINE__, "N ji axi0 +A +A +A mx1 mx2", "A/0S J", "repeated payloads: counted by position"},
    {__LINE__, "N ji axi0 +A +B dx1", "B/0S J", "a D line confirms like an M line"},
    {__LINE__, "N ji axi0 +A s ? mx1", "/0S J", "worker lines and malformed lines change nothing"},
    {__LINE__, "N ji +A +B ayi0 axi0 mx1", "B/0S J", "each peer mapped by its own answer"},
    {__LINE__, "N ji +A +B my1 axi0", "AB/0S J", "a peer's line maps only with its own answer"},
    {__LINE__, "N jx +A +B jx axx1 mx2", "/0S J", "two J lines of one label: the answer is to the newest"},
    {__LINE__, "N ji +A +B mx1 jy axy2", "B/0S J", "an answer to another poller's J line maps too"},
    {__LINE__, "N A +X jx", "X/0A J A1", "the active poller answers a J line with its count"},
    {__LINE__, "N +X jx", "X/0S J", "a standby does not"},
    {__LINE__, "N A +X y +Y mi1", "Y/0A J", "the active poller forgets what it handled once notified"},
    {__LINE__, "N A +X y +Y y mi1", "y/1A J", "...keeping what is not notified yet"},
    {__LINE__, "N A +X y +Y S mi1", "Y/0S J", "a poller that lost the lease unknowingly still counts"},
    {__LINE__, "N A +X y +Y L N mh1", "Y/0A J J", "after a reconnect, lines about the previous subscription"},
    {__LINE__, "N A +X y +Y L N mh2 +Z mi1", "/0A J J", "...and the current one"},
    {__LINE__, "N ji axi2 +A +B T mx3", "B/0T J", "during a takeover the previous holder's lines count"},
    {__LINE__, "N ji axi2 +A +B T mx3 t", "B/0A J J", "marker back: active, what is left is undelivered"},
    {__LINE__, "N ji axi2 +A +B T t mx3", "B/0A J J", "a stray line after the marker still counts"},
    {__LINE__, "N ji axi2 +A +B T mx3 mx4 t", "/0A J J", "nothing to replay"},
    {__LINE__, "N A +X y +Y S T t", "Y/0A J J", "what we handled before the marker is never replayed"},
    {__LINE__, "N +A S +B T", "AB/0T J", "no marker yet: still taking over"},
    {__LINE__, "N +A ji +B mx3 T t", "B/0A J J", "the holder never answered: after the last J line, replayed"},
    {__LINE__, "N +A ji +B T t", "AB/0A J J", "...and nothing dropped if it notified nothing"},
    {__LINE__, "N +A ji +B mx1 ayi1 my2 T t", "/0A J J", "the last holder answered: exact"},
    {__LINE__, "N +A +B L", "/0S J", "a standby that lost its connection forgets everything"},
    {__LINE__, "N +A +B T L", "/0S J", "so does a poller in the middle of a takeover"},
    {__LINE__, "N A +A y +B u +C L", "!BC/1A J", "active: forgets what it delivered, keeps the rest"},
    {__LINE__, "N A +A y +B u +C L >", "C/0A J", "the fan-out whose answer was lost had run"},
    {__LINE__, "N A +A y +B u +C L <", "BC/0A J", "...or had not: delivered again"},
    {__LINE__, "N A +A +B L <", "AB/0A J", "nothing in flight: nothing to settle"},
};

int main(void) {
    jugConfigDefaults(&cfg);
    jugLogInit("test_leader", "stderr", "error", NULL, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jugLeader l;
        jugLeaderInit(&l, &cfg, "me");
        const char *typo = run(&l, cases[i].script);
        char got[128];
        describe(&l, got, sizeof(got));
        if (typo) snprintf(got, sizeof(got), "bad script at '%c'", *typo);
        TAP_STR_EQ(got, cases[i].want, "line %d: %s (%s)", cases[i].line, cases[i].what,
                   cases[i].script);
        jugLeaderFree(&l);
    }
    return tapDone();
}
