/* What the hs_flags*.c files share and nothing else may use: the compiled flag, the set, the
 * flagd operator rows and their static checks, the compiled rollout fast path. */
#ifndef HS_FLAGS_INTERNAL_H
#define HS_FLAGS_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdint.h>

#include "hs_flags.h"
#include "hs_jsonlogic.h"
#include "hs_metrics.h"

#define HS_FLAGS_NREASONS 5

/* The rollout shape {"fractional": [BUCKET?, [variant, weight]...]} with literal distributions,
 * compiled so that evaluating it hashes one string and allocates nothing. */
typedef enum {
    HS_FAST_NONE,          /* not that shape: the generic JsonLogic path */
    HS_FAST_TARGETING_KEY, /* no BUCKET: flagKey + targetingKey */
    HS_FAST_VAR,           /* {"var": PATH}: its string value (null: as without BUCKET) */
    HS_FAST_CAT_KEY_VAR,   /* {"cat": [{"var": "$flagd.flagKey"}, {"var": PATH}]} */
    HS_FAST_LITERAL,       /* a literal string */
} hs_fast_kind_t;

typedef struct {
    hs_fast_kind_t kind;
    const char *text; /* PATH or the literal, borrowed from the flag's targeting */
    size_t n;         /* distributions */
    uint32_t *ends;   /* cumulative weights, ends[n - 1] = total */
    int *variant;     /* variant index per distribution, -1 when not a variant of the flag */
} hs_flags_fast_t;

/* Outcomes of evaluating a targeting. */
enum {
    HS_TARGET_MATCH,       /* a variant of the flag */
    HS_TARGET_NULL,        /* null: the default variant */
    HS_TARGET_NOT_VARIANT, /* a name that is no variant of the flag */
    HS_TARGET_FALLBACK,    /* (fast path) the generic path must decide */
    HS_TARGET_FAILED,      /* (generic path) JsonLogic failed */
};

/* One compiled flag. Immutable once its set is built, except counts and last_log.
 * @locality: shared by every thread holding the set. */
typedef struct {
    const char *key; /* borrowed from the set's document, like names and values */
    int disabled;
    size_t nvariants;
    const char **names;
    const json_t **values;
    int def;           /* defaultVariant index, -1 when none */
    json_t *targeting; /* $refs resolved; NULL when absent or {} */
    int needs_flagd;   /* the targeting may read $flagd (or all of the data) */
    hs_flags_fast_t fast;
    atomic_uint_fast64_t *counts; /* [(nvariants + 1) * HS_FLAGS_NREASONS], slot 0 = no variant */
    atomic_llong last_log;        /* unix second of the last logged failure */
} hs_flag_t;

/* Immutable once built (hs_flagset_new_ex), shared by every thread holding a reference.
 * @locality: any thread; refs and the flags' counters are atomics, nothing else changes. */
struct hs_flagset {
    atomic_int refs;
    json_t *doc;
    hs_flag_t *flags;
    size_t nflags;
    uint32_t *slots;    /* open addressing by murmur3 of the key: flag index + 1, 0 = empty */
    size_t nslots;      /* a power of two */
    hs_metric_t *evals; /* set by the store before sharing: counts are flushed into it */
};

/* The flagd operators (hs_flags_ops.c), passed to hs_jsonlogic_*_ex. */
extern const hs_jsonlogic_op_t hs_flags_ops[];
extern const size_t hs_flags_nops;

/* Checks the literal arguments of the flagd operators in logic (weights, sem_ver operators and
 * versions, string arguments, $flagd properties), which well-formedness alone lets through. */
hs_err_t hs_flags_ops_check(const json_t *logic, char *errstr, size_t errstr_size);

/* The bucket flagd puts hash into: floor(hash * total / 2^32). */
uint32_t hs_flags_bucket(uint32_t hash, uint32_t total);

/* Compiles f->targeting into f->fast when it has the rollout shape (f->fast.kind stays
 * HS_FAST_NONE otherwise); -1 when out of memory. */
int hs_flags_fast_compile(hs_flag_t *f);
void hs_flags_fast_free(hs_flags_fast_t *fast);

/* Evaluates f's compiled rollout on ctx (an object or NULL): HS_TARGET_MATCH with *variant set,
 * HS_TARGET_NULL, HS_TARGET_NOT_VARIANT, or HS_TARGET_FALLBACK when the generic path must
 * decide. */
int hs_flags_fast_eval(const hs_flag_t *f, const json_t *ctx, int *variant);

/* hs_flagset_new with the fast path off (fast = 0), for tests comparing the two paths. */
hs_flagset_t *hs_flagset_new_ex(const json_t *doc, int fast, char *errstr, size_t errstr_size);

/* Adds the set's evaluation counts since the last flush to set->evals and zeroes them. */
void hs_flagset_flush(hs_flagset_t *set);

/* ---- the topic (hs_flags_topic.c) ---------------------------------------------------------- */

/* A consumer of flags.topic that reads every partition from the beginning and notes where each
 * one's end was reached. @locality: the thread that made it. */
typedef struct hs_flags_reader hs_flags_reader_t;

/* How long a fetch waits for news (fetch.wait.max.ms): a follower's bounds the change latency;
 * reading to the end once (the CLI) takes a fetch round per partition, so it waits little. */
#define HS_FLAGS_FOLLOW_FETCH_WAIT_MS "100"
#define HS_FLAGS_READ_FETCH_WAIT_MS "10"

/* A new reader (not assigned yet) fetching with fetch_wait_ms; NULL with errstr on a bad kafka
 * configuration. cfg borrowed for the reader's life. */
hs_flags_reader_t *hs_flags_reader_new(const hs_config_t *cfg, const char *fetch_wait_ms,
                                       char *errstr, size_t errstr_size);

/* Finds the topic's partitions (creating the topic, compacted, when missing and create) and
 * assigns them from the beginning. HS_ERR_NOT_FOUND without create; HS_ERR_UNAVAILABLE when the
 * broker does not answer. */
hs_err_t hs_flags_reader_assign(hs_flags_reader_t *r, int create, char *errstr, size_t errstr_size);

/* The next record (caller rd_kafka_message_destroys it) or NULL within timeout_ms. */
rd_kafka_message_t *hs_flags_reader_next(hs_flags_reader_t *r, int timeout_ms);

/* 1 when every partition reached the end it had when assigned. */
int hs_flags_reader_at_end(const hs_flags_reader_t *r);

void hs_flags_reader_destroy(hs_flags_reader_t *r);

/* hs_flags_doc_apply of record m; a rejected record is logged with its key and offset. */
hs_err_t hs_flags_record_apply(json_t *state, const json_t *base, const rd_kafka_message_t *m);

#endif
