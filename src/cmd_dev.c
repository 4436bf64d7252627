/* `hookstream dev up | down | status`: the local stack on loopback for development and for the
 * test suite. The parts are the rows of dev_parts (dev_parts.c); this file starts them in order,
 * waits for each to be ready, writes D/env, and later recognises and stops exactly them. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "dev.h"
#include "hs_log.h"

#define STOP_TIMEOUT_MS 10000
#define DB_ACCOUNT "postgres"

static const char usage[] =
    "usage: hookstream dev up [--dir D] [options]      start the stack, print its addresses\n"
    "       hookstream dev down [--dir D] [--purge]    stop what `up` started\n"
    "       hookstream dev status [--dir D]            each part, its pid, address and state\n\n"
    "The stack: an embedded Kafka broker, a private PostgreSQL 15 cluster, Redis, the schema\n"
    "registry, ingest, deliver, workflows, the cache invalidator, analytics, a cache-proxy\n"
    "when dev.cache_upstream names an API to cache, and Prometheus when it is installed\n"
    "(scraping them all; D/prometheus), all on 127.0.0.1, with pid files, logs and D/env\n"
    "(`source D/env`) under D; deliver's generated keys are kept in D/deliver.secrets;\n"
    "workflow definitions go in D/workflows. A part left out says why (`status`: off).\n"
    "`status` exits 0 when every part is up, 3 when none is, 1 when some are down.\n\n"
    "options:\n"
    "      --dir D           stack directory (dev.dir, default .hookstream)\n"
    "      --purge           with down: also delete D (Postgres cluster, logs)\n" CLI_COMMON_HELP;

/* --- pid and port files --- */

static void part_file(const dev_stack_t *st, int i, const char *ext, char *out, size_t n) {
    snprintf(out, n, "%s/run/%s.%s", st->dir, dev_parts[i]->name, ext);
}

static void load_ports(dev_stack_t *st) {
    for (int i = 0; i < dev_nparts(); i++) {
        char path[DEV_FILE], line[32];
        part_file(st, i, "port", path, sizeof path);
        st->port[i] = dev_read_line(path, line, sizeof line) ? (int)strtol(line, NULL, 10) : 0;
    }
    char path[DEV_FILE];
    dev_path(st, "broker.bootstrap", path, sizeof path);
    if (!dev_read_line(path, st->bootstrap, sizeof st->bootstrap)) st->bootstrap[0] = '\0';
}

/* Returns the pid of part i when it runs and is the process `up` started, else 0. */
static pid_t part_pid(const dev_stack_t *st, int i) {
    char path[DEV_FILE];
    part_file(st, i, "pid", path, sizeof path);
    pid_t pid = dev_pid_read(path);
    if (!pid || !dev_proc_alive(pid)) return 0;
    return dev_part_matches(st, i, pid) ? pid : 0;
}

static int count_up(const dev_stack_t *st) {
    int up = 0;
    for (int i = 0; i < dev_nparts(); i++)
        up += part_pid(st, i) != 0;
    return up;
}

/* Returns how many parts belong in this stack (see dev_part_t.enabled). */
static int count_on(const dev_stack_t *st) {
    int on = 0;
    char why[512];
    for (int i = 0; i < dev_nparts(); i++)
        on += dev_part_on(st, i, why, sizeof why);
    return on;
}

/* Stops every part `up` started, newest first; removes their pid files. Returns how many
 * processes were stopped. */
