#include "hs_config.h"
#include "hs_config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <libfyaml.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROPS 128

typedef struct {
    char *value;
    char *origin;
} slot_t;

typedef struct {
    char *name; /* librdkafka property, e.g. "linger.ms" */
    slot_t v;
} prop_t;

struct hs_config {
    slot_t *slots; /* one per hs_config_keys row */
    size_t nkeys;
    prop_t props[MAX_PROPS];
    size_t nprops;
    json_t *trees;   /* section -> JSON value, for hs_config_trees */
    json_t *origins; /* "section.a.b" -> "FILE:LINE" */
};

static void slot_put(slot_t *s, const char *value, const char *origin) {
    free(s->value);
    free(s->origin);
    s->value = strdup(value);
    s->origin = strdup(origin);
}

static long find_key(const char *key) {
    for (long i = 0; hs_config_keys[i].key; i++)
        if (strcmp(hs_config_keys[i].key, key) == 0) return i;
    return -1;
}

static int is_section(const char *name, size_t len) {
    for (size_t i = 0; hs_config_keys[i].key; i++) {
        const char *k = hs_config_keys[i].key;
        if (strncmp(k, name, len) == 0 && k[len] == '.') return 1;
    }
    return 0;
}

hs_config_t *hs_config_new(void) {
    hs_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return NULL;
    while (hs_config_keys[cfg->nkeys].key)
        cfg->nkeys++;
    cfg->slots = calloc(cfg->nkeys, sizeof *cfg->slots);
    if (!cfg->slots) {
        free(cfg);
        return NULL;
    }
    for (size_t i = 0; i < cfg->nkeys; i++)
        slot_put(&cfg->slots[i], hs_config_keys[i].def, "default");
    cfg->trees = json_object();
    cfg->origins = json_object();
    return cfg;
}

void hs_config_destroy(hs_config_t *cfg) {
    if (!cfg) return;
    for (size_t i = 0; i < cfg->nkeys; i++) {
        free(cfg->slots[i].value);
        free(cfg->slots[i].origin);
    }
    for (size_t i = 0; i < cfg->nprops; i++) {
        free(cfg->props[i].name);
        free(cfg->props[i].v.value);
        free(cfg->props[i].v.origin);
    }
    json_decref(cfg->trees);
    json_decref(cfg->origins);
    free(cfg->slots);
    free(cfg);
}

const json_t *hs_config_tree(const hs_config_t *cfg, const char *section) {
    return json_object_get(cfg->trees, section);
}

const char *hs_config_tree_origin(const hs_config_t *cfg, const char *path) {
    const char *o = json_string_value(json_object_get(cfg->origins, path));
    return o ? o : "";
}

static hs_err_t check_int(const hs_config_key_t *k, const char *value, char *errstr, size_t n) {
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end)
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s: '%s' is not an integer", k->key, value);
    long long lo, hi;
    if (k->choices && sscanf(k->choices, "%lld..%lld", &lo, &hi) == 2 && (v < lo || v > hi))
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s: %lld is outside %s", k->key, v, k->choices);
    return HS_OK;
}

static hs_err_t check_enum(const hs_config_key_t *k, const char *value, char *errstr, size_t n) {
    size_t len = strlen(value);
    for (const char *p = k->choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t plen = bar ? (size_t)(bar - p) : strlen(p);
        if (plen == len && strncmp(p, value, len) == 0) return HS_OK;
        if (!bar) break;
        p = bar + 1;
    }
    return hs_fail(HS_ERR_INVALID, errstr, n, "%s: '%s' is not one of %s", k->key, value,
                   k->choices);
}

static hs_err_t check_value(const hs_config_key_t *k, const char *value, char *errstr, size_t n) {
    switch (k->type) {
    case HS_CFG_INT:
        return check_int(k, value, errstr, n);
    case HS_CFG_ENUM:
        return check_enum(k, value, errstr, n);
    case HS_CFG_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "false")) return HS_OK;
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s: '%s' is not true or false", k->key, value);
    case HS_CFG_STR:
        return HS_OK;
    }
    return HS_OK;
}

