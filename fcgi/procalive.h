/* procalive.h -- this worker process, counted alive in Redis.
 *
 * Where a held request pins a whole process (Apache mod_fcgid), a hold is
 * granted only while enough of the host's live worker processes stay free
 * for short requests (host.h, jugHostHoldReserve; poll.lua). To count them,
 * each such process keeps an expiring entry in <prefix>procs: a thread
 * refreshes it every few seconds (one small Lua call) and removes it when
 * the process stops; one that dies unannounced expires within seconds. */
#ifndef JUG_PROCALIVE_H
#define JUG_PROCALIVE_H

#include "config.h"

/* Start counting this process (instance: park.h's) if the host needs it
 * (jugHostHoldReserve() > 0). 0, or -1 (logged) if the thread could not start. */
int jugProcAliveStart(const jugConfig *cfg, const char *instance);

/* Stop: the entry is removed (best effort). */
void jugProcAliveStop(void);

#endif
