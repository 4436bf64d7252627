/* Later parts of the dev stack (dev_parts.c has the table and the first ones): the cache
 * invalidator, analytics, the cache-proxy when dev.cache_upstream names an API to cache, and
 * Prometheus, when it is installed, scraping every part that serves /metrics.
 * Prometheus's configuration and rules are
 * ops/prometheus, compiled into the binary (hs_embedded.h), so an installed hookstream needs no
 * source tree; `up` renders them into D/prometheus with the dev scrape interval and writes one
 * file_sd target file per part. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev.h"
#include "hs_backoff.h"
#include "hs_embedded.h"

#define PROM_DIR "prometheus"

/* --- invalidator: `hookstream invalidator` on the stack's Redis (the cache's L2) --- */

static void invalidator_command(const dev_stack_t *st, int port, dev_cmd_t *cmd) {
    dev_service_command(st, "invalidator", port, 0, cmd);
    dev_cmd_add(cmd, "--redis");
    dev_cmd_add(cmd, "redis://127.0.0.1:%d", dev_port_of(st, "redis"));
}

/* No D/env variable: HS_INVALIDATOR_* names configuration keys, and it has no client. */
const dev_part_t dev_part_invalidator = {
    .name = "invalidator",
    .label = "cache invalidator",
    .port_key = "dev.invalidator_port",
    .http = 1,
    .stop_signal = SIGTERM,
    .command = invalidator_command,
    .ready = dev_http_ready,
    .address = dev_http_address,
};

/* --- analytics: `hookstream analytics` into the stack's Postgres --- */

static void analytics_command(const dev_stack_t *st, int port, dev_cmd_t *cmd) {
    dev_service_command(st, "analytics", port, 1, cmd);
}

/* No D/env variable: HS_ANALYTICS_* names configuration keys. */
const dev_part_t dev_part_analytics = {
    .name = "analytics",
    .label = "analytics",
    .port_key = "dev.analytics_port",
    .http = 1,
    .stop_signal = SIGTERM,
    .command = analytics_command,
    .ready = dev_http_ready,
    .address = dev_http_address,
};

/* --- cache-proxy: `hookstream cache-proxy` in front of dev.cache_upstream, on the stack's Redis.
 * Its port is the admin port (/metrics, /readyz); prepare chooses the proxy's own port and keeps
 * it with the upstream in D/run/cache-proxy.listen ("PORT UPSTREAM"), so status and down rebuild
 * the same command line whatever their own configuration says. --- */

#define CACHE_LISTEN "run/cache-proxy.listen"

static int cache_enabled(const dev_stack_t *st, char *why, size_t n) {
    if (*hs_config_str(st->cfg, "dev.cache_upstream")) return 1;
    snprintf(why, n, "dev.cache_upstream is not set (the API it would cache, http://host:port)");
    return 0;
}

/* Reads the port and upstream prepare kept; returns the port (0 when there is none). */
static int cache_listen(const dev_stack_t *st, char *upstream, size_t n) {
    char path[DEV_FILE], line[DEV_PATH + 32], *end = NULL;
    dev_path(st, CACHE_LISTEN, path, sizeof path);
    int port = dev_read_line(path, line, sizeof line) ? (int)strtol(line, &end, 10) : 0;
    snprintf(upstream, n, "%s", end && *end == ' ' ? end + 1 : "");
    return port;
}

static hs_err_t cache_prepare(dev_stack_t *st, int port, char *err, size_t n) {
    int lp = (int)hs_config_int(st->cfg, "dev.cache_port");
    if (lp > 0 && !dev_port_free(lp))
        return hs_fail(HS_ERR_CONFLICT, err, n,
                       "port %d (cache proxy) is in use; free it or set "
                       "dev.cache_port",
                       lp);
    for (int tries = 0; lp <= 0 && tries < 20; tries++)
        if ((lp = dev_port_pick()) == port) lp = 0;
    if (lp <= 0) return hs_fail(HS_ERR_UNAVAILABLE, err, n, "no free loopback port for the proxy");
    char path[DEV_FILE], text[DEV_PATH + 32];
    dev_path(st, CACHE_LISTEN, path, sizeof path);
    snprintf(text, sizeof text, "%d %s\n", lp, hs_config_str(st->cfg, "dev.cache_upstream"));
    return dev_write_file(path, text, err, n);
}

