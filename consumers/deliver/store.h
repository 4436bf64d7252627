/* The delivery store: endpoints with their secrets (AES-256-GCM sealed at rest, aad = endpoint
 * id), the attempt log (written in batches by a writer thread so the delivery path never waits
 * on Postgres), replays claimed by one runner at a time, and the admin audit trail. Tables come
 * from schemas/sql/002_delivery.sql. Every function is thread-safe: statements run on a small
 * pool of connections, the attempt writer has its own. */
#ifndef DELIVER_STORE_H
#define DELIVER_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_err.h"
#include "hs_secretbox.h"

typedef struct deliver_store deliver_store_t;

#define DELIVER_ID_LEN 40
#define DELIVER_MAX_SECRETS 8

typedef struct {
    char id[DELIVER_ID_LEN]; /* "ep_" + 26 chars (uuid-based, lower-case) */
    char *url;               /* owned */
    char *description;       /* owned, may be "" */
    char **event_types;      /* owned array of owned strings: types or "order.*", "*" */
    size_t n_event_types;
    json_t *filter; /* owned reference; NULL = none (JsonLogic on the event) */
    int enabled;
    char disabled_reason[128]; /* "410 Gone", "disabled by <actor>" */
    double rate_limit;         /* deliveries/s; 0 = unlimited */
    int max_in_flight;         /* 0 = config deliver.max_in_flight */
    int ordered;
    char policy[128];                   /* backoff spec (hs_backoff_parse); "" = config default */
    char integration[64]; /* kill switch: flag integration.<name>.enabled; "" = none */
    char *secrets[DELIVER_MAX_SECRETS]; /* owned, decrypted, newest first; only unexpired ones */
    size_t nsecrets;
    char secret_error[256]; /* why the secrets did not decrypt ("" when they did):
                               such an endpoint has none and cannot be signed for */
    int64_t created_ms, updated_ms;
} deliver_endpoint_t;

/* Frees the owned fields of e and zeroes it (a zeroed e is fine; NULL is a no-op). */
void deliver_endpoint_clear(deliver_endpoint_t *e);
/* Returns a new reference: the API view of e, WITHOUT secrets. */
json_t *deliver_endpoint_json(const deliver_endpoint_t *e);

/* Opens the store: connects pool connections (1..32) and the attempt writer's, runs
 * hs_pg_migrate once. key is borrowed for the store's life. Returns NULL with errstr on failure. */
deliver_store_t *deliver_store_new(const char *dsn, const hs_secretbox_key_t *key, int pool,
                                   char *errstr, size_t errstr_size);
/* Writes the queued attempts, stops the writer, closes the connections. NULL is a no-op. */
void deliver_store_destroy(deliver_store_t *s);

/* e: every field but id/created/updated filled by the caller (borrowed); on HS_OK id and times
 * are set. secret: the plaintext whsec_ secret to store encrypted (aad = endpoint id). */
hs_err_t deliver_store_endpoint_create(deliver_store_t *s, deliver_endpoint_t *e,
                                       const char *secret, char *errstr, size_t n);
/* Fills *out (caller clears with deliver_endpoint_clear); HS_ERR_NOT_FOUND when id is unknown,
 * HS_ERR_INTERNAL when a secret does not open (wrong deliver.master_key). */
hs_err_t deliver_store_endpoint_get(deliver_store_t *s, const char *id, deliver_endpoint_t *out,
                                    char *errstr, size_t n);
/* Every endpoint (enabled or not), oldest first, secrets decrypted. *out is a new array: free
 * each with deliver_endpoint_clear, then free(*out). */
hs_err_t deliver_store_endpoint_list(deliver_store_t *s, deliver_endpoint_t **out, size_t *n,
                                     char *errstr, size_t n2);
/* Replaces the mutable fields (url, description, event_types, filter, rate_limit, max_in_flight,
 * ordered, policy) of endpoint e->id (e borrowed). HS_ERR_NOT_FOUND when unknown. */
hs_err_t deliver_store_endpoint_update(deliver_store_t *s, const deliver_endpoint_t *e,
                                       char *errstr, size_t n);
/* Deletes the endpoint and its secrets (its attempts stay). HS_ERR_NOT_FOUND when unknown. */
hs_err_t deliver_store_endpoint_delete(deliver_store_t *s, const char *id, char *errstr, size_t n);
/* reason (may be NULL) is kept while disabled and cleared on enable. HS_ERR_NOT_FOUND. */
hs_err_t deliver_store_endpoint_set_enabled(deliver_store_t *s, const char *id, int enabled,
                                            const char *reason, char *errstr, size_t n);
/* Adds new_secret as the newest; the previous ones stay valid for grace_s seconds (rotation).
 * At most DELIVER_MAX_SECRETS stay: the oldest beyond that are dropped at once. */
hs_err_t deliver_store_secret_rotate(deliver_store_t *s, const char *id, const char *new_secret,
                                     int64_t grace_s, char *errstr, size_t n);
/* A number that changes whenever any endpoint or secret changes (cheap poll for caches). It
 * first drops the expired rotation secrets, so an expiry changes the number too. */
hs_err_t deliver_store_version(deliver_store_t *s, int64_t *version, char *errstr, size_t n);

/* ---- attempt log ---- */
typedef struct {
    char endpoint_id[DELIVER_ID_LEN];
    char event_id[128], event_type[64], topic[256];
    int32_t partition;
    int64_t offset;
    int attempt;
    char status[16]; /* succeeded | failed (final) | retrying | skipped (endpoint disabled or
                        breaker/flag hold recorded) | dead (DLQ) */
    int http_status; /* 0 when no answer */
    int64_t latency_ms;
    char error[256];                /* "timeout after 15000 ms", "connection refused", "HTTP 500" */
    char excerpt[1024];             /* first bytes of the response body (NUL-terminated, bounded) */
    char replay_id[DELIVER_ID_LEN]; /* "" unless sent by a replay */
    int64_t at_ms;                  /* 0 = now */
} deliver_attempt_t;

