/* sid.h -- session ids: 128 bits from the kernel CSPRNG, base64url, 22 chars. */
#ifndef JUG_SID_H
#define JUG_SID_H

#include <stddef.h>

#define JUG_SID_LEN 22

/* Write a fresh id and its NUL into out (JUG_SID_LEN + 1 bytes).
 * Returns 0, or -1 if the kernel gave no random bytes. */
int jugSidGenerate(char out[JUG_SID_LEN + 1]);

/* 1 if s (len bytes) has the form of a session id, else 0. */
int jugSidValid(const char *s, size_t len);

#endif
