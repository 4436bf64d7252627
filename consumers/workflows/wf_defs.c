/* Looking into definitions (step by id, trigger types, wait types) and a directory of them
 * (wf_def.h): every *.yaml / *.yml file is parsed on its own, so one bad file costs only itself. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hs_config.h"
#include "hs_evtype.h"
#include "wf_def_internal.h"

#define MAX_FILES 4096

static const wf_step_t *find_step(const wf_steps_t *s, const char *id) {
    for (size_t i = 0; i < s->n; i++) {
        const wf_step_t *st = &s->items[i], *r;
        if (!strcmp(st->id, id)) return st;
        if ((r = find_step(&st->then_steps, id)) || (r = find_step(&st->else_steps, id)) ||
            (r = find_step(&st->on_error, id)))
            return r;
    }
    return NULL;
}

const wf_step_t *wf_def_step(const wf_def_t *d, const char *id) {
    return d && id ? find_step(&d->steps, id) : NULL;
}

int wf_def_matches_type(const wf_def_t *d, const char *type) {
    for (size_t i = 0; d && i < d->nevents; i++)
        if (hs_evtype_match(d->events[i], type)) return 1;
    return 0;
}

static size_t wait_types(const wf_steps_t *s, const char **types, size_t count, size_t max) {
    for (size_t i = 0; i < s->n; i++) {
        const wf_step_t *st = &s->items[i];
        const char *t = json_string_value(json_object_get(st->params, "event"));
        if (st->kind == WF_STEP_WAIT_FOR_EVENT && t) {
            size_t j = 0;
            while (j < count && strcmp(types[j], t))
                j++;
            if (j == count && count < max) types[count++] = t;
        }
        count = wait_types(&st->then_steps, types, count, max);
        count = wait_types(&st->else_steps, types, count, max);
        count = wait_types(&st->on_error, types, count, max);
    }
    return count;
}

size_t wf_def_wait_types(const wf_def_t *d, const char **types, size_t count, size_t max) {
    return d ? wait_types(&d->steps, types, count, max) : count;
}

/* ---- a directory ---------------------------------------------------------------------------- */

static int yaml_name(const char *name) {
    size_t len = strlen(name);
    if (name[0] == '.') return 0;
    return (len > 5 && !strcmp(name + len - 5, ".yaml")) ||
           (len > 4 && !strcmp(name + len - 4, ".yml"));
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_def(const void *a, const void *b) {
    return strcmp((*(wf_def_t *const *)a)->name, (*(wf_def_t *const *)b)->name);
}

/* The *.yaml / *.yml names directly in dir (regular files), sorted; NULL when dir is unreadable. */
static char **list_yaml(const char *dir, size_t *count) {
    DIR *dp = opendir(dir);
    if (!dp) return NULL;
    char **names = calloc(MAX_FILES, sizeof *names);
    struct dirent *de;
    *count = 0;
    while (names && (de = readdir(dp)) && *count < MAX_FILES) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (yaml_name(de->d_name) && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            names[(*count)++] = strdup(de->d_name);
    }
    closedir(dp);
    if (names) qsort(names, *count, sizeof *names, cmp_str);
    return names;
}

static void add_error(wf_defs_t *s, const char *msg) {
    char *m = strdup(msg);
    if (m) s->errors[s->nerrors++] = m;
}

/* The line of the top-level `name:` key in text (1 when not found), for duplicate names. */
static int name_line(const char *text) {
    int line = 1;
    for (const char *p = text; *p; p++) {
        if (p == text || p[-1] == '\n') {
            if (!strncmp(p, "name:", 5)) return line;
        }
        if (*p == '\n') line++;
    }
    return 1;
}

static void load_one(wf_defs_t *s, const char *dir, const char *name) {
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = NULL;
    size_t len = 0;
    if (hs_config_yaml_read(path, &text, &len, err, sizeof err)) {
        add_error(s, err);
        return;
    }
    wf_def_t *d = wf_def_parse(text, len, path, err, sizeof err);
    free(text);
    if (!d) {
        add_error(s, err);
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->defs[i]->name, d->name)) continue;
        hs_fail(HS_ERR_CONFLICT, err, sizeof err, "%s:%d: workflow %s is already defined in %s",
                path, name_line(d->text), d->name, s->defs[i]->file);
        add_error(s, err);
        wf_def_free(d);
        return;
    }
    s->defs[s->n++] = d;
}

wf_defs_t *wf_defs_load(const char *dir, char *errstr, size_t n) {
    size_t count = 0;
    char **names = list_yaml(dir, &count);
    if (!names) {
        hs_fail(HS_ERR_IO, errstr, n, "%s: cannot read the directory", dir);
        return NULL;
    }
    wf_defs_t *s = calloc(1, sizeof *s);
    if (s) {
        s->defs = calloc(count ? count : 1, sizeof *s->defs);
        s->errors = calloc(count ? count : 1, sizeof *s->errors);
    }
    if (!s || !s->defs || !s->errors) {
        wf_defs_free(s);
        s = NULL;
        hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        if (s) load_one(s, dir, names[i]);
        free(names[i]);
    }
    free(names);
    if (s) qsort(s->defs, s->n, sizeof *s->defs, cmp_def);
    return s;
}

void wf_defs_free(wf_defs_t *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        wf_def_free(s->defs[i]);
    for (size_t i = 0; i < s->nerrors; i++)
        free(s->errors[i]);
    free(s->defs);
    free(s->errors);
    free(s);
}

const wf_def_t *wf_defs_find(const wf_defs_t *s, const char *name) {
    size_t lo = 0, hi = s && name ? s->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->defs[mid]->name, name);
        if (!c) return s->defs[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t len) {
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

uint64_t wf_defs_fingerprint(const char *dir) {
    DIR *dp = opendir(dir);
    if (!dp) return 0;
    uint64_t sum = 0, count = 0;
    struct dirent *de;
    /* a sum of per-file hashes: the order readdir returns files in does not matter */
    while ((de = readdir(dp))) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!yaml_name(de->d_name) || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        int64_t meta[4] = {(int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec,
                           (int64_t)st.st_mtim.tv_nsec, (int64_t)st.st_ino};
        uint64_t h = fnv1a(14695981039346656037ULL, de->d_name, strlen(de->d_name));
        sum += fnv1a(h, meta, sizeof meta);
        count++;
    }
    closedir(dp);
    return fnv1a(sum, &count, sizeof count) | 1; /* never 0: 0 means unreadable */
}