static void cache_command(const dev_stack_t *st, int port, dev_cmd_t *cmd) {
    char upstream[DEV_PATH];
    int lp = cache_listen(st, upstream, sizeof upstream);
    dev_cmd_add(cmd, "%s", st->self);
    dev_cmd_add(cmd, "cache-proxy");
    dev_cmd_add(cmd, "--upstream");
    dev_cmd_add(cmd, "%s", upstream);
    dev_cmd_add(cmd, "--listen");
    dev_cmd_add(cmd, "127.0.0.1:%d", lp);
    dev_cmd_add(cmd, "--admin-listen");
    dev_cmd_add(cmd, "127.0.0.1:%d", port);
    dev_cmd_add(cmd, "--redis");
    dev_cmd_add(cmd, "redis://127.0.0.1:%d", dev_port_of(st, "redis"));
}

static void cache_address(const dev_stack_t *st, int port, char *out, size_t n) {
    char upstream[DEV_PATH];
    snprintf(out, n, "http://127.0.0.1:%d  (metrics http://127.0.0.1:%d)",
             cache_listen(st, upstream, sizeof upstream), port);
}

/* No D/env variable: HS_CACHE_* names configuration keys. Routes come from the configuration
 * file (cache_routes), which every part gets. */
const dev_part_t dev_part_cache_proxy = {
    .name = "cache-proxy",
    .label = "cache proxy",
    .port_key = "dev.cache_admin_port",
    .http = 1,
    .stop_signal = SIGTERM,
    .enabled = cache_enabled,
    .prepare = cache_prepare,
    .command = cache_command,
    .ready = dev_http_ready,
    .address = cache_address,
};

/* --- prometheus: `prometheus` (Debian package) on D/prometheus --- */

static int prom_binary(const dev_stack_t *st, char *out, size_t n) {
    return dev_binary(hs_config_str(st->cfg, "dev.prometheus"), out, n);
}

static int prom_enabled(const dev_stack_t *st, char *why, size_t n) {
    char bin[DEV_PATH];
    if (prom_binary(st, bin, sizeof bin)) return 1;
    snprintf(why, n,
             "%s not found in PATH or /usr/bin (install the Debian package prometheus, e.g. "
             "with ops/deps.sh, or set dev.prometheus)",
             bin);
    return 0;
}

static hs_err_t prom_interval(const dev_stack_t *st, int64_t *ms, char *err, size_t n) {
    const char *v = hs_config_str(st->cfg, "dev.prometheus_scrape_interval");
    if (hs_duration_parse(v, ms) != 0 || *ms < 100 || *ms > 3600000)
        return hs_fail(HS_ERR_INVALID, err, n,
                       "dev.prometheus_scrape_interval: '%s' is not a duration from 100ms to 1h "
                       "(e.g. 2s)",
                       v);
    return HS_OK;
}

static hs_err_t prom_check(dev_stack_t *st, char *err, size_t n) {
    int64_t ms;
    return prom_interval(st, &ms, err, n);
}

/* Replaces the value of the first "key: value" line of text with value; the result goes to
 * out. HS_ERR_INVALID when the key is not there. */
static hs_err_t yaml_set(const char *text, const char *key, const char *value, char *out, size_t n,
                         char *err, size_t en) {
    const char *at = strstr(text, key);
    if (!at) return hs_fail(HS_ERR_INTERNAL, err, en, "prometheus.yml has no '%s' line", key);
    const char *eol = strchr(at, '\n');
    if (!eol) eol = at + strlen(at);
    int w = snprintf(out, n, "%.*s%s %s%s", (int)(at - text), text, key, value, eol);
    if (w < 0 || (size_t)w >= n)
        return hs_fail(HS_ERR_INTERNAL, err, en, "prometheus.yml too large");
    return HS_OK;
}

/* D/prometheus/prometheus.yml: ops/prometheus/prometheus.yml with the dev intervals. */
static hs_err_t prom_write_config(dev_stack_t *st, char *err, size_t n) {
    const char *tmpl = NULL;
    for (const hs_embedded_file_t *f = hs_embedded_prometheus; f->path; f++)
        if (!strcmp(f->path, "prometheus.yml")) tmpl = f->text;
    if (!tmpl) return hs_fail(HS_ERR_INTERNAL, err, n, "prometheus.yml is not embedded");
    int64_t ms;
    hs_err_t e = prom_interval(st, &ms, err, n);
    if (e) return e;
    char iv[32], path[DEV_FILE];
    snprintf(iv, sizeof iv, "%lldms", (long long)ms);
    size_t size = strlen(tmpl) + 128;
    char *a = malloc(size), *b = malloc(size);
    if (!a || !b) abort();
    if (!(e = yaml_set(tmpl, "scrape_interval:", iv, a, size, err, n)) &&
        !(e = yaml_set(a, "evaluation_interval:", iv, b, size, err, n))) {
        dev_path(st, PROM_DIR "/prometheus.yml", path, sizeof path);
        e = dev_write_file(path, b, err, n);
    }
    free(a);
    free(b);
    return e;
}

