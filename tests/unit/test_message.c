/* test_message.c -- unit tests of common/message.c: what apps may publish,
 * what is refused, and that "data" reaches browsers byte for byte. */
#include "autoconfig.h"
#include "json.h"
#include "message.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SIZE 65536
#define MAX_CHANNELS 100

static int parse(jugMessage *msg, const char *json, char *err) {
    return jugMessageParse(msg, json, strlen(json), MAX_SIZE, MAX_CHANNELS, err, JUG_MESSAGE_ERRLEN);
}

/* Parse and check it is refused with a reason containing want. */
static void refused(const char *json, const char *want, const char *what) {
    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN] = "";
    int rc = parse(&msg, json, err);
    TAP_OK(rc == -1 && strstr(err, want) && msg.channels == NULL && msg.data_json == NULL,
           "refused: %s (%s)", what, err);
    if (rc == 0) jugMessageFree(&msg);
}

/* Parse and check the data text is exactly want. */
static void dataIs(const char *json, const char *want, const char *what) {
    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN] = "";
    if (parse(&msg, json, err) < 0) {
        TAP_OK(0, "data %s: parse failed: %s", what, err);
        return;
    }
    TAP_STR_EQ(msg.data_json, want, "data %s passed unchanged", what);
    jugMessageFree(&msg);
}

static void testChannels(void) {
    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN] = "";
    TAP_OK(parse(&msg, "{\"channels\":[\"channel1\",\"/observer/42\",\"user:7\"],\"data\":\"foo\"}", err) == 0,
           "channels array accepted (%s)", err);
    TAP_OK(msg.channel_count == 3 && !strcmp(msg.channels[0], "channel1") &&
           !strcmp(msg.channels[1], "/observer/42") && !strcmp(msg.channels[2], "user:7"),
           "channels kept in order");
    TAP_STR_EQ(msg.data_json, "\"foo\"", "string data kept as JSON text");
    TAP_OK(msg.except_count == 0 && !msg.event, "no except or event");
    jugMessageFree(&msg);

    TAP_OK(parse(&msg, "{\"channel\":\"/chat\",\"data\":1}", err) == 0 && msg.channel_count == 1 &&
           !strcmp(msg.channels[0], "/chat"), "single \"channel\" accepted");
    jugMessageFree(&msg);

    TAP_OK(parse(&msg, "{\"channels\":[\"a\"]}", err) == 0, "data may be missing");
    TAP_STR_EQ(msg.data_json, "null", "missing data is null");
    jugMessageFree(&msg);

    char allowed[] = "{\"channel\":\"AZaz09_-./:@~+=!*\"}";
    TAP_OK(parse(&msg, allowed, err) == 0, "every allowed channel character accepted");
    jugMessageFree(&msg);

    char longest[256];
    snprintf(longest, sizeof(longest), "{\"channel\":\"%0*d\"}", JUG_CHANNEL_MAX, 0);
    TAP_OK(parse(&msg, longest, err) == 0, "channel of %d bytes accepted", JUG_CHANNEL_MAX);
    jugMessageFree(&msg);
    snprintf(longest, sizeof(longest), "{\"channel\":\"%0*d\"}", JUG_CHANNEL_MAX + 1, 0);
    refused(longest, "invalid channel name", "channel of 129 bytes");

    refused("{\"channels\":[]}", "empty", "empty channels array");
    refused("{\"data\":1}", "no \"channels\"", "no channel at all");
    refused("{\"channels\":\"a\"}", "not an array", "channels as a string");
    refused("{\"channels\":[\"a\",1]}", "not a string", "a channel that is a number");
    refused("{\"channel\":null}", "not a string", "a null channel");
    refused("{\"channels\":[\"a b\"]}", "invalid channel name", "channel with a space");
    refused("{\"channels\":[\"a,b\"]}", "invalid channel name", "channel with a comma");
    refused("{\"channels\":[\"\"]}", "invalid channel name", "empty channel name");
    refused("{\"channels\":[\"<x>\"]}", "invalid channel name", "channel with < >");
    refused("{\"channels\":[\"a\\nb\"]}", "invalid channel name", "channel with a newline");
    refused("{\"channels\":[\"a\\u0000b\"]}", "invalid channel name", "channel with a NUL");
    refused("{\"channels\":[\"caf\xc3\xa9\"]}", "invalid channel name", "channel with UTF-8");
}

