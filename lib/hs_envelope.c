#include "hs_envelope.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <uuid/uuid.h>

#define SPECVERSION "1.0"

/* One row per header: which envelope field it carries and whether a consumer must see it.
 * CloudEvents makes id, type, source (and specversion, checked apart) mandatory. */
static const struct {
    const char *header;
    size_t offset;
    size_t size;
    int required;
} fields[] = {
    {"ce_id", offsetof(hs_envelope_t, id), sizeof(((hs_envelope_t *)0)->id), 1},
    {"ce_type", offsetof(hs_envelope_t, type), sizeof(((hs_envelope_t *)0)->type), 1},
    {"ce_source", offsetof(hs_envelope_t, source), sizeof(((hs_envelope_t *)0)->source), 1},
    {"ce_time", offsetof(hs_envelope_t, time), sizeof(((hs_envelope_t *)0)->time), 0},
    {"ce_subject", offsetof(hs_envelope_t, subject), sizeof(((hs_envelope_t *)0)->subject), 0},
    {"content-type", offsetof(hs_envelope_t, content_type),
     sizeof(((hs_envelope_t *)0)->content_type), 0},
    {"hs_tenant", offsetof(hs_envelope_t, tenant), sizeof(((hs_envelope_t *)0)->tenant), 0},
    {"hs_schema", offsetof(hs_envelope_t, schema), sizeof(((hs_envelope_t *)0)->schema), 0},
    {"traceparent", offsetof(hs_envelope_t, traceparent), sizeof(((hs_envelope_t *)0)->traceparent),
     0},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static void random_bytes(unsigned char *out, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(out + got, n - got, 0);
        if (r > 0) got += (size_t)r;
    }
}

static void hex(const unsigned char *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* A trace or span id of all zeros is invalid per W3C, so draw again in that (unlikely) case. */
static void random_id_hex(size_t nbytes, char *out) {
    unsigned char b[16];
    int zero = 1;
    while (zero) {
        random_bytes(b, nbytes);
        for (size_t i = 0; i < nbytes; i++)
            zero &= b[i] == 0;
    }
    hex(b, nbytes, out);
}

void hs_envelope_defaults(hs_envelope_t *ev) {
    if (!ev->id[0]) {
        uuid_t u;
        uuid_generate_random(u);
        uuid_unparse_lower(u, ev->id);
    }
    if (!ev->time[0]) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        hs_envelope_time_format((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, ev->time,
                                sizeof ev->time);
    }
    if (!ev->traceparent[0]) {
        char trace[33], span[17];
        random_id_hex(16, trace);
        random_id_hex(8, span);
        snprintf(ev->traceparent, sizeof ev->traceparent, "00-%s-%s-01", trace, span);
    }
    if (!ev->content_type[0])
        snprintf(ev->content_type, sizeof ev->content_type, "application/avro");
}

rd_kafka_headers_t *hs_envelope_headers(const hs_envelope_t *ev) {
    rd_kafka_headers_t *h = rd_kafka_headers_new(NFIELDS + 1);
    rd_kafka_header_add(h, "ce_specversion", -1, SPECVERSION, -1);
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *v = (const char *)ev + fields[i].offset;
        size_t n = strnlen(v, fields[i].size);
        if (n) rd_kafka_header_add(h, fields[i].header, -1, v, (ssize_t)n);
    }
    return h;
}

/* Copies header `name` into dst (NUL-terminated). Returns 0 when absent, 1 when copied, -1 when
 * invalid (errstr filled). */
static int copy_header(const rd_kafka_headers_t *hdrs, const char *name, char *dst, size_t size,
                       char *errstr, size_t errstr_size) {
    const void *v;
    size_t n;
    if (rd_kafka_header_get_last(hdrs, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
    if (!v) return 0;
    if (n >= size) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                "header %s: value of %zu bytes is longer than the %zu allowed", name, n, size - 1);
        return -1;
    }
    if (memchr(v, '\0', n)) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size, "header %s: value contains a NUL byte", name);
        return -1;
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
    return n > 0;
}

hs_err_t hs_envelope_parse(const rd_kafka_headers_t *hdrs, hs_envelope_t *ev, char *errstr,
                           size_t errstr_size) {
    memset(ev, 0, sizeof *ev);
    if (!hdrs)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "header ce_specversion: missing (message has no headers)");
    char spec[8];
    int r = copy_header(hdrs, "ce_specversion", spec, sizeof spec, errstr, errstr_size);
    if (r < 0) return HS_ERR_INVALID;
    if (r == 0)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "header ce_specversion: missing");
    if (strcmp(spec, SPECVERSION) != 0)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "header ce_specversion: '%s' is not supported (want " SPECVERSION ")", spec);
    for (size_t i = 0; i < NFIELDS; i++) {
        char *dst = (char *)ev + fields[i].offset;
        r = copy_header(hdrs, fields[i].header, dst, fields[i].size, errstr, errstr_size);
        if (r < 0) return HS_ERR_INVALID;
        if (r == 0 && fields[i].required)
            return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "header %s: missing",
                           fields[i].header);
    }
    return HS_OK;
}

/* Reads exactly n digits at *p into *out and advances *p; returns 0 when a digit is missing. */
static int digits(const char **p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

static int days_in_month(int year, int month) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

static int valid_offset(const char *p) {
    if (*p == 'Z' || *p == 'z') return p[1] == '\0';
    if (*p != '+' && *p != '-') return 0;
    p++;
    int hh, mm;
    if (!digits(&p, 2, &hh) || *p++ != ':' || !digits(&p, 2, &mm)) return 0;
    return *p == '\0' && hh <= 23 && mm <= 59;
}

int hs_envelope_valid_time(const char *s) {
    if (!s) return 0;
    const char *p = s;
    int y, mo, d, h, mi, sec;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return 0;
    if (*p != 'T' && *p != 't') return 0;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
        !digits(&p, 2, &sec))
        return 0;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return 0;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return valid_offset(p);
}

static int lower_hex(const char *p, size_t n, int *all_zero) {
    *all_zero = 1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]) && !(p[i] >= 'a' && p[i] <= 'f')) return 0;
        if (p[i] != '0') *all_zero = 0;
    }
    return 1;
}

int hs_envelope_valid_traceparent(const char *s) {
    /* version "-" 32 hex trace-id "-" 16 hex parent-id "-" 2 hex flags = 55 characters; a later
     * version may append "-"-separated fields, which version 00 forbids. */
    if (!s) return 0;
    size_t len = strlen(s);
    int zero;
    if (len < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-') return 0;
    if (!lower_hex(s, 2, &zero) || strncmp(s, "ff", 2) == 0) return 0;
    int v00 = zero;
    if (!lower_hex(s + 3, 32, &zero) || zero) return 0;
    if (!lower_hex(s + 36, 16, &zero) || zero) return 0;
    if (!lower_hex(s + 53, 2, &zero)) return 0;
    if (v00) return len == 55;
    return len == 55 || s[55] == '-';
}

void hs_envelope_time_format(int64_t ms, char *out, size_t n) {
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", base, (int)(ms % 1000));
}

int64_t hs_envelope_time_ms(const char *s) {
    struct tm tm = {0};
    if (!hs_envelope_valid_time(s)) return -1;
    if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t ms = (int64_t)timegm(&tm) * 1000;
    const char *p = s + 19;
    if (*p == '.') {
        int64_t scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            ms += (*p - '0') * scale;
    }
    if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        sscanf(p + 1, "%2d:%2d", &hh, &mm);
        ms -= (*p == '+' ? 1 : -1) * (int64_t)(hh * 60 + mm) * 60000;
    }
    return ms;
}
