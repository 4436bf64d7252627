/* Flag sets (hs_flags.h): a flagd document validated as a whole, compiled into flags indexed
 * by key, and evaluated the way flagd's JSON evaluator does (core/pkg/evaluator/json.go). */
#include "hs_flags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_flags_internal.h"
#include "hs_log.h"
#include "hs_murmur3.h"

#define REF_DEPTH 16          /* evaluators referring to evaluators */
#define NEST_DEPTH 128        /* JSON nesting walked while resolving $ref */
#define EXPANDED_NODES 100000 /* JSON values of one targeting after $ref expansion */

static const char *const reason_names[] = {"STATIC", "DEFAULT", "TARGETING_MATCH", "DISABLED",
                                           "ERROR"};
static const char *const error_names[] = {
    "",       "FLAG_NOT_FOUND", "FLAG_DISABLED", "PARSE_ERROR", "TYPE_MISMATCH", "INVALID_CONTEXT",
    "GENERAL"};

const char *hs_flag_reason_str(hs_flag_reason_t reason) {
    return (size_t)reason < sizeof reason_names / sizeof *reason_names ? reason_names[reason]
                                                                       : "UNKNOWN";
}

const char *hs_flag_error_str(hs_flag_error_t error) {
    return (size_t)error < sizeof error_names / sizeof *error_names ? error_names[error]
                                                                    : "GENERAL";
}

/* ---- $ref ------------------------------------------------------------------------------------ */

typedef struct {
    const json_t *evaluators; /* the document's $evaluators, may be NULL */
    long budget;              /* JSON values the expansion may still produce */
    char *err;
    size_t n;
} resolver_t;

static int is_ref(const json_t *v) {
    return json_is_object(v) && json_object_size(v) == 1 &&
           json_is_string(json_object_get(v, "$ref"));
}

/* Returns a new copy of logic with every {"$ref": NAME} replaced by evaluator NAME, itself
 * resolved (flagd substitutes the evaluator's JSON text), or NULL with r->err. */