static void testLimits(void) {
    char many[MAX_CHANNELS * 8 + 64], *p = many;
    p += sprintf(p, "{\"channels\":[");
    for (int i = 0; i < MAX_CHANNELS; i++) p += sprintf(p, "%s\"c%d\"", i ? "," : "", i);
    sprintf(p, "]}");
    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN] = "";
    TAP_OK(parse(&msg, many, err) == 0 && msg.channel_count == MAX_CHANNELS,
           "exactly max_channels channels accepted");
    jugMessageFree(&msg);
    sprintf(p, ",\"extra\"]}");
    refused(many, "more than the limit", "one channel more than max_channels");

    const char *small = "{\"channel\":\"a\",\"data\":\"0123456789\"}";
    size_t len = strlen(small);
    TAP_OK(jugMessageParse(&msg, small, len, len, MAX_CHANNELS, err, sizeof(err)) == 0,
           "message of exactly max_message_size accepted");
    jugMessageFree(&msg);
    TAP_OK(jugMessageParse(&msg, small, len, len - 1, MAX_CHANNELS, err, sizeof(err)) == -1 &&
           strstr(err, "more than the limit"), "message one byte over max_message_size refused (%s)", err);
}

static void testExcept(void) {
    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN] = "";
    TAP_OK(parse(&msg, "{\"channel\":\"a\",\"except\":\"AAAAAAAAAAAAAAAAAAAAAA\"}", err) == 0 &&
           msg.except_count == 1 && !strcmp(msg.except[0], "AAAAAAAAAAAAAAAAAAAAAA"),
           "except as a string");
    jugMessageFree(&msg);
    TAP_OK(parse(&msg, "{\"channel\":\"a\",\"except\":12345}", err) == 0 && msg.except_count == 1 &&
           !strcmp(msg.except[0], "12345"), "except as a number becomes its text");
    jugMessageFree(&msg);
    TAP_OK(parse(&msg, "{\"channel\":\"a\",\"except\":[\"x\",7,\"y\"]}", err) == 0 &&
           msg.except_count == 3 && !strcmp(msg.except[0], "x") && !strcmp(msg.except[1], "7") &&
           !strcmp(msg.except[2], "y"), "except as an array of strings and numbers");
    jugMessageFree(&msg);
    TAP_OK(parse(&msg, "{\"channel\":\"a\",\"except\":[]}", err) == 0 && msg.except_count == 0,
           "except as an empty array");
    jugMessageFree(&msg);
    TAP_OK(parse(&msg, "{\"channel\":\"a\",\"except\":null}", err) == 0 && msg.except_count == 0,
           "except null ignored");
    jugMessageFree(&msg);
    refused("{\"channel\":\"a\",\"except\":{\"a\":1}}", "\"except\"", "except as an object");
    refused("{\"channel\":\"a\",\"except\":true}", "\"except\"", "except as a boolean");
    refused("{\"channel\":\"a\",\"except\":[\"x\",[1]]}", "\"except\"", "except array holding an array");
}

