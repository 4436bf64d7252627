/* The group-rewind mode of `hookstream replay` (see replay_group.c). */
#ifndef REPLAY_GROUP_H
#define REPLAY_GROUP_H

#include <stdint.h>

#include "hs_config.h"

typedef struct {
    const char *group, *topic;
    int64_t to_offset;  /* used when to_time_ms < 0 */
    int64_t to_time_ms; /* -1: use to_offset */
    int force;          /* ask the running members (hs.control) instead of committing */
} replay_group_t;

/* Moves group's offsets on topic; returns the exit code (0, 1 failure, 4 unknown topic) after
 * printing the new positions on stdout or the reason on stderr. */
int replay_group_run(const hs_config_t *cfg, const replay_group_t *r);

#endif
