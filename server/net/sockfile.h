/* sockfile.h: Unix socket files: claiming a path, binding it, removing it. */
#ifndef SWX_SOCKFILE_H
#define SWX_SOCKFILE_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* The file a bind(2) made, to tell it apart from one put there later. */
typedef struct sockfile {
    int bound;
    dev_t dev;
    ino_t ino;
} sockfile_t;

/*
 * Make path free for a socket of type (SOCK_STREAM or SOCK_DGRAM): nothing
 * there is fine; a socket file nothing listens on (connect(2) is refused)
 * is removed. Anything else is refused and left alone: -ENOTSOCK for a
 * file that is not a socket, -EADDRINUSE for a socket that answers, or
 * another -errno. err then holds "WHERE: expected ..., found ...", where
 * is the config file and JSON path ("swx.json: admin.unix").
 */
int sockfile_claim(const char *path, int type, const char *where, char *err,
                   size_t errlen);

/*
 * The -t check, which removes nothing: 0 when path is absent or a socket,
 * -ENOTSOCK (with err as above) when it is another kind of file.
 */
int sockfile_check(const char *path, const char *where, char *err,
                   size_t errlen);

/*
 * bind(2) fd to addr and remember the file it made in *f. With mode >= 0
 * the file never has more permissions than mode (the umask is tightened
 * for the call, so only while the process is single-threaded) and ends
 * with exactly mode. 0 or -errno, with *what naming the call that failed.
 */
int sockfile_bind(int fd, const struct sockaddr_un *addr, int mode,
                  sockfile_t *f, const char **what);

/* Remove path if it is still the file *f recorded; one put there by
 * someone else since is left alone (and said so in the log). */
void sockfile_remove(sockfile_t *f, const char *path);

#endif
