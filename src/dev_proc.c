/* Process, file and port helpers of the dev stack: spawning parts in their own session with
 * their output in a log file (optionally as another account), recognising and stopping them
 * later from their pid files, and choosing loopback ports. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dev.h"

volatile int dev_interrupted;

int64_t dev_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dev_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

hs_err_t dev_mkdirs(const char *path, unsigned mode, char *err, size_t n) {
    char buf[DEV_PATH];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return hs_fail(HS_ERR_INVALID, err, n, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
            return hs_fail(HS_ERR_IO, err, n, "mkdir %s: %s", buf, strerror(errno));
        *p = c;
        if (!c) break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return hs_fail(HS_ERR_IO, err, n, "%s: not a directory", path);
    return HS_OK;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

hs_err_t dev_rmtree(const char *path, char *err, size_t n) {
    if (access(path, F_OK) != 0) return HS_OK;
    if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return hs_fail(HS_ERR_IO, err, n, "remove %s: %s", path, strerror(errno));
    return HS_OK;
}

hs_err_t dev_write_file(const char *path, const char *text, char *err, size_t n) {
    char tmp[DEV_FILE];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return hs_fail(HS_ERR_IO, err, n, "write %s: %s", tmp, strerror(errno));
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) break;
        off += (size_t)w;
    }
    int ok = off == len && close(fd) == 0;
    if (off != len) close(fd);
    if (!ok || rename(tmp, path) != 0) {
        hs_err_t e = hs_fail(HS_ERR_IO, err, n, "write %s: %s", path, strerror(errno));
        unlink(tmp);
        return e;
    }
    return HS_OK;
}

int dev_read_line(const char *path, char *out, size_t n) {
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    int ok = fgets(out, (int)n, f) != NULL;
    fclose(f);
    if (!ok) return 0;
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] != '\0';
}

void dev_log_tail(const char *path, int lines, FILE *out) {
    FILE *f = fopen(path, "re");
    if (!f) return;
    char buf[8192];
    /* Only the end matters: the last lines of a log say why a part did not come up. */
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        fseek(f, size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0, SEEK_SET);
    }
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    const char *start = buf + len;
    for (int seen = 0; start > buf; start--)
        if (start[-1] == '\n' && ++seen == lines) break;
    fprintf(out, "  last lines of %s:\n", path);
    for (const char *line = start; *line;) {
        size_t l = strcspn(line, "\n");
        fprintf(out, "  | %.*s\n", (int)l, line);
        line += l + (line[l] == '\n');
    }
}

static int loopback_socket(int port, int reuse, struct sockaddr_in *sa) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    if (reuse) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)sa, sizeof *sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int dev_port_pick(void) {
    struct sockaddr_in sa;
    int fd = loopback_socket(0, 0, &sa);
    if (fd < 0) return -1;
    socklen_t len = sizeof sa;
    int port = getsockname(fd, (struct sockaddr *)&sa, &len) == 0 ? ntohs(sa.sin_port) : -1;
    close(fd);
    return port;
}

int dev_port_free(int port) {
    struct sockaddr_in sa;
    /* SO_REUSEADDR like the servers themselves, so a closed connection in TIME_WAIT does not
     * count as "in use" but a listener (on 127.0.0.1 or any address) does. */
    int fd = loopback_socket(port, 1, &sa);
    if (fd < 0) return 0;
    int ok = listen(fd, 1) == 0;
    close(fd);
    return ok;
}

/* What a child reports through the close-on-exec pipe when it cannot exec. */
typedef struct {
    int stage; /* index in stages */
    int err;
} spawn_fail_t;

static const char *const stages[] = {"switch account", "chdir", "exec"};

static void child_fail(int fd, int stage) {
    spawn_fail_t f = {stage, errno};
    ssize_t w = write(fd, &f, sizeof f);
    (void)w;
    _exit(127);
}

/* Runs in the forked child: only async-signal-safe calls until exec. */
static void child_exec(const dev_spawn_t *sp, int logfd, int nullfd, int errfd) {
    setsid();
    dup2(nullfd, 0);
    dup2(logfd, 1);
    dup2(logfd, 2);
    const dev_user_t *u = sp->user;
    if (u && u->active &&
        (setgroups((size_t)u->ngroups, u->groups) || setgid(u->gid) || setuid(u->uid)))
        child_fail(errfd, 0);
    if (sp->cwd && chdir(sp->cwd) != 0) child_fail(errfd, 1);
    /* Nothing else of ours (the lock file, sockets) may outlive us in the stack's processes. */
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
        for (int fd = 3; fd < 4096; fd++)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    execve(sp->argv[0], (char *const *)sp->argv, sp->envp);
    child_fail(errfd, 2);
}

