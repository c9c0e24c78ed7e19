/* fileio.h: whole files and ranges of files read and written by the aio
 * threads while the calling coroutine waits (Swoole's Coroutine\System::
 * readFile, writeFile, fread, fwrite). */
#ifndef SWX_CORO_FILEIO_H
#define SWX_CORO_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* coro_file_write: add to the end instead of replacing the file. */
#define CORO_FILE_APPEND 1

/*
 * Read the file at path into *data (malloc'd, with a NUL after the last
 * byte; the caller frees it with free()). max: the most bytes accepted
 * (0: no limit). The length, or -EFBIG (larger than max), -ETIMEDOUT,
 * -ECANCELED, -EPERM, -EINVAL, -ENOMEM, -EAGAIN (a FIFO with nothing to
 * read), or open(2)/read(2)'s -errno (-ENOENT, -EACCES, -EISDIR...).
 */
int64_t coro_file_read(const char *path, size_t max, void **data,
                       long timeout_ms);
/* Write len bytes of data to path, created (0666 less the umask) when
 * missing, truncated first unless flags has CORO_FILE_APPEND. len, or the
 * errors above and write(2)'s (-ENOSPC, -EIO...). */
int64_t coro_file_write(const char *path, const void *data, size_t len,
                        int flags, long timeout_ms);
/* Read up to len bytes of fd at offset (< 0: at the fd's position, which
 * moves) into buf: fewer only at the end of the file. The bytes read, or
 * -ESPIPE (a pipe or socket: use coro_wait_fd), -EBADF, and the above. */
int64_t coro_file_pread(int fd, void *buf, size_t len, int64_t offset,
                        long timeout_ms);
/* Write len bytes of buf to fd at offset (< 0: at the fd's position, or
 * its end with O_APPEND). len, or the errors above. */
int64_t coro_file_pwrite(int fd, const void *buf, size_t len, int64_t offset,
                         long timeout_ms);

#endif
