/* fileio.c: the coroutines' file calls as aio jobs. A job owns everything
 * its thread touches (the path, a buffer of its own, a dup of the caller's
 * fd) until it is released, so a caller that gave up (timeout, stop) and
 * went on can free its buffer or close its fd while the thread still runs:
 * the thread never writes into freed memory nor into an fd of the same
 * number opened meanwhile. Large transfers go in chunks with a look at
 * aio_stopping() between them, so a stopping process is not held up. */
#include "coro/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coro/aio.h"
#include "coro/coro.h"

#define FILE_CHUNK (1 << 20)
#define FILE_FIRST (64 * 1024) /* the first buffer when the size is unknown */

typedef struct file_job {
    aio_job_t head;
    int fd;          /* the job's own fd (a dup), or -1 */
    int flags;
    char *buf;       /* the job's own buffer */
    size_t len;      /* bytes asked (writes, pread), or read so far */
    size_t cap;      /* the size of buf */
    size_t max;      /* coro_file_read's limit, 0: none */
    int64_t offset;
    int64_t result;  /* bytes, or -errno */
    char path[];
} file_job_t;

static void file_release(aio_job_t *j)
{
    file_job_t *f = (file_job_t *)j;
    if (f->fd >= 0)
        close(f->fd);
    free(f->buf);
    free(f);
}

static file_job_t *file_job(aio_work_fn *work, const char *path)
{
    size_t plen = path != NULL ? strlen(path) + 1 : 0;
    file_job_t *f = calloc(1, sizeof(*f) + plen);
    if (f == NULL)
        return NULL;
    f->head.work = work;
    f->head.release = file_release;
    f->fd = -1;
    if (plen > 0)
        memcpy(f->path, path, plen);
    return f;
}

/* ---- in a pool thread ---- */

/* One read or write of at most FILE_CHUNK bytes, at offset (< 0: the fd's
 * position). The bytes moved, 0 at the end, or -errno. */
static ssize_t file_io(int fd, int writing, void *p, size_t n, int64_t off)
{
    if (n > FILE_CHUNK)
        n = FILE_CHUNK;
    ssize_t r;
    do {
        if (writing)
            r = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, (off_t)off);
        else
            r = off < 0 ? read(fd, p, n) : pread(fd, p, n, (off_t)off);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
}

/* Move f->len bytes between fd and f->buf from f->offset, chunk by
 * chunk; reading stops early at the end of the file. */
static int64_t file_transfer(file_job_t *f, int fd, int writing)
{
    size_t done = 0;
    while (done < f->len) {
        if (aio_stopping())
            return -ECANCELED;
        int64_t off = f->offset < 0 ? -1 : f->offset + (int64_t)done;
        ssize_t n = file_io(fd, writing, f->buf + done, f->len - done, off);
        if (n < 0)
            return n;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (int64_t)done;
}

/* The buffer is full: read a little more to learn whether the file goes
 * on, and if it does, grow the buffer. The bytes added, 0 at the end, or
 * -errno (-EFBIG past f->max). */
static ssize_t file_more(file_job_t *f, int fd)
{
    char probe[4096];
    ssize_t n = file_io(fd, 0, probe, sizeof(probe), -1);
    if (n <= 0)
        return n;
    size_t need = f->len + (size_t)n + 1;
    if (f->max != 0 && need - 1 > f->max)
        return -EFBIG;
    size_t cap = f->cap * 2 > need ? f->cap * 2 : need;
    if (f->max != 0 && cap > f->max + 1)
        cap = f->max + 1;
    char *p = realloc(f->buf, cap);
    if (p == NULL)
        return -ENOMEM;
    memcpy(p + f->len, probe, (size_t)n);
    f->buf = p;
    f->cap = cap;
    f->len += (size_t)n;
    return n;
}

/* The first buffer: the file's size and one byte when it has one (the
 * size of /proc files and devices is not what they hold). */
static int64_t file_first(file_job_t *f, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    size_t size = S_ISREG(st.st_mode) && st.st_size > 0
                      ? (size_t)st.st_size : FILE_FIRST;
    if (f->max != 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > f->max)
        return -EFBIG;
    if (f->max != 0 && size > f->max)
        size = f->max;
    f->cap = size + 1;
    f->buf = malloc(f->cap);
    return f->buf != NULL ? 0 : -ENOMEM;
}

static int64_t file_slurp(file_job_t *f, int fd)
{
    int64_t rc = file_first(f, fd);
    while (rc >= 0) {
        if (aio_stopping())
            return -ECANCELED;
        ssize_t n;
        if (f->len + 1 < f->cap) {
            n = file_io(fd, 0, f->buf + f->len, f->cap - 1 - f->len, -1);
            if (n > 0)
                f->len += (size_t)n;
        } else {
            n = file_more(f, fd);
        }
        if (n <= 0)
            return n < 0 ? n : (int64_t)f->len;
    }
    return rc;
}

static void work_read(aio_job_t *j)
{
    file_job_t *f = (file_job_t *)j;
    /* O_NONBLOCK: a FIFO without a writer must not hold the thread; it
     * means nothing to regular files. */
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        f->result = -errno;
        return;
    }
    f->result = file_slurp(f, fd);
    if (f->result >= 0)
        f->buf[f->len] = '\0';
    close(fd);
}