static int stop_all(dev_stack_t *st) {
    int stopped = 0;
    for (int i = dev_nparts() - 1; i >= 0; i--) {
        char pidf[DEV_FILE], portf[DEV_FILE];
        part_file(st, i, "pid", pidf, sizeof pidf);
        part_file(st, i, "port", portf, sizeof portf);
        pid_t pid = part_pid(st, i);
        if (pid) {
            int killed = dev_proc_stop(pid, dev_parts[i]->stop_signal, STOP_TIMEOUT_MS);
            printf("stopped %-11s (pid %d%s)\n", dev_parts[i]->name, (int)pid,
                   killed ? ", killed after 10 s" : "");
            stopped++;
        } else if (access(pidf, F_OK) == 0) {
            printf("%-11s not running (pid file removed)\n", dev_parts[i]->name);
        }
        unlink(pidf);
        unlink(portf);
    }
    char path[DEV_FILE];
    dev_path(st, "env", path, sizeof path);
    unlink(path);
    dev_path(st, "broker.bootstrap", path, sizeof path);
    unlink(path);
    fflush(stdout);
    return stopped;
}

/* --- status --- */

/* Prints one line per part; returns how many are up. */
static int print_parts(dev_stack_t *st) {
    int up = 0;
    printf("%-12s %-8s %-6s %s\n", "part", "pid", "state", "address");
    for (int i = 0; i < dev_nparts(); i++) {
        const dev_part_t *p = dev_parts[i];
        pid_t pid = part_pid(st, i);
        char why[256] = "", addr[512] = "-", pidtext[16] = "-";
        const char *state = "down";
        if (!pid && !dev_part_on(st, i, why, sizeof why)) state = "off";
        if (pid) {
            up++;
            snprintf(pidtext, sizeof pidtext, "%d", (int)pid);
            state = p->ready(st, st->port[i], why, sizeof why) ? "ready" : "alive";
            p->address(st, st->port[i], addr, sizeof addr);
        }
        printf("%-12s %-8s %-6s %s", p->name, pidtext, state, addr);
        if (pid && p->env_http) printf("  (control http://127.0.0.1:%d)", st->port[i]);
        printf("%s%s\n", why[0] ? "  " : "", why);
    }
    return up;
}

static int dev_status(dev_stack_t *st, int purge) {
    (void)purge;
    load_ports(st);
    int up = print_parts(st);
    if (up == 0) printf("nothing is running in %s\n", st->dir);
    return up >= count_on(st) ? 0 : up == 0 ? 3 : 1;
}

/* --- down --- */

static int dev_down(dev_stack_t *st, int purge) {
    char lock[DEV_FILE];
    dev_path(st, "lock", lock, sizeof lock);
    int fd = open(lock, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        /* No lock file: `up` never ran here, so nothing in it is ours to stop or delete. */
        printf("nothing is running in %s\n", st->dir);
        if (purge && access(st->dir, F_OK) == 0)
            printf("not removing %s: `hookstream dev up` did not create it\n", st->dir);
        return 0;
    }
    flock(fd, LOCK_EX);
    load_ports(st);
    if (stop_all(st) == 0) printf("nothing is running in %s\n", st->dir);
    int rc = 0;
    char err[DEV_PATH + 512];
    if (purge) {
        if (dev_rmtree(st->dir, err, sizeof err) != HS_OK) {
            fprintf(stderr, "hookstream dev: %s\n", err);
            rc = 1;
        } else {
            printf("removed %s\n", st->dir);
        }
    }
    close(fd);
    return rc;
}

/* --- up --- */

static void on_signal(int sig) {
    (void)sig;
    dev_interrupted = 1;
}

static int fail_part(dev_stack_t *st, int i, const char *what) {
    char log[DEV_FILE], name[64];
    snprintf(name, sizeof name, "logs/%s.log", dev_parts[i]->name);
    dev_path(st, name, log, sizeof log);
    fprintf(stderr, "hookstream dev: %s: %s\n", dev_parts[i]->name, what);
    dev_log_tail(log, 15, stderr);
    return 1;
}

