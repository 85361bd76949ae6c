/* cgi.h -- plain CGI mode: one request on stdin/stdout, through FCGX streams.
 *
 * libfcgi's FCGX_ API only serves FastCGI connections. On shared hosts the
 * same binary may be started as a plain CGI program, so this fills an
 * FCGX_Request whose streams read fd 0 and write fd 1 and whose environment
 * is the process environment; everything above it (request.c, response.c,
 * the handlers) then works the same in both modes. */
#ifndef JUG_CGI_H
#define JUG_CGI_H

#include <fcgiapp.h>

/* Set up req for the CGI request of this process. Returns 0, or -1 when
 * out of memory. ipcFd is -1: there is no connection to watch. */
int jugCgiRequestInit(FCGX_Request *req);

/* Flush the output and free what jugCgiRequestInit allocated. */
void jugCgiRequestFinish(FCGX_Request *req);

#endif
