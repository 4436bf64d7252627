/* Workflow definitions (wf_def.h): the document (name, version, trigger, concurrency, timeout)
 * and the node readers shared with wf_def_steps.c. Every reader fails with the file, the line
 * of the key it read and the step it belongs to. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hs_backoff.h"
#include "hs_catalog.h"
#include "hs_config.h"
#include "hs_evtype.h"
#include "hs_jsonlogic.h"
#include "wf_def_internal.h"
#include "wf_template.h"

#define MAX_TEXT (1 << 20)
#define MAX_EVENTS 64
#define MAX_NAME 128
#define MAX_VERSION 64
#define DEFAULT_KEY "{{ event.subject }}"
#define DEFAULT_TIMEOUT_MS (7 * 86400000LL)

/* ---- node readers ------------------------------------------------------------------------ */

hs_err_t wf_p_fail(wf_parse_t *p, int line, const char *step, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (step)
        return hs_fail(HS_ERR_INVALID, p->errstr, p->n, "%s:%d: step %s: %s", p->file,
                       line > 0 ? line : 1, step, msg);
    return hs_fail(HS_ERR_INVALID, p->errstr, p->n, "%s:%d: %s", p->file, line > 0 ? line : 1, msg);
}

int wf_p_line(struct fy_node *node) {
    struct fy_token *tok = node ? fy_node_get_scalar_token(node) : NULL;
    const struct fy_mark *m = tok ? fy_token_start_mark(tok) : NULL;
    return m ? m->line + 1 : 0;
}

struct fy_node *wf_p_get(struct fy_node *map, const char *key, int *line) {
    struct fy_node_pair *pair = fy_node_mapping_lookup_pair_by_simple_key(map, key, FY_NT);
    if (!pair) return NULL;
    int l = wf_p_line(fy_node_pair_key(pair));
    if (l) *line = l;
    struct fy_node *v = fy_node_pair_value(pair);
    return v && !fy_node_is_null(v) ? v : NULL;
}

/* Optimal string alignment distance (edits, with a swap of two neighbours counted as one),
 * for names of at most 63 characters; larger otherwise. */
static size_t distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 64;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1], best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *wf_p_closest(const char *word, const char *const *cands, size_t n) {
    const char *best = NULL;
    size_t best_d = 3, wl = strlen(word);
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(word, cands[i]), l = strlen(cands[i]);
        /* close enough: at most 2 edits, and at most a third of the longer name */
        if (d < best_d && d * 3 <= (wl > l ? wl : l)) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}

hs_err_t wf_p_keys(wf_parse_t *p, struct fy_node *map, const char *const *known, const char *what,
                   const char *step) {
    size_t nknown = 0;
    while (known[nknown])
        nknown++;
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(pair);
        const char *name = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
        int line = wf_p_line(k) ? wf_p_line(k) : wf_p_line(fy_node_pair_value(pair));
        if (!name) return wf_p_fail(p, line, step, "keys of %s must be plain names", what);
        size_t i = 0;
        while (i < nknown && strcmp(known[i], name))
            i++;
        if (i < nknown) continue;
        const char *hint = wf_p_closest(name, known, nknown);
        if (hint)
            return wf_p_fail(p, line, step, "unknown key `%.64s` (did you mean `%s`?)", name, hint);
        char list[512] = "";
        for (size_t j = 0, used = 0; j < nknown && used < sizeof list; j++)
            used +=
                (size_t)snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "", known[j]);
        return wf_p_fail(p, line, step, "unknown key `%.64s` in %s (known: %s)", name, what, list);
    }
    return HS_OK;
}

hs_err_t wf_p_str(wf_parse_t *p, struct fy_node *v, int line, const char *step, const char *key,
                  const char **out) {
    const char *s =
        v && fy_node_is_scalar(v) && !fy_node_is_alias(v) ? fy_node_get_scalar0(v) : NULL;
    if (!s) return wf_p_fail(p, line, step, "%s: expected a string", key);
    *out = s;
    return HS_OK;
}

