/* The parts of the dev stack: the table dev_parts (start order), and the infrastructure parts
 * and first services, each a dev_part_t beside its functions: how to start it, when it is ready,
 * what to do once it is, and the address users get. Adding a service to `dev up` is writing its
 * part (later ones in dev_services.c) and adding it to the table. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev.h"
#include "hs_pg.h"

#define PG_USER "postgres"
#define PG_DB "hookstream"
/* Secret of the dev stack's demo Shopify source (/webhooks/demo); documented in the README. */
#define DEV_INGEST_DEMO_SECRET "shpss_hookstream_demo"

void dev_path(const dev_stack_t *st, const char *name, char *out, size_t n) {
    snprintf(out, n, "%s/%s", st->dir, name);
}

void dev_cmd_add(dev_cmd_t *cmd, const char *fmt, ...) {
    size_t room = sizeof cmd->buf - cmd->used;
    if (cmd->argc >= DEV_MAX_ARGS - 1) {
        cmd->overflow = 1;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(cmd->buf + cmd->used, room, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= room) {
        cmd->overflow = 1;
        return;
    }
    cmd->argv[cmd->argc++] = cmd->buf + cmd->used;
    cmd->argv[cmd->argc] = NULL;
    cmd->used += (size_t)w + 1;
}

int dev_port_of(const dev_stack_t *st, const char *part) {
    int i = dev_part_index(part);
    return i < 0 ? 0 : st->port[i];
}

static int remaining_ms(const dev_stack_t *st) {
    int64_t left = st->deadline_ms - dev_now_ms();
    return left < 1000 ? 1000 : (int)left;
}

void dev_http_address(const dev_stack_t *st, int port, char *out, size_t n) {
    (void)st;
    snprintf(out, n, "http://127.0.0.1:%d", port);
}

int dev_http_ok(int port, const char *path, char *why, size_t n) {
    char url[300];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    if (!c) return snprintf(why, n, "curl_easy_init failed"), 0;
    long status = 0;
    FILE *sink = fopen("/dev/null", "we");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (sink) curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (sink) fclose(sink);
    if (rc != CURLE_OK) return snprintf(why, n, "GET %s: %s", url, curl_easy_strerror(rc)), 0;
    if (status != 200) return snprintf(why, n, "GET %s answered %ld", url, status), 0;
    return 1;
}

int dev_http_ready(dev_stack_t *st, int port, char *why, size_t n) {
    (void)st;
    return dev_http_ok(port, "/readyz", why, n);
}

/* Runs `<self> ARGS...` for part's one-off steps, output in the part's log. */
static hs_err_t run_self(const dev_stack_t *st, const char *part, const char *const *args,
                         const char *const *env_overrides, char *err, size_t n) {
    dev_cmd_t cmd = {0};
    dev_cmd_add(&cmd, "%s", st->self);
    for (size_t i = 0; args[i]; i++)
        dev_cmd_add(&cmd, "%s", args[i]);
    char log[DEV_FILE], name[64];
    snprintf(name, sizeof name, "logs/%s.log", part);
    dev_path(st, name, log, sizeof log);
    char **env = dev_env_new(env_overrides);
    if (!env || cmd.overflow) {
        free(env);
        return hs_fail(HS_ERR_INTERNAL, err, n, "%s: cannot build the command", part);
    }
    dev_spawn_t sp = {cmd.argv, env, log, st->dir, NULL};
    hs_err_t e = dev_run(&sp, remaining_ms(st), err, n);
    free(env);
    return e;
}

/* --- broker: `hookstream broker`, ready once it wrote its bootstrap file --- */

static hs_err_t broker_prepare(dev_stack_t *st, int port, char *err, size_t n) {
    (void)port;
    char path[DEV_FILE];
    dev_path(st, "broker.bootstrap", path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT)
        return hs_fail(HS_ERR_IO, err, n, "remove %s: %s", path, strerror(errno));
    st->bootstrap[0] = '\0';
    return HS_OK;
}

static void broker_command(const dev_stack_t *st, int port, dev_cmd_t *cmd) {
    dev_cmd_add(cmd, "%s", st->self);
    dev_cmd_add(cmd, "broker");
    dev_cmd_add(cmd, "--bootstrap-file");
    dev_cmd_add(cmd, "%s/broker.bootstrap", st->dir);
    dev_cmd_add(cmd, "--control");
    dev_cmd_add(cmd, "127.0.0.1:%d", port);
}

static int broker_ready(dev_stack_t *st, int port, char *why, size_t n) {
    (void)port;
    char path[DEV_FILE];
    dev_path(st, "broker.bootstrap", path, sizeof path);
    if (dev_read_line(path, st->bootstrap, sizeof st->bootstrap)) return 1;
    snprintf(why, n, "%s not written yet", path);
    return 0;
}

static void broker_address(const dev_stack_t *st, int port, char *out, size_t n) {
    (void)port;
    snprintf(out, n, "%s", st->bootstrap[0] ? st->bootstrap : "(bootstrap not written)");
}

/* --- postgres: a private cluster in D/pg, run as the postgres account when we are root --- */

static hs_err_t pg_check(dev_stack_t *st, char *err, size_t n) {
    const char *bindir = hs_config_str(st->cfg, "dev.pg_bindir");
    static const char *const progs[] = {"initdb", "postgres"};
    for (size_t i = 0; i < 2; i++) {
        char path[DEV_PATH];
        snprintf(path, sizeof path, "%s/%s", bindir, progs[i]);
        if (access(path, X_OK) != 0)
            return hs_fail(HS_ERR_UNAVAILABLE, err, n,
                           "PostgreSQL 15 server binaries not found: %s is missing (install the "
                           "Debian package postgresql-15, e.g. with ops/deps.sh, or set "
                           "dev.pg_bindir)",
                           path);
    }
    return HS_OK;
}

/* The postgres account must be able to reach D/pg: mktemp -d makes 0700 directories, and CI
 * runs as root below one. Adds search permission (o+x) where it is missing and says so. */
static hs_err_t pg_open_path(const dev_stack_t *st, char *err, size_t n) {
    if (chmod(st->dir, 0755) != 0)
        return hs_fail(HS_ERR_IO, err, n, "chmod %s: %s", st->dir, strerror(errno));
    char p[DEV_PATH];
    snprintf(p, sizeof p, "%s", st->dir);
    for (char *slash; (slash = strrchr(p, '/')) && slash != p;) {
        *slash = '\0';
        struct stat sb;
        if (stat(p, &sb) != 0) return hs_fail(HS_ERR_IO, err, n, "%s: %s", p, strerror(errno));
        if (sb.st_mode & S_IXOTH) continue;
        if (chmod(p, (sb.st_mode & 07777) | S_IXOTH) != 0)
            return hs_fail(HS_ERR_IO, err, n, "chmod o+x %s: %s", p, strerror(errno));
        fprintf(stderr,
                "hookstream dev: made %s searchable (o+x) so the postgres account can "
                "reach %s\n",
                p, st->dir);
    }
    return HS_OK;
}

static hs_err_t pg_initdb(dev_stack_t *st, const char *data, char *err, size_t n) {
    dev_cmd_t cmd = {0};
    dev_cmd_add(&cmd, "%s/initdb", hs_config_str(st->cfg, "dev.pg_bindir"));
    dev_cmd_add(&cmd, "--pgdata=%s", data);
    dev_cmd_add(&cmd, "--auth=trust");
    dev_cmd_add(&cmd, "--username=" PG_USER);
    dev_cmd_add(&cmd, "--encoding=UTF8");
    dev_cmd_add(&cmd, "--no-locale");
    dev_cmd_add(&cmd, "--no-sync"); /* a throw-away cluster: durability is not the point */
    char log[DEV_FILE];
    dev_path(st, "logs/postgres.log", log, sizeof log);
    char **env = dev_env_new(NULL);
    if (!env || cmd.overflow) {
        free(env);
        return hs_fail(HS_ERR_INTERNAL, err, n, "initdb: cannot build the command");
    }
    dev_spawn_t sp = {cmd.argv, env, log, st->dir, &st->db_user};
    hs_err_t e = dev_run(&sp, remaining_ms(st), err, n);
    free(env);
    if (e == HS_OK) snprintf(st->note, sizeof st->note, "initdb: new cluster");
    return e;
}

static hs_err_t pg_prepare(dev_stack_t *st, int port, char *err, size_t n) {
    (void)port;
    char pg[DEV_FILE], data[DEV_FILE], version[DEV_FILE];
    dev_path(st, "pg", pg, sizeof pg);
    dev_path(st, "pg/data", data, sizeof data);
    dev_path(st, "pg/data/PG_VERSION", version, sizeof version);
    hs_err_t e = dev_mkdirs(pg, 0700, err, n);
    if (e) return e;
    const dev_user_t *u = &st->db_user;
    if (u->active && ((e = pg_open_path(st, err, n)) || chown(pg, u->uid, u->gid) != 0))
        return e ? e : hs_fail(HS_ERR_IO, err, n, "chown %s: %s", pg, strerror(errno));
    if (access(version, F_OK) == 0) return HS_OK;
    /* A cluster without PG_VERSION is what a failed initdb leaves: initdb wants it gone. */
    if ((e = dev_rmtree(data, err, n))) return e;
    return pg_initdb(st, data, err, n);
}

static void pg_command(const dev_stack_t *st, int port, dev_cmd_t *cmd) {
    dev_cmd_add(cmd, "%s/postgres", hs_config_str(st->cfg, "dev.pg_bindir"));
    dev_cmd_add(cmd, "-D");
    dev_cmd_add(cmd, "%s/pg/data", st->dir);
    dev_cmd_add(cmd, "-p");
    dev_cmd_add(cmd, "%d", port);
    dev_cmd_add(cmd, "-k");
    /* A Unix socket path is limited to 107 bytes; past that, TCP only. */
    if (strlen(st->dir) + sizeof "/pg/.s.PGSQL.65535" <= 107)
        dev_cmd_add(cmd, "%s/pg", st->dir);
    else
        dev_cmd_add(cmd, "%s", "");
    dev_cmd_add(cmd, "-c");
    dev_cmd_add(cmd, "listen_addresses=127.0.0.1");
    dev_cmd_add(cmd, "-c");
    dev_cmd_add(cmd, "fsync=off");
}

static int pg_ready(dev_stack_t *st, int port, char *why, size_t n) {
    (void)st;
    char conninfo[128];
    snprintf(conninfo, sizeof conninfo,
             "host=127.0.0.1 port=%d user=" PG_USER " dbname=postgres connect_timeout=2", port);
    PGPing ping = PQping(conninfo);
    if (ping == PQPING_OK) return 1;
    snprintf(why, n, "127.0.0.1:%d %s", port,
             ping == PQPING_REJECT ? "rejects connections (starting up)" : "not answering");
    return 0;
}

static void pg_dsn(int port, const char *db, char *out, size_t n) {
    snprintf(out, n, "postgresql://" PG_USER "@127.0.0.1:%d/%s", port, db);
}

void dev_pg_dsn(const dev_stack_t *st, char *out, size_t n) {
    pg_dsn(dev_port_of(st, "postgres"), PG_DB, out, n);
}

static hs_err_t pg_create_db(dev_stack_t *st, int port, char *err, size_t n) {
    char dsn[128];
    pg_dsn(port, "postgres", dsn, sizeof dsn);
    PGconn *c = hs_pg_connect(dsn, remaining_ms(st) / 1000, err, n);
    if (!c) return HS_ERR_UNAVAILABLE;
    PGresult *r =
        hs_pg_query(c, "SELECT 1 FROM pg_database WHERE datname = '" PG_DB "'", 0, NULL, err, n);
    hs_err_t e = r ? HS_OK : HS_ERR_UNAVAILABLE;
    if (r && PQntuples(r) == 0) e = hs_pg_exec(c, "CREATE DATABASE " PG_DB, err, n);
    PQclear(r);
    PQfinish(c);
    return e;
}

static hs_err_t pg_after(dev_stack_t *st, int port, char *err, size_t n) {
    hs_err_t e = pg_create_db(st, port, err, n);
    if (e) return e;
    char dsn[128];
    pg_dsn(port, PG_DB, dsn, sizeof dsn);
    PGconn *c = hs_pg_connect(dsn, remaining_ms(st) / 1000, err, n);
    if (!c) return HS_ERR_UNAVAILABLE;
    int applied = 0;
    e = hs_pg_migrate(c, &applied, err, n);
    /* The embedded broker starts empty at every up: offsets a service keeps in Postgres (analytics'
     * consumer_offsets) name messages of the last broker, past the new topics' ends. */
    if (e == HS_OK) e = hs_pg_exec(c, "DELETE FROM consumer_offsets", err, n);
    PQfinish(c);
    if (e == HS_OK && applied > 0) {
        size_t len = strlen(st->note);
        snprintf(st->note + len, sizeof st->note - len, "%s%d migration%s applied", len ? ", " : "",
                 applied, applied == 1 ? "" : "s");
    }
    return e;
}

static void pg_address(const dev_stack_t *st, int port, char *out, size_t n) {
    (void)st;
    pg_dsn(port, PG_DB, out, n);
}

/* --- redis: no persistence, loopback only --- */

/* Writes the redis-server to run: dev.redis_server as a path, else found in PATH or /usr/bin. */
static int redis_binary(const dev_stack_t *st, char *out, size_t n) {
    return dev_binary(hs_config_str(st->cfg, "dev.redis_server"), out, n);
}

static hs_err_t redis_check(dev_stack_t *st, char *err, size_t n) {
    char bin[DEV_PATH];
    if (redis_binary(st, bin, sizeof bin)) return HS_OK;
    return hs_fail(HS_ERR_UNAVAILABLE, err, n,
                   "%s not found in PATH or /usr/bin (install the Debian package redis-server, "
                   "e.g. with ops/deps.sh, or set dev.redis_server)",
                   bin);
}

static hs_err_t redis_prepare(dev_stack_t *st, int port, char *err, size_t n) {
    (void)port;
    char dir[DEV_FILE];
    dev_path(st, "redis", dir, sizeof dir);
    return dev_mkdirs(dir, 0755, err, n);
}

static void redis_command(const dev_stack_t *st, int port, dev_cmd_t *cmd) {
    char bin[DEV_PATH];
    redis_binary(st, bin, sizeof bin);
    dev_cmd_add(cmd, "%s", bin);
    static const char *const fixed[] = {"--bind",       "127.0.0.1", "--save",      "",
                                        "--appendonly", "no",        "--daemonize", "no"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        dev_cmd_add(cmd, "%s", fixed[i]);
    dev_cmd_add(cmd, "--port");
    dev_cmd_add(cmd, "%d", port);
    dev_cmd_add(cmd, "--dir");
    dev_cmd_add(cmd, "%s/redis", st->dir);
}

static int redis_ready(dev_stack_t *st, int port, char *why, size_t n) {
    (void)st;
    struct timeval tv = {0, 500000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        snprintf(why, n, "127.0.0.1:%d: %s", port, c ? c->errstr : "out of memory");
        redisFree(c);
        return 0;
    }
    redisSetTimeout(c, tv);
    redisReply *r = redisCommand(c, "PING");
    int ok = r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");
    if (!ok) snprintf(why, n, "127.0.0.1:%d: no PONG to PING", port);
    freeReplyObject(r);
    redisFree(c);
    return ok;
}

static void redis_address(const dev_stack_t *st, int port, char *out, size_t n) {
    (void)st;
    snprintf(out, n, "redis://127.0.0.1:%d", port);
}

/* Once running, redis-server replaces its command line with "redis-server 127.0.0.1:PORT". */
static void redis_retitled(const dev_stack_t *st, int port, char *out, size_t n) {
    (void)st;
    snprintf(out, n, "redis-server 127.0.0.1:%d", port);
}

/* --- registry: `hookstream registry` over the stack's Postgres, then the built-in schemas --- */

static void registry_command(const dev_stack_t *st, int port, dev_cmd_t *cmd) {
    char dsn[128];
    pg_dsn(dev_port_of(st, "postgres"), PG_DB, dsn, sizeof dsn);
    dev_cmd_add(cmd, "%s", st->self);
    dev_cmd_add(cmd, "registry");
    dev_cmd_add(cmd, "--listen");
    dev_cmd_add(cmd, "127.0.0.1:%d", port);
    dev_cmd_add(cmd, "--dsn");
    dev_cmd_add(cmd, "%s", dsn);
}

static hs_err_t registry_after(dev_stack_t *st, int port, char *err, size_t n) {
    char url[64];
    snprintf(url, sizeof url, "HS_REGISTRY_URL=http://127.0.0.1:%d", port);
    const char *const args[] = {"schemas", "register", NULL};
    const char *const env[] = {url, NULL};
    hs_err_t e = run_self(st, "registry", args, env, err, n);
    if (e == HS_OK) snprintf(st->note, sizeof st->note, "built-in event schemas registered");
    return e;
}

/* --- ingest: `hookstream ingest` with a demo Shopify source (README tour) --- */

static void ingest_command(const dev_stack_t *st, int port, dev_cmd_t *cmd) {
    dev_cmd_add(cmd, "%s", st->self);
    dev_cmd_add(cmd, "ingest");
    dev_cmd_add(cmd, "--listen");
    dev_cmd_add(cmd, "127.0.0.1:%d", port);
    dev_cmd_add(cmd, "--brokers");
    dev_cmd_add(cmd, "%s", st->bootstrap);
    dev_cmd_add(cmd, "--registry");
    dev_cmd_add(cmd, "http://127.0.0.1:%d", dev_port_of(st, "registry"));
    dev_cmd_add(cmd, "--set"); /* creates hs.inbox.demo on the embedded broker */
    dev_cmd_add(cmd, "broker.control_url=http://127.0.0.1:%d", dev_port_of(st, "broker"));
    dev_cmd_add(cmd, "--source");
    dev_cmd_add(cmd, "demo=shopify:" DEV_INGEST_DEMO_SECRET);
}

/* --- deliver: `hookstream deliver` with keys generated once and kept in D/deliver.secrets --- */

#define DELIVER_SECRETS "deliver.secrets"

/* deliver's master key (endpoint secrets in Postgres are encrypted with it, so it must outlive
 * a down/up) and the tokens of its admin API. */
typedef struct {
    char master_key[65];  /* 32 bytes, hex */
    char admin_token[33]; /* 16 bytes, hex */
    char read_token[33];
} deliver_secrets_t;

static const struct {
    const char *name;
    size_t offset;
    size_t bytes; /* random bytes; the value is twice as many hex digits */
} deliver_secret_fields[] = {
    {"master_key", offsetof(deliver_secrets_t, master_key), 32},
    {"admin_token", offsetof(deliver_secrets_t, admin_token), 16},
    {"read_token", offsetof(deliver_secrets_t, read_token), 16},
};
#define DELIVER_NSECRETS (sizeof deliver_secret_fields / sizeof deliver_secret_fields[0])

static int is_hex(const char *s, size_t len) {
    if (strlen(s) != len) return 0;
    for (; *s; s++)
        if (!strchr("0123456789abcdef", *s)) return 0;
    return 1;
}

/* Reads D/deliver.secrets: one NAME=HEX line per field. HS_ERR_NOT_FOUND when it is absent;
 * HS_ERR_INVALID naming the file when a field is missing or malformed. */
static hs_err_t secrets_read(const dev_stack_t *st, deliver_secrets_t *out, char *err, size_t n) {
    char path[DEV_FILE], line[256];
    dev_path(st, DELIVER_SECRETS, path, sizeof path);
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT) return HS_ERR_NOT_FOUND;
        return hs_fail(HS_ERR_IO, err, n, "open %s: %s", path, strerror(errno));
    }
    memset(out, 0, sizeof *out);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#') continue;
        *eq = '\0';
        for (size_t i = 0; i < DELIVER_NSECRETS; i++)
            if (!strcmp(line, deliver_secret_fields[i].name)) {
                size_t room = deliver_secret_fields[i].bytes * 2 + 1;
                /* Too long is malformed too: "!" fails the hex check below. */
                snprintf((char *)out + deliver_secret_fields[i].offset, room, "%s",
                         strlen(eq + 1) < room ? eq + 1 : "!");
            }
    }
    fclose(f);
    for (size_t i = 0; i < DELIVER_NSECRETS; i++) {
        const char *v = (const char *)out + deliver_secret_fields[i].offset;
        if (!is_hex(v, deliver_secret_fields[i].bytes * 2))
            return hs_fail(HS_ERR_INVALID, err, n,
                           "%s: %s is missing or not %zu lowercase hex digits (delete the file "
                           "to generate new ones; endpoints saved with the old master key then "
                           "cannot be read)",
                           path, deliver_secret_fields[i].name, deliver_secret_fields[i].bytes * 2);
    }
    return HS_OK;
}

