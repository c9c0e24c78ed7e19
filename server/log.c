/* log.c: log lines with time, level, pid and role, written with one write(2). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDERR_FILENO;
static int log_level = SWX_LOG_INFO;
static char log_path[4096];
static int log_echo;               /* errors to stderr too (start-up) */
static char log_last[512];         /* the last error's message */
static __thread char log_role[32] = "master";

static const char *const level_names[] = {"debug", "info", "notice", "warning",
                                          "error"};

int log_open(const char *file, int level)
{
    log_level = level;
    if (file == NULL)
        return 0;
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    snprintf(log_path, sizeof(log_path), "%s", file);
    return 0;
}

int log_reopen(uid_t uid, gid_t gid)
{
    if (log_path[0] == '\0')
        return 0;
    int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        log_error("reopen %s: %s; still writing to the old file", log_path,
                  strerror(err));
        return -err;
    }
    if (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0)
        log_warn("fchown(%s): %s", log_path, strerror(errno));
    /* dup2 swaps the file under log_fd at once for every thread. */
    dup2(fd, log_fd);
    close(fd);
    return 0;
}

void log_set_echo(int on)
{
    log_echo = on;
}

const char *log_last_error(void)
{
    return log_last;
}

int log_fileno(void)
{
    return log_fd;
}

void log_set_role(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(log_role, sizeof(log_role), fmt, ap);
    va_end(ap);
}

int log_get_level(void)
{
    return log_level;
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
    if (level < log_level)
        return;
    if (level > SWX_LOG_ERROR)
        level = SWX_LOG_ERROR;
    if (level < SWX_LOG_DEBUG)
        level = SWX_LOG_DEBUG;

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);

    char line[2048];
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02d %02d:%02d:%02d.%03ld [%s] %d %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     level_names[level], (int)getpid(), log_role);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    /* One write per line: O_APPEND keeps lines of all processes whole. */
    ssize_t w = write(log_fd, line, len);
    if (level == SWX_LOG_ERROR) {
        snprintf(log_last, sizeof(log_last), "%.*s", (int)(len - 1 - (size_t)n),
                 line + n);
        if (log_echo && log_fd != STDERR_FILENO)
            w = write(STDERR_FILENO, line, len);
    }
    (void)w;
}

void log_msg(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}
