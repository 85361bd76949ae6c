/* sid.c -- session ids from the kernel CSPRNG (see sid.h). */
#include "autoconfig.h"
#include "sid.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef HAVE_GETRANDOM
#include <sys/random.h>
#endif

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int randomBytes(unsigned char *buf, size_t len) {
#ifdef HAVE_GETRANDOM
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        got += (size_t)n;
    }
    if (got == len) return 0;
#endif
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = read(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    close(fd);
    return off == len ? 0 : -1;
}

int jugSidGenerate(char out[JUG_SID_LEN + 1]) {
    unsigned char raw[17]; /* 128 random bits + 8 spare to fill the last base64 digit */
    if (randomBytes(raw, sizeof(raw)) < 0) return -1;
    /* 22 base64 digits of 6 bits = 132 bits, all from the CSPRNG. */
    unsigned bits = 0, nbits = 0;
    size_t in = 0;
    for (int i = 0; i < JUG_SID_LEN; i++) {
        if (nbits < 6) {
            bits = (bits << 8) | raw[in++];
            nbits += 8;
        }
        out[i] = alphabet[(bits >> (nbits - 6)) & 63];
        nbits -= 6;
    }
    out[JUG_SID_LEN] = '\0';
    return 0;
}

int jugSidValid(const char *s, size_t len) {
    if (len != JUG_SID_LEN) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}
