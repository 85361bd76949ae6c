/* fuzz_script.c -- libFuzzer target for fcgi/response.c's JSONP helpers:
 * jugJsonForScript (JSON made safe inside <script>) and jugCallbackValid.
 * Checks that the script-safe copy has no '<', '>', '&', U+2028 or U+2029
 * and still reads as the same JSON value, and that every accepted callback
 * matches the documented pattern. */
#include "autoconfig.h"
#include "response.h"
#include "json.h"
#include "oracle.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* ^[A-Za-z_$][A-Za-z0-9_$]{0,63}(\.[A-Za-z_$][A-Za-z0-9_$]{0,63}){0,3}$ */
static int callbackPattern(const char *s) {
    int parts = 0;
    for (;;) {
        size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$0123456789");
        if (n == 0 || n > 64 || (*s >= '0' && *s <= '9') || ++parts > 4) return 0;
        s += n;
        if (!*s) return 1;
        if (*s++ != '.') return 0;
    }
}

static void checkScript(const char *json, size_t len) {
    char *safe = jugJsonForScript(json, len);
    ORACLE_CHECK(safe != NULL);
    ORACLE_CHECK(!strpbrk(safe, "<>&"));
    ORACLE_CHECK(!strstr(safe, "\xe2\x80\xa8") && !strstr(safe, "\xe2\x80\xa9"));
    if (jugJsonValid(json, len)) {
        ORACLE_CHECK(jugJsonValid(safe, strlen(safe)));
        cJSON *a = cJSON_ParseWithLength(json, len), *b = cJSON_Parse(safe);
        char *pa = a ? cJSON_PrintUnformatted(a) : NULL, *pb = b ? cJSON_PrintUnformatted(b) : NULL;
        ORACLE_CHECK(pa && pb && !strcmp(pa, pb));
        free(pa);
        free(pb);
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    free(safe);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = oracleCopy(data, size);
    /* Only NUL-free text reaches it in the worker (strlen of a C string). */
    checkScript(s, strlen(s));
    ORACLE_CHECK(jugCallbackValid(s) == callbackPattern(s));
    free(s);
    return 0;
}
