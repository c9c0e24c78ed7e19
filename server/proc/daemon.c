/* daemon.c: detaching from the terminal with a pipe back to the foreground
 * process, which exits with the start-up status it reads there. */
#include "proc/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

int daemon_detach(int *ready_fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        int err = errno;
        log_error("pipe2: %s", strerror(err));
        return -err;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        log_error("fork (daemonize): %s", strerror(err));
        close(p[0]);
        close(p[1]);
        return -err;
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
