/* lifecycle_plugin.c: a test plugin that implements every lifecycle
 * callback (those of ABI 1.1, and on_before_shutdown of 1.5) and appends one
 * line per callback to the file named by its config's "events_file", so
 * that tests can see which callbacks ran, in which process, and in what
 * order:
 *
 *   start PID                      (master, on_start)
 *   before_shutdown PID LISTENING  (master, on_before_shutdown; LISTENING is
 *                                   1 when a connect to 127.0.0.1 on the
 *                                   config's "probe_port" succeeded from it)
 *   before_shutdown_done PID       (the same, after sleeping the config's
 *                                   "before_shutdown_ms")
 *   shutdown PID                   (master, on_shutdown)
 *   manager_start PID              (manager, on_manager_start)
 *   manager_stop PID               (manager, on_manager_stop)
 *   worker_error PID ID WPID CODE SIGNO   (manager, on_worker_error)
 *   worker_start PID ID            (worker, on_worker_start)
 *   worker_exit PID ID             (worker, on_worker_exit: reload)
 *   worker_stop PID ID             (worker, on_worker_stop)
 *
 * Requests: "exit N\n" makes the worker exit(N) at once; anything else is
 * echoed back.
 * Config "start": "fail" makes on_worker_start return 7, "segv" makes the
 * worker die of SIGSEGV inside it (after its line).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <swx_plugin.h>

__attribute__((format(printf, 1, 2))) static void event(const char *fmt, ...)
{
    const char *path = swx_config_string("events_file", NULL);
    if (path == NULL)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write with O_APPEND: lines of concurrent processes stay whole. */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, (size_t)n) != n)
        swx_log(SWX_LOG_ERROR, "lifecycle: %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void lc_start(void)
{
    event("start %d", (int)getpid());
}

/* Whether 127.0.0.1:port takes a connection now: the kernel completes it
 * while the listener is open, though nobody accepts during the call. */
static int lc_listening(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void lc_before_shutdown(void)
{
    int port = (int)swx_config_int("probe_port", 0);
    event("before_shutdown %d %d", (int)getpid(),
          port > 0 && lc_listening(port));
    long long ms = swx_config_int("before_shutdown_ms", 0);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    event("before_shutdown_done %d", (int)getpid());
}

static void lc_shutdown(void)
{
    event("shutdown %d", (int)getpid());
}

static void lc_manager_start(void)
{
    event("manager_start %d", (int)getpid());
}

static void lc_manager_stop(void)
{
    event("manager_stop %d", (int)getpid());
}

static void lc_worker_error(int worker_id, int pid, int exit_code, int signo)
{
    event("worker_error %d %d %d %d %d", (int)getpid(), worker_id, pid,
          exit_code, signo);
}

static int lc_worker_start(int worker_id)
{
    event("worker_start %d %d", (int)getpid(), worker_id);
    const char *how = swx_config_string("start", "ok");
    if (strcmp(how, "fail") == 0)
        return 7;
    if (strcmp(how, "segv") == 0) {
        /* The default action, even under a sanitizer's handler: a crash
         * as the kernel reports it. */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    return 0;
}

static void lc_worker_exit(int worker_id)
{
    event("worker_exit %d %d", (int)getpid(), worker_id);
}

static void lc_worker_stop(int worker_id)
{
    event("worker_stop %d %d", (int)getpid(), worker_id);
}

static void lc_receive(uint64_t session, const void *data, size_t len)
{
    int code;
    char cmd[32];
    size_t n = len < sizeof(cmd) - 1 ? len : sizeof(cmd) - 1;
    memcpy(cmd, data, n);
    cmd[n] = '\0';
    if (sscanf(cmd, "exit %d", &code) == 1)
        _exit(code);
    swx_send(session, data, len);
}

SWX_PLUGIN(.name = "lifecycle",
           .on_worker_start = lc_worker_start,
           .on_worker_stop = lc_worker_stop,
           .on_receive = lc_receive,
           .on_worker_exit = lc_worker_exit,
           .on_worker_error = lc_worker_error,
           .on_start = lc_start,
           .on_before_shutdown = lc_before_shutdown,
           .on_shutdown = lc_shutdown,
           .on_manager_start = lc_manager_start,
           .on_manager_stop = lc_manager_stop);
