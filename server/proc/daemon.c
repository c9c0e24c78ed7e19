/* daemon.c: detaching from the terminal, the pid file, and dropping
 * privileges. */
#include "proc/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

int daemon_detach(int *ready_fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        log_error("pipe2: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork (daemonize): %s", strerror(errno));
        return -1;
    }
    if (pid > 0) {
        close(p[1]);
        /* One write of at most PIPE_BUF bytes: one read takes it all. The
         * children keep the pipe open, so do not wait for its end. */
        char msg[600];
        ssize_t got;
        do {
            got = read(p[0], msg, sizeof(msg));
        } while (got < 0 && errno == EINTR);
        if (got < 1)
            _exit(1);
        if (msg[0] != 0 && got > 1)
            fprintf(stderr, "swx-server: %.*s\n", (int)(got - 1), msg + 1);
        _exit((unsigned char)msg[0]);
    }
    close(p[0]);
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (log_fileno() != STDERR_FILENO)
            dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO)
            close(null);
    }
    *ready_fd = p[1];
    return 0;
}

void daemon_ready(int *ready_fd, int status)
{
    if (*ready_fd < 0)
        return;
    char msg[600];
    int n = snprintf(msg, sizeof(msg), "%c%s", status ? 1 : 0,
                     status ? log_last_error() : "");
    if (n < 1)
        n = 1;
    if (write(*ready_fd, msg, (size_t)n < sizeof(msg) ? (size_t)n
                                                      : sizeof(msg) - 1) < 1)
        log_warn("cannot report start-up to the parent: %s", strerror(errno));
    close(*ready_fd);
    *ready_fd = -1;
    /* From here on log lines are the only output. */
    if (log_fileno() == STDERR_FILENO) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, STDERR_FILENO);
            close(null);
        }
    }
}

pid_t pidfile_read(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    long pid = 0;
    int ok = fscanf(f, "%ld", &pid) == 1 && pid > 0;
    fclose(f);
    if (!ok) {
        snprintf(err, errlen, "%s: does not hold a pid", path);
        return -1;
    }
    return (pid_t)pid;
}

int pidfile_write(const char *path, char *err, size_t errlen)
{
    char e[256];
    pid_t old = pidfile_read(path, e, sizeof(e));
    if (old > 0 && old != getpid() && kill(old, 0) == 0) {
        snprintf(err, errlen, "server.pid_file: %s names pid %d, which is "
                 "running: another swx-server? stop it or remove the file",
                 path, (int)old);
        return -1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 ||
        rename(tmp, path) < 0) {
        snprintf(err, errlen, "server.pid_file: cannot write %s: %s", path,
                 strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

void pidfile_remove(const char *path)
{
    char e[256];
    if (path != NULL && pidfile_read(path, e, sizeof(e)) == getpid())
        unlink(path);
}

int privs_resolve(const config_t *cfg, uid_t *uid, gid_t *gid, char *err,
                  size_t errlen)
{
    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (cfg->user != NULL) {
        struct passwd *pw = getpwnam(cfg->user);
        if (pw == NULL) {
            snprintf(err, errlen, "%s: server.user: no such user \"%s\"",
                     cfg->path, cfg->user);
            return -1;
        }
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
    }
    if (cfg->group != NULL) {
        struct group *gr = getgrnam(cfg->group);
        if (gr == NULL) {
            snprintf(err, errlen, "%s: server.group: no such group \"%s\"",
                     cfg->path, cfg->group);
            return -1;
        }
        *gid = gr->gr_gid;
    }
    if ((*uid != (uid_t)-1 || *gid != (gid_t)-1) && geteuid() != 0) {
        snprintf(err, errlen, "%s: server.user/server.group need swx-server "
                 "to start as root", cfg->path);
        return -1;
    }
    return 0;
}

int privs_drop(uid_t uid, gid_t gid, const char *user)
{
    if (gid != (gid_t)-1) {
        int rc = user != NULL ? initgroups(user, gid) : setgroups(0, NULL);
        if (rc < 0 || setgid(gid) < 0) {
            log_error("setgid(%d): %s", (int)gid, strerror(errno));
            return -1;
        }
    }
    if (uid != (uid_t)-1 && setuid(uid) < 0) {
        log_error("setuid(%d): %s", (int)uid, strerror(errno));
        return -1;
    }
    return 0;
}
