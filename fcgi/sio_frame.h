/* sio_frame.h -- socket.io protocol 1 framing, as Juggernaut 2.1.1 pages speak it.
 *
 * Pure text functions (no I/O, no Redis, no FastCGI) so that they can be unit
 * tested and fuzzed alone; fcgi/socketio.c does the HTTP side. The wire format
 * is written down in docs/PROTOCOL.md ("socket.io") and, with the original
 * server's bytes, in the specs the tests follow:
 *   packet   type:id[+]:endpoint[:data]        e.g. "1::", "3:::{...}", "7:::1+0"
 *   payload  one packet bare, several as  U+FFFD <length> U+FFFD <packet> ...
 *            where <length> counts UTF-16 code units (JavaScript string
 *            length: an astral character counts 2), never bytes.
 * Every function returning a malloc'd string returns NULL when memory runs out
 * (or, where documented, when the input is malformed). */
#ifndef JUG_SIO_FRAME_H
#define JUG_SIO_FRAME_H

#include <stddef.h>

/* U+FFFD in UTF-8: the payload frame marker. */
#define JUG_SIO_MARK "\xef\xbf\xbd"

enum {
    JUG_SIO_DISCONNECT = 0,
    JUG_SIO_CONNECT,
    JUG_SIO_HEARTBEAT,
    JUG_SIO_MESSAGE,
    JUG_SIO_JSON,
    JUG_SIO_EVENT,
    JUG_SIO_ACK,
    JUG_SIO_ERROR,
    JUG_SIO_NOOP
};

/* One decoded packet; the pointers point into the parsed text. */
typedef struct jugSioPacket {
    int type;                /* JUG_SIO_* */
    const char *endpoint;    /* "" for the default namespace Juggernaut uses */
    size_t endpoint_len;
    const char *data;        /* everything after the third ':' ("" if none) */
    size_t data_len;
} jugSioPacket;

/* The URL below ".../socket.io/": which request of the protocol it is. */
typedef enum {
    JUG_SIO_PATH_WELCOME = 0,   /* "" : "Welcome to socket.io." */
    JUG_SIO_PATH_BAD_PROTOCOL,  /* a protocol other than 1 */
    JUG_SIO_PATH_HANDSHAKE,     /* "1/" */
    JUG_SIO_PATH_TRANSPORT,     /* "1/<transport>/<sid>" */
    JUG_SIO_PATH_INVALID        /* anything else (more segments, empty parts) */
} jugSioPathKind;

typedef struct jugSioPath {
    jugSioPathKind kind;
    const char *transport;   /* JUG_SIO_PATH_TRANSPORT: points into the path */
    size_t transport_len;
    const char *sid;         /* may be empty (length 0) */
    size_t sid_len;
} jugSioPath;

/* Where "socket.io/" begins in a URL path ("/a/socket.io/1/" -> "socket.io/1/"),
 * as a whole segment and before any '?' or '#'; NULL if it does not occur. */
const char *jugSioResource(const char *path);

/* Split what follows "socket.io/" (up to '?' or '#') like the original server's
 * /^\/([^\/]+)\/?([^\/]+)?\/?([^\/]+)?\/?$/. */
void jugSioParsePath(const char *rest, jugSioPath *out);

/* UTF-16 code units of UTF-8 text: 1 per character below U+10000, 2 above.
 * Bytes that are not valid UTF-8 count 1 each (what a browser decodes them
 * to, U+FFFD, is one unit). */
size_t jugSioUtf16Len(const char *s, size_t len);

/* Parse one packet. Returns 0, or -1 if it is not "digit:id:endpoint[:data]"
 * with a type 0-8 and an id of digits with an optional '+'. */
int jugSioParsePacket(const char *s, size_t len, jugSioPacket *out);

/* Called once per packet of a payload; return 0 to go on, -1 to stop
 * (jugSioDecodePayload then returns -1). */
typedef int (*jugSioPacketFn)(void *arg, const char *packet, size_t len);

/* Split a payload: framed if it starts with U+FFFD, else one packet. The
 * lengths are UTF-16 units and must land on character boundaries. Returns
 * the number of packets, or -1 if the framing is malformed or fn stopped.
 * No packet is passed on before the whole payload is known to be well formed. */
int jugSioDecodePayload(const char *body, size_t len, jugSioPacketFn fn, void *arg);

/* Append one packet to a payload being built in out (which holds *outlen
 * bytes; grown with realloc). framed: write the U+FFFD frame in front.
 * Returns 0, or -1 when out of memory (out is then freed and NULL). */
int jugSioAppendPacket(char **out, size_t *outlen, const char *packet, size_t len, int framed);

/* The message packet of a stored delivery {"id":N,"channel":"C",REST}:
 * "3:::{REST,"channel":"C"}", the published object without "channels",
 * with "channel", as the original server wrote it. NULL if the text is not
 * such a delivery (or out of memory). */
char *jugSioDeliveryPacket(const char *delivery, size_t len, size_t *outlen);

/* A JavaScript string literal (with the double quotes) of UTF-8 text that is
 * pure ASCII: every character >= 0x7F and every control character as \uXXXX
 * (astral ones as surrogate pairs; invalid bytes as \ufffd), '"' and '\' escaped,
 * '/' after '<' as "\/" and '<' before '!' as \u003c, so neither "</script>"
 * nor "<!--" can appear. Safe in a <script>
 * element and in a script of any charset; U+2028/U+2029 cannot break it. */
char *jugSioJsString(const char *s, size_t len, size_t *outlen);

/* The jsonp-polling POST: from a form body, the value of "d" percent-decoded
 * ('+' is a space), then parsed as a JSON string literal. Returns the payload
 * (malloc'd, NUL-terminated, *outlen bytes), or NULL if there is no "d", the
 * encoding is bad, the value is not a JSON string, or it holds a NUL. */
char *jugSioFormPayload(const char *body, size_t len, size_t *outlen);

/* The cookies called name in a Cookie header ("a=1; b=2"), one per call:
 * start with *pos = header; returns the next one's value (trailing spaces
 * left out, *len bytes, pointing into the header) and moves *pos past it,
 * or NULL when there is none left. */
const char *jugSioCookieNext(const char **pos, const char *name, size_t *len);

#endif
