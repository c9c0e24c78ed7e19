/* privs.c: resolving server.user and server.group in the master, and
 * switching to them in each forked process. */
#include "proc/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

int privs_resolve(const config_t *cfg, uid_t *uid, gid_t *gid)
{
    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (cfg->user != NULL) {
        struct passwd *pw = getpwnam(cfg->user);
        if (pw == NULL) {
            log_error("%s: server.user: no such user \"%s\"", cfg->path,
                      cfg->user);
            return -ENOENT;
        }
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
    }
    if (cfg->group != NULL) {
        struct group *gr = getgrnam(cfg->group);
        if (gr == NULL) {
            log_error("%s: server.group: no such group \"%s\"", cfg->path,
                      cfg->group);
            return -ENOENT;
        }
        *gid = gr->gr_gid;
    }
    if ((*uid != (uid_t)-1 || *gid != (gid_t)-1) && geteuid() != 0) {
        log_error("%s: server.user/server.group need swx-server to start as "
                  "root", cfg->path);
        return -EPERM;
    }
    return 0;
}

int privs_drop(uid_t uid, gid_t gid, const char *user)
{
    if (gid != (gid_t)-1) {
        int rc = user != NULL ? initgroups(user, gid) : setgroups(0, NULL);
        if (rc < 0 || setgid(gid) < 0) {
            int err = errno;
            log_error("setgid(%d): %s", (int)gid, strerror(err));
            return -err;
        }
    }
    if (uid != (uid_t)-1 && setuid(uid) < 0) {
        int err = errno;
        log_error("setuid(%d): %s", (int)uid, strerror(err));
        return -err;
    }
    return 0;
}