static void work_write(aio_job_t *j)
{
    file_job_t *f = (file_job_t *)j;
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                (f->flags & CORO_FILE_APPEND ? O_APPEND : O_TRUNC);
    int fd = open(f->path, flags, 0666);
    if (fd < 0) {
        f->result = -errno;
        return;
    }
    f->result = file_transfer(f, fd, 1);
    if (close(fd) < 0 && f->result >= 0) /* NFS reports a failed write here */
        f->result = -errno;
}

/* A range of the caller's fd (its dup); flags: 1 to write. */
static void work_range(aio_job_t *j)
{
    file_job_t *f = (file_job_t *)j;
    f->result = file_transfer(f, f->fd, f->flags);
}

/* ---- in the calling coroutine ---- */

/* Run f and wait. 0: f is done and the caller's (its result in
 * f->result); < 0: aio_run's error, and f is the pool's. */
static int file_run(file_job_t *f, long timeout_ms)
{
    return aio_run(&f->head, timeout_ms);
}

/* f's result, after which f is freed (f done and the caller's). */
static int64_t file_end(file_job_t *f)
{
    int64_t rc = f->result;
    file_release(&f->head);
    return rc;
}

int64_t coro_file_read(const char *path, size_t max, void **data,
                       long timeout_ms)
{
    if (coro_self() == NULL)
        return -EPERM;
    if (path == NULL || data == NULL)
        return -EINVAL;
    *data = NULL;
    file_job_t *f = file_job(work_read, path);
    if (f == NULL)
        return -ENOMEM;
    f->max = max < SIZE_MAX ? max : 0; /* max + 1 must not wrap */
    int rc = file_run(f, timeout_ms);
    if (rc < 0)
        return rc;
    if (f->result >= 0) {
        *data = f->buf;
        f->buf = NULL;
    }
    return file_end(f);
}

/* A job holding a copy of len bytes of data (the caller may free data
 * once it gives up waiting), or NULL. */
static file_job_t *file_job_copy(aio_work_fn *work, const char *path,
                                 const void *data, size_t len)
{
    file_job_t *f = file_job(work, path);
    if (f == NULL)
        return NULL;
    f->buf = malloc(len > 0 ? len : 1);
    if (f->buf == NULL) {
        file_release(&f->head);
        return NULL;
    }
    if (len > 0)
        memcpy(f->buf, data, len);
    f->len = len;
    return f;
}

int64_t coro_file_write(const char *path, const void *data, size_t len,
                        int flags, long timeout_ms)
{
    if (coro_self() == NULL)
        return -EPERM;
    if (path == NULL || (data == NULL && len > 0) ||
        (flags & ~CORO_FILE_APPEND) != 0)
        return -EINVAL;
    file_job_t *f = file_job_copy(work_write, path, data, len);
    if (f == NULL)
        return -ENOMEM;
    f->flags = flags;
    f->offset = -1;
    int rc = file_run(f, timeout_ms);
    return rc < 0 ? rc : file_end(f);
}

/* A job on a dup of fd (the caller may close fd once it gives up
 * waiting) for a range: pipes and sockets are refused (-ESPIPE), since a
 * thread blocked on one could not be stopped. 0 or -errno. */
static int file_range_fd(file_job_t *f, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
        return -ESPIPE;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return f->fd < 0 ? -errno : 0;
}

static int64_t file_range(int fd, void *rbuf, const void *wbuf, size_t len,
                          int64_t offset, long timeout_ms)
{
    if (coro_self() == NULL)
        return -EPERM;
    if (fd < 0)
        return -EBADF;
    if (rbuf == NULL && wbuf == NULL && len > 0)
        return -EINVAL;
    file_job_t *f = file_job_copy(work_range, NULL, wbuf, rbuf ? 0 : len);
    if (f == NULL)
        return -ENOMEM;
    int rc = file_range_fd(f, fd);
    if (rc == 0 && rbuf != NULL) {
        free(f->buf);
        f->buf = malloc(len > 0 ? len : 1);
        rc = f->buf != NULL ? 0 : -ENOMEM;
    }
    if (rc < 0) {
        file_release(&f->head);
        return rc;
    }
    f->len = len;
    f->offset = offset < 0 ? -1 : offset;
    f->flags = rbuf == NULL; /* work_range: 1 to write */
    rc = file_run(f, timeout_ms);
    if (rc < 0)
        return rc;
    if (rbuf != NULL && f->result > 0)
        memcpy(rbuf, f->buf, (size_t)f->result);
    return file_end(f);
}

int64_t coro_file_pread(int fd, void *buf, size_t len, int64_t offset,
                        long timeout_ms)
{
    return file_range(fd, buf, NULL, len, offset, timeout_ms);
}

int64_t coro_file_pwrite(int fd, const void *buf, size_t len, int64_t offset,
                         long timeout_ms)
{
    return file_range(fd, NULL, buf, len, offset, timeout_ms);
}