static void testData(void) {
    dataIs("{\"channel\":\"a\",\"data\":\"foo\"}", "\"foo\"", "string");
    dataIs("{\"channel\":\"a\",\"data\":\"\\u00e9\\n\\\"q\\\" \\/\"}", "\"\\u00e9\\n\\\"q\\\" \\/\"",
           "string with escapes");
    dataIs("{\"channel\":\"a\",\"data\":42}", "42", "integer");
    dataIs("{\"channel\":\"a\",\"data\":-0.5e-3}", "-0.5e-3", "number in exponent form");
    dataIs("{\"channel\":\"a\",\"data\":12345678901234567890}", "12345678901234567890", "big integer");
    dataIs("{\"channel\":\"a\",\"data\":0.1000000000000000055511151231257827}",
           "0.1000000000000000055511151231257827", "long decimal");
    dataIs("{\"channel\":\"a\",\"data\":true}", "true", "true");
    dataIs("{\"channel\":\"a\",\"data\":false}", "false", "false");
    dataIs("{\"channel\":\"a\",\"data\":null}", "null", "null");
    dataIs("{\"channel\":\"a\",\"data\":[1,\"two\",[3],{\"four\":4}]}", "[1,\"two\",[3],{\"four\":4}]",
           "array");
    dataIs("{\"data\":{\"a\":{\"b\":[{\"c\":12345678901234567890}]},\"s\":\"}]\"},\"channel\":\"a\"}",
           "{\"a\":{\"b\":[{\"c\":12345678901234567890}]},\"s\":\"}]\"}", "nested object before channel");
    dataIs("{\"channel\":\"a\",\"x\":{\"data\":1},\"data\":2}", "2", "top-level data, not a nested one");
    dataIs("{\"channel\":\"a\",\"da\\\"ta\":1,\"data\":3}", "3", "key with an escaped quote skipped");
    dataIs("{ \"channel\" : \"a\" , \"data\" : { \"k\" : 1 } }", "{ \"k\" : 1 }", "spaces kept");
    dataIs("{\"channel\":\"a\",\"data\":{\n\"k\":\r\n1}}", "{ \"k\":  1}",
           "newlines in data become spaces (one line per delivery)");
}

static void testRefused(void) {
    refused("not json", "not valid JSON", "text that is not JSON");
    refused("", "not valid JSON", "empty text");
    refused("[1,2]", "not a JSON object", "an array");
    refused("\"channels\"", "not a JSON object", "a string");
    refused("42", "not a JSON object", "a number");
    refused("{\"channel\":\"a\"} x", "not valid JSON", "trailing garbage");
    refused("{\"channel\":\"a\"}{}", "not valid JSON", "two objects");
    refused("{\"channel\":\"a\"", "not valid JSON", "unterminated object");
    refused("{\"channel\":\"a\",\"event\":5}", "\"event\"", "event that is not a string");

    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN] = "";
    TAP_OK(parse(&msg, "  {\"channel\":\"a\"}\r\n", err) == 0, "surrounding whitespace accepted");
    jugMessageFree(&msg);
    const char withNul[] = "{\"channel\":\"a\"}\0garbage";
    TAP_OK(jugMessageParse(&msg, withNul, sizeof(withNul) - 1, MAX_SIZE, MAX_CHANNELS, err,
                           sizeof(err)) == -1, "bytes after a NUL refused");
}

