/* thread.h -- starting the worker's own threads (the event loop, the
 * embedded poller, the process counter, handler threads): each with the
 * stack it needs instead of the default 8 MiB of address space. */
#ifndef JUG_THREAD_H
#define JUG_THREAD_H

#include <pthread.h>
#include <stddef.h>

/* Start fn(arg) on a thread with stack_size bytes of stack, detached or
 * joinable. 0, or the error number pthread_create gave. */
static inline int jugThreadStart(pthread_t *thread, size_t stack_size, int detached, void *(*fn)(void *),
                                 void *arg) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack_size);
    if (detached) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(thread, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc;
}

#endif
