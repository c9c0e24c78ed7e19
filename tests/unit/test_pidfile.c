/* test_pidfile.c: the pid file: written and read back, refused while a
 * live process holds it, a stale one replaced, removed only by its owner,
 * contents that are not a pid; the default pid file's name and
 * directory. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "proc/pidfile.h"

static char dir[64];
static char path[PATH_MAX];
static pid_t other = -1; /* a live process that is not this one */

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/swx-pidfile-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/swx.pid", dir);
    log_open("/dev/null", SWX_LOG_DEBUG);
}

static void teardown(void)
{
    if (other > 0) {
        kill(other, SIGKILL);
        waitpid(other, NULL, 0);
        other = -1;
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[PATH_MAX + 300];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

static void put(const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

static void put_pid(pid_t pid)
{
    char text[32];
    snprintf(text, sizeof(text), "%d\n", (int)pid);
    put(text);
}

static const char *contents(void)
{
    static char text[64];
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

/* Entries in the directory: the pid file and no temporary file. */
static int entries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static pid_t start_other(void)
{
    other = fork();
    ck_assert_int_ge(other, 0);
    if (other == 0) {
        pause();
        _exit(0);
    }
    return other;
}

/* A pid that was just reaped: nobody runs under it. */
static pid_t gone_pid(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    return pid;
}

START_TEST(write_and_read_back)
{
    ck_assert_int_eq(pidfile_write(path, "test"), 0);
    ck_assert_int_eq(pidfile_read(path), getpid());
    char want[32];
    snprintf(want, sizeof(want), "%d\n", (int)getpid());
    ck_assert_str_eq(contents(), want);
    ck_assert_int_eq(entries(), 1);
    /* Our own pid in it already: written again. */
    ck_assert_int_eq(pidfile_write(path, "test"), 0);
    ck_assert_int_eq(pidfile_read(path), getpid());
}
END_TEST

START_TEST(refused_while_a_live_process_holds_it)
{
    pid_t pid = start_other();
    put_pid(pid);
    ck_assert_int_eq(pidfile_write(path, "conf.json: server.pid_file"),
                     -EEXIST);
    char want[PATH_MAX + 100];
    snprintf(want, sizeof(want), "conf.json: server.pid_file: %s names pid "
             "%d, which is running", path, (int)pid);
    ck_assert_ptr_nonnull(strstr(log_last_error(), want));
    ck_assert_int_eq(pidfile_read(path), pid);
    ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(stale_file_replaced)
{
    put_pid(gone_pid());
    ck_assert_int_eq(pidfile_write(path, "test"), 0);
    ck_assert_int_eq(pidfile_read(path), getpid());
    ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(removed_only_by_its_owner)
{
    ck_assert_int_eq(pidfile_remove(path), -ENOENT);
    put_pid(start_other());
    ck_assert_int_eq(pidfile_remove(path), -EPERM);
    ck_assert_int_eq(access(path, F_OK), 0);
    put_pid(gone_pid());
    ck_assert_int_eq(pidfile_remove(path), -EPERM);
    ck_assert_int_eq(access(path, F_OK), 0);
    put("not a pid\n");
    ck_assert_int_eq(pidfile_remove(path), -EINVAL);
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_int_eq(pidfile_write(path, "test"), 0);
    ck_assert_int_eq(pidfile_remove(path), 0);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(pidfile_remove(path), -ENOENT);
}
END_TEST

static const char *const bad[] = {
    "", "\n", "abc\n", "12abc\n", "12 34\n", "-5\n", "0\n", "+\n",
    "99999999999999999999\n", "2147483648\n",
};

START_TEST(bad_contents)
{
    put(bad[_i]);
    ck_assert_int_eq(pidfile_read(path), -EINVAL);
    /* It names no process: a new server replaces it. */
    ck_assert_int_eq(pidfile_write(path, "test"), 0);
    ck_assert_int_eq(pidfile_read(path), getpid());
}
END_TEST

START_TEST(white_space_around_the_pid)
{
    put(" \t42 \r\n\n");
    ck_assert_int_eq(pidfile_read(path), 42);
    put("42");
    ck_assert_int_eq(pidfile_read(path), 42);
}
END_TEST

START_TEST(missing_file_and_directory)
{
    ck_assert_int_eq(pidfile_read(path), -ENOENT);
    char deep[PATH_MAX + 16];
    snprintf(deep, sizeof(deep), "%s/no/such/dir/swx.pid", dir);
    ck_assert_int_eq(pidfile_write(deep, "test"), -ENOENT);
    ck_assert_ptr_nonnull(strstr(log_last_error(), "test: cannot write "));
    ck_assert_int_eq(entries(), 0);
}
END_TEST

START_TEST(unwritable_directory_leaves_nothing)
{
    if (geteuid() == 0)
        return; /* root writes anyway */
    ck_assert_int_eq(chmod(dir, 0500), 0);
    ck_assert_int_eq(pidfile_write(path, "test"), -EACCES);
    ck_assert_int_eq(chmod(dir, 0700), 0);
    ck_assert_int_eq(entries(), 0);
}
END_TEST

/* The default pid file: named after the config, unique per real path. */
START_TEST(default_name)
{
    char a[PATH_MAX], b[PATH_MAX];
    ck_assert_int_eq(pidfile_default_in("/run/swx-server",
                                        "/etc/swx/server.json", a,
                                        sizeof(a)), 0);
    ck_assert_msg(strncmp(a, "/run/swx-server/server-", 23) == 0 &&
                      strlen(a) == 23 + 8 + 4 &&
                      strcmp(a + strlen(a) - 4, ".pid") == 0,
                  "%s", a);
    /* Stable: the same config gives the same file every time. */
    ck_assert_int_eq(pidfile_default_in("/run/swx-server",
                                        "/etc/swx/server.json", b,
                                        sizeof(b)), 0);
    ck_assert_str_eq(a, b);
    /* Another directory with a file of the same name: another file. */
    ck_assert_int_eq(pidfile_default_in("/run/swx-server",
                                        "/srv/app/server.json", b,
                                        sizeof(b)), 0);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(strncmp(b, "/run/swx-server/server-", 23), 0);
}
END_TEST

START_TEST(default_name_odd_files)
{
    char out[PATH_MAX], small[12];
    ck_assert_int_eq(pidfile_default_in("/d", "/etc/my app;x.json", out,
                                        sizeof(out)), 0);
    ck_assert_int_eq(strncmp(out, "/d/my_app_x-", 12), 0);
    ck_assert_int_eq(pidfile_default_in("/d", "/etc/.hidden", out,
                                        sizeof(out)), 0);
    ck_assert_int_eq(strncmp(out, "/d/swx-", 7), 0);
    ck_assert_int_eq(pidfile_default_in("/d", "/etc/x.json", small,
                                        sizeof(small)), -ENAMETOOLONG);
}
END_TEST

START_TEST(runtime_dir)
{
    char out[PATH_MAX];
    pidfile_runtime_dir(0, "/run/user/0", out, sizeof(out));
    ck_assert_str_eq(out, "/run/swx-server");
    pidfile_runtime_dir(1000, "/run/user/1000", out, sizeof(out));
    ck_assert_str_eq(out, "/run/user/1000/swx-server");
    pidfile_runtime_dir(1000, NULL, out, sizeof(out));
    ck_assert_str_eq(out, "/tmp/swx-server-1000");
    pidfile_runtime_dir(1000, "relative", out, sizeof(out));
    ck_assert_str_eq(out, "/tmp/swx-server-1000");
}
END_TEST

/* Made when missing; refused when someone else could write to it. */
START_TEST(default_dir_made_and_checked)
{
    char sub[PATH_MAX], pid[PATH_MAX + 16];
    snprintf(sub, sizeof(sub), "%s/run", dir);
    snprintf(pid, sizeof(pid), "%s/x.pid", sub);
    ck_assert_int_eq(pidfile_make_dir(pid), 0);
    struct stat st;
    ck_assert_int_eq(lstat(sub, &st), 0);
    ck_assert(S_ISDIR(st.st_mode) && (st.st_mode & 022) == 0);
    ck_assert_int_eq(pidfile_make_dir(pid), 0); /* already there */
    ck_assert_int_eq(chmod(sub, 0777), 0);
    ck_assert_int_eq(pidfile_make_dir(pid), -EPERM);
    ck_assert_int_eq(rmdir(sub), 0);
    ck_assert_int_eq(symlink("/tmp", sub), 0);
    ck_assert_int_eq(pidfile_make_dir(pid), -ENOTDIR);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pidfile");
    TCase *tc = tcase_create("pidfile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, write_and_read_back);
    tcase_add_test(tc, refused_while_a_live_process_holds_it);
    tcase_add_test(tc, stale_file_replaced);
    tcase_add_test(tc, removed_only_by_its_owner);
    tcase_add_loop_test(tc, bad_contents, 0, sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, white_space_around_the_pid);
    tcase_add_test(tc, missing_file_and_directory);
    tcase_add_test(tc, unwritable_directory_leaves_nothing);
    tcase_add_test(tc, default_name);
    tcase_add_test(tc, default_name_odd_files);
    tcase_add_test(tc, runtime_dir);
    tcase_add_test(tc, default_dir_made_and_checked);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
