/* sockfile.c: Unix socket files: a path is bound only when it is free or
 * holds a stale socket, and removed at stop only while it is still ours. */
#include "net/sockfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static const char *sockfile_kind(mode_t m)
{
    if (S_ISREG(m))
        return "a regular file";
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISLNK(m))
        return "a symbolic link";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m) || S_ISBLK(m))
        return "a device";
    return "a file that is not a socket";
}

/* "WHERE: expected ..., found "PATH", FOUND; left as it is"; returns rc. */
static int sockfile_refuse(int rc, const char *where, const char *path,
                           const char *found, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: expected a path that is free or holds a "
             "stale socket file, found \"%s\", %s; left as it is", where,
             path, found);
    return rc;
}

/*
 * 1 when a socket answers connect(2) at path (a live server), 0 when none
 * does (the file is stale, or gone), -errno when it cannot be told. A
 * stale file is refused whatever the type asked; a live socket of the
 * other type is EPROTOTYPE, a listener with a full backlog EAGAIN, a
 * datagram socket connected to another peer EPERM: all in use.
 */
static int sockfile_live(const char *path, int type)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    int e = errno;
    close(fd);
    if (rc == 0)
        return 1;
    if (e == ECONNREFUSED || e == ENOENT)
        return 0;
    if (e == EAGAIN || e == EINPROGRESS || e == EPROTOTYPE || e == EPERM)
        return 1;
    return -e;
}

/* A stale socket file goes, unless it was replaced while it was probed. */
static int sockfile_unlink_stale(const char *path, const struct stat *seen,
                                 const char *where, char *err, size_t errlen)
{
    struct stat now;
    if (lstat(path, &now) < 0)
        return 0;
    if (now.st_dev != seen->st_dev || now.st_ino != seen->st_ino)
        return sockfile_refuse(-EAGAIN, where, path, "a file that changed "
                               "while it was checked", err, errlen);
    if (unlink(path) < 0 && errno != ENOENT) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot remove the stale socket file "
                 "\"%s\": unlink: %s", where, path, strerror(e));
        return -e;
    }
    log_info("%s: removed the stale socket file %s", where, path);
    return 0;
}

int sockfile_claim(const char *path, int type, const char *where, char *err,
                   size_t errlen)
{
    struct stat st;
    /* Nothing visible is in the way; bind(2) reports any real problem. */
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return sockfile_refuse(-ENOTSOCK, where, path,
                               sockfile_kind(st.st_mode), err, errlen);
    int live = sockfile_live(path, type);
    if (live > 0)
        return sockfile_refuse(-EADDRINUSE, where, path, "a socket a "
                               "running process answers on (another "
                               "swx-server?)", err, errlen);
    if (live < 0) {
        snprintf(err, errlen, "%s: cannot tell whether the socket \"%s\" is "
                 "in use: connect: %s; left as it is", where, path,
                 strerror(-live));
        return live;
    }
    return sockfile_unlink_stale(path, &st, where, err, errlen);
}

int sockfile_check(const char *path, const char *where, char *err,
                   size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0 || S_ISSOCK(st.st_mode))
        return 0;
    return sockfile_refuse(-ENOTSOCK, where, path, sockfile_kind(st.st_mode),
                           err, errlen);
}

int sockfile_bind(int fd, const struct sockaddr_un *addr, int mode,
                  sockfile_t *f, const char **what)
{
    const char *path = addr->sun_path;
    mode_t old = 0;
    /* bind(2) creates the file with 0777 & ~umask: never wider than mode. */
    if (mode >= 0)
        old = umask((mode_t)(~mode & 0777));
    int rc = bind(fd, (const struct sockaddr *)addr, sizeof(*addr));
    int e = errno;
    if (mode >= 0)
        umask(old);
    *what = "bind";
    if (rc < 0)
        return -e;
    struct stat st;
    *what = "lstat";
    if (lstat(path, &st) < 0)
        return -errno;
    *f = (sockfile_t){.bound = 1, .dev = st.st_dev, .ino = st.st_ino};
    /* A default ACL on the directory may have narrowed it. */
    *what = "chmod";
    if (mode >= 0 && (st.st_mode & 07777) != (mode_t)mode &&
        chmod(path, (mode_t)mode) < 0)
        return -errno;
    return 0;
}

void sockfile_remove(sockfile_t *f, const char *path)
{
    struct stat st;
    if (!f->bound)
        return;
    f->bound = 0;
    if (lstat(path, &st) < 0) {
        if (errno != ENOENT)
            log_warn("lstat %s: %s; the socket file is not removed", path,
                     strerror(errno));
        return;
    }
    if (!S_ISSOCK(st.st_mode) || st.st_dev != f->dev || st.st_ino != f->ino) {
        log_warn("%s is no longer the socket file this server made (it was "
                 "replaced); left as it is", path);
        return;
    }
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn("unlink %s: %s", path, strerror(errno));
}