static hs_err_t set_prop(hs_config_t *cfg, const char *name, const char *value, const char *origin,
                         char *errstr, size_t n) {
    for (size_t i = 0; i < cfg->nprops; i++) {
        if (strcmp(cfg->props[i].name, name) == 0) {
            slot_put(&cfg->props[i].v, value, origin);
            return HS_OK;
        }
    }
    if (cfg->nprops == MAX_PROPS)
        return hs_fail(HS_ERR_TOO_LARGE, errstr, n, "kafka.%s: more than %d kafka properties", name,
                       MAX_PROPS);
    prop_t *p = &cfg->props[cfg->nprops++];
    p->name = strdup(name);
    slot_put(&p->v, value, origin);
    return HS_OK;
}

hs_err_t hs_config_set(hs_config_t *cfg, const char *key, const char *value, const char *origin,
                       char *errstr, size_t n) {
    long i = find_key(key);
    if (i < 0) {
        if (strncmp(key, "kafka.", 6) == 0 && key[6])
            return set_prop(cfg, key + 6, value, origin, errstr, n);
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s: unknown key", key);
    }
    hs_err_t err = check_value(&hs_config_keys[i], value, errstr, n);
    if (err) return err;
    slot_put(&cfg->slots[i], value, origin);
    return HS_OK;
}

static const slot_t *slot_of(const hs_config_t *cfg, const char *key) {
    long i = find_key(key);
    if (i < 0) {
        fprintf(stderr, "hookstream: bug: config key '%s' is not in the table\n", key);
        abort();
    }
    return &cfg->slots[i];
}

const char *hs_config_str(const hs_config_t *cfg, const char *key) {
    return slot_of(cfg, key)->value;
}

int64_t hs_config_int(const hs_config_t *cfg, const char *key) {
    return strtoll(slot_of(cfg, key)->value, NULL, 10);
}

int hs_config_bool(const hs_config_t *cfg, const char *key) {
    return strcmp(slot_of(cfg, key)->value, "true") == 0;
}

const char *hs_config_origin(const hs_config_t *cfg, const char *key) {
    return slot_of(cfg, key)->origin;
}

hs_err_t hs_config_kafka_each(const hs_config_t *cfg, hs_config_prop_fn fn, void *opaque) {
    for (size_t i = 0; i < cfg->nprops; i++) {
        const prop_t *p = &cfg->props[i];
        hs_err_t err = fn(p->name, p->v.value, p->v.origin, opaque);
        if (err) return err;
    }
    return HS_OK;
}

/* ---- environment ---------------------------------------------------------------------- */

/* "HS_KAFKA_TIMEOUT_MS" -> "kafka.timeout_ms"; pass-through "HS_KAFKA_LINGER_MS" ->
 * "kafka.linger.ms" because librdkafka property names use dots where env names use '_'. */
static int env_to_key(const char *name, size_t name_len, char *key, size_t size) {
    if (name_len + 1 > size) return -1;
    for (size_t i = 0; i < name_len; i++)
        key[i] = (char)tolower((unsigned char)name[i]);
    key[name_len] = 0;
    char *us = strchr(key, '_');
    if (!us || us == key || !us[1]) return -1;
    *us = '.';
    if (!is_section(key, (size_t)(us - key))) return -1;
    if (find_key(key) < 0 && strncmp(key, "kafka.", 6) == 0)
        for (char *p = us + 1; *p; p++)
            if (*p == '_') *p = '.';
    return 0;
}

hs_err_t hs_config_load_env(hs_config_t *cfg, char **envp, char *errstr, size_t n) {
    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, "HS_", 3) != 0) continue;
        const char *eq = strchr(*e, '=');
        if (!eq) continue;
        char key[128], origin[160];
        if (env_to_key(*e + 3, (size_t)(eq - *e - 3), key, sizeof key) < 0) continue;
        snprintf(origin, sizeof origin, "env %.*s", (int)(eq - *e), *e);
        char msg[256];
        hs_err_t err = hs_config_set(cfg, key, eq + 1, origin, msg, sizeof msg);
        if (err) return hs_fail(err, errstr, n, "environment %.*s: %s", (int)(eq - *e), *e, msg);
    }
    return HS_OK;
}

/* ---- YAML file ------------------------------------------------------------------------ */

typedef struct {
    char first[512];
} diag_capture_t;

static void diag_output(struct fy_diag *diag, void *user, const char *buf, size_t len) {
    (void)diag;
    diag_capture_t *cap = user;
    if (cap->first[0]) return;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        len--;
    snprintf(cap->first, sizeof cap->first, "%.*s", (int)len, buf);
}

