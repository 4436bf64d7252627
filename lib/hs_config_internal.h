/* Shared between hs_config.c and hs_config_tree.c only. */
#ifndef HS_CONFIG_INTERNAL_H
#define HS_CONFIG_INTERNAL_H

#include <jansson.h>

#include "hs_config.h"

struct fy_node;

/* Returns 1 when section is listed in hs_config_trees. */
int hs_config_is_tree(const char *section);

/* Stores the YAML value of a structured section as JSON in trees[section] and the "FILE:LINE" of
 * every node in origins["section.a.b"]. */
hs_err_t hs_config_tree_load(json_t *trees, json_t *origins, const char *section,
                             struct fy_node *value, const char *file, int line, char *errstr,
                             size_t n);

#endif
