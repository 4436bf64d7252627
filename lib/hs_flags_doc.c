/* Flags documents as sources (hs_flags.h): merging a file's document with the topic's, and
 * applying one hs.flags record to the topic's document after validating it. */
#include <stdlib.h>
#include <string.h>

#include "hs_flags_internal.h"

/* Puts a copy of every member of from[section] over into[section] (created when missing). */
static int overlay(json_t *into, const json_t *from, const char *section) {
    const json_t *src = json_object_get(from, section);
    json_t *dst = json_object_get(into, section);
    if (!json_is_object(src)) return 0;
    if (!json_is_object(dst) && json_object_set_new(into, section, dst = json_object())) return -1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v) {
        if (json_object_set_new(dst, k, json_deep_copy(v))) return -1;
    }
    return 0;
}

json_t *hs_flags_doc_merge(const json_t *base, const json_t *over) {
    json_t *out = json_is_object(base) ? json_deep_copy(base) : json_object();
    if (!out) return NULL;
    if (!json_is_object(json_object_get(out, "flags")))
        json_object_set_new(out, "flags", json_object());
    if (overlay(out, over, "flags") || overlay(out, over, HS_FLAGS_EVALUATORS)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* Validates a document; HS_OK or the set's error. */
static hs_err_t check_doc(const json_t *doc, char *errstr, size_t n) {
    if (!doc) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    hs_flagset_t *s = hs_flagset_new_ex(doc, 0, errstr, n);
    hs_flagset_release(s);
    return s ? HS_OK : HS_ERR_INVALID;
}

hs_err_t hs_flags_doc_check(const json_t *base, const json_t *over, char *errstr, size_t n) {
    json_t *merged = hs_flags_doc_merge(base, over);
    hs_err_t err = check_doc(merged, errstr, n);
    /* base's flags that over hides come back when over drops them: they must hold too */
    if (!err && json_object_size(json_object_get(base, "flags"))) {
        json_t *hidden =
            json_pack("{s:O, s:O*}", "flags", json_object_get(base, "flags"), HS_FLAGS_EVALUATORS,
                      json_object_get(merged, HS_FLAGS_EVALUATORS));
        err = check_doc(hidden, errstr, n);
        json_decref(hidden);
    }
    json_decref(merged);
    return err;
}

/* Validates flag key = def alone, with the evaluators base and state have together. */
static hs_err_t check_flag(const json_t *state, const json_t *base, const char *key,
                           const json_t *def, char *errstr, size_t n) {
    json_t *evaluators = json_object();
    if (evaluators) {
        json_object_update(evaluators, json_object_get(base, HS_FLAGS_EVALUATORS));
        json_object_update(evaluators, json_object_get(state, HS_FLAGS_EVALUATORS));
    }
    json_t *doc = json_pack("{s:{s:O}, s:o}", "flags", key, def, HS_FLAGS_EVALUATORS, evaluators);
    hs_err_t err = check_doc(doc, errstr, n);
    json_decref(doc);
    return err;
}

/* The $evaluators record: the new evaluators (NULL: none) must hold for every flag. */
static hs_err_t apply_evaluators(json_t *state, const json_t *base, json_t *v, char *errstr,
                                 size_t n) {
    if (v && !json_is_object(v))
        return hs_fail(HS_ERR_INVALID, errstr, n, "$evaluators: not an object of rules");
    json_t *cand = json_copy(state);
    if (!cand) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    if (v)
        json_object_set(cand, HS_FLAGS_EVALUATORS, v);
    else
        json_object_del(cand, HS_FLAGS_EVALUATORS);
    /* base's own evaluators stay under the topic's: only the topic's part changes */
    hs_err_t err = hs_flags_doc_check(base, cand, errstr, n);
    json_decref(cand);
    if (err) return err;
    if (v) return json_object_set(state, HS_FLAGS_EVALUATORS, v) ? HS_ERR_INTERNAL : HS_OK;
    json_object_del(state, HS_FLAGS_EVALUATORS);
    return HS_OK;
}

hs_err_t hs_flags_doc_apply(json_t *state, const json_t *base, const char *key, const void *value,
                            size_t len, char *errstr, size_t n) {
    if (!key || !*key) return hs_fail(HS_ERR_INVALID, errstr, n, "a record without a key");
    if (len > HS_FLAGS_MAX_DOC_BYTES)
        return hs_fail(HS_ERR_TOO_LARGE, errstr, n, "'%.100s': record larger than %d bytes", key,
                       HS_FLAGS_MAX_DOC_BYTES);
    json_t *v = NULL;
    if (value && len) {
        json_error_t jerr;
        if (!(v = json_loadb(value, len, JSON_REJECT_DUPLICATES, &jerr)))
            return hs_fail(HS_ERR_INVALID, errstr, n, "'%.100s': not JSON: %s", key, jerr.text);
    }
    json_t *flags = json_object_get(state, "flags");
    if (!json_is_object(flags) && json_object_set_new(state, "flags", flags = json_object())) {
        json_decref(v);
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    }
    hs_err_t err = HS_OK;
    if (!strcmp(key, HS_FLAGS_EVALUATORS))
        err = apply_evaluators(state, base, v, errstr, n);
    else if (!v)
        json_object_del(flags, key);
    else if (!(err = check_flag(state, base, key, v, errstr, n)) && json_object_set(flags, key, v))
        err = hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    json_decref(v);
    return err;
}