hs_err_t wf_p_int(wf_parse_t *p, struct fy_node *v, int line, const char *step, const char *key,
                  long long lo, long long hi, long long *out) {
    const char *s = NULL;
    if (wf_p_str(p, v, line, step, key, &s)) return HS_ERR_INVALID;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        return wf_p_fail(p, line, step, "%s: expected an integer from %lld to %lld, not \"%.64s\"",
                         key, lo, hi, s);
    *out = x;
    return HS_OK;
}

hs_err_t wf_p_duration(wf_parse_t *p, struct fy_node *v, int line, const char *step,
                       const char *key, int64_t *out) {
    const char *s = NULL;
    if (wf_p_str(p, v, line, step, key, &s)) return HS_ERR_INVALID;
    if (hs_duration_parse(s, out) != 0 || *out <= 0)
        return wf_p_fail(p, line, step,
                         "%s: bad duration \"%.64s\" (use e.g. 250ms, 10s, 5m, 2h, 7d)", key, s);
    return HS_OK;
}

hs_err_t wf_p_json(wf_parse_t *p, struct fy_node *v, int line, const char *step, const char *key,
                   json_t **out) {
    *out = hs_config_yaml_json(v);
    if (!*out) return wf_p_fail(p, line, step, "%s: nested deeper than 32 levels", key);
    return HS_OK;
}

hs_err_t wf_p_logic(wf_parse_t *p, struct fy_node *v, int line, const char *step, const char *key,
                    json_t **out) {
    if (wf_p_json(p, v, line, step, key, out)) return HS_ERR_INVALID;
    char msg[256];
    if (hs_jsonlogic_check(*out, msg, sizeof msg) == HS_OK) return HS_OK;
    json_decref(*out);
    *out = NULL;
    return wf_p_fail(p, line, step, "%s: bad JsonLogic: %s", key, msg);
}

typedef struct {
    wf_parse_t *p;
    int line;
    const char *step, *key;
} refs_t;

/* A resolver that resolves nothing: it notes every steps.<id> a template reads. */
static json_t *note_ref(void *opaque, const char *const *segs, size_t nsegs) {
    refs_t *r = opaque;
    if (nsegs >= 2 && !strcmp(segs[0], "steps"))
        json_array_append_new(r->p->refs,
                              json_pack("[s, i, s?, s]", segs[1], r->line, r->step, r->key));
    return json_string("");
}

hs_err_t wf_p_templates(wf_parse_t *p, struct fy_node *v, const char *step, const char *key) {
    if (!v || fy_node_is_null(v)) return HS_OK;
    void *it = NULL;
    if (fy_node_is_sequence(v)) {
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(v, &it)))
            if (wf_p_templates(p, item, step, key)) return HS_ERR_INVALID;
        return HS_OK;
    }
    if (fy_node_is_mapping(v)) {
        struct fy_node_pair *pair;
        while ((pair = fy_node_mapping_iterate(v, &it)))
            if (wf_p_templates(p, fy_node_pair_value(pair), step, key)) return HS_ERR_INVALID;
        return HS_OK;
    }
    const char *s = fy_node_get_scalar0(v);
    if (!s || !strstr(s, "{{")) return HS_OK;
    refs_t r = {p, wf_p_line(v), step, key};
    char msg[512];
    json_t *out = wf_template_render(s, note_ref, &r, msg, sizeof msg);
    if (!out) return wf_p_fail(p, r.line, step, "%s: %s", key, msg);
    json_decref(out);
    return HS_OK;
}

