/* Outbound HTTP sender of the deliver service: one thread drives a libcurl multi handle that
 * POSTs webhook requests with keep-alive connection reuse, bounded concurrency, timeouts, no
 * redirects, http/https only, and a connect-time address check (the SSRF guard). Requests are
 * queued from any thread; each one's callback runs exactly once on the sender's thread.
 * Metrics: deliver_http_requests_total{code_class}, deliver_http_seconds, deliver_http_in_flight.
 */
#ifndef DELIVER_SENDER_H
#define DELIVER_SENDER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct deliver_sender deliver_sender_t;

typedef struct {
    int max_connections;       /* total concurrent transfers (deliver.max_connections) */
    long timeout_ms;           /* whole transfer (deliver.timeout_ms) */
    long connect_timeout_ms;   /* TCP + TLS handshake */
    size_t max_response_bytes; /* read at most this much; more → result.truncated, transfer cut */
    /* Called for every address libcurl is about to connect to (CURLOPT_OPENSOCKETFUNCTION);
     * return 0 to refuse (SSRF guard at connect time). NULL = allow all. Runs on the sender's
     * thread. */
    int (*allow_addr)(void *opaque, const struct sockaddr *sa);
    void *allow_opaque;
} deliver_sender_opts_t;

typedef struct {
    const char *url;
    const char *const *headers; /* "Name: value" lines, NULL-terminated; copied. Without a
                                 * Content-Type line, "Content-Type: application/json" is sent */
    const void *body;           /* copied */
    size_t len;
    long timeout_ms; /* 0 = opts */
} deliver_request_t;

typedef enum {
    DELIVER_NET_OK = 0,
    DELIVER_NET_TIMEOUT,
    DELIVER_NET_CONNECT,
    DELIVER_NET_RESET,
    DELIVER_NET_REFUSED_ADDR,
    DELIVER_NET_TLS,
    DELIVER_NET_OTHER
} deliver_net_t;

typedef struct {
    deliver_net_t net;      /* OK when an HTTP answer arrived */
    int status;             /* HTTP status, 0 when none (always 0 when net is not OK) */
    int64_t latency_ms;     /* from the start of the transfer to its end */
    int64_t retry_after_ms; /* from Retry-After (seconds or HTTP-date), -1 when absent */
    int redirect;           /* 3xx: never followed (counted as a failure by the caller) */
    int truncated;          /* body over max_response_bytes */
    char error[256];        /* human reason: "timeout after 15000 ms", "connection refused" */
    char excerpt[1024];     /* first bytes of the body, NUL-terminated */
} deliver_result_t;

/* Called once per submitted request, on the sender's thread; r is borrowed for the call. The
 * callback may submit new requests. */
typedef void (*deliver_done_fn)(const deliver_result_t *r, void *opaque);

/* Returns a new sender with its thread running, or NULL with errstr (bad options, out of
 * memory, thread creation). o is copied. Free with deliver_sender_destroy. */
deliver_sender_t *deliver_sender_new(const deliver_sender_opts_t *o, char *errstr, size_t n);

/* Queues req (copied); cb runs exactly once later (also on destroy: net OTHER "shut down").
 * Thread-safe, never blocks on the network. When the copy cannot be allocated, cb runs at once
 * on the calling thread with net OTHER "out of memory". */
void deliver_sender_submit(deliver_sender_t *s, const deliver_request_t *req, deliver_done_fn cb,
                           void *opaque);

/* Returns transfers running + queued; a request counts until its callback has returned. */
size_t deliver_sender_pending(deliver_sender_t *s);

/* Stops the thread: running and queued requests complete with net OTHER "shut down" (their
 * callbacks run before this returns), then frees s. NULL is a no-op. Do not call from a
 * callback. */
void deliver_sender_destroy(deliver_sender_t *s);

#endif
