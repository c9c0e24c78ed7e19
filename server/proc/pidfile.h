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

/*
 * The pid file of a config that sets no server.pid_file: one per config
 * file, in the runtime directory (pidfile_runtime_dir), named after the
 * file and a hash of its real path: /etc/swx/server.json gives
 * /run/swx-server/server-XXXXXXXX.pid. So `-s` with the same config, by
 * whatever relative path, finds the server it started, and two configs
 * never share a pid file. 0, or -errno when the config's real path
 * cannot be resolved or the result does not fit.
 */
int pidfile_default(const char *config_path, char *out, size_t size);
/* The same from a real path and a directory: pure, for the tests. */
int pidfile_default_in(const char *dir, const char *real_config, char *out,
                       size_t size);
/* /run/swx-server for root; else $XDG_RUNTIME_DIR/swx-server when xdg is
 * an absolute path; else /tmp/swx-server-UID. */
void pidfile_runtime_dir(uid_t euid, const char *xdg, char *out,
                         size_t size);
/*
 * Make the directory of a default pid file: 0755 for root, 0700
 * otherwise. It must end up a real directory (not a symbolic link) owned
 * by this user and writable by no one else, or it is refused: 0 or
 * -errno, logged.
 */
int pidfile_make_dir(const char *pid_path);

#endif
