/* reaper.h -- ending sessions whose browser went away (common/lua/reap.lua).
 *
 * A session nothing polled for session_ttl seconds is ended: it leaves its
 * channels and an unsubscribe event is published for each. Only the active
 * poller reaps (it is cheaper), but the script is safe to run from several. */
#ifndef JUG_POLLER_REAPER_H
#define JUG_POLLER_REAPER_H

#include <hiredis/hiredis.h>
#include "config.h"

/* Reap in batches until a batch comes back short. Returns the number of
 * sessions ended, or -1 when the connection failed. */
long jugReaperRun(redisContext *c, const jugConfig *cfg);

#endif