hs_err_t wf_p_event_type(wf_parse_t *p, const char *type, int line, const char *step,
                         const char *key, int patterns) {
    int pattern = strchr(type, '*') != NULL;
    if (!hs_evtype_pattern_ok(type) || (pattern && !patterns))
        return wf_p_fail(p, line, step, "%s: `%.64s` is not an event type%s", key, type,
                         patterns ? " or pattern (order.placed, order.*, *)" : " (order.placed)");
    size_t n = hs_catalog_count();
    const char *names[256];
    for (size_t i = 0; i < n && i < 256; i++) {
        names[i] = hs_catalog_at(i)->type;
        if (pattern ? hs_evtype_match(type, names[i]) : !strcmp(type, names[i])) return HS_OK;
    }
    const char *hint = pattern ? NULL : wf_p_closest(type, names, n < 256 ? n : 256);
    if (hint)
        return wf_p_fail(p, line, step, "%s: unknown event type `%s` (did you mean `%s`?)", key,
                         type, hint);
    return wf_p_fail(p, line, step, "%s: %s `%s`%s", key,
                     pattern ? "no known event type matches" : "unknown event type", type,
                     " (the catalog is schemas/avro/<domain>/<type>.avsc)");
}

/* ---- the document ------------------------------------------------------------------------ */

static const char *const top_keys[] = {"name",        "version", "description", "trigger",
                                       "concurrency", "timeout", "steps",       NULL};
static const char *const trigger_keys[] = {"events", "schedule", "condition", NULL};
static const char *const concurrency_keys[] = {"key", "max_runs", "max_per_key", NULL};

static hs_err_t parse_name(wf_parse_t *p, wf_def_t *d, struct fy_node *root) {
    int line = 1;
    struct fy_node *v = wf_p_get(root, "name", &line);
    const char *s = NULL;
    if (!v) return wf_p_fail(p, line, NULL, "missing name (the workflow's name: [a-z0-9_.-])");
    if (wf_p_str(p, v, line, NULL, "name", &s)) return HS_ERR_INVALID;
    size_t len = strlen(s);
    if (!len || len > MAX_NAME || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != len)
        return wf_p_fail(p, line, NULL,
                         "name: \"%.64s\" must be 1-%d characters of a-z, 0-9, '_', '.', '-'", s,
                         MAX_NAME);
    d->name = strdup(s);
    return HS_OK;
}

static hs_err_t parse_version(wf_parse_t *p, wf_def_t *d, struct fy_node *root) {
    int line = 1;
    struct fy_node *v = wf_p_get(root, "version", &line);
    const char *s = NULL;
    if (!v) return HS_OK;
    if (wf_p_str(p, v, line, NULL, "version", &s)) return HS_ERR_INVALID;
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++)
        if (!isgraph((unsigned char)s[i])) len = 0;
    if (!len || len > MAX_VERSION)
        return wf_p_fail(p, line, NULL, "version: 1-%d characters without spaces", MAX_VERSION);
    d->version = strdup(s);
    return HS_OK;
}

static hs_err_t add_event(wf_parse_t *p, wf_def_t *d, struct fy_node *v, int line) {
    const char *s = NULL;
    if (wf_p_str(p, v, line, NULL, "trigger.events", &s)) return HS_ERR_INVALID;
    if (wf_p_event_type(p, s, wf_p_line(v) ? wf_p_line(v) : line, NULL, "trigger.events", 1))
        return HS_ERR_INVALID;
    if (d->nevents == MAX_EVENTS)
        return wf_p_fail(p, line, NULL, "trigger.events: more than %d", MAX_EVENTS);
    d->events[d->nevents++] = strdup(s);
    return HS_OK;
}

static hs_err_t parse_events(wf_parse_t *p, wf_def_t *d, struct fy_node *v, int line) {
    if (!(d->events = calloc(MAX_EVENTS, sizeof *d->events)))
        return wf_p_fail(p, line, NULL, "out of memory");
    if (!fy_node_is_sequence(v)) return add_event(p, d, v, line);
    if (fy_node_sequence_item_count(v) == 0)
        return wf_p_fail(p, line, NULL, "trigger.events: an empty list");
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(v, &it)))
        if (add_event(p, d, item, line)) return HS_ERR_INVALID;
    return HS_OK;
}