static void testRaw(void) {
    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN] = "";
    const char *text = "hello \"world\"";
    TAP_OK(jugMessageFromRaw(&msg, "news", text, strlen(text), MAX_SIZE, err, sizeof(err)) == 0,
           "raw text accepted (%s)", err);
    TAP_OK(msg.channel_count == 1 && !strcmp(msg.channels[0], "news"), "raw message goes to its channel");
    TAP_STR_EQ(msg.data_json, "\"hello \\\"world\\\"\"", "raw text becomes a JSON string");
    TAP_OK(!msg.event && msg.except_count == 0, "raw text: no event or except");
    jugMessageFree(&msg);

    const char *json = "{\"event\":\"update\",\"id\":\"42\",\"v\":[1,2]}";
    TAP_OK(jugMessageFromRaw(&msg, "news", json, strlen(json), MAX_SIZE, err, sizeof(err)) == 0,
           "raw JSON accepted");
    TAP_STR_EQ(msg.event, "update", "raw JSON: event key");
    TAP_STR_EQ(msg.data_json, json, "raw JSON passed as data");
    jugMessageFree(&msg);

    const char *big = "{\"n\":12345678901234567890,\n\"f\":1.50}";
    TAP_OK(jugMessageFromRaw(&msg, "news", big, strlen(big), MAX_SIZE, err, sizeof(err)) == 0,
           "raw JSON with a big number accepted");
    TAP_STR_EQ(msg.data_json, "{\"n\":12345678901234567890, \"f\":1.50}",
               "raw JSON passed byte for byte (newline made a space)");
    jugMessageFree(&msg);

    TAP_OK(jugMessageFromRaw(&msg, "news", "17", 2, MAX_SIZE, err, sizeof(err)) == 0, "raw number");
    TAP_STR_EQ(msg.data_json, "17", "raw number passed as a number");
    jugMessageFree(&msg);

    TAP_OK(jugMessageFromRaw(&msg, "bad channel", "x", 1, MAX_SIZE, err, sizeof(err)) == -1 &&
           strstr(err, "channel"), "raw message to an invalid channel refused");
    TAP_OK(jugMessageFromRaw(&msg, "", "x", 1, MAX_SIZE, err, sizeof(err)) == -1, "empty raw channel refused");
    TAP_OK(jugMessageFromRaw(&msg, "news", "xyz", 3, 2, err, sizeof(err)) == -1 &&
           strstr(err, "more than the limit"), "oversized raw message refused");
    TAP_OK(jugMessageFromRaw(&msg, "news", "{\"event\":1}", 11, MAX_SIZE, err, sizeof(err)) == -1 &&
           strstr(err, "event"), "raw JSON with a non-string event refused");
    TAP_OK(jugMessageFromRaw(&msg, "news", "{\"event\":\"a\\nb\"}", 16, MAX_SIZE, err, sizeof(err)) == -1,
           "raw event with a newline refused (it would break SSE)");
}

static void testHelpers(void) {
    TAP_OK(jugChannelValid("abc", 3) && !jugChannelValid("abc", 0) && !jugChannelValid("a b", 3),
           "jugChannelValid");
}

/* Inputs the fuzzer (tests/fuzz/fuzz_message.c) found mishandled. */
static void testFuzzFound(void) {
    /* cJSON takes these; a browser's JSON.parse does not, so one such
     * delivery would fail every poll that carried it. */
    refused("{\"channel\":\"a\",\"data\":01}", "not valid JSON", "leading zero");
    refused("{\"channel\":\"a\",\"data\":1.}", "not valid JSON", "number ending in '.'");
    refused("{\"channel\":\"a\",\"data\":-.5}", "not valid JSON", "number without integer part");
    refused("{\"channel\":\"a\",\"data\":\"a\tb\"}", "not valid JSON", "raw tab in a string");
    refused("\xef\xbb\xbf{\"channel\":\"a\"}", "not valid JSON", "leading BOM");

    /* A raw NUL inside a key cut the Jugglite payload short at the NUL. */
    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN] = "";
    const char nul[] = "{\"da\0\":1}";
    TAP_OK(jugMessageFromRaw(&msg, "news", nul, sizeof(nul) - 1, MAX_SIZE, err, sizeof(err)) == -1 &&
           strstr(err, "NUL") && !msg.data_json, "raw payload with a NUL byte refused, not cut short");

    /* An escaped key is the same key: "data" spelled twice is refused, and
     * a key with an escaped NUL is not "data". */
    refused("{\"channel\":\"a\",\"d\\u0061ta\":1,\"data\":2}", "duplicate key", "\"data\" spelled twice");
    dataIs("{\"channel\":\"a\",\"data\\u0000x\":[3],\"data\":2}", "2", "beside a key with \\u0000");
    refused("{\"ch\\u0061nnel\":\"a\\u0000b\"}", "NUL", "NUL in a channel behind an escaped key");

    /* A number beyond long long as an except id (was undefined behaviour). */
    TAP_OK(parse(&msg, "{\"channel\":\"a\",\"except\":[-2.5e50,1e300,12]}", err) == 0 &&
           msg.except_count == 3 && !strcmp(msg.except[2], "12"), "huge except numbers accepted as text");
    jugMessageFree(&msg);
}

