/* daemon.h: detaching from the terminal, the pid file, and dropping
 * privileges. */
#ifndef SWX_DAEMON_H
#define SWX_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

#include "core/config.h"

/*
 * Fork into the background. The parent waits until the child calls
 * daemon_ready and exits with the status it reports (1 if the child died
 * first). In the child returns 0 and sets *ready_fd; -1 on failure.
 */
int daemon_detach(int *ready_fd);
/* Tell the waiting parent how start-up went (0 = serving). */
void daemon_ready(int *ready_fd, int status);

/* Write our pid; refuses (-1, err) when a live process holds the file. */
int pidfile_write(const char *path, char *err, size_t errlen);
void pidfile_remove(const char *path);
/* The pid in the file, or -1 with err. */
pid_t pidfile_read(const char *path, char *err, size_t errlen);

/* Look up server.user / server.group; uid/gid -1 when not set. */
int privs_resolve(const config_t *cfg, uid_t *uid, gid_t *gid, char *err,
                  size_t errlen);
/* setgroups, setgid, setuid; 0 or -1 (logged). */
int privs_drop(uid_t uid, gid_t gid, const char *user);

#endif
