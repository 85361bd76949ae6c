/* test_keys_sid.c -- unit tests of the Redis key schema (common/keys.c) and
 * session ids (common/sid.c). */
#include "autoconfig.h"
#include "keys.h"
#include "sid.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define MANY_IDS 20000

static void testKeys(void) {
    char k[JUG_KEY_MAX];
    const char *sid = "AAAAAAAAAAAAAAAAAAAAAA";
    TAP_OK(jugKeySession(k, sizeof(k), "jug:", sid) == (int)strlen("jug:session:") + 22 &&
           !strcmp(k, "jug:session:AAAAAAAAAAAAAAAAAAAAAA"), "session key and its length");
    jugKeySessionChannels(k, sizeof(k), "jug:", sid);
    TAP_STR_EQ(k, "jug:session:AAAAAAAAAAAAAAAAAAAAAA:channels", "session channels key");
    jugKeyQueue(k, sizeof(k), "jug:", sid);
    TAP_STR_EQ(k, "jug:session:AAAAAAAAAAAAAAAAAAAAAA:queue", "queue key");
    jugKeyHolds(k, sizeof(k), "jug:");
    TAP_STR_EQ(k, "jug:holds", "hold slots key");
    jugNotifyChannel(k, sizeof(k), "jug:");
    TAP_STR_EQ(k, "jug:notify", "notify channel");
    jugNotifyInstanceChannel(k, sizeof(k), "jug:", "abc");
    TAP_STR_EQ(k, "jug:notify:abc", "notify channel of one process");
    jugKeySioAck(k, sizeof(k), "jug:", sid);
    TAP_STR_EQ(k, "jug:session:AAAAAAAAAAAAAAAAAAAAAA:sio", "socket.io ack key");
    jugKeySioHold(k, sizeof(k), "jug:", sid);
    TAP_STR_EQ(k, "jug:session:AAAAAAAAAAAAAAAAAAAAAA:siohold", "socket.io hold lease key");
    jugKeyChannel(k, sizeof(k), "app:", "/chat");
    TAP_STR_EQ(k, "app:channel:/chat", "channel key with another prefix");
    jugKeySessions(k, sizeof(k), "jug:");
    TAP_STR_EQ(k, "jug:sessions", "sessions key");
    jugKeySeq(k, sizeof(k), "jug:");
    TAP_STR_EQ(k, "jug:seq", "seq key");
    jugKeyPollerLease(k, sizeof(k), "jug:");
    TAP_STR_EQ(k, "jug:poller:lease", "poller lease key");
    jugKeyPollerLast(k, sizeof(k), "jug:");
    TAP_STR_EQ(k, "jug:poller:last", "poller last key");
    jugKeyPollerSince(k, sizeof(k), "jug:");
    TAP_STR_EQ(k, "jug:poller:since", "poller since key");
    jugKeyStats(k, sizeof(k), "jug:");
    TAP_STR_EQ(k, "jug:stats", "stats key");
    jugKeyAlive(k, sizeof(k), "jug:");
    TAP_STR_EQ(k, "jug:alive", "alive key");
    jugKeyConnects(k, sizeof(k), "jug:", "1796083200");
    TAP_STR_EQ(k, "jug:connects:1796083200", "connects key");
    jugEventChannel(k, sizeof(k), "juggernaut", "subscribe");
    TAP_STR_EQ(k, "juggernaut:subscribe", "event channel");

    char small[16];
    TAP_OK(jugKeySeq(small, sizeof(small), "jug:") == 7, "key that fits");
    TAP_OK(jugKeySession(small, sizeof(small), "jug:", sid) == -1, "key that does not fit: -1");
    TAP_OK(jugKeyChannel(small, 15, "jug:", "abc") == -1 && jugKeyChannel(small, 16, "jug:", "abc") == 15,
           "boundary: the NUL must fit too");
}

static int compare(const void *a, const void *b) {
    return strcmp((const char *)a, (const char *)b);
}

static void testSid(void) {
    char sid[JUG_SID_LEN + 1];
    TAP_OK(jugSidGenerate(sid) == 0, "an id is generated");
    TAP_OK(strlen(sid) == JUG_SID_LEN && jugSidValid(sid, strlen(sid)), "it is 22 valid characters: %s", sid);

    char (*ids)[JUG_SID_LEN + 1] = malloc(sizeof(*ids) * MANY_IDS);
    int ok = ids != NULL, counts[256] = {0};
    for (int i = 0; ok && i < MANY_IDS; i++) {
        ok = jugSidGenerate(ids[i]) == 0 && jugSidValid(ids[i], strlen(ids[i]));
        for (int j = 0; ok && j < JUG_SID_LEN; j++) counts[(unsigned char)ids[i][j]]++;
    }
    TAP_OK(ok, "%d ids generated, all valid", MANY_IDS);
    int dup = 0;
    if (ok) {
        qsort(ids, MANY_IDS, sizeof(*ids), compare);
        for (int i = 1; i < MANY_IDS; i++) dup += !strcmp(ids[i - 1], ids[i]);
    }
    TAP_OK(ok && dup == 0, "no two of %d ids alike", MANY_IDS);
    /* 22 x 20000 characters over 64 symbols: ~6875 each; all 64 must show up
     * well (the last digit carries 6 random bits too). */
    int used = 0, lowest = MANY_IDS * JUG_SID_LEN;
    for (int c = 0; c < 256; c++)
        if (counts[c]) {
            used++;
            if (counts[c] < lowest) lowest = counts[c];
        }
    TAP_OK(used == 64 && lowest > 5000, "all 64 symbols used evenly (%d used, rarest %d)", used, lowest);
    free(ids);

    TAP_OK(jugSidValid("abcdefghijklmnopqrstu-", 22) && jugSidValid("ABCDEFGHIJ0123456789_-", 22),
           "valid forms accepted");
    TAP_OK(!jugSidValid("abcdefghijklmnopqrstu", 21), "21 characters refused");
    TAP_OK(!jugSidValid("abcdefghijklmnopqrstuvw", 23), "23 characters refused");
    TAP_OK(!jugSidValid("", 0), "empty refused");
    TAP_OK(!jugSidValid("abcdefghijklmnopqrstu+", 22), "'+' refused (base64url only)");
    TAP_OK(!jugSidValid("abcdefghijklmnopqrstu/", 22), "'/' refused");
    TAP_OK(!jugSidValid("abcdefghijklmnopqrstu=", 22), "padding refused");
    TAP_OK(!jugSidValid("abcdefghij klmnopqrstu", 22), "space refused");
    TAP_OK(!jugSidValid("abcdefghij\0klmnopqrstu", 22), "NUL refused");
    TAP_OK(!jugSidValid("abcdefghijklmnopqrst\xc3\xa9", 22), "non-ASCII refused");
}

int main(void) {
    testKeys();
    testSid();
    return tapDone();
}
