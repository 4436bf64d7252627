/* The local stack behind `hookstream dev`: a table of parts (broker, Postgres, Redis, schema
 * registry, then the services, then Prometheus), each a child process in its own session with a
 * pid file, a log and a readiness check, all under one directory (dev.dir). dev_proc.c holds the
 * process, file and port helpers, dev_parts.c the table of parts and the infrastructure parts,
 * dev_services.c the later services and Prometheus, cmd_dev.c the up/down/status commands.
 * @locality: the main thread of `hookstream dev`; nothing here is shared between threads. */
#ifndef HS_DEV_H
#define HS_DEV_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "hs_config.h"
#include "hs_err.h"

#define DEV_PATH 1024
#define DEV_FILE (DEV_PATH + 128) /* a file below the stack directory */
#define DEV_MAX_PARTS 16
#define DEV_MAX_ARGS 32
#define DEV_MAX_GROUPS 64

/* The account a part runs as: active when `dev up` runs as root and the part refuses root. */
typedef struct {
    int active;
    uid_t uid;
    gid_t gid;
    gid_t groups[DEV_MAX_GROUPS];
    int ngroups;
} dev_user_t;

/* What the parts share while `up`, `down` or `status` runs. */
typedef struct {
    char dir[DEV_PATH];      /* absolute dev.dir */
    char self[DEV_PATH];     /* this executable: parts that are hookstream commands run it */
    char config[DEV_PATH];   /* absolute config file the command loaded ("" when none) */
    hs_config_t *cfg;        /* borrowed */
    int port[DEV_MAX_PARTS]; /* by index in dev_parts; 0 for a part without a port */
    char bootstrap[256];     /* Kafka bootstrap servers, once the broker wrote them */
    int64_t deadline_ms;     /* monotonic deadline of the part being started */
    dev_user_t db_user;      /* the postgres account when root, else inactive */
    char note[256];          /* what prepare/after did, shown after "ready" ("" when nothing) */
} dev_stack_t;

/* A command line (or a list of "NAME=value" variables) under construction; strings live in buf,
 * argv is NULL-terminated. */
typedef struct {
    const char *argv[DEV_MAX_ARGS];
    int argc;
    int overflow; /* set when an argument did not fit: the command must not run */
    char buf[4096];
    size_t used;
} dev_cmd_t;

/* One part of the stack: a row of dev_parts. Every function gets the part's port. */
typedef struct {
    const char *name;     /* pid file run/<name>.pid, log logs/<name>.log */
    const char *label;    /* what its address is, in `up`'s summary ("schema registry") */
    const char *port_key; /* config key of its port (0 = pick a free one) */
    const char *env_addr; /* variable that D/env exports the address as (NULL: none) */
    const char *env_http; /* variable for its HTTP base URL when that is not the address */
    int http;             /* serves /metrics, /healthz, /readyz on http://127.0.0.1:port */
    int as_db_user;       /* runs as the postgres account when root (initdb/postgres refuse root) */
    int stop_signal;      /* what asks it to stop (postgres: SIGINT = fast shutdown) */
    int barrier;          /* every earlier part must be ready before this one starts */
    /* Returns 1 when the part belongs in this stack; else 0 with the reason in why (software
     * missing, nothing configured for it): `up` then skips it with that line, `status` shows it
     * as off. NULL: always. */
    int (*enabled)(const dev_stack_t *st, char *why, size_t n);
    /* Binaries present? Fails naming the Debian package. NULL: nothing to check. */
    hs_err_t (*check)(dev_stack_t *st, char *err, size_t n);
    /* One-off work before the start (initdb). NULL: none. */
    hs_err_t (*prepare)(dev_stack_t *st, int port, char *err, size_t n);
    /* Builds its command line. */
    void (*command)(const dev_stack_t *st, int port, dev_cmd_t *cmd);
    /* Returns 1 when ready, else 0 with the reason in why. */
    int (*ready)(dev_stack_t *st, int port, char *why, size_t n);
    /* Work once ready (create the database, migrate, register schemas). NULL: none. */
    hs_err_t (*after)(dev_stack_t *st, int port, char *err, size_t n);
    /* Writes the address users connect to. */
    void (*address)(const dev_stack_t *st, int port, char *out, size_t n);
    /* Writes the command line the process gives itself once running (redis-server retitles
     * itself); NULL: it keeps the one it was started with. */
    void (*retitled)(const dev_stack_t *st, int port, char *out, size_t n);
    /* Adds "NAME=value" entries to vars: variables its process gets on top of this one's
     * environment (secrets, which must not show on a command line). NULL: none. */
    void (*env)(const dev_stack_t *st, int port, dev_cmd_t *vars);
    /* Adds "NAME=value" entries to vars: what D/env exports besides its address. NULL: none. */
    void (*exports)(const dev_stack_t *st, int port, dev_cmd_t *vars);
} dev_part_t;

/* The parts in start order, ended by NULL; stopped in reverse order. */
extern const dev_part_t *const dev_parts[];
/* Parts defined in dev_services.c. */
extern const dev_part_t dev_part_invalidator, dev_part_analytics, dev_part_cache_proxy;
extern const dev_part_t dev_part_prometheus;

/* Returns the number of parts. */
int dev_nparts(void);