/* Writes fresh random secrets to D/deliver.secrets, mode 0600 from the start. */
static hs_err_t secrets_generate(const dev_stack_t *st, char *err, size_t n) {
    char path[DEV_FILE], tmp[DEV_FILE + 8], text[512];
    size_t len = (size_t)snprintf(text, sizeof text,
                                  "# deliver's keys in this dev stack, made by `hookstream dev up`"
                                  " and kept across down/up.\n");
    for (size_t i = 0; i < DELIVER_NSECRETS; i++) {
        unsigned char raw[32];
        size_t bytes = deliver_secret_fields[i].bytes;
        if (getentropy(raw, bytes) != 0)
            return hs_fail(HS_ERR_INTERNAL, err, n, "getentropy: %s", strerror(errno));
        len +=
            (size_t)snprintf(text + len, sizeof text - len, "%s=", deliver_secret_fields[i].name);
        for (size_t b = 0; b < bytes; b++)
            len += (size_t)snprintf(text + len, sizeof text - len, "%02x", raw[b]);
        len += (size_t)snprintf(text + len, sizeof text - len, "\n");
    }
    dev_path(st, DELIVER_SECRETS, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return hs_fail(HS_ERR_IO, err, n, "create %s: %s", tmp, strerror(errno));
    int ok = fchmod(fd, 0600) == 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
        saved = ok ? errno : saved;
        unlink(tmp);
        return hs_fail(HS_ERR_IO, err, n, "write %s: %s", path, strerror(saved));
    }
    return HS_OK;
}