/* Queues a copy of *a for the batched writer thread (COPY, flushed every 100 ms or 1000 rows).
 * Text that is not UTF-8 is stored with U+FFFD in place of the bad bytes. Never blocks: when
 * the queue (deliver.attempt_queue rows) is full the row is dropped and counted (metric
 * deliver_attempt_log_dropped_total, deliver_store_attempt_dropped). */
void deliver_store_attempt_add(deliver_store_t *s, const deliver_attempt_t *a);
/* Sets the queue bound in rows (deliver.attempt_queue; 100000 until set). */
void deliver_store_attempt_queue_set(deliver_store_t *s, size_t rows);
/* Rows dropped by this store so far: queue full, or a batch Postgres refused twice. */
uint64_t deliver_store_attempt_dropped(deliver_store_t *s);
/* Waits until everything queued so far is written (tests, shutdown). HS_ERR_UNAVAILABLE when a
 * batch failed meanwhile (its rows are counted as dropped). */
hs_err_t deliver_store_attempt_flush(deliver_store_t *s, char *errstr, size_t n);
/* *out: new JSON array of attempts of an endpoint, newest first; status/since_ms optional
 * (NULL/0); limit 1..1000 (else 100). Objects: id, endpoint_id, event_id, event_type, topic,
 * partition, offset, attempt, status, http_status, latency_ms, error, excerpt, replay_id, at
 * (RFC 3339), at_ms. */
hs_err_t deliver_store_attempts(deliver_store_t *s, const char *endpoint_id, const char *status,
                                int64_t since_ms, int limit, json_t **out, char *errstr, size_t n);
/* Where event_id was read from (its latest attempt at any endpoint): HS_ERR_NOT_FOUND if never
 * seen. topic is written NUL-terminated into topic_size bytes. */
hs_err_t deliver_store_event_locate(deliver_store_t *s, const char *event_id, char *topic,
                                    size_t topic_size, int32_t *partition, int64_t *offset,
                                    char *errstr, size_t n);
/* Calls fn for each distinct event of endpoint_id whose latest attempt since since_ms is failed,
 * dead or skipped (the "recover" replay), oldest first. */
typedef int (*deliver_locate_fn)(const char *event_id, const char *topic, int32_t partition,
                                 int64_t offset, void *opaque); /* nonzero stops */
hs_err_t deliver_store_recover_each(deliver_store_t *s, const char *endpoint_id, int64_t since_ms,
                                    deliver_locate_fn fn, void *opaque, char *errstr, size_t n);

/* ---- replays ---- */
typedef struct {
    char id[DELIVER_ID_LEN]; /* "rp_..." */
    char kind[16];           /* event | range | recover */
    char endpoint_id[DELIVER_ID_LEN];
    char event_id[128];     /* kind event */
    char topic[256];        /* kind range */
    int64_t from_ms, to_ms; /* kind range */
    int64_t since_ms;       /* kind recover */
    char state[16];         /* pending | running | done | cancelled | failed */
    int64_t total, done;
    int64_t created_ms, started_ms, finished_ms; /* 0 = not yet */
    char error[256];
} deliver_replay_t;

/* Returns a new reference: r as JSON, with "eta_s" when running and progress allows a guess. */
json_t *deliver_replay_json(const deliver_replay_t *r);
/* r: kind, endpoint_id and the fields of its kind filled; on HS_OK id, state (pending) and
 * created_ms are set. HS_ERR_INVALID for an unknown kind, HS_ERR_NOT_FOUND for an unknown
 * endpoint. */
hs_err_t deliver_store_replay_create(deliver_store_t *s, deliver_replay_t *r, char *errstr,
                                     size_t n);
/* HS_ERR_NOT_FOUND when id is unknown. */
hs_err_t deliver_store_replay_get(deliver_store_t *s, const char *id, deliver_replay_t *out,
                                  char *errstr, size_t n);
/* Takes the oldest pending replay (FOR UPDATE SKIP LOCKED → running); *found = 0 when none. */
hs_err_t deliver_store_replay_claim(deliver_store_t *s, deliver_replay_t *out, int *found,
                                    char *errstr, size_t n);
/* Updates total/done/state (running | done | failed)/error of a running replay; returns
 * HS_ERR_CONFLICT when it is no longer running (cancelled meanwhile: the runner stops),
 * HS_ERR_NOT_FOUND when unknown. */
hs_err_t deliver_store_replay_progress(deliver_store_t *s, const deliver_replay_t *r, char *errstr,
                                       size_t n);
/* Cancels a pending or running replay; HS_ERR_CONFLICT when it has finished already,
 * HS_ERR_NOT_FOUND when unknown. */
hs_err_t deliver_store_replay_cancel(deliver_store_t *s, const char *id, char *errstr, size_t n);

/* ---- audit ---- */
/* Records an admin action; detail (borrowed, may be NULL) is stored as jsonb. */
hs_err_t deliver_store_audit(deliver_store_t *s, const char *actor, const char *role,
                             const char *action, const char *target, const json_t *detail,
                             char *errstr, size_t n);
/* *out: new JSON array of the newest limit (1..1000, else 100) entries, newest first: id, at
 * (RFC 3339), actor, role, action, target, detail. */
hs_err_t deliver_store_audit_list(deliver_store_t *s, int limit, json_t **out, char *errstr,
                                  size_t n);

#endif