static json_t *resolve(resolver_t *r, const json_t *logic, int refs, int nest) {
    if (--r->budget < 0) {
        hs_fail(HS_ERR_TOO_LARGE, r->err, r->n, "more than %d JSON values after $ref expansion",
                EXPANDED_NODES);
        return NULL;
    }
    if (nest > NEST_DEPTH) {
        hs_fail(HS_ERR_INVALID, r->err, r->n, "nested deeper than %d", NEST_DEPTH);
        return NULL;
    }
    if (is_ref(logic)) {
        const char *name = json_string_value(json_object_get(logic, "$ref"));
        const json_t *e = json_object_get(r->evaluators, name);
        if (!e) {
            hs_fail(HS_ERR_INVALID, r->err, r->n, "unknown $ref '%.100s'", name);
            return NULL;
        }
        if (refs >= REF_DEPTH) {
            hs_fail(HS_ERR_INVALID, r->err, r->n, "$ref '%.100s' nested deeper than %d (a cycle?)",
                    name, REF_DEPTH);
            return NULL;
        }
        return resolve(r, e, refs + 1, nest);
    }
    json_t *out = json_is_array(logic)    ? json_array()
                  : json_is_object(logic) ? json_object()
                                          : NULL;
    if (!out) return json_incref((json_t *)logic);
    size_t i;
    const char *k;
    json_t *v;
    json_array_foreach(logic, i, v) {
        json_t *c = resolve(r, v, refs, nest + 1);
        if (!c || json_array_append_new(out, c)) goto fail;
    }
    json_object_foreach((json_t *)logic, k, v) {
        json_t *c = resolve(r, v, refs, nest + 1);
        if (!c || json_object_set_new(out, k, c)) goto fail;
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* Resolves logic and checks it: well-formed JsonLogic with the flagd operators, valid literal
 * arguments. Returns the new resolved logic or NULL with errstr. */
static json_t *targeting_compile(const json_t *logic, const json_t *evaluators, char *errstr,
                                 size_t n) {
    resolver_t r = {evaluators, EXPANDED_NODES, errstr, n};
    json_t *out = resolve(&r, logic, 0, 0);
    if (out && (hs_jsonlogic_check_ex(hs_flags_ops, hs_flags_nops, out, errstr, n) ||
                hs_flags_ops_check(out, errstr, n))) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* 1 when the targeting may read $flagd or all of the data, so that evaluating it needs the
 * context copied with $flagd added; 0 when it can read the caller's context as it is. */
static int needs_flagd(const json_t *logic) {
    if (json_is_string(logic)) return strncmp(json_string_value(logic), "$flagd", 6) == 0;
    if (json_is_object(logic) && json_object_size(logic) == 1) {
        const char *op = json_object_iter_key(json_object_iter((json_t *)logic));
        const json_t *args = json_object_iter_value(json_object_iter((json_t *)logic));
        const json_t *path = json_is_array(args) ? json_array_get(args, 0) : args;
        if (!strcmp(op, "fractional") || !strncmp(op, "missing", 7)) return 1;
        if (!strcmp(op, "var") && (!json_is_string(path) || !json_string_length(path))) return 1;
    }
    size_t i;
    const char *k;
    json_t *v;
    json_array_foreach(logic, i, v) {
        if (needs_flagd(v)) return 1;
    }
    json_object_foreach((json_t *)logic, k, v) {
        if (needs_flagd(v)) return 1;
    }
    return 0;
}

/* ---- validation and compilation ----------------------------------------------------------- */

/* 1 boolean, 2 string, 3 number, 4 object, 0 anything else (not a variant value). */
static int value_kind(const json_t *v) {
    if (json_is_boolean(v)) return 1;
    if (json_is_string(v)) return 2;
    if (json_is_number(v)) return 3;
    return json_is_object(v) ? 4 : 0;
}

/* metadata: an object whose values are strings, numbers or booleans. */
static hs_err_t check_metadata(const json_t *meta, const char *whose, char *errstr, size_t n) {
    if (!meta) return HS_OK;
    if (!json_is_object(meta))
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s: metadata must be an object", whose);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)meta, k, v) {
        int kind = value_kind(v);
        if (kind < 1 || kind > 3)
            return hs_fail(HS_ERR_INVALID, errstr, n,
                           "%s: metadata '%.100s' must be a string, number or boolean", whose, k);
    }
    return HS_OK;
}

static hs_err_t compile_variants(hs_flag_t *f, const json_t *def, const char *who, char *errstr,
                                 size_t n) {
    const json_t *variants = json_object_get(def, "variants");
    if (!json_is_object(variants) || json_object_size(variants) == 0)
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "%s: variants must be an object of at least one "
                       "variant",
                       who);
    f->nvariants = json_object_size(variants);
    f->names = calloc(f->nvariants, sizeof *f->names);
    f->values = calloc(f->nvariants, sizeof *f->values);
    if (!f->names || !f->values) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    size_t i = 0;
    int kind0 = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)variants, k, v) {
        int kind = value_kind(v);
        if (!*k) return hs_fail(HS_ERR_INVALID, errstr, n, "%s: a variant name is empty", who);
        if (!kind)
            return hs_fail(HS_ERR_INVALID, errstr, n,
                           "%s: variant '%.100s' must be a boolean, "
                           "string, number or object",
                           who, k);
        if (kind0 && kind != kind0)
            return hs_fail(HS_ERR_INVALID, errstr, n,
                           "%s: variant '%.100s' is not of the type of "
                           "the others (one flag's variants are all booleans, strings, numbers or "
                           "objects)",
                           who, k);
        kind0 = kind;
        f->names[i] = k;
        f->values[i++] = v;
    }
    return HS_OK;
}

static int variant_index(const hs_flag_t *f, const char *name) {
    for (size_t i = 0; i < f->nvariants; i++)
        if (!strcmp(f->names[i], name)) return (int)i;
    return -1;
}