/* A damaged secrets file stops `up` before anything starts: new keys would orphan the endpoint
 * secrets already encrypted with the old master key. */
static hs_err_t deliver_check(dev_stack_t *st, char *err, size_t n) {
    deliver_secrets_t s;
    hs_err_t e = secrets_read(st, &s, err, n);
    return e == HS_ERR_NOT_FOUND ? HS_OK : e;
}

/* Makes the secrets on the first up and checks them on every later one; the file is kept
 * private (0600) even when someone loosened it. */
static hs_err_t deliver_prepare(dev_stack_t *st, int port, char *err, size_t n) {
    (void)port;
    deliver_secrets_t s;
    hs_err_t e = secrets_read(st, &s, err, n);
    if (e == HS_ERR_NOT_FOUND) {
        if ((e = secrets_generate(st, err, n))) return e;
        snprintf(st->note, sizeof st->note, "new master key and tokens in " DELIVER_SECRETS);
        e = secrets_read(st, &s, err, n);
    }
    if (e) return e;
    char path[DEV_FILE];
    dev_path(st, DELIVER_SECRETS, path, sizeof path);
    if (chmod(path, 0600) != 0)
        return hs_fail(HS_ERR_IO, err, n, "chmod 0600 %s: %s", path, strerror(errno));
    return HS_OK;
}