static int node_line(struct fy_node *node) {
    struct fy_token *tok = fy_node_get_scalar_token(node);
    const struct fy_mark *m = tok ? fy_token_start_mark(tok) : NULL;
    return m ? m->line + 1 : 0;
}

static hs_err_t load_section(hs_config_t *cfg, const char *path, const char *section,
                             struct fy_node *map, char *errstr, size_t n) {
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        int line = node_line(k);
        const char *name = fy_node_get_scalar0(k);
        char key[256], origin[300], msg[256];
        snprintf(key, sizeof key, "%s.%s", section, name ? name : "?");
        if (!name || !v || !fy_node_is_scalar(v))
            return hs_fail(HS_ERR_INVALID, errstr, n, "%s:%d: %s: expected a scalar value", path,
                           line, key);
        snprintf(origin, sizeof origin, "%s:%d", path, line);
        const char *value = fy_node_get_scalar0(v);
        hs_err_t err = hs_config_set(cfg, key, value ? value : "", origin, msg, sizeof msg);
        if (err) return hs_fail(err, errstr, n, "%s:%d: %s", path, line, msg);
    }
    return HS_OK;
}

static hs_err_t load_root(hs_config_t *cfg, const char *path, struct fy_node *root, char *errstr,
                          size_t n) {
    if (!root) return HS_OK; /* an empty file sets nothing */
    if (!fy_node_is_mapping(root))
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s:1: expected a mapping of sections", path);
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(root, &it))) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const char *name = fy_node_get_scalar0(k);
        int line = node_line(k);
        if (name && hs_config_is_tree(name)) {
            hs_err_t err =
                hs_config_tree_load(cfg->trees, cfg->origins, name, v, path, line, errstr, n);
            if (err) return err;
            continue;
        }
        if (!name || !is_section(name, strlen(name)))
            return hs_fail(HS_ERR_INVALID, errstr, n, "%s:%d: %s: unknown section", path, line,
                           name ? name : "?");
        if (!v || fy_node_is_null(v)) continue;
        if (!fy_node_is_mapping(v))
            return hs_fail(HS_ERR_INVALID, errstr, n, "%s:%d: %s: expected a mapping of keys", path,
                           line, name);
        hs_err_t err = load_section(cfg, path, name, v, errstr, n);
        if (err) return err;
    }
    return HS_OK;
}

#define MAX_FILE_BYTES (1 << 20)

/* Returns the 1-based line of the first byte that is not UTF-8 text (C0 controls other than
 * tab/LF/CR, malformed or overlong sequences), or 0 when all is text. libfyaml can loop forever
 * on malformed UTF-8 in some positions, so nothing else reaches it. */
static int first_bad_line(const unsigned char *p, size_t len) {
    int line = 1;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c == '\n') line++;
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return line;
            i++;
            continue;
        }
        size_t need = c >= 0xc2 && c <= 0xdf   ? 1
                      : c >= 0xe0 && c <= 0xef ? 2
                      : c >= 0xf0 && c <= 0xf4 ? 3
                                               : 0;
        if (!need || i + need >= len) return line;
        unsigned cp = c & (0x3f >> need);
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return line;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return line;
        i += need + 1;
    }
    return 0;
}

hs_err_t hs_config_yaml_read(const char *path, char **out, size_t *len, char *errstr, size_t n) {
    FILE *fp = fopen(path, "r");
    if (!fp) return hs_fail(HS_ERR_IO, errstr, n, "%s: %s", path, strerror(errno));
    char *buf = malloc(MAX_FILE_BYTES + 1);
    size_t got = buf ? fread(buf, 1, MAX_FILE_BYTES + 1, fp) : 0;
    int failed = !buf || ferror(fp);
    fclose(fp);
    if (failed) {
        free(buf);
        return hs_fail(HS_ERR_IO, errstr, n, "%s: cannot read the file", path);
    }
    if (got > MAX_FILE_BYTES) {
        free(buf);
        return hs_fail(HS_ERR_TOO_LARGE, errstr, n, "%s: larger than %d bytes", path,
                       MAX_FILE_BYTES);
    }
    buf[got] = 0;
    *out = buf;
    *len = got;
    return HS_OK;
}

