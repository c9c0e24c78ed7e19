/* pidfile.c: the pid file: written atomically, refused while another live
 * process holds it, removed only by the process it names. */
#include "proc/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

/* "1234\n": digits, with white space around them and nothing else. */
static pid_t pidfile_parse(const char *text)
{
    char *end;
    errno = 0;
    long pid = strtol(text, &end, 10);
    if (end == text || errno != 0 || pid <= 0 || pid > INT_MAX)
        return -EINVAL;
    end += strspn(end, " \t\r\n");
    return *end == '\0' ? (pid_t)pid : -EINVAL;
}

pid_t pidfile_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char text[32];
    ssize_t n;
    do {
        n = read(fd, text, sizeof(text) - 1);
    } while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : 0;
    close(fd);
    if (n < 0)
        return -err;
    text[n] = '\0';
    return pidfile_parse(text);
}

/* A new file at path holding pid; 0 or -errno. */
static int pidfile_put(const char *path, pid_t pid)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return -errno;
    char text[24];
    int len = snprintf(text, sizeof(text), "%d\n", (int)pid);
    ssize_t w = write(fd, text, (size_t)len);
    int rc = w == len ? 0 : w < 0 ? -errno : -EIO;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

int pidfile_write(const char *path, const char *what)
{
    pid_t self = getpid(), old = pidfile_read(path);
    if (old > 0 && old != self && kill(old, 0) == 0) {
        log_error("%s: %s names pid %d, which is running: another "
                  "swx-server? stop it or remove the file", what, path,
                  (int)old);
        return -EEXIST;
    }
    char tmp[PATH_MAX + 16];
    int rc = -ENAMETOOLONG;
    if (snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)self) <
        (int)sizeof(tmp))
        rc = pidfile_put(tmp, self);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        log_error("%s: cannot write %s: %s", what, path, strerror(-rc));
        if (rc != -ENAMETOOLONG)
            unlink(tmp);
    }
    return rc;
}

int pidfile_remove(const char *path)
{
    pid_t pid = pidfile_read(path);
    if (pid < 0)
        return pid;
    if (pid != getpid())
        return -EPERM;
    if (unlink(path) < 0) {
        int err = errno;
        log_warn("cannot remove the pid file %s: %s", path, strerror(err));
        return -err;
    }
    return 0;
}
