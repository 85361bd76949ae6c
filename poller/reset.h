/* reset.h -- telling apps that Redis lost writes, so rosters lose their ghosts.
 *
 * When Redis restarts without persistence (or from an older snapshot, or a
 * lagging replica is promoted), sessions vanish without unsubscribe events.
 * The lease script counts the holder's renewals in <prefix>alive; a count
 * that went back tells the active poller (leader.c), which then publishes
 * <channel>:reset and a subscribe event for every channel of every session
 * that survived (common/lua/announce.lua). See docs/PROTOCOL.md, "Server
 * events". */
#ifndef JUG_POLLER_RESET_H
#define JUG_POLLER_RESET_H

#include <hiredis/hiredis.h>
#include "config.h"

/* Publish the reset event and re-announce the surviving sessions.
 * Returns 0, or -1 when the connection failed. */
int jugResetAnnounce(redisContext *c, const jugConfig *cfg);

#endif