static int start_part(dev_stack_t *st, int i, pid_t *started) {
    const dev_part_t *p = dev_parts[i];
    char err[DEV_PATH + 512], log[DEV_FILE], name[64], path[DEV_FILE], text[32];
    if (p->prepare && p->prepare(st, st->port[i], err, sizeof err)) return fail_part(st, i, err);
    dev_cmd_t cmd = {0};
    p->command(st, st->port[i], &cmd);
    snprintf(name, sizeof name, "logs/%s.log", p->name);
    dev_path(st, name, log, sizeof log);
    dev_cmd_t vars = {0};
    if (st->config[0]) dev_cmd_add(&vars, "HS_CONFIG=%s", st->config);
    if (p->env) p->env(st, st->port[i], &vars);
    char **env = dev_env_new(vars.argv);
    if (!env || cmd.overflow || vars.overflow) {
        free(env);
        return fail_part(st, i, "cannot build its command line");
    }
    part_file(st, i, "port", path, sizeof path);
    snprintf(text, sizeof text, "%d\n", st->port[i]);
    hs_err_t e = dev_write_file(path, text, err, sizeof err);
    dev_spawn_t sp = {cmd.argv, env, log, st->dir, p->as_db_user ? &st->db_user : NULL};
    pid_t pid = e ? -1 : dev_spawn(&sp, err, sizeof err);
    free(env);
    if (pid < 0) return fail_part(st, i, err);
    /* Written at once, so `down` can stop a stack whose `up` was killed half way. */
    part_file(st, i, "pid", path, sizeof path);
    snprintf(text, sizeof text, "%d\n", (int)pid);
    *started = pid;
    if (dev_write_file(path, text, err, sizeof err)) return fail_part(st, i, err);
    return 0;
}

/* What `up` tracks of one part while the stack starts. */
typedef struct {
    int64_t started_ms;
    pid_t pid;
    int ready;
    char note[256]; /* what prepare did, for the "ready" line */
} progress_t;

/* Checks part i once: returns 1 when it is ready (its `after` step done), 0 when not yet, -1
 * when it failed (reported). */
static int poll_part(dev_stack_t *st, int i, const progress_t *pr) {
    const dev_part_t *p = dev_parts[i];
    char why[512] = "", err[512], msg[700];
    int64_t timeout = hs_config_int(st->cfg, "dev.start_timeout_ms");
    st->deadline_ms = pr->started_ms + timeout;
    if (!p->ready(st, st->port[i], why, sizeof why)) {
        if (dev_child_exited(pr->pid, err, sizeof err)) {
            snprintf(msg, sizeof msg, "exited before it was ready (%s)", err);
            return -fail_part(st, i, msg);
        }
        if (dev_interrupted) return -fail_part(st, i, "interrupted while starting");
        if (dev_now_ms() < st->deadline_ms) return 0;
        snprintf(msg, sizeof msg, "not ready within %lld ms (%s)", (long long)timeout, why);
        return -fail_part(st, i, msg);
    }
    snprintf(st->note, sizeof st->note, "%s", pr->note);
    if (p->after && p->after(st, st->port[i], err, sizeof err)) return -fail_part(st, i, err);
    printf("  %-11s ready in %.1f s%s%s%s\n", p->name,
           (double)(dev_now_ms() - pr->started_ms) / 1000, st->note[0] ? " (" : "", st->note,
           st->note[0] ? ")" : "");
    fflush(stdout);
    return 1;
}

/* Waits until parts [from, upto) are ready, polling them together so that each is reported as
 * soon as it is ready. */
static int wait_parts(dev_stack_t *st, int from, int upto, progress_t *pr) {
    int pending = 0;
    for (int i = from; i < upto; i++)
        pending += !pr[i].ready;
    while (pending > 0) {
        for (int i = from; i < upto; i++) {
            int r = pr[i].ready ? 0 : poll_part(st, i, &pr[i]);
            if (r < 0) return 1;
            pr[i].ready |= r;
            pending -= r;
        }
        if (pending > 0) dev_sleep_ms(50);
    }
    return 0;
}

