#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "hs_err.h"
#include "hs_log.h"

/* Runs fn with stderr redirected to a pipe and returns what it wrote (caller frees). */
static char *capture(void (*fn)(void)) {
    int fds[2];
    cr_assert(pipe(fds) == 0);
    int saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    char *buf = calloc(1, 4096);
    ssize_t n = read(fds[0], buf, 4095);
    cr_assert(n >= 0);
    close(fds[0]);
    return buf;
}

static void log_fields(void) {
    hs_log_init("svc", HS_LOG_INFO);
    hs_log(HS_LOG_ERROR, "produce failed", "{s:s, s:i}", "topic", "hs.events.orders", "partition",
           3);
}

Test(log, one_json_object_per_line_with_typed_fields) {
    char *out = capture(log_fields);
    cr_assert(out[strlen(out) - 1] == '\n', "line must end with a newline");
    json_error_t jerr;
    json_t *line = json_loads(out, 0, &jerr);
    cr_assert(line, "not JSON: %s", out);
    cr_assert_str_eq(json_string_value(json_object_get(line, "level")), "error");
    cr_assert_str_eq(json_string_value(json_object_get(line, "service")), "svc");
    cr_assert_str_eq(json_string_value(json_object_get(line, "msg")), "produce failed");
    cr_assert_str_eq(json_string_value(json_object_get(line, "topic")), "hs.events.orders");
    cr_assert_eq(json_integer_value(json_object_get(line, "partition")), 3);
    const char *ts = json_string_value(json_object_get(line, "ts"));
    cr_assert(ts && strlen(ts) == 24 && ts[23] == 'Z', "ts %s", ts);
    json_decref(line);
    free(out);
}

static void log_below_level(void) {
    hs_log_init("svc", HS_LOG_WARN);
    hs_log(HS_LOG_INFO, "quiet", NULL);
    hs_log(HS_LOG_WARN, "loud", NULL);
}

Test(log, lines_below_the_level_are_dropped) {
    char *out = capture(log_below_level);
    cr_assert_null(strstr(out, "quiet"));
    cr_assert_not_null(strstr(out, "\"msg\":\"loud\""));
    free(out);
}

static void log_bad_format(void) {
    hs_log_init("svc", HS_LOG_INFO);
    hs_log(HS_LOG_INFO, "x", "{s:s", "k", "v");
}

Test(log, a_bad_field_format_still_logs_the_message) {
    char *out = capture(log_bad_format);
    json_t *line = json_loads(out, 0, NULL);
    cr_assert(line, "%s", out);
    cr_assert_str_eq(json_string_value(json_object_get(line, "msg")), "x");
    cr_assert_not_null(json_object_get(line, "log_error"));
    json_decref(line);
    free(out);
}

Test(log, level_names_parse) {
    cr_assert_eq(hs_log_level_parse("debug"), HS_LOG_DEBUG);
    cr_assert_eq(hs_log_level_parse("error"), HS_LOG_ERROR);
    cr_assert_eq(hs_log_level_parse("verbose"), -1);
}

Test(err, names_and_http_statuses) {
    cr_assert_str_eq(hs_err_str(HS_ERR_CONFLICT), "conflict");
    cr_assert_eq(hs_err_http_status(HS_ERR_NOT_FOUND), 404);
    cr_assert_eq(hs_err_http_status(HS_ERR_TOO_LARGE), 413);
    cr_assert_eq(hs_err_http_status(HS_ERR_UNAVAILABLE), 503);
    cr_assert_eq(hs_err_http_status((hs_err_t)999), 500);
    char buf[32];
    cr_assert_eq(hs_fail(HS_ERR_INVALID, buf, sizeof buf, "bad %d", 7), HS_ERR_INVALID);
    cr_assert_str_eq(buf, "bad 7");
}
