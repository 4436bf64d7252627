/* Stop signals and the URL line of the service commands (see cli_service.h). */
#include "cli_service.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "hs_log.h"

static void stop_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

void cli_service_block_signals(void) {
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void cli_service_print_url(const char *listen, int port) {
    const char *colon = strrchr(listen, ':');
    printf("http://%.*s:%d\n", (int)(colon ? colon - listen : 0), listen, port);
    fflush(stdout);
}

static void *wait_signal(void *arg) {
    cli_service_waiter_t *w = arg;
    sigset_t set;
    stop_signals(&set);
    int sig = 0;
    sigwait(&set, &sig);
    char msg[96];
    snprintf(msg, sizeof msg, "%s stopping", w->service);
    hs_log(HS_LOG_INFO, msg, "{s:s}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    w->stop(w->arg);
    return NULL;
}

void cli_service_wait_start(cli_service_waiter_t *w, const char *service, void (*stop)(void *),
                            void *arg) {
    *w = (cli_service_waiter_t){.service = service, .stop = stop, .arg = arg};
    pthread_create(&w->thread, NULL, wait_signal, w);
}

void cli_service_wait_end(cli_service_waiter_t *w) {
    pthread_kill(w->thread, SIGTERM); /* ends the wait when the service returned by itself */
    pthread_join(w->thread, NULL);
}