void dev_service_command(const dev_stack_t *st, const char *name, int port, int with_dsn,
                         dev_cmd_t *cmd) {
    dev_cmd_add(cmd, "%s", st->self);
    dev_cmd_add(cmd, "%s", name);
    dev_cmd_add(cmd, "--listen");
    dev_cmd_add(cmd, "127.0.0.1:%d", port);
    dev_cmd_add(cmd, "--brokers");
    dev_cmd_add(cmd, "%s", st->bootstrap);
    if (with_dsn) {
        char dsn[128];
        dev_pg_dsn(st, dsn, sizeof dsn);
        dev_cmd_add(cmd, "--dsn");
        dev_cmd_add(cmd, "%s", dsn);
    }
    dev_cmd_add(cmd, "--registry");
    dev_cmd_add(cmd, "http://127.0.0.1:%d", dev_port_of(st, "registry"));
    dev_cmd_add(cmd, "--set"); /* creates its retry tier and DLQ topics on the embedded broker */
    dev_cmd_add(cmd, "broker.control_url=http://127.0.0.1:%d", dev_port_of(st, "broker"));
}

static void deliver_command(const dev_stack_t *st, int port, dev_cmd_t *cmd) {
    dev_service_command(st, "deliver", port, 1, cmd);
}

/* The keys travel in the environment: a command line is readable by every local user. Local
 * receivers are allowed so that endpoints on this machine work in development. */
