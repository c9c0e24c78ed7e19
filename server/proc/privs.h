/* privs.h: the user and group the workers run as (server.user and
 * server.group). */
#ifndef SWX_PRIVS_H
#define SWX_PRIVS_H

#include <sys/types.h>

#include "core/config.h"

/* Look up server.user and server.group; uid and gid are -1 when not set.
 * 0 or -errno (-ENOENT: no such user or group, -EPERM: not started as
 * root), logged. */
int privs_resolve(const config_t *cfg, uid_t *uid, gid_t *gid);
/* setgroups (or initgroups for user), setgid, setuid; -1 ids are left
 * alone. 0 or -errno, logged. */
int privs_drop(uid_t uid, gid_t gid, const char *user);

#endif