pid_t dev_spawn(const dev_spawn_t *sp, char *err, size_t n) {
    int logfd = open(sp->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        hs_fail(HS_ERR_IO, err, n, "open %s: %s", sp->log, strerror(errno));
        return -1;
    }
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int pipefd[2] = {-1, -1};
    if (nullfd < 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
        hs_fail(HS_ERR_IO, err, n, "spawn %s: %s", sp->argv[0], strerror(errno));
        close(logfd);
        if (nullfd >= 0) close(nullfd);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) child_exec(sp, logfd, nullfd, pipefd[1]);
    int fork_errno = errno;
    close(logfd);
    close(nullfd);
    close(pipefd[1]);
    spawn_fail_t f;
    ssize_t r = pid < 0 ? 0 : read(pipefd[0], &f, sizeof f);
    close(pipefd[0]);
    if (pid < 0) {
        hs_fail(HS_ERR_INTERNAL, err, n, "fork for %s: %s", sp->argv[0], strerror(fork_errno));
        return -1;
    }
    if (r == (ssize_t)sizeof f) {
        waitpid(pid, NULL, 0);
        hs_fail(HS_ERR_UNAVAILABLE, err, n, "cannot run %s: %s: %s", sp->argv[0], stages[f.stage],
                strerror(f.err));
        return -1;
    }
    return pid;
}

static void describe_status(int status, char *why, size_t n) {
    if (WIFEXITED(status))
        snprintf(why, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(why, n, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(why, n, "ended");
}

hs_err_t dev_run(const dev_spawn_t *sp, int timeout_ms, char *err, size_t n) {
    pid_t pid = dev_spawn(sp, err, n);
    if (pid < 0) return HS_ERR_UNAVAILABLE;
    int64_t deadline = dev_now_ms() + timeout_ms;
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && dev_now_ms() < deadline && !dev_interrupted)
        dev_sleep_ms(20);
    if (w == 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
        if (dev_interrupted) return hs_fail(HS_ERR_TIMEOUT, err, n, "%s: interrupted", sp->argv[0]);
        return hs_fail(HS_ERR_TIMEOUT, err, n, "%s did not finish within %d ms", sp->argv[0],
                       timeout_ms);
    }
    if (w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) return HS_OK;
    char why[128];
    describe_status(status, why, sizeof why);
    return hs_fail(HS_ERR_INTERNAL, err, n, "%s %s", sp->argv[0], why);
}

int dev_child_exited(pid_t pid, char *why, size_t n) {
    int status;
    if (waitpid(pid, &status, WNOHANG) != pid) return 0;
    describe_status(status, why, n);
    return 1;
}

int dev_proc_alive(pid_t pid) {
    if (pid <= 0) return 0;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (!dev_read_line(path, buf, sizeof buf)) return 0;
    /* The state follows the command name, which may itself contain ") ". */
    const char *paren = strrchr(buf, ')');
    if (!paren || paren[1] != ' ') return 0;
    return paren[2] != 'Z' && paren[2] != 'X';
}

int dev_proc_matches(pid_t pid, const char *sig) {
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) return 0;
    for (ssize_t i = 0; i < len; i++)
        if (buf[i] == '\0') buf[i] = ' ';
    buf[len] = '\0';
    return strstr(buf, sig) != NULL;
}

static int wait_gone(pid_t pid, int timeout_ms) {
    int64_t deadline = dev_now_ms() + timeout_ms;
    for (;;) {
        waitpid(pid, NULL, WNOHANG); /* reaps it when it is our own child */
        if (!dev_proc_alive(pid)) return 1;
        if (dev_now_ms() >= deadline) return 0;
        dev_sleep_ms(50);
    }
}

int dev_proc_stop(pid_t pid, int sig, int timeout_ms) {
    if (kill(pid, sig) != 0 && errno == ESRCH) return 0;
    if (wait_gone(pid, timeout_ms)) return 0;
    /* Each part leads its own process group: this also ends the children it left behind. */
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    wait_gone(pid, 2000);
    return 1;
}

pid_t dev_pid_read(const char *path) {
    char line[32];
    if (!dev_read_line(path, line, sizeof line)) return 0;
    char *end;
    errno = 0;
    long v = strtol(line, &end, 10);
    if (errno || end == line || *end || v <= 0 || v > 4194304) return 0;
    return (pid_t)v;
}

extern char **environ;

char **dev_env_new(const char *const *overrides) {
    size_t ne = 0, no = 0;
    while (environ[ne])
        ne++;
    while (overrides && overrides[no])
        no++;
    char **env = calloc(ne + no + 1, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < ne; i++) {
        size_t name_len = strcspn(environ[i], "=");
        int replaced = 0;
        for (size_t j = 0; j < no && !replaced; j++)
            replaced =
                !strncmp(environ[i], overrides[j], name_len) && overrides[j][name_len] == '=';
        if (!replaced) env[k++] = environ[i];
    }
    for (size_t j = 0; j < no; j++)
        env[k++] = (char *)overrides[j];
    return env;
}

int dev_binary(const char *name, char *out, size_t n) {
    if (strchr(name, '/')) return snprintf(out, n, "%s", name), access(out, X_OK) == 0;
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/bin:/usr/sbin", path ? path : "");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, n, "%s/%s", d, name);
        if (*d && access(out, X_OK) == 0) return 1;
    }
    snprintf(out, n, "%s", name);
    return 0;
}
