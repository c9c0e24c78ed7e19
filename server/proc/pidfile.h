/* pidfile.h: the pid file: the master's pid, for `swx-server -s` and init
 * systems; one running server per file. */
#ifndef SWX_PIDFILE_H
#define SWX_PIDFILE_H

#include <sys/types.h>

/*
 * Write this process's pid to path, through a temporary file renamed over
 * it, so that a reader never sees half a pid. A file naming another
 * process that is alive is left as it is: -EEXIST. One naming a process
 * that is gone, or holding no pid, is replaced. 0 or -errno, logged after
 * `what` (the config file and key, say).
 */
int pidfile_write(const char *path, const char *what);
/*
 * The pid path holds (> 0), or -errno: -ENOENT and the like from open,
 * -EINVAL when the file holds anything but a pid and white space. Not
 * logged: a missing file is no error to pidfile_write, and `-s` says it
 * in its own words.
 */
pid_t pidfile_read(const char *path);
/* Remove path if it holds this process's pid: 0, or -EPERM when it names
 * another process (it stays), or -errno (only an unlink that failed is
 * logged). */
int pidfile_remove(const char *path);

#endif