struct fy_document *hs_config_yaml_parse(const char *text, size_t len, const char *path,
                                         char *errstr, size_t n) {
    int bad = first_bad_line((const unsigned char *)text, len);
    if (bad) {
        hs_fail(HS_ERR_INVALID, errstr, n, "%s:%d: not UTF-8 text", path, bad);
        return NULL;
    }
    diag_capture_t cap = {{0}};
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_output;
    dcfg.user = &cap;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    struct fy_parse_cfg pcfg = {.flags = FYPCF_QUIET, .diag = diag};
    struct fy_document *doc = fy_document_build_from_string(&pcfg, text, len);
    if (!doc) {
        /* libfyaml says "<memory-@0x...>:3:1: error: msg"; we say "FILE:3:1: msg" */
        const char *pos = cap.first, *msg = "not valid YAML";
        const char *close = pos[0] == '<' ? strstr(pos, ">:") : NULL;
        if (close) pos = close + 2;
        char *e = strstr(cap.first, " error: ");
        if (e) {
            *e = 0;
            msg = e + 8;
        }
        hs_fail(HS_ERR_INVALID, errstr, n, "%s:%s %s", path, e ? pos : "1:", msg);
    }
    fy_diag_destroy(diag);
    return doc;
}

hs_err_t hs_config_load_file(hs_config_t *cfg, const char *path, char *errstr, size_t n) {
    char *text = NULL;
    size_t len = 0;
    hs_err_t err = hs_config_yaml_read(path, &text, &len, errstr, n);
    if (err) return err;
    struct fy_document *doc = hs_config_yaml_parse(text, len, path, errstr, n);
    if (!doc) {
        err = HS_ERR_INVALID;
    } else {
        err = load_root(cfg, path, fy_document_root(doc), errstr, n);
        fy_document_destroy(doc);
    }
    free(text);
    return err;
}

/* ---- docs ----------------------------------------------------------------------------- */

static const char *type_name(const hs_config_key_t *k) {
    switch (k->type) {
    case HS_CFG_INT:
        return "int";
    case HS_CFG_BOOL:
        return "bool";
    case HS_CFG_ENUM:
        return "enum";
    case HS_CFG_STR:
        break;
    }
    return "string";
}

static void env_name(const char *key, char *out, size_t size) {
    size_t j = snprintf(out, size, "HS_");
    for (const char *p = key; *p && j + 1 < size; p++)
        out[j++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    out[j] = 0;
}

void hs_config_doc_write(FILE *out) {
    fputs("# Configuration reference\n\n"
          "Generated from the key table in `lib/hs_config_keys.c` by `hookstream config doc`; "
          "do not edit by hand.\n\n"
          "Precedence, lowest first: default, the YAML file (`--config FILE`, or `HS_CONFIG`), "
          "environment variables `HS_<SECTION>_<KEY>`, command-line `--set section.key=value` "
          "and command flags.\n\n"
          "Any other key under `kafka:` is a librdkafka property passed through unchanged "
          "(`kafka: {linger.ms: 1}`); as an environment variable write dots as underscores "
          "(`HS_KAFKA_LINGER_MS=1`).\n\n"
          "```yaml\nkafka:\n  brokers: 127.0.0.1:9092\n  linger.ms: 1\n"
          "postgres:\n  dsn: postgresql://127.0.0.1:5432/hookstream\n```\n",
          out);
    fputs("\nStructured sections, documented with the service that reads them:", out);
    for (size_t i = 0; hs_config_trees[i]; i++)
        fprintf(out, " `%s:`", hs_config_trees[i]);
    fputs("\n", out);
    char section[64] = "";
    for (const hs_config_key_t *k = hs_config_keys; k->key; k++) {
        size_t slen = (size_t)(strchr(k->key, '.') - k->key);
        if (strlen(section) != slen || strncmp(section, k->key, slen) != 0) {
            snprintf(section, sizeof section, "%.*s", (int)slen, k->key);
            fprintf(out,
                    "\n## %s\n\n| key | type | default | env | description |\n"
                    "|---|---|---|---|---|\n",
                    section);
        }
        char env[128], choices[256] = "";
        env_name(k->key, env, sizeof env);
        for (size_t i = 0, j = 0; k->choices && k->choices[i] && j + 3 < sizeof choices; i++) {
            if (k->choices[i] == '|') choices[j++] = ',';
            choices[j++] = k->choices[i] == '|' ? ' ' : k->choices[i];
            choices[j] = 0;
        }
        fprintf(out, "| `%s` | %s%s%s | `%s` | `%s` | %s |\n", k->key, type_name(k),
                choices[0] ? " " : "", choices, k->def, env, k->doc);
    }
}
