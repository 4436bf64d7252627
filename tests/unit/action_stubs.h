/* What the action suites share: the stub servers of tests/stubs (http_stub.py, smtp_sink.py)
 * as child processes on port 0 (posix_spawn, port file), their JSON-lines records, params from
 * printf-style JSON, and the context every test runs with. Static helpers: include once per
 * suite, and stop the stubs in the suite's .fini (stop_stubs). A test skips when
 * /usr/bin/python3 is missing. */
#ifndef TEST_ACTION_STUBS_H
#define TEST_ACTION_STUBS_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hs_action.h"

#define PYTHON "/usr/bin/python3"
#define KEY "0b7c1e9a-5d4f-4c1e-9a4b-2f1d3c5e7a90:create_contact"
#define MSGID "<0b7c1e9a-5d4f-4c1e-9a4b-2f1d3c5e7a90.create_contact@hookstream>"

extern char **environ;

/* One stub child. @locality: the test's process. */
typedef struct {
    pid_t pid;
    int port;
    char dir[64], record[96], portfile[96];
} stub_t;

static stub_t stubs[2];
static int nstubs;

static void stop_stubs(void) {
    for (int i = 0; i < nstubs; i++) {
        kill(stubs[i].pid, SIGTERM);
        waitpid(stubs[i].pid, NULL, 0);
        unlink(stubs[i].record);
        unlink(stubs[i].portfile);
        rmdir(stubs[i].dir);
    }
    nstubs = 0;
}

/* Starts tests/stubs/<script> with args (NULL-terminated) and waits for its port. */
static stub_t *start_stub(const char *script, const char *const *args) {
    if (access(PYTHON, X_OK))
        cr_skip_test("%s is missing: the action tests need the stubs", PYTHON);
    cr_assert_lt(nstubs, (int)(sizeof stubs / sizeof stubs[0]));
    stub_t *s = &stubs[nstubs++];
    char dir[] = "/tmp/hs-actions-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->record, sizeof s->record, "%s/record.jsonl", dir);
    snprintf(s->portfile, sizeof s->portfile, "%s/port", dir);
    char path[512];
    snprintf(path, sizeof path, "%s/tests/stubs/%s", HS_SOURCE_DIR, script);
    const char *argv[32] = {PYTHON,     path,      "--port",      "0",
                            "--record", s->record, "--port-file", s->portfile};
    size_t n = 8;
    for (; args && *args && n < 31; args++)
        argv[n++] = *args;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&s->pid, PYTHON, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn: %s", strerror(rc));
    for (int i = 0; i < 500 && !s->port; i++) {
        FILE *f = fopen(s->portfile, "r");
        if (!f || fscanf(f, "%d", &s->port) != 1) usleep(20000);
        if (f) fclose(f);
        cr_assert_eq(waitpid(s->pid, NULL, WNOHANG), 0, "%s exited at start", script);
    }
    cr_assert_gt(s->port, 0, "%s did not write its port", script);
    return s;
}

/* The stub's records so far, as a JSON array (new reference). */
static json_t *records(const stub_t *s) {
    json_t *all = json_array();
    FILE *f = fopen(s->record, "r");
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *r = json_loads(line, 0, &e);
        cr_assert_not_null(r, "bad record line: %s", e.text);
        json_array_append_new(all, r);
    }
    free(line);
    if (f) fclose(f);
    return all;
}

static json_t *params(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *params(const char *fmt, ...) {
    char text[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_error_t e;
    json_t *p = json_loads(text, JSON_ALLOW_NUL, &e);
    cr_assert_not_null(p, "bad params %s: %s", text, e.text);
    return p;
}

static hs_action_ctx_t ctx = {.idempotency_key = KEY,
                              .timeout_ms = 5000,
                              .smtp_from = "Hookstream <noreply@hookstream.test>"};

/* Runs action on params (taken) and returns its error; res filled. */
static hs_err_t run(const char *action, json_t *p, hs_action_result_t *res) {
    const hs_action_t *a = hs_action_find(action);
    cr_assert_not_null(a);
    memset(res, 0, sizeof *res);
    char err[256];
    cr_assert_eq(a->validate(p, err, sizeof err), HS_OK, "validate: %s", err);
    hs_err_t rc = a->run(p, &ctx, res);
    json_decref(p);
    if (rc == HS_OK) {
        cr_assert_not_null(res->output);
    } else {
        cr_assert_null(res->output);
        cr_assert(res->error[0], "a failure without an error text");
    }
    return rc;
}

static const char *str_at(const json_t *v, const char *path) {
    const json_t *cur = v;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *seg = strtok_r(buf, ".", &save); seg && cur;
         seg = strtok_r(NULL, ".", &save))
        cur = json_is_array(cur) ? json_array_get(cur, strtoul(seg, NULL, 10))
                                 : json_object_get(cur, seg);
    return json_string_value(cur);
}

/* A port nothing listens on: bound, then closed. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

#endif