static void deliver_env(const dev_stack_t *st, int port, dev_cmd_t *vars) {
    (void)port;
    deliver_secrets_t s;
    char err[DEV_FILE + 256];
    if (secrets_read(st, &s, err, sizeof err)) return; /* deliver then says what is missing */
    dev_cmd_add(vars, "HS_DELIVER_MASTER_KEY=%s", s.master_key);
    dev_cmd_add(vars, "HS_DELIVER_ADMIN_TOKENS=dev:%s", s.admin_token);
    dev_cmd_add(vars, "HS_DELIVER_READ_TOKENS=viewer:%s", s.read_token);
    dev_cmd_add(vars, "HS_DELIVER_ALLOW_PRIVATE=127.0.0.1,::1");
}

/* `hookstream endpoints` and `replay` read deliver.token: after `source D/env` they just work. */
static void deliver_exports(const dev_stack_t *st, int port, dev_cmd_t *vars) {
    (void)port;
    deliver_secrets_t s;
    char err[DEV_FILE + 256];
    if (secrets_read(st, &s, err, sizeof err)) return;
    dev_cmd_add(vars, "HS_DELIVER_TOKEN=%s", s.admin_token);
}

/* --- workflows: `hookstream workflows` on D/workflows (put definitions there), deliver's tokens */

