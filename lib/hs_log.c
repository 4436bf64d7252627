#include "hs_log.h"

#include <jansson.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Set once by hs_log_init before threads start; read-only afterwards. */
static char log_service[64] = "hookstream";
static hs_log_level_t log_level = HS_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void hs_log_init(const char *service, hs_log_level_t level) {
    snprintf(log_service, sizeof log_service, "%s", service);
    log_level = level;
}

int hs_log_level_parse(const char *name) {
    for (int i = 0; i <= HS_LOG_OFF; i++)
        if (strcmp(name, level_names[i]) == 0) return i;
    return -1;
}

static void format_ts(char *buf, size_t size) {
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

void hs_log(hs_log_level_t level, const char *msg, const char *fields, ...) {
    if (level < log_level || level >= HS_LOG_OFF) return;
    char ts[40];
    format_ts(ts, sizeof ts);
    json_t *line = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", level_names[level],
                             "service", log_service, "msg", msg);
    if (fields) {
        json_error_t jerr;
        va_list ap;
        va_start(ap, fields);
        json_t *extra = json_vpack_ex(&jerr, 0, fields, ap);
        va_end(ap);
        if (extra)
            json_object_update(line, extra);
        else
            json_object_set_new(line, "log_error", json_string(jerr.text));
        json_decref(extra);
    }
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (!text) return;
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps leaves room: replace the NUL, write len+1 bytes */
    ssize_t w = write(STDERR_FILENO, text, len + 1);
    (void)w;
    free(text);
}