/* What a browser's JSON.parse or a strict UTF-8 decoder would choke on, or
 * read differently from us (issue 8): refused with the reason. */
static void testStrict(void) {
    static const struct {
        int line;
        const char *json, *reason;
    } cases[] = {
        {__LINE__, "{\"channel\":\"a\",\"data\":\"\xc3\x28\"}", "invalid UTF-8 at byte 23"},
        {__LINE__, "{\"channel\":\"a\",\"data\":\"\xed\xa0\x80\"}", "invalid UTF-8"},
        {__LINE__, "{\"channel\":\"a\",\"data\":\"\xc0\xaf\"}", "invalid UTF-8"},
        {__LINE__, "{\"channel\":\"a\",\"data\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8"},
        {__LINE__, "{\"channel\":\"a\",\"data\":1e999999}", "number out of range at byte 22"},
        {__LINE__, "{\"channel\":\"a\",\"data\":[-1e309]}", "number out of range"},
        {__LINE__, "{\"channel\":\"a\",\"data\":\"\\ud800\"}", "escaped lone surrogate at byte 23"},
        {__LINE__, "{\"channel\":\"a\",\"channel\":\"b\"}", "duplicate key at byte 15"},
        {__LINE__, "{\"channel\":\"a\",\"data\":{\"k\":1,\"k\":2}}", "duplicate key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jugMessage msg;
        char err[JUG_MESSAGE_ERRLEN] = "";
        int rc = parse(&msg, cases[i].json, err);
        TAP_OK(rc == -1 && strstr(err, cases[i].reason) && !msg.data_json, "line %d: refused (%s)",
               cases[i].line, err);
        if (rc == 0) jugMessageFree(&msg);
    }
    dataIs("{\"channel\":\"a\",\"data\":[\"\\ud83d\\ude00\",1e-999999,\"\xf0\x9f\x98\x80\"]}",
           "[\"\\ud83d\\ude00\",1e-999999,\"\xf0\x9f\x98\x80\"]", "with pairs, tiny numbers, 4-byte UTF-8");

    /* Jugglite raw payloads: text that is not strict JSON goes as a string,
     * as Jugglite sent it; bytes that are not UTF-8 cannot. */
    jugMessage msg;
    char err[JUG_MESSAGE_ERRLEN] = "";
    const char *dup = "{\"a\":1,\"a\":2}";
    TAP_OK(jugMessageFromRaw(&msg, "news", dup, strlen(dup), MAX_SIZE, err, sizeof(err)) == 0,
           "raw payload with a repeated key accepted");
    TAP_STR_EQ(msg.data_json, "\"{\\\"a\\\":1,\\\"a\\\":2}\"", "as a string");
    jugMessageFree(&msg);
    TAP_OK(jugMessageFromRaw(&msg, "news", "caf\xc3", 4, MAX_SIZE, err, sizeof(err)) == -1 &&
           strstr(err, "UTF-8") && !msg.data_json, "raw payload that is not UTF-8 refused (%s)", err);
    TAP_OK(jugMessageFromRaw(&msg, "news", "[\"\xff\"]", 5, MAX_SIZE, err, sizeof(err)) == -1,
           "raw JSON with invalid UTF-8 refused");
    const char *own = "{\"id\":\"42\",\"v\":1}";
    TAP_OK(jugMessageFromRaw(&msg, "news", own, strlen(own), MAX_SIZE, err, sizeof(err)) == 0 &&
           !strcmp(msg.data_json, own), "a raw message's own id stays in its data");
    jugMessageFree(&msg);
}

int main(void) {
    testChannels();
    testLimits();
    testExcept();
    testData();
    testRefused();
    testRaw();
    testHelpers();
    testFuzzFound();
    testStrict();
    return tapDone();
}