static hs_err_t workflows_prepare(dev_stack_t *st, int port, char *err, size_t n) {
    (void)port;
    char dir[DEV_FILE];
    dev_path(st, "workflows", dir, sizeof dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return hs_fail(HS_ERR_IO, err, n, "mkdir %s: %s", dir, strerror(errno));
    return HS_OK;
}

static void workflows_command(const dev_stack_t *st, int port, dev_cmd_t *cmd) {
    char dsn[128], dir[DEV_FILE];
    pg_dsn(dev_port_of(st, "postgres"), PG_DB, dsn, sizeof dsn);
    dev_path(st, "workflows", dir, sizeof dir);
    dev_cmd_add(cmd, "%s", st->self);
    dev_cmd_add(cmd, "workflows");
    dev_cmd_add(cmd, "--set");
    dev_cmd_add(cmd, "workflows.listen=127.0.0.1:%d", port);
    dev_cmd_add(cmd, "--set");
    dev_cmd_add(cmd, "workflows.dir=%s", dir);
    dev_cmd_add(cmd, "--set");
    dev_cmd_add(cmd, "kafka.brokers=%s", st->bootstrap);
    dev_cmd_add(cmd, "--set");
    dev_cmd_add(cmd, "postgres.dsn=%s", dsn);
    dev_cmd_add(cmd, "--set");
    dev_cmd_add(cmd, "registry.url=http://127.0.0.1:%d", dev_port_of(st, "registry"));
    dev_cmd_add(cmd, "--set");
    dev_cmd_add(cmd, "broker.control_url=http://127.0.0.1:%d", dev_port_of(st, "broker"));
}

static void workflows_env(const dev_stack_t *st, int port, dev_cmd_t *vars) {
    (void)port;
    deliver_secrets_t s;
    char err[DEV_FILE + 256];
    if (secrets_read(st, &s, err, sizeof err)) return;
    dev_cmd_add(vars, "HS_WORKFLOWS_ADMIN_TOKENS=dev:%s", s.admin_token);
    dev_cmd_add(vars, "HS_WORKFLOWS_READ_TOKENS=viewer:%s", s.read_token);
    dev_cmd_add(vars, "HS_WORKFLOWS_ALLOW_PRIVATE=127.0.0.1,::1");
}

static void workflows_exports(const dev_stack_t *st, int port, dev_cmd_t *vars) {
    (void)port;
    deliver_secrets_t s;
    char err[DEV_FILE + 256];
    if (secrets_read(st, &s, err, sizeof err)) return;
    dev_cmd_add(vars, "HS_WORKFLOWS_TOKEN=%s", s.admin_token);
}

static const dev_part_t broker_part = {
    .name = "broker",
    .label = "kafka bootstrap",
    .port_key = "dev.broker_control_port",
    .env_addr = "HS_KAFKA_BROKERS",
    .env_http = "HS_BROKER_CONTROL_URL",
    .http = 1,
    .stop_signal = SIGTERM,
    .prepare = broker_prepare,
    .command = broker_command,
    .ready = broker_ready,
    .address = broker_address,
};

static const dev_part_t redis_part = {
    .name = "redis",
    .label = "redis",
    .port_key = "dev.redis_port",
    .env_addr = "HS_REDIS_URL",
    .stop_signal = SIGTERM,
    .check = redis_check,
    .prepare = redis_prepare,
    .command = redis_command,
    .ready = redis_ready,
    .address = redis_address,
    .retitled = redis_retitled,
};

static const dev_part_t postgres_part = {
    .name = "postgres",
    .label = "postgres",
    .port_key = "dev.pg_port",
    .env_addr = "HS_POSTGRES_DSN",
    .as_db_user = 1,
    .stop_signal = SIGINT,
    .check = pg_check,
    .prepare = pg_prepare,
    .command = pg_command,
    .ready = pg_ready,
    .after = pg_after,
    .address = pg_address,
};

static const dev_part_t registry_part = {
    .name = "registry",
    .label = "schema registry",
    .port_key = "dev.registry_port",
    .env_addr = "HS_REGISTRY_URL",
    .http = 1,
    .stop_signal = SIGTERM,
    .barrier = 1,
    .command = registry_command,
    .ready = dev_http_ready,
    .after = registry_after,
    .address = dev_http_address,
};

static const dev_part_t ingest_part = {
    .name = "ingest",
    .label = "webhook ingest",
    .port_key = "dev.ingest_port",
    .env_addr = "HS_WEBHOOKS_URL",
    .http = 1,
    .stop_signal = SIGTERM,
    .barrier = 1,
    .command = ingest_command,
    .ready = dev_http_ready,
    .address = dev_http_address,
};

static const dev_part_t deliver_part = {
    .name = "deliver",
    .label = "deliver admin API",
    .port_key = "dev.deliver_port",
    .env_addr = "HS_DELIVER_URL",
    .http = 1,
    .stop_signal = SIGTERM,
    .check = deliver_check,
    .prepare = deliver_prepare,
    .command = deliver_command,
    .ready = dev_http_ready,
    .address = dev_http_address,
    .env = deliver_env,
    .exports = deliver_exports,
};

static const dev_part_t workflows_part = {
    .name = "workflows",
    .label = "workflows API",
    .port_key = "dev.workflows_port",
    .env_addr = "HS_WORKFLOWS_URL",
    .http = 1,
    .stop_signal = SIGTERM,
    .prepare = workflows_prepare,
    .command = workflows_command,
    .ready = dev_http_ready,
    .address = dev_http_address,
    .env = workflows_env,
    .exports = workflows_exports,
};

const dev_part_t *const dev_parts[] = {
    &broker_part,
    &redis_part,
    &postgres_part,
    &registry_part,
    &ingest_part,
    &deliver_part,
    &workflows_part,
    &dev_part_invalidator,
    &dev_part_analytics,
    &dev_part_cache_proxy, /* only with dev.cache_upstream */
    &dev_part_prometheus,  /* last: scrapes every part above */
    NULL,
};

int dev_nparts(void) {
    int n = 0;
    while (dev_parts[n])
        n++;
    return n;
}

int dev_part_index(const char *name) {
    for (int i = 0; dev_parts[i]; i++)
        if (!strcmp(dev_parts[i]->name, name)) return i;
    return -1;
}

int dev_part_on(const dev_stack_t *st, int i, char *why, size_t n) {
    return !dev_parts[i]->enabled || dev_parts[i]->enabled(st, why, n);
}

int dev_part_matches(const dev_stack_t *st, int i, pid_t pid) {
    const dev_part_t *p = dev_parts[i];
    char sig[2048];
    if (p->retitled) {
        p->retitled(st, st->port[i], sig, sizeof sig);
        if (dev_proc_matches(pid, sig)) return 1;
    }
    dev_cmd_t cmd = {0};
    p->command(st, st->port[i], &cmd);
    size_t len = 0;
    sig[0] = '\0';
    /* argv[0] is left out: a rebuilt or moved binary still runs the same part. */
    for (int a = 1; a < cmd.argc && len < sizeof sig; a++) {
        int w = snprintf(sig + len, sizeof sig - len, "%s%s", a > 1 ? " " : "", cmd.argv[a]);
        if (w < 0) break;
        len += (size_t)w;
    }
    return dev_proc_matches(pid, sig);
}
