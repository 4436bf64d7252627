/* Configuration: one YAML file, HS_<SECTION>_<KEY> environment overrides, then command-line
 * overrides, in that order of precedence (defaults < file < env < flags). One table
 * (hs_config_keys.c) lists every key with type, default and description; it drives parsing,
 * validation and the generated docs/config.md. Keys under `kafka:` that are not hookstream's own
 * pass through to librdkafka (checked by librdkafka when a client is built).
 * @locality: built on the main thread at start, read-only afterwards (safe to share). */
#ifndef HS_CONFIG_H
#define HS_CONFIG_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "hs_err.h"

typedef struct hs_config hs_config_t;

typedef enum { HS_CFG_STR, HS_CFG_INT, HS_CFG_BOOL, HS_CFG_ENUM } hs_config_type_t;

/* One row of the key table. */
typedef struct {
    const char *key; /* "section.name" */
    hs_config_type_t type;
    const char *def;     /* default as text */
    const char *choices; /* HS_CFG_ENUM: "a|b|c"; HS_CFG_INT: "min..max" or NULL */
    const char *doc;
} hs_config_key_t;

/* The key table, ended by a row with key NULL. */
extern const hs_config_key_t hs_config_keys[];

/* Sections whose YAML value is structured (a mapping of named items, lists) rather than scalar
 * keys, e.g. "sources". Kept as JSON for the module that owns them; ended by NULL. */
extern const char *const hs_config_trees[];

/* Returns a new config holding every default; caller frees with hs_config_destroy. */
hs_config_t *hs_config_new(void);
void hs_config_destroy(hs_config_t *cfg);

/* Applies a YAML file. Errors read "FILE:LINE: KEY: reason". */
hs_err_t hs_config_load_file(hs_config_t *cfg, const char *path, char *errstr, size_t errstr_size);

/* Applies HS_<SECTION>_<KEY>=value entries of envp (NULL-terminated, like environ). Variables
 * whose section is not a config section are ignored; an unknown key of a known section fails. */
hs_err_t hs_config_load_env(hs_config_t *cfg, char **envp, char *errstr, size_t errstr_size);

/* Sets key to value after validating it; origin ("--set", "file.yaml:3") is kept for errors.
 * "kafka.<property>" for a non-hookstream key stores a librdkafka property. */
hs_err_t hs_config_set(hs_config_t *cfg, const char *key, const char *value, const char *origin,
                       char *errstr, size_t errstr_size);

/* Value accessors. key must be in the table (an unknown key is a bug: aborts).
 * Returned strings are borrowed: valid until the config is destroyed or the key set again. */
const char *hs_config_str(const hs_config_t *cfg, const char *key);
int64_t hs_config_int(const hs_config_t *cfg, const char *key);
int hs_config_bool(const hs_config_t *cfg, const char *key);

/* Returns where the current value of key came from: "default", "FILE:LINE", "env HS_X", "--set". */
const char *hs_config_origin(const hs_config_t *cfg, const char *key);

/* Calls fn for each librdkafka pass-through property in the order set. Stops at and returns
 * the first non-HS_OK result of fn. */
typedef hs_err_t (*hs_config_prop_fn)(const char *name, const char *value, const char *origin,
                                      void *opaque);
hs_err_t hs_config_kafka_each(const hs_config_t *cfg, hs_config_prop_fn fn, void *opaque);

/* Returns the YAML subtree of a structured section as JSON (borrowed; valid until the config is
 * destroyed), or NULL when the file has none. Plain scalars that look like integers, booleans or
 * null become those JSON types; quoted scalars stay strings. */
const json_t *hs_config_tree(const hs_config_t *cfg, const char *section);

/* Returns "FILE:LINE" of a path inside a tree ("sources.shop1.type", "sources.shop1.secrets.0"),
 * or "" when unknown; for error messages. */
const char *hs_config_tree_origin(const hs_config_t *cfg, const char *path);

/* Writes the Markdown reference of every key (the content of docs/config.md). */
void hs_config_doc_write(FILE *out);

/* ---- YAML helpers for the other YAML readers (workflow definitions) -------------------- */

struct fy_node;
struct fy_document;

/* Reads path into a new NUL-terminated buffer (caller frees *out) of at most 1 MiB. */
hs_err_t hs_config_yaml_read(const char *path, char **out, size_t *len, char *errstr, size_t n);

/* Parses len bytes of YAML text (kept alive by the caller while the document lives) into a new
 * document (caller frees with fy_document_destroy), after checking it is UTF-8 text (libfyaml
 * can hang on malformed UTF-8). NULL with errstr "PATH:LINE:COL: reason" on failure. */
struct fy_document *hs_config_yaml_parse(const char *text, size_t len, const char *path,
                                         char *errstr, size_t n);

/* Returns node as new JSON (caller decrefs) converted like the trees (hs_config_tree), except
 * that plain scalars that look like decimal numbers ("2.5", "1e3") become reals too. NULL when
 * nested deeper than 32 levels. */
json_t *hs_config_yaml_json(struct fy_node *node);

#endif
