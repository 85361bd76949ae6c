/* fuzz_message.c -- libFuzzer target for what apps publish: jugMessageParse
 * (the "juggernaut" channel) and jugMessageFromRaw (Jugglite raw channels).
 * Beyond memory safety it checks what the poller relies on: an accepted
 * message has valid channels, non-NULL except ids, and data that is strict
 * JSON (browsers JSON.parse it), on one line, and the same value the
 * message's "data" member has. It also holds the JSON scanner (json.c) to
 * the oracle: both must take exactly the same texts. */
#include "autoconfig.h"
#include "json.h"
#include "message.h"
#include "oracle.h"

#include <cjson/cJSON.h>
#include <stdint.h>

static void checkCommon(const jugMessage *msg) {
    ORACLE_CHECK(msg->data_json != NULL);
    size_t len = strlen(msg->data_json);
    ORACLE_CHECK(jugJsonValid(msg->data_json, len));
    ORACLE_CHECK(oracleJson(msg->data_json, len));
    ORACLE_CHECK(!strpbrk(msg->data_json, "\r\n"));
    ORACLE_CHECK(msg->channel_count >= 1);
    for (int i = 0; i < msg->channel_count; i++)
        ORACLE_CHECK(jugChannelValid(msg->channels[i], strlen(msg->channels[i])));
    for (int i = 0; i < msg->except_count; i++) ORACLE_CHECK(msg->except[i] != NULL);
    for (const char *p = msg->event; p && *p; p++) ORACLE_CHECK((unsigned char)*p >= 0x20);
}

/* The data text must mean what cJSON reads as the "data" member. Not when
 * the text has an escaped NUL: cJSON cuts a key at it, so it takes
 * "data\u0000x" for "data" (json.c rightly does not). */
static void checkSameData(const jugMessage *msg, const char *json, size_t len) {
    if (memmem(json, len, "\\u0000", 6)) return;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) return;
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(root, "data");
    cJSON *got = cJSON_Parse(msg->data_json);
    ORACLE_CHECK(got != NULL);
    /* Printed, not cJSON_Compare(): that one mismatches duplicate keys. */
    char *a = want ? cJSON_PrintUnformatted(want) : strdup("null");
    char *b = cJSON_PrintUnformatted(got);
    ORACLE_CHECK(a && b && !strcmp(a, b));
    free(a);
    free(b);
    cJSON_Delete(got);
    cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *json = (const char *)data;
    char err[JUG_MESSAGE_ERRLEN];
    jugMessage msg;

    /* The oracle nests at most 500 deep (it recurses). */
    ORACLE_CHECK((jugJsonCheck(json, size, 500, NULL) == JUG_JSON_OK) == oracleJson(json, size));
    if (jugMessageParse(&msg, json, size, 65536, 100, err, sizeof(err)) == 0) {
        checkCommon(&msg);
        ORACLE_CHECK(oracleJsonDepth(json, size, JUG_JSON_MAX_DEPTH));
        checkSameData(&msg, json, size);
        jugMessageFree(&msg);
    } else {
        ORACLE_CHECK(msg.channels == NULL && msg.data_json == NULL && err[0]);
    }
    if (jugMessageFromRaw(&msg, "raw/chan", json, size, 65536, err, sizeof(err)) == 0) {
        checkCommon(&msg);
        ORACLE_CHECK(msg.channel_count == 1 && !strcmp(msg.channels[0], "raw/chan"));
        jugMessageFree(&msg);
    }
    return 0;
}
