/* pidfile.c: the pid file: written atomically, refused while another live
 * process holds it, removed only by the process it names; where it goes
 * when the config names none. */
#include "proc/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

void pidfile_runtime_dir(uid_t euid, const char *xdg, char *out, size_t size)
{
    /* Root's runtime directory is /run whatever the shell says: the
     * service runs without XDG_RUNTIME_DIR, the operator's shell with it,
     * and both must find one file. */
    if (euid == 0)
        snprintf(out, size, "/run/swx-server");
    else if (xdg != NULL && xdg[0] == '/')
        snprintf(out, size, "%s/swx-server", xdg);
    else
        snprintf(out, size, "/tmp/swx-server-%u", (unsigned)euid);
}

/* FNV-1a: short, stable across builds and machines. */
static uint32_t pidfile_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int pidfile_safe_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int pidfile_default_in(const char *dir, const char *real_config, char *out,
                       size_t size)
{
    const char *base = strrchr(real_config, '/');
    base = base != NULL ? base + 1 : real_config;
    /* The file's name up to its first dot, readable and safe in a path:
     * other bytes become '_'. */
    char name[48];
    size_t n = strcspn(base, ".");
    if (n >= sizeof(name))
        n = sizeof(name) - 1;
    for (size_t i = 0; i < n; i++)
        name[i] = pidfile_safe_char(base[i]) ? base[i] : '_';
    name[n] = '\0';
    int len = snprintf(out, size, "%s/%s-%08x.pid", dir,
                       n > 0 ? name : "swx", pidfile_hash(real_config));
    return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
}

int pidfile_default(const char *config_path, char *out, size_t size)
{
    char real[PATH_MAX], dir[PATH_MAX];
    if (realpath(config_path, real) == NULL)
        return -errno;
    pidfile_runtime_dir(geteuid(), getenv("XDG_RUNTIME_DIR"), dir,
                        sizeof(dir));
    return pidfile_default_in(dir, real, out, size);
}

/* What is at dir is ours to write pid files in: 0 or -errno. */
static int pidfile_check_dir(const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    if (st.st_uid != geteuid() || (st.st_mode & 022) != 0)
        return -EPERM;
    return 0;
}

int pidfile_make_dir(const char *pid_path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", pid_path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    int rc = 0;
    if (mkdir(dir, geteuid() == 0 ? 0755 : 0700) < 0 && errno != EEXIST)
        rc = -errno;
    if (rc == 0)
        rc = pidfile_check_dir(dir);
    if (rc < 0)
        log_error("the default pid file's directory %s: %s%s", dir,
                  strerror(-rc),
                  rc == -EPERM || rc == -ENOTDIR
                      ? " (it must be a directory of this user that no one "
                        "else may write to)"
                      : "");
    return rc;
}
