/* Structured config sections (hs_config_trees): YAML subtree → JSON, with the line of every
 * node kept for error messages. Used by hs_config.c while loading a file. */
#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hs_config_internal.h"

int hs_config_is_tree(const char *section) {
    for (size_t i = 0; hs_config_trees[i]; i++)
        if (strcmp(hs_config_trees[i], section) == 0) return 1;
    return 0;
}

static int node_line(struct fy_node *node) {
    struct fy_token *tok = fy_node_get_scalar_token(node);
    const struct fy_mark *m = tok ? fy_token_start_mark(tok) : NULL;
    return m ? m->line + 1 : 0;
}

/* 1 when text is a YAML 1.2 core-schema decimal number ("2.5", "-1e3"), which strtod reads
 * whole; strtod alone would also take "inf", "nan" and hex. */
static int looks_real(const char *text, double *out) {
    if (strspn(text, "0123456789+-.eE") != strlen(text) || !strpbrk(text, "0123456789")) return 0;
    char *end;
    errno = 0;
    *out = strtod(text, &end);
    return !errno && end != text && !*end && isfinite(*out);
}

static json_t *scalar_json(struct fy_node *node, int reals) {
    const char *text = fy_node_get_scalar0(node);
    if (!text) return json_null();
    if (fy_node_get_style(node) != FYNS_PLAIN) return json_string(text);
    if (!strcmp(text, "null") || !strcmp(text, "~") || !*text) return json_null();
    if (!strcmp(text, "true")) return json_true();
    if (!strcmp(text, "false")) return json_false();
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!errno && end != text && !*end) return json_integer(v);
    double d;
    if (reals && looks_real(text, &d)) return json_real(d);
    return json_string(text);
}

static void note(json_t *origins, const char *path, const char *file, int line) {
    if (!origins) return;
    char where[600];
    snprintf(where, sizeof where, "%s:%d", file, line);
    json_object_set_new(origins, path, json_string(where));
}

/* Converts node (at path) to JSON and records origins (when not NULL); depth-bounded like every
 * input. reals: plain scalars that look like decimal numbers become reals. */
static json_t *to_json(struct fy_node *node, const char *path, const char *file, int line,
                       json_t *origins, int depth, int reals) {
    if (depth > 32) return NULL;
    note(origins, path, file, line);
    if (!node || fy_node_is_null(node)) return json_null();
    if (fy_node_is_scalar(node)) return scalar_json(node, reals);
    char sub[512];
    void *it = NULL;
    if (fy_node_is_sequence(node)) {
        json_t *arr = json_array();
        struct fy_node *item;
        for (size_t i = 0; (item = fy_node_sequence_iterate(node, &it)); i++) {
            snprintf(sub, sizeof sub, "%s.%zu", path, i);
            int l = node_line(item);
            json_t *v = to_json(item, sub, file, l ? l : line, origins, depth + 1, reals);
            if (!v) return json_decref(arr), NULL;
            json_array_append_new(arr, v);
        }
        return arr;
    }
    json_t *obj = json_object();
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(node, &it))) {
        struct fy_node *k = fy_node_pair_key(pair);
        const char *name = k ? fy_node_get_scalar0(k) : NULL;
        if (!name) continue;
        snprintf(sub, sizeof sub, "%s.%s", path, name);
        json_t *v = to_json(fy_node_pair_value(pair), sub, file, node_line(k), origins, depth + 1,
                            reals);
        if (!v) return json_decref(obj), NULL;
        json_object_set_new(obj, name, v);
    }
    return obj;
}

hs_err_t hs_config_tree_load(json_t *trees, json_t *origins, const char *section,
                             struct fy_node *value, const char *file, int line, char *errstr,
                             size_t n) {
    json_t *v = to_json(value, section, file, line, origins, 0, 0);
    if (!v)
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s:%d: %s: nested deeper than 32 levels", file,
                       line, section);
    json_object_set_new(trees, section, v);
    return HS_OK;
}

json_t *hs_config_yaml_json(struct fy_node *node) {
    return to_json(node, "", "", 0, NULL, 0, 1);
}