static hs_err_t compile_flag(hs_flag_t *f, const char *key, const json_t *def,
                             const json_t *evaluators, int fast, char *errstr, size_t n) {
    char who[160], why[400];
    snprintf(who, sizeof who, "flag '%.100s'", key);
    f->key = key;
    f->def = -1;
    if (!*key) return hs_fail(HS_ERR_INVALID, errstr, n, "a flag key is empty");
    if (!json_is_object(def)) return hs_fail(HS_ERR_INVALID, errstr, n, "%s: not an object", who);
    const char *state = json_string_value(json_object_get(def, "state"));
    if (!state)
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s: state must be ENABLED or DISABLED", who);
    if (strcmp(state, "ENABLED") && strcmp(state, "DISABLED"))
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s: state '%.40s' is not ENABLED or DISABLED",
                       who, state);
    f->disabled = !strcmp(state, "DISABLED");
    hs_err_t err = compile_variants(f, def, who, errstr, n);
    if (err) return err;
    const json_t *dv = json_object_get(def, "defaultVariant");
    if (dv && !json_is_null(dv)) {
        if (!json_is_string(dv))
            return hs_fail(HS_ERR_INVALID, errstr, n,
                           "%s: defaultVariant must be a variant name "
                           "or null",
                           who);
        if ((f->def = variant_index(f, json_string_value(dv))) < 0)
            return hs_fail(HS_ERR_INVALID, errstr, n,
                           "%s: defaultVariant '%.100s' is not one of "
                           "its variants",
                           who, json_string_value(dv));
    }
    if ((err = check_metadata(json_object_get(def, "metadata"), who, errstr, n))) return err;
    const json_t *t = json_object_get(def, "targeting");
    if (t && !json_is_object(t))
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s: targeting must be a JsonLogic object", who);
    if (t && json_object_size(t) > 0) {
        if (!(f->targeting = targeting_compile(t, evaluators, why, sizeof why)))
            return hs_fail(HS_ERR_INVALID, errstr, n, "%s: targeting: %s", who, why);
        f->needs_flagd = needs_flagd(f->targeting);
        if (fast && hs_flags_fast_compile(f))
            return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    }
    f->counts = calloc((f->nvariants + 1) * HS_FLAGS_NREASONS, sizeof *f->counts);
    return f->counts ? HS_OK : hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
}

static void flag_free(hs_flag_t *f) {
    free(f->names);
    free(f->values);
    json_decref(f->targeting);
    hs_flags_fast_free(&f->fast);
    free((void *)f->counts);
}

/* Top level: flags, $evaluators (each one checked on its own), metadata, $schema. */
static hs_err_t check_document(const json_t *doc, char *errstr, size_t n) {
    char why[400];
    if (!json_is_object(doc))
        return hs_fail(HS_ERR_INVALID, errstr, n, "a flags document is a JSON object");
    const json_t *flags = json_object_get(doc, "flags");
    if (!json_is_object(flags))
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "a flags document needs \"flags\": an object of "
                       "flag definitions by key");
    if (json_object_size(flags) > HS_FLAGS_MAX_FLAGS)
        return hs_fail(HS_ERR_TOO_LARGE, errstr, n, "more than %d flags", HS_FLAGS_MAX_FLAGS);
    const json_t *schema = json_object_get(doc, "$schema");
    if (schema && !json_is_string(schema))
        return hs_fail(HS_ERR_INVALID, errstr, n, "$schema must be a string");
    const json_t *evaluators = json_object_get(doc, HS_FLAGS_EVALUATORS);
    if (evaluators && !json_is_object(evaluators))
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "$evaluators must be an object of JsonLogic "
                       "rules by name");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)evaluators, k, v) {
        /* flagd refuses an evaluator whose JSON text is shorter than 3 bytes ("", {}, []) */
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t len = text ? strlen(text) : 0;
        free(text);
        if (len < 3) return hs_fail(HS_ERR_INVALID, errstr, n, "$evaluators.%.100s: empty", k);
        json_t *t = targeting_compile(v, evaluators, why, sizeof why);
        if (!t) return hs_fail(HS_ERR_INVALID, errstr, n, "$evaluators.%.100s: %s", k, why);
        json_decref(t);
    }
    return check_metadata(json_object_get(doc, "metadata"), "document", errstr, n);
}

static int index_flags(hs_flagset_t *s) {
    s->nslots = 8;
    while (s->nslots < 2 * s->nflags)
        s->nslots *= 2;
    if (!(s->slots = calloc(s->nslots, sizeof *s->slots))) return -1;
    for (size_t i = 0; i < s->nflags; i++) {
        size_t h = hs_murmur3_32(s->flags[i].key, strlen(s->flags[i].key), 0);
        while (s->slots[h & (s->nslots - 1)])
            h++;
        s->slots[h & (s->nslots - 1)] = (uint32_t)i + 1;
    }
    return 0;
}