static hs_err_t parse_trigger(wf_parse_t *p, wf_def_t *d, struct fy_node *root) {
    int line = 1;
    struct fy_node *t = wf_p_get(root, "trigger", &line);
    if (!t) return wf_p_fail(p, line, NULL, "missing trigger (events or schedule)");
    if (!fy_node_is_mapping(t))
        return wf_p_fail(p, line, NULL, "trigger: expected a mapping with events or schedule");
    if (wf_p_keys(p, t, trigger_keys, "trigger", NULL)) return HS_ERR_INVALID;
    int eline = line, sline = line, cline = line;
    struct fy_node *ev = wf_p_get(t, "events", &eline), *sc = wf_p_get(t, "schedule", &sline);
    struct fy_node *cond = wf_p_get(t, "condition", &cline);
    if (ev && sc) return wf_p_fail(p, sline, NULL, "trigger: use events or schedule, not both");
    if (!ev && !sc) return wf_p_fail(p, line, NULL, "trigger: needs events or a schedule");
    if (ev && parse_events(p, d, ev, eline)) return HS_ERR_INVALID;
    if (sc) {
        const char *s = NULL;
        char msg[256];
        if (wf_p_str(p, sc, sline, NULL, "trigger.schedule", &s)) return HS_ERR_INVALID;
        if (wf_cron_parse(s, &d->cron, msg, sizeof msg))
            return wf_p_fail(p, sline, NULL, "trigger.schedule: %s", msg);
        d->schedule = strdup(s);
        if (cond)
            return wf_p_fail(p, cline, NULL,
                             "trigger.condition: tests the event, and a schedule has none");
    }
    if (cond) return wf_p_logic(p, cond, cline, NULL, "trigger.condition", &d->condition);
    return HS_OK;
}

static hs_err_t parse_concurrency(wf_parse_t *p, wf_def_t *d, struct fy_node *root) {
    int line = 1;
    struct fy_node *c = wf_p_get(root, "concurrency", &line), *v;
    if (!c) return HS_OK;
    if (!fy_node_is_mapping(c))
        return wf_p_fail(p, line, NULL,
                         "concurrency: expected a mapping (key, max_runs, "
                         "max_per_key)");
    if (wf_p_keys(p, c, concurrency_keys, "concurrency", NULL)) return HS_ERR_INVALID;
    long long x;
    if ((v = wf_p_get(c, "max_runs", &line))) {
        if (wf_p_int(p, v, line, NULL, "concurrency.max_runs", 0, 1000000, &x))
            return HS_ERR_INVALID;
        d->max_runs = (int)x;
    }
    if ((v = wf_p_get(c, "max_per_key", &line))) {
        if (wf_p_int(p, v, line, NULL, "concurrency.max_per_key", 0, 1000000, &x))
            return HS_ERR_INVALID;
        d->max_per_key = (int)x;
    }
    const char *s = NULL;
    if (!(v = wf_p_get(c, "key", &line))) return HS_OK;
    if (wf_p_str(p, v, line, NULL, "concurrency.key", &s) ||
        wf_p_templates(p, v, NULL, "concurrency.key"))
        return HS_ERR_INVALID;
    d->key = strdup(s);
    return HS_OK;
}

static hs_err_t parse_doc(wf_parse_t *p, wf_def_t *d, struct fy_node *root) {
    if (!root || !fy_node_is_mapping(root))
        return wf_p_fail(p, 1, NULL, "expected a mapping with name, trigger and steps");
    int line = 1;
    struct fy_node *v;
    const char *s;
    if (wf_p_keys(p, root, top_keys, "a workflow", NULL) || parse_name(p, d, root) ||
        parse_version(p, d, root) || parse_trigger(p, d, root) || parse_concurrency(p, d, root))
        return HS_ERR_INVALID;
    if ((v = wf_p_get(root, "description", &line)) && wf_p_str(p, v, line, NULL, "description", &s))
        return HS_ERR_INVALID;
    d->timeout_ms = DEFAULT_TIMEOUT_MS;
    if ((v = wf_p_get(root, "timeout", &line)) &&
        wf_p_duration(p, v, line, NULL, "timeout", &d->timeout_ms))
        return HS_ERR_INVALID;
    if (!(v = wf_p_get(root, "steps", &line)))
        return wf_p_fail(p, line, NULL, "missing steps (a list of steps)");
    if (wf_p_steps(p, v, line, "steps", NULL, 0, &d->steps)) return HS_ERR_INVALID;
    if (d->steps.n == 0) return wf_p_fail(p, line, NULL, "steps: a workflow needs a step");
    return HS_OK;
}