/* Starts the parts in table order; a part marked barrier first waits for every earlier one. */
static int start_all(dev_stack_t *st) {
    int n = dev_nparts(), waited = 0;
    progress_t pr[DEV_MAX_PARTS] = {0};
    for (int i = 0; i < n; i++) {
        if (dev_parts[i]->barrier) {
            if (wait_parts(st, waited, i, pr)) return 1;
            waited = i;
        }
        char why[512] = "";
        if (!dev_part_on(st, i, why, sizeof why)) {
            printf("  %-11s skipped: %s\n", dev_parts[i]->name, why);
            pr[i].ready = 1;
            continue;
        }
        pr[i].started_ms = dev_now_ms();
        st->deadline_ms = pr[i].started_ms + hs_config_int(st->cfg, "dev.start_timeout_ms");
        st->note[0] = '\0';
        if (start_part(st, i, &pr[i].pid)) return 1;
        snprintf(pr[i].note, sizeof pr[i].note, "%s", st->note);
    }
    return wait_parts(st, waited, n, pr);
}

static int choose_ports(dev_stack_t *st) {
    int n = dev_nparts();
    for (int i = 0; i < n; i++) {
        const dev_part_t *p = dev_parts[i];
        char why[512];
        if (!dev_part_on(st, i, why, sizeof why)) continue;
        int port = (int)hs_config_int(st->cfg, p->port_key);
        if (port > 0 && !dev_port_free(port)) {
            fprintf(stderr, "hookstream dev: port %d (%s) is in use; free it or set %s\n", port,
                    p->name, p->port_key);
            return 1;
        }
        for (int tries = 0; port <= 0 && tries < 20; tries++) {
            port = dev_port_pick();
            for (int j = 0; j < i && port > 0; j++)
                if (st->port[j] == port) port = 0;
        }
        if (port <= 0) {
            fprintf(stderr, "hookstream dev: no free loopback port for %s\n", p->name);
            return 1;
        }
        st->port[i] = port;
    }
    return 0;
}

/* initdb and postgres refuse to run as root: as root, they run as the postgres account. */
static int find_db_user(dev_stack_t *st) {
    if (geteuid() != 0) return 0;
    struct passwd *pw = getpwnam(DB_ACCOUNT);
    if (!pw) {
        fprintf(stderr, "hookstream dev: running as root, and there is no '" DB_ACCOUNT
                        "' account to run PostgreSQL as (the Debian package postgresql-15 "
                        "creates it; run ops/deps.sh)\n");
        return 1;
    }
    dev_user_t *u = &st->db_user;
    u->active = 1;
    u->uid = pw->pw_uid;
    u->gid = pw->pw_gid;
    u->ngroups = DEV_MAX_GROUPS;
    if (getgrouplist(DB_ACCOUNT, pw->pw_gid, u->groups, &u->ngroups) < 0) {
        u->groups[0] = pw->pw_gid;
        u->ngroups = 1;
    }
    return 0;
}

static void shell_quote(const char *s, char *out, size_t n) {
    size_t k = 0;
    if (n < 3) return;
    out[k++] = '\'';
    for (; *s && k + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(out + k, "'\\''", 4);
            k += 4;
        } else {
            out[k++] = *s;
        }
    }
    out[k++] = '\'';
    out[k] = '\0';
}

static void env_line(char *buf, size_t n, size_t *len, const char *name, const char *value) {
    char q[1200];
    shell_quote(value, q, sizeof q);
    int w = snprintf(buf + *len, n - *len, "export %s=%s\n", name, q);
    if (w > 0 && (size_t)w < n - *len) *len += (size_t)w;
}

