/* check.h -- "juggernaut.fcgi --check [URL]": tells an administrator (often
 * on a shared host, without access to the server configuration) what works
 * and what to change: Redis, the poller's lease and, given the worker's URL,
 * what the web server in front of it does to requests (.htaccess honoured,
 * streams buffered, held requests cut short). */
#ifndef JUG_CHECK_H
#define JUG_CHECK_H

#include <stdio.h>

#include "config.h"

/* Prints one line per finding to out ("name: ok (...)" or "name: PROBLEM:
 * ..." followed by "  fix: ..."). config_shown names where the configuration
 * came from; url (may be NULL) is the worker's base URL as browsers use it,
 * e.g. http://example.com/cgi-bin/juggernaut.fcgi. Returns 0 when everything
 * is fine, 1 when something is not. */
int jugCheckRun(const jugConfig *cfg, const char *config_shown, const char *url, FILE *out);

#endif