/* Returns 1 when part i is enabled in this stack (see dev_part_t.enabled), else 0 with why. */
int dev_part_on(const dev_stack_t *st, int i, char *why, size_t n);

/* Returns 1 when GET http://127.0.0.1:port<path> answers 200; else 0 with the reason in why. */
int dev_http_ok(int port, const char *path, char *why, size_t n);

/* Part functions every hookstream HTTP service shares: ready = GET /readyz answers 200; its
 * address is http://127.0.0.1:port. */
int dev_http_ready(dev_stack_t *st, int port, char *why, size_t n);
void dev_http_address(const dev_stack_t *st, int port, char *out, size_t n);

/* Returns the port of the part called name in this stack (0 when there is none). */
int dev_port_of(const dev_stack_t *st, const char *part);

/* Writes the DSN of the stack's database (hookstream on its Postgres). */
void dev_pg_dsn(const dev_stack_t *st, char *out, size_t n);

/* Builds `<self> NAME --listen 127.0.0.1:PORT --brokers B [--dsn <the stack's database>]
 * --registry R --set broker.control_url=...`: a consumer service of the stack (the control URL
 * lets it create its retry tier and DLQ topics on the embedded broker). */
void dev_service_command(const dev_stack_t *st, const char *name, int port, int with_dsn,
                         dev_cmd_t *cmd);

/* Returns the index of the part called name, or -1. */
int dev_part_index(const char *name);

/* Returns 1 when process pid runs part i of this stack: its /proc/PID/cmdline holds the command
 * line `up` started it with (argv[0] aside) or the one it retitled itself to. */
int dev_part_matches(const dev_stack_t *st, int i, pid_t pid);

/* Writes the path of file `name` inside the stack directory ("run/broker.pid"). */
void dev_path(const dev_stack_t *st, const char *name, char *out, size_t n);

/* Appends one argument formatted like printf; sets cmd->overflow when it does not fit. */
void dev_cmd_add(dev_cmd_t *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- dev_proc.c --- */

/* Returns monotonic milliseconds. */
int64_t dev_now_ms(void);

/* Sleeps ms milliseconds. */
void dev_sleep_ms(int ms);

/* Set by SIGINT/SIGTERM while `up` waits: waits stop and what was started is stopped. */
extern volatile int dev_interrupted;

/* Creates path and its missing parents with mode. HS_ERR_IO naming the path on failure. */
hs_err_t dev_mkdirs(const char *path, unsigned mode, char *err, size_t n);

/* Removes path and everything below it (symlinks are not followed). */
hs_err_t dev_rmtree(const char *path, char *err, size_t n);

/* Replaces the file at path with text atomically (temporary file + rename), mode 0644. */
hs_err_t dev_write_file(const char *path, const char *text, char *err, size_t n);

/* Reads the first line of the file at path without its newline; returns 0 when it is absent
 * or empty. */
int dev_read_line(const char *path, char *out, size_t n);

/* Prints the last `lines` lines of the file at path to out, each indented. */
void dev_log_tail(const char *path, int lines, FILE *out);

/* Returns a free loopback TCP port the kernel chose, or -1. */
int dev_port_pick(void);

/* Returns 1 when a server could listen on 127.0.0.1:port now, else 0. */
int dev_port_free(int port);

/* How to start a process. */
typedef struct {
    const char *const *argv; /* argv[0] is the program's path */
    char *const *envp;       /* its whole environment */
    const char *log;         /* stdout and stderr are appended to this file */
    const char *cwd;         /* working directory */
    const dev_user_t *user;  /* account to switch to; NULL or inactive: this one */
} dev_spawn_t;

/* Starts a child in its own session (so a terminal's Ctrl-C does not reach it) with stdin from
 * /dev/null. Returns its pid, or -1 with err naming the program and why it could not run. */
pid_t dev_spawn(const dev_spawn_t *sp, char *err, size_t n);

/* Runs sp to completion within timeout_ms. HS_OK when it exited 0; otherwise the error names
 * the program and its exit status (it is killed at the deadline). */
hs_err_t dev_run(const dev_spawn_t *sp, int timeout_ms, char *err, size_t n);

/* Returns 1 when our child pid has exited (and reaps it), writing a description to why. */
int dev_child_exited(pid_t pid, char *why, size_t n);

/* Returns 1 when pid exists and is not a zombie. */
int dev_proc_alive(pid_t pid);

/* Returns 1 when the command line of pid (arguments joined by spaces) contains sig. */
int dev_proc_matches(pid_t pid, const char *sig);

/* Sends sig to pid, waits up to timeout_ms for it to end, then kills its process group.
 * Returns 1 when it had to be killed. */
int dev_proc_stop(pid_t pid, int sig, int timeout_ms);

/* Returns a new environment: environ with each "NAME=value" of overrides (NULL-terminated)
 * replacing or adding that variable. Strings are borrowed; caller frees the array with free(). */
char **dev_env_new(const char *const *overrides);

/* Reads a pid file; returns the pid or 0 when absent or malformed. */
pid_t dev_pid_read(const char *path);

/* Writes the program to run for name: name itself when it holds a '/', else the first
 * executable name in PATH, /usr/bin or /usr/sbin. Returns 1 when it is executable, else 0 (out
 * then holds name). */
int dev_binary(const char *name, char *out, size_t n);

#endif