hs_flagset_t *hs_flagset_new_ex(const json_t *doc, int fast, char *errstr, size_t n) {
    if (check_document(doc, errstr, n)) return NULL;
    hs_flagset_t *s = calloc(1, sizeof *s);
    if (!s || !(s->doc = json_deep_copy(doc))) {
        free(s);
        hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    const json_t *flags = json_object_get(s->doc, "flags");
    const json_t *evaluators = json_object_get(s->doc, HS_FLAGS_EVALUATORS);
    s->flags = calloc(json_object_size(flags) + 1, sizeof *s->flags);
    if (!s->flags) {
        hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
        hs_flagset_release(s);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)flags, k, v) {
        /* counted before compiling, so that release frees what a failure left half-built */
        if (compile_flag(&s->flags[s->nflags++], k, v, evaluators, fast, errstr, n)) {
            hs_flagset_release(s);
            return NULL;
        }
    }
    if (index_flags(s)) {
        hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
        hs_flagset_release(s);
        return NULL;
    }
    return s;
}

hs_flagset_t *hs_flagset_new(const json_t *doc, char *errstr, size_t n) {
    return hs_flagset_new_ex(doc, 1, errstr, n);
}

hs_flagset_t *hs_flagset_parse(const char *text, size_t len, char *errstr, size_t n) {
    if (len > HS_FLAGS_MAX_DOC_BYTES) {
        hs_fail(HS_ERR_TOO_LARGE, errstr, n, "flags document larger than %d bytes",
                HS_FLAGS_MAX_DOC_BYTES);
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        hs_fail(HS_ERR_INVALID, errstr, n, "not JSON: line %d column %d: %s", jerr.line,
                jerr.column, jerr.text);
        return NULL;
    }
    hs_flagset_t *s = hs_flagset_new(doc, errstr, n);
    json_decref(doc);
    return s;
}

hs_flagset_t *hs_flagset_ref(hs_flagset_t *set) {
    if (set) atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
    return set;
}

void hs_flagset_release(hs_flagset_t *set) {
    if (!set || atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) != 1) return;
    hs_flagset_flush(set);
    for (size_t i = 0; i < set->nflags; i++)
        flag_free(&set->flags[i]);
    free(set->flags);
    free(set->slots);
    json_decref(set->doc);
    free(set);
}

const json_t *hs_flagset_doc(const hs_flagset_t *set) {
    return set->doc;
}

size_t hs_flagset_count(const hs_flagset_t *set) {
    return set->nflags;
}

/* ---- evaluation ------------------------------------------------------------------------------ */

static const hs_flag_t *find(const hs_flagset_t *s, const char *key) {
    size_t h = hs_murmur3_32(key, strlen(key), 0);
    for (uint32_t slot; (slot = s->slots[h & (s->nslots - 1)]); h++)
        if (!strcmp(s->flags[slot - 1].key, key)) return &s->flags[slot - 1];
    return NULL;
}

/* Logs a failed evaluation, at most once a second per flag so a broken rule cannot flood. */
static void log_failure(const hs_flag_t *f, hs_flag_error_t error, const char *why) {
    long long now = (long long)time(NULL);
    long long last = atomic_load_explicit(&f->last_log, memory_order_relaxed);
    if (last == now || !atomic_compare_exchange_strong(&((hs_flag_t *)f)->last_log, &last, now))
        return;
    hs_log(HS_LOG_WARN, "flag evaluation failed: the caller's default applies", "{s:s, s:s, s:s}",
           "flag", f->key, "error", hs_flag_error_str(error), "why", why);
}

/* The variant a targeting result names, as flagd reads it (json.go: the result's JSON text
 * without quotes): a string, true/false, a number's text. */
static int result_variant(const hs_flag_t *f, const json_t *r, int *variant) {
    if (json_is_null(r)) return HS_TARGET_NULL;
    if (json_is_string(r))
        *variant = variant_index(f, json_string_value(r));
    else if (json_is_boolean(r))
        *variant = variant_index(f, json_is_true(r) ? "true" : "false");
    else if (json_is_number(r)) {
        char *text = hs_jsonlogic_to_string(r);
        *variant = text ? variant_index(f, text) : -1;
        free(text);
    } else {
        *variant = -1;
    }
    return *variant >= 0 ? HS_TARGET_MATCH : HS_TARGET_NOT_VARIANT;
}