static int write_env(dev_stack_t *st) {
    char buf[8192], addr[512], url[64], path[DEV_FILE], err[512];
    size_t len = 0;
    dev_path(st, "env", path, sizeof path);
    len += (size_t)snprintf(buf, sizeof buf,
                            "# The hookstream dev stack in %s, written by `hookstream dev up`.\n"
                            "# Load it into a shell with: source %s\n",
                            st->dir, path);
    for (int i = 0; i < dev_nparts(); i++) {
        const dev_part_t *p = dev_parts[i];
        if (!dev_part_on(st, i, NULL, 0)) continue;
        p->address(st, st->port[i], addr, sizeof addr);
        if (p->env_addr) env_line(buf, sizeof buf, &len, p->env_addr, addr);
        snprintf(url, sizeof url, "http://127.0.0.1:%d", st->port[i]);
        if (p->env_http) env_line(buf, sizeof buf, &len, p->env_http, url);
        dev_cmd_t vars = {0};
        if (p->exports) p->exports(st, st->port[i], &vars);
        for (int v = 0; v < vars.argc; v++) {
            char name[128];
            size_t eq = strcspn(vars.argv[v], "=");
            snprintf(name, sizeof name, "%.*s", (int)eq, vars.argv[v]);
            env_line(buf, sizeof buf, &len, name, vars.argv[v] + eq + (vars.argv[v][eq] != 0));
        }
    }
    env_line(buf, sizeof buf, &len, "HS_DEV_DIR", st->dir);
    /* Private (0600) from the start: it carries deliver's admin token. */
    mode_t mask = umask(077);
    hs_err_t e = dev_write_file(path, buf, err, sizeof err);
    umask(mask);
    if (e) {
        fprintf(stderr, "hookstream dev: %s\n", err);
        return 1;
    }
    return 0;
}

static void print_summary(dev_stack_t *st) {
    char addr[512];
    printf("\nhookstream dev stack is up in %s\n", st->dir);
    for (int i = 0; i < dev_nparts(); i++) {
        const dev_part_t *p = dev_parts[i];
        if (!dev_part_on(st, i, NULL, 0)) continue;
        p->address(st, st->port[i], addr, sizeof addr);
        printf("  %-17s %s\n", p->label, addr);
        if (p->env_http) printf("  %-17s http://127.0.0.1:%d\n", "broker control", st->port[i]);
    }
    const char *label = "metrics";
    for (int i = 0; i < dev_nparts(); i++) {
        if (!dev_parts[i]->http || !dev_part_on(st, i, NULL, 0)) continue;
        printf("  %-17s http://127.0.0.1:%d/metrics (%s)\n", label, st->port[i],
               dev_parts[i]->name);
        label = "";
    }
    printf("  %-17s %s/logs/\n\n", "logs", st->dir);
    printf("use it from a shell:  source %s/env\n", st->dir);
    printf("stop it:              hookstream dev down --dir %s   (or ./ops/dev.sh down)\n",
           st->dir);
}

static int open_lock(const dev_stack_t *st) {
    char err[DEV_PATH + 512], sub[DEV_FILE];
    static const char *const dirs[] = {"run", "logs"};
    if (dev_mkdirs(st->dir, 0755, err, sizeof err)) goto fail;
    for (size_t i = 0; i < 2; i++) {
        dev_path(st, dirs[i], sub, sizeof sub);
        if (dev_mkdirs(sub, 0755, err, sizeof err)) goto fail;
    }
    dev_path(st, "lock", sub, sizeof sub);
    int fd = open(sub, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, sizeof err, "open %s: %s", sub, strerror(errno));
        goto fail;
    }
    /* Blocks while another `up` or `down` works on this directory; it then finds its result. */
    flock(fd, LOCK_EX);
    return fd;
fail:
    fprintf(stderr, "hookstream dev: %s\n", err);
    return -1;
}

static int check_parts(dev_stack_t *st) {
    char err[DEV_PATH + 512];
    for (int i = 0; i < dev_nparts(); i++) {
        if (!dev_part_on(st, i, NULL, 0)) continue;
        if (dev_parts[i]->check && dev_parts[i]->check(st, err, sizeof err)) {
            fprintf(stderr, "hookstream dev: %s: %s\n", dev_parts[i]->name, err);
            return 1;
        }
    }
    return 0;
}