/* Every steps.<id> a template reads must name a step of the workflow. */
static hs_err_t check_refs(wf_parse_t *p) {
    size_t i, nids = json_object_size(p->ids), k = 0;
    json_t *ref, *v;
    const char *id;
    const char **ids = calloc(nids ? nids : 1, sizeof *ids);
    if (!ids) return wf_p_fail(p, 1, NULL, "out of memory");
    json_object_foreach(p->ids, id, v) {
        ids[k++] = id;
    }
    hs_err_t err = HS_OK;
    json_array_foreach(p->refs, i, ref) {
        const char *name = json_string_value(json_array_get(ref, 0));
        if (json_object_get(p->ids, name)) continue;
        int line = (int)json_integer_value(json_array_get(ref, 1));
        const char *step = json_string_value(json_array_get(ref, 2));
        const char *key = json_string_value(json_array_get(ref, 3));
        const char *hint = wf_p_closest(name, ids, nids);
        err = wf_p_fail(p, line, step,
                        "%s: template reads steps.%.64s, but no step has that id%s%s%s", key, name,
                        hint ? " (did you mean `" : "", hint ? hint : "", hint ? "`?)" : "");
        break;
    }
    free(ids);
    return err;
}

/* Copies what the definition keeps of its source and fills the defaults that need the text. */
static hs_err_t finish(wf_parse_t *p, wf_def_t *d, const char *text, size_t len) {
    d->file = strdup(p->file);
    d->text = malloc(len + 1);
    if (d->text) {
        memcpy(d->text, text, len);
        d->text[len] = 0;
    }
    if (!d->key) d->key = strdup(DEFAULT_KEY);
    if (!d->version) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        char hex[20] = "sha-";
        EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL);
        for (int i = 0; i < 6; i++)
            snprintf(hex + 4 + 2 * i, 3, "%02x", md[i]);
        d->version = strdup(hex);
    }
    if (!d->file || !d->text || !d->key || !d->version || !d->name)
        return wf_p_fail(p, 1, NULL, "out of memory");
    return HS_OK;
}

wf_def_t *wf_def_parse(const char *text, size_t len, const char *file, char *errstr, size_t n) {
    if (!file) file = "<text>";
    if (len > MAX_TEXT) {
        hs_fail(HS_ERR_TOO_LARGE, errstr, n, "%s: larger than %d bytes", file, MAX_TEXT);
        return NULL;
    }
    size_t blank = 0;
    while (blank < len && strchr(" \t\r\n", text[blank]))
        blank++;
    if (blank == len) { /* libfyaml finds no document at all in it */
        hs_fail(HS_ERR_INVALID, errstr, n,
                "%s:1: empty, expected a mapping with name, trigger "
                "and steps",
                file);
        return NULL;
    }
    struct fy_document *doc = hs_config_yaml_parse(text, len, file, errstr, n);
    if (!doc) return NULL;
    wf_parse_t p = {file, errstr, n, json_object(), json_array()};
    wf_def_t *d = calloc(1, sizeof *d);
    hs_err_t err = !d || !p.ids || !p.refs ? wf_p_fail(&p, 1, NULL, "out of memory")
                                           : parse_doc(&p, d, fy_document_root(doc));
    if (!err) err = check_refs(&p);
    if (!err) err = finish(&p, d, text, len);
    fy_document_destroy(doc);
    json_decref(p.ids);
    json_decref(p.refs);
    if (!err) return d;
    wf_def_free(d);
    return NULL;
}

void wf_def_free(wf_def_t *d) {
    if (!d) return;
    for (size_t i = 0; i < d->nevents; i++)
        free(d->events[i]);
    free(d->events);
    json_decref(d->condition);
    wf_p_steps_free(&d->steps);
    free(d->name);
    free(d->version);
    free(d->file);
    free(d->text);
    free(d->schedule);
    free(d->key);
    free(d);
}
