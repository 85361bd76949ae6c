/* tap.h -- a tiny TAP producer for the C unit tests (automake's tap-driver reads it). */
#ifndef JUG_TAP_H
#define JUG_TAP_H

#include <stdio.h>
#include <string.h>

static int tapCount, tapFailed;

#define TAP_OK(cond, ...)                                                      \
    do {                                                                       \
        int tapPass = !!(cond); /* once: cond may have side effects */         \
        tapCount++;                                                            \
        if (tapPass) printf("ok %d - ", tapCount);                             \
        else {                                                                 \
            tapFailed++;                                                       \
            printf("not ok %d - ", tapCount);                                  \
        }                                                                      \
        printf(__VA_ARGS__);                                                   \
        printf("\n");                                                          \
        if (!tapPass) printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        fflush(stdout);                                                        \
    } while (0)

#define TAP_STR_EQ(got, want, ...)                                             \
    do {                                                                       \
        const char *tapGot = (got), *tapWant = (want);                         \
        int tapSame = tapGot && tapWant && !strcmp(tapGot, tapWant);           \
        TAP_OK(tapSame, __VA_ARGS__);                                          \
        if (!tapSame) printf("#   got '%s', want '%s'\n", tapGot ? tapGot : "(null)", \
                             tapWant ? tapWant : "(null)");                    \
    } while (0)

/* Print the plan last (TAP allows it) and exit non-zero if anything failed. */
static inline int tapDone(void) {
    printf("1..%d\n", tapCount);
    return tapFailed ? 1 : 0;
}

#endif