static int up_locked(dev_stack_t *st) {
    load_ports(st);
    int up = count_up(st);
    if (up >= count_on(st)) {
        print_parts(st);
        printf("already up in %s (source %s/env)\n", st->dir, st->dir);
        return 0;
    }
    if (up > 0) printf("the stack in %s is partly up: stopping the rest first\n", st->dir);
    stop_all(st);
    memset(st->port, 0, sizeof st->port);
    if (check_parts(st) || choose_ports(st) || find_db_user(st)) return 1;
    printf("starting the stack in %s\n", st->dir);
    fflush(stdout);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (start_all(st) || write_env(st)) {
        fprintf(stderr, "hookstream dev: stopping what was started\n");
        stop_all(st);
        return 1;
    }
    print_summary(st);
    return 0;
}

static int dev_up(dev_stack_t *st, int purge) {
    (void)purge;
    int fd = open_lock(st);
    if (fd < 0) return 1;
    int rc = up_locked(st);
    close(fd);
    return rc;
}

/* --- the command --- */

static const struct {
    const char *name;
    int (*fn)(dev_stack_t *st, int purge);
} subcommands[] = {
    {"up", dev_up},
    {"down", dev_down},
    {"status", dev_status},
};

/* Fills the paths every subcommand needs: D made absolute, this binary, the config file. */
static int stack_init(dev_stack_t *st, const cli_common_t *common) {
    const char *dir = hs_config_str(st->cfg, "dev.dir");
    char cwd[PATH_MAX];
    if (!dir[0] || !getcwd(cwd, sizeof cwd)) {
        fprintf(stderr, "hookstream dev: dev.dir is empty or the working directory is gone\n");
        return 2;
    }
    int w = dir[0] == '/' ? snprintf(st->dir, sizeof st->dir, "%s", dir)
                          : snprintf(st->dir, sizeof st->dir, "%s/%s", cwd, dir);
    size_t len = strlen(st->dir);
    while (len > 1 && st->dir[len - 1] == '/')
        st->dir[--len] = '\0';
    ssize_t self = readlink("/proc/self/exe", st->self, sizeof st->self - 1);
    if (w < 0 || (size_t)w >= sizeof st->dir || self <= 0) {
        fprintf(stderr, "hookstream dev: dev.dir too long or /proc/self/exe unreadable\n");
        return 1;
    }
    st->self[self] = '\0';
    const char *cfg = common->config_path ? common->config_path : getenv("HS_CONFIG");
    if (!cfg && access("hookstream.yaml", R_OK) == 0) cfg = "hookstream.yaml";
    if (cfg && !realpath(cfg, st->config)) st->config[0] = '\0';
    return 0;
}

int cmd_dev(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"dir", required_argument, 0, 'd'},
                                         {"purge", no_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    cli_common_t common = {0};
    int opt, purge = 0;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h':
            return fputs(usage, stdout), 0;
        case 'd':
            cli_set(&common, "dev.dir", optarg);
            break;
        case 'p':
            purge = 1;
            break;
        default:
            return cli_usage_error("dev");
        }
    }
    if (optind != argc - 1) {
        fputs("hookstream dev: expected one of up, down, status\n", stderr);
        return cli_usage_error("dev");
    }
    const char *sub = argv[optind];
    size_t k = 0, nsub = sizeof subcommands / sizeof subcommands[0];
    while (k < nsub && strcmp(subcommands[k].name, sub))
        k++;
    if (k == nsub || (purge && strcmp(sub, "down"))) {
        fprintf(stderr, "hookstream dev: '%s'%s\n", sub,
                k == nsub ? " is not a subcommand" : ": --purge goes with down");
        return cli_usage_error("dev");
    }
    dev_stack_t *st = calloc(1, sizeof *st);
    if (!st) return 1;
    st->cfg = cli_config_load(&common, "dev");
    /* The progress lines say what happened; info logs (each migration) would only repeat it. */
    if (!strcmp(hs_config_origin(st->cfg, "log.level"), "default")) hs_log_init("dev", HS_LOG_WARN);
    int rc = stack_init(st, &common);
    if (rc == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = subcommands[k].fn(st, purge);
        curl_global_cleanup();
    }
    hs_config_destroy(st->cfg);
    free(st);
    return rc;
}
