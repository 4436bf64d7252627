/* The delivery path's hand-over between threads: a job queued by the dispatch thread may be sent
 * and freed by another thread's pump before the dispatch thread returns. The window is forced
 * open by pausing the dispatch thread right after it releases the endpoint lock, letting the
 * job go through the sender to its end meanwhile; the dispatch thread must not read the job
 * afterwards (under ASan that read is a heap-use-after-free, without it a crash). Postgres comes
 * from HS_POSTGRES_DSN (the attempt log), in a private database. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../consumers/deliver/deliver_internal.h"
#include "hs_pg.h"
#include "test_db.h"

static char err[512];
static deliver_t d;
static deliver_ep_t ep;

/* The pause: the first unlock of armed_mtx by armed_thread runs pause_fn after unlocking. */
static _Atomic(pthread_mutex_t *) armed_mtx;
static pthread_t armed_thread;
static void (*pause_fn)(void);

int pthread_mutex_unlock(pthread_mutex_t *m) {
    static int (*real)(pthread_mutex_t *);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "pthread_mutex_unlock");
    int rc = real(m);
    pthread_mutex_t *want = m;
    if (atomic_load(&armed_mtx) == m && pthread_equal(pthread_self(), armed_thread) &&
        atomic_compare_exchange_strong(&armed_mtx, &want, NULL))
        pause_fn();
    return rc;
}

static void setup(void) {
    char dsn[512];
    test_db_create("hs_deliver_dispatch", dsn, sizeof dsn);
    cr_assert_eq(
        hs_secretbox_key_parse("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                               &d.key, err, sizeof err),
        HS_OK, "%s", err);
    d.store = deliver_store_new(dsn, &d.key, 1, err, sizeof err);
    cr_assert(d.store, "%s", err);
    /* Port 1 refuses at once: the job ends quickly with a failed attempt. */
    deliver_sender_opts_t so = {.max_connections = 4,
                                .timeout_ms = 5000,
                                .connect_timeout_ms = 2000,
                                .max_response_bytes = 4096};
    d.sender = deliver_sender_new(&so, err, sizeof err);
    cr_assert(d.sender, "%s", err);
    cr_assert_eq(hs_backoff_parse("5s", &d.default_policy, err, sizeof err), HS_OK, "%s", err);
    d.default_max_in_flight = 1;
    d.queue_bound = 1000;
    d.queue_wait_ms = 60000;
    pthread_mutex_init(&d.eps_mtx, NULL);
    pthread_mutex_init(&d.delayed_mtx, NULL);

    snprintf(ep.id, sizeof ep.id, "ep_dispatchtest");
    pthread_mutex_init(&ep.mtx, NULL);
    d.breaker_opts = (hs_breaker_opts_t){.failure_rate = 0.5,
                                         .min_requests = 100,
                                         .window_ms = 10000,
                                         .open_ms = 1000,
                                         .half_open_probes = 1};
    hs_breaker_init(&ep.breaker, &d.breaker_opts);
    hs_bucket_init(&ep.bucket);
    ep.policy = d.default_policy;
    ep.def.url = strdup("http://127.0.0.1:1/hook");
    ep.def.secrets[0] = strdup("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    ep.def.nsecrets = 1;
    ep.def.enabled = 1;
    cr_assert(ep.def.url && ep.def.secrets[0]);
    d.eps = &ep;
}

static void teardown(void) {
    deliver_sender_destroy(d.sender);
    deliver_store_destroy(d.store);
    deliver_endpoint_clear(&ep.def);
    if (ep.id[0]) pthread_mutex_destroy(&ep.mtx);
    if (d.store || d.sender) {
        pthread_mutex_destroy(&d.eps_mtx);
        pthread_mutex_destroy(&d.delayed_mtx);
    }
    memset(&d, 0, sizeof d);
    memset(&ep, 0, sizeof ep);
    test_db_drop();
}

/* What another thread does while the dispatch thread is paused: frees the endpoint's slot,
 * pumps (the queued job is sent) and waits until the sender's callback has finished the job. */
static void pump_elsewhere(void) {
    pthread_mutex_lock(&ep.mtx);
    ep.in_flight = 0;
    pthread_mutex_unlock(&ep.mtx);
    deliver_pump_all(&d);
    for (int i = 0; i < 1000 && deliver_sender_pending(d.sender) > 0; i++)
        usleep(5000);
}

Test(deliver_dispatch, queued_job_finished_by_another_thread, .init = setup, .fini = teardown) {
    deliver_event_t *ev = calloc(1, sizeof *ev);
    cr_assert(ev);
    atomic_init(&ev->pending, 1);
    snprintf(ev->id, sizeof ev->id, "evt-dispatch-1");
    snprintf(ev->type, sizeof ev->type, "order.placed");
    ev->body = strdup("{}");
    cr_assert(ev->body);
    ev->body_len = 2;
    deliver_job_t *job = calloc(1, sizeof *job);
    cr_assert(job);
    *job = (deliver_job_t){.d = &d, .ev = ev, .ep = &ep, .attempt = 1};
    atomic_fetch_add(&ev->pending, 1);

    /* The endpoint's only slot is taken: the job waits in the queue. */
    ep.in_flight = 1;
    pause_fn = pump_elsewhere;
    armed_thread = pthread_self();
    atomic_store(&armed_mtx, &ep.mtx);
    deliver_job_start(job);
    cr_assert_null(atomic_load(&armed_mtx), "the pause never ran");

    cr_assert_eq(deliver_sender_pending(d.sender), 0, "the job was not sent");
    pthread_mutex_lock(&ep.mtx);
    cr_assert_null(ep.head, "the job is still queued");
    cr_assert_eq(ep.in_flight, 0);
    pthread_mutex_unlock(&ep.mtx);
    cr_assert_eq(atomic_load(&ev->pending), 1, "the job did not release its event");
    deliver_event_release(ev);
}
