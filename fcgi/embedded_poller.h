/* embedded_poller.h -- the poller's work in a thread of the worker.
 *
 * Where no daemon may run (a shared host), the worker processes, which run
 * whenever browsers are connected, do the poller's work: each runs one
 * poller (poller/loop.h) in a thread, and the poller lease keeps exactly one
 * of them, or a standalone juggernaut-poller, active (README, "The poller
 * where no daemon may run"). */
#ifndef JUG_EMBEDDED_POLLER_H
#define JUG_EMBEDDED_POLLER_H

#include "config.h"

/* 1 if this process should run one: the setting embedded_poller, where
 * "auto" means under mod_fcgid (host.h). */
int jugEmbeddedPollerWanted(const jugConfig *cfg);

/* Start the thread. 0, or -1 (logged) if it could not start. */
int jugEmbeddedPollerStart(const jugConfig *cfg);

/* Stop it (releasing the lease, so a standby takes over at once). */
void jugEmbeddedPollerStop(void);

#endif