/* The generic path: JsonLogic over the context, with $flagd added when the rule may read it. */
static int eval_generic(const hs_flag_t *f, const json_t *ctx, int *variant, char *why, size_t n) {
    json_t *data;
    if (f->needs_flagd) {
        json_t *flagd =
            json_pack("{s:s, s:I}", "flagKey", f->key, "timestamp", (json_int_t)time(NULL));
        data = ctx ? json_copy((json_t *)ctx) : json_object();
        if (!data || !flagd || json_object_set_new(data, "$flagd", json_incref(flagd))) {
            json_decref(data);
            json_decref(flagd);
            return snprintf(why, n, "out of memory"), HS_TARGET_FAILED;
        }
        json_decref(flagd);
    } else {
        data = ctx ? json_incref((json_t *)ctx) : json_object();
    }
    json_t *r = hs_jsonlogic_apply_ex(hs_flags_ops, hs_flags_nops, f->targeting, data, why, n);
    json_decref(data);
    if (!r) return HS_TARGET_FAILED;
    int out = result_variant(f, r, variant);
    if (out == HS_TARGET_NOT_VARIANT) {
        char *text = json_dumps(r, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(why, n, "targeting gave %.100s, which is no variant of the flag",
                 text ? text : "?");
        free(text);
    }
    json_decref(r);
    return out;
}

static void count(const hs_flag_t *f, int variant, hs_flag_reason_t reason) {
    size_t i = (size_t)(variant + 1) * HS_FLAGS_NREASONS + (size_t)reason;
    atomic_fetch_add_explicit(&f->counts[i], 1, memory_order_relaxed);
}

/* Fills *variant (-1: the caller's default) and *reason from f's targeting on ctx. */
static hs_flag_error_t eval_targeting(const hs_flag_t *f, const json_t *ctx, int *variant,
                                      hs_flag_reason_t *reason) {
    char why[300] = "targeting named no variant of the flag";
    int out = f->fast.kind ? hs_flags_fast_eval(f, ctx, variant) : HS_TARGET_FALLBACK;
    if (out == HS_TARGET_FALLBACK) out = eval_generic(f, ctx, variant, why, sizeof why);
    if (out == HS_TARGET_MATCH) {
        *reason = HS_FLAG_REASON_TARGETING_MATCH;
        return HS_FLAG_OK;
    }
    if (out == HS_TARGET_NULL) {
        *variant = f->def;
        *reason = HS_FLAG_REASON_DEFAULT;
        return HS_FLAG_OK;
    }
    hs_flag_error_t error = out == HS_TARGET_FAILED ? HS_FLAG_ERR_PARSE : HS_FLAG_ERR_GENERAL;
    *variant = -1;
    *reason = HS_FLAG_REASON_ERROR;
    log_failure(f, error, why);
    return error;
}

hs_flag_error_t hs_flagset_eval(const hs_flagset_t *set, const char *key, const json_t *ctx,
                                hs_flag_result_t *res) {
    memset(res, 0, sizeof *res);
    res->reason = HS_FLAG_REASON_ERROR;
    const hs_flag_t *f = set && key ? find(set, key) : NULL;
    if (!f) return res->error = HS_FLAG_ERR_NOT_FOUND;
    int variant = -1;
    if (ctx && !json_is_object(ctx)) {
        res->error = HS_FLAG_ERR_INVALID_CONTEXT;
    } else if (f->disabled) {
        res->reason = HS_FLAG_REASON_DISABLED;
        res->error = HS_FLAG_ERR_DISABLED;
    } else if (!f->targeting) {
        variant = f->def;
        res->reason = variant >= 0 ? HS_FLAG_REASON_STATIC : HS_FLAG_REASON_DEFAULT;
    } else {
        res->error = eval_targeting(f, ctx, &variant, &res->reason);
    }
    count(f, variant, res->reason);
    if (variant >= 0) {
        res->variant = f->names[variant];
        res->value = f->values[variant];
    }
    return res->error;
}

int hs_flagset_bool(const hs_flagset_t *set, const char *key, const json_t *ctx, int def) {
    hs_flag_result_t r;
    hs_flagset_eval(set, key, ctx, &r);
    return json_is_boolean(r.value) ? json_is_true(r.value) : def;
}

void hs_flagset_flush(hs_flagset_t *set) {
    if (!set->evals) return;
    for (size_t i = 0; i < set->nflags; i++) {
        const hs_flag_t *f = &set->flags[i];
        for (size_t c = 0; c < (f->nvariants + 1) * HS_FLAGS_NREASONS; c++) {
            uint64_t v = atomic_exchange_explicit(&f->counts[c], 0, memory_order_relaxed);
            size_t variant = c / HS_FLAGS_NREASONS;
            const char *labels[] = {f->key, variant ? f->names[variant - 1] : "",
                                    reason_names[c % HS_FLAGS_NREASONS]};
            if (v) hs_metric_add(set->evals, labels, (double)v);
        }
    }
}