/* D/prometheus/rules/: every rule file of ops/prometheus/rules. */
static hs_err_t prom_write_rules(dev_stack_t *st, char *err, size_t n) {
    char path[DEV_FILE];
    for (const hs_embedded_file_t *f = hs_embedded_prometheus; f->path; f++) {
        if (strncmp(f->path, "rules/", 6) != 0) continue;
        snprintf(path, sizeof path, "%s/" PROM_DIR "/%s", st->dir, f->path);
        hs_err_t e = dev_write_file(path, f->text, err, n);
        if (e) return e;
    }
    return HS_OK;
}

/* Empties D/prometheus/targets: files left by an earlier stack (or a test) name dead ports. */
static hs_err_t prom_clear_targets(const char *dir, char *err, size_t n) {
    DIR *d = opendir(dir);
    if (!d) return hs_fail(HS_ERR_IO, err, n, "open %s: %s", dir, strerror(errno));
    struct dirent *de;
    char path[DEV_FILE + 300];
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    return HS_OK;
}

/* D/prometheus/targets/<part>.json for every part of this stack that serves /metrics: its job
 * label is the part's name. */
static hs_err_t prom_write_targets(dev_stack_t *st, char *err, size_t n) {
    char dir[DEV_FILE], path[DEV_FILE + 64], text[256], why[8];
    dev_path(st, PROM_DIR "/targets", dir, sizeof dir);
    hs_err_t e = prom_clear_targets(dir, err, n);
    for (int i = 0; !e && i < dev_nparts(); i++) {
        if (!dev_parts[i]->http || !dev_part_on(st, i, why, sizeof why)) continue;
        snprintf(path, sizeof path, "%s/%s.json", dir, dev_parts[i]->name);
        snprintf(text, sizeof text,
                 "[{\"targets\": [\"127.0.0.1:%d\"], \"labels\": {\"job\": \"%s\"}}]\n",
                 st->port[i], dev_parts[i]->name);
        e = dev_write_file(path, text, err, n);
    }
    return e;
}

static hs_err_t prom_prepare(dev_stack_t *st, int port, char *err, size_t n) {
    (void)port;
    static const char *const dirs[] = {PROM_DIR "/data", PROM_DIR "/rules", PROM_DIR "/targets"};
    char path[DEV_FILE];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        dev_path(st, dirs[i], path, sizeof path);
        hs_err_t e = dev_mkdirs(path, 0755, err, n);
        if (e) return e;
    }
    hs_err_t e = prom_write_config(st, err, n);
    if (!e) e = prom_write_rules(st, err, n);
    if (!e) e = prom_write_targets(st, err, n);
    return e;
}

static void prom_command(const dev_stack_t *st, int port, dev_cmd_t *cmd) {
    char bin[DEV_PATH];
    prom_binary(st, bin, sizeof bin);
    dev_cmd_add(cmd, "%s", bin);
    dev_cmd_add(cmd, "--config.file=%s/" PROM_DIR "/prometheus.yml", st->dir);
    dev_cmd_add(cmd, "--storage.tsdb.path=%s/" PROM_DIR "/data", st->dir);
    dev_cmd_add(cmd, "--storage.tsdb.retention.time=1d");
    dev_cmd_add(cmd, "--web.listen-address=127.0.0.1:%d", port);
}

static int prom_ready(dev_stack_t *st, int port, char *why, size_t n) {
    (void)st;
    return dev_http_ok(port, "/-/ready", why, n);
}

const dev_part_t dev_part_prometheus = {
    .name = "prometheus",
    .label = "prometheus",
    .port_key = "dev.prometheus_port",
    .env_addr = "HS_PROMETHEUS_URL",
    .stop_signal = SIGTERM,
    .enabled = prom_enabled,
    .check = prom_check,
    .prepare = prom_prepare,
    .command = prom_command,
    .ready = prom_ready,
    .address = dev_http_address,
};
