/* What the long-running service commands share (deliver, workflows): stopping on SIGINT or
 * SIGTERM (the signals are blocked in every thread and one waiter thread takes them and asks the
 * service to stop, so no signal handler runs in the middle of the service's code) and the URL
 * line they print on stdout once they listen. */
#ifndef HS_CLI_SERVICE_H
#define HS_CLI_SERVICE_H

#include <pthread.h>

typedef struct {
    pthread_t thread;
    const char *service;  /* "deliver": logged as "deliver stopping" */
    void (*stop)(void *); /* asks the service to return from its run; safe from any thread */
    void *arg;
} cli_service_waiter_t;

/* Blocks SIGINT and SIGTERM in the calling thread; call before any thread starts, so every
 * thread inherits the mask and the waiter is where they arrive. */
void cli_service_block_signals(void);
/* Prints "http://HOST:PORT" (HOST from listen "HOST:PORT", port the bound one) on stdout and
 * flushes it: scripts and `hookstream dev` read it to find a service started on port 0. */
void cli_service_print_url(const char *listen, int port);
/* Starts the waiter: on SIGINT/SIGTERM it logs "<service> stopping" and calls stop(arg).
 * service and arg borrowed until cli_service_wait_end. */
void cli_service_wait_start(cli_service_waiter_t *w, const char *service, void (*stop)(void *),
                            void *arg);
/* Ends the waiter (when the service returned by itself, no signal came) and joins it. */
void cli_service_wait_end(cli_service_waiter_t *w);

#endif
