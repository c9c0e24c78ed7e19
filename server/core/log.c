/* log.c: log lines with time, level, pid and role, written with one write(2),
 * each kind of line rate-limited. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log_limit.h"
#include "event/clock.h"

#define LOG_LINE_MAX 2048
/* Summaries written at most per call (the rest wait for the next). */
#define LOG_NOTES_MAX 4

static int log_fd = STDERR_FILENO;
static int log_level = SWX_LOG_INFO;
static char log_path[4096];
static int log_echo;               /* errors to stderr too (start-up) */
static char log_last[512];         /* the last error's message */
static __thread char log_role[32] = "master";

static const char *const level_names[] = {"debug", "info", "notice", "warning",
                                          "error"};

/* One budget table per process, shared by its threads. The lock is held
 * only to update it, never while formatting or writing, and is taken
 * around fork (log_fork_*). Its times are loop_now()'s, so that a due time
 * means the same to the loops that sleep until it (log_due_in_ms). */
static log_limit_t limits;
static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int64_t limits_due = INT64_MAX;
static pthread_once_t limits_once = PTHREAD_ONCE_INIT;

int log_open(const char *file, int level)
{
    log_level = level;
    if (file == NULL)
        return 0;
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    snprintf(log_path, sizeof(log_path), "%s", file);
    return 0;
}

int log_reopen(uid_t uid, gid_t gid)
{
    if (log_path[0] == '\0')
        return 0;
    int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        log_error("reopen %s: %s; still writing to the old file", log_path,
                  strerror(err));
        return -err;
    }
    if (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0)
        log_warn("fchown(%s): %s", log_path, strerror(errno));
    /* dup2 swaps the file under log_fd at once for every thread. */
    dup2(fd, log_fd);
    close(fd);
    return 0;
}

void log_set_echo(int on)
{
    log_echo = on;
}

const char *log_last_error(void)
{
    return log_last;
}

int log_fileno(void)
{
    return log_fd;
}

void log_set_role(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(log_role, sizeof(log_role), fmt, ap);
    va_end(ap);
}

const char *log_get_role(void)
{
    return log_role;
}

int log_get_level(void)
{
    return log_level;
}

/* Write one line: header, text, newline, in a single write(2). */
static void log_emit(int level, const char *role, const char *text,
                     int summary)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);

    char line[LOG_LINE_MAX];
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02d %02d:%02d:%02d.%03ld [%s] %d %s: %s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     level_names[level], (int)getpid(), role, text);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    /* One write per line: O_APPEND keeps lines of all processes whole. */
    ssize_t w = write(log_fd, line, len);
    if (level == SWX_LOG_ERROR) {
        if (!summary)
            snprintf(log_last, sizeof(log_last), "%s", text);
        if (log_echo && log_fd != STDERR_FILENO)
            w = write(STDERR_FILENO, line, len);
    }
    (void)w;
}

static void log_emit_note(const log_limit_note_t *note)
{
    char text[LOG_LIMIT_TEXT + 64];
    snprintf(text, sizeof(text), "%u similar line%s suppressed, the first: %s",
             note->count, note->count == 1 ? "" : "s", note->text);
    log_emit(note->level, note->role, text, 1);
}

/* A fork copies the table with the parent's counts, which the parent
 * reports itself: the child starts afresh. The lock is taken around fork
 * so that no other thread holds it in the child. */
static void log_fork_prepare(void)
{
    pthread_mutex_lock(&limits_lock);
}

static void log_fork_parent(void)
{
    pthread_mutex_unlock(&limits_lock);
}

static void log_fork_child(void)
{
    log_limit_reset(&limits);
    atomic_store(&limits_due, INT64_MAX);
    pthread_mutex_unlock(&limits_lock);
}

static void log_limit_setup(void)
{
    log_limit_reset(&limits);
    pthread_atfork(log_fork_prepare, log_fork_parent, log_fork_child);
    atexit(log_flush);
}

/* Lines of events that can come in floods are limited. Debug lines are
 * asked for; notices are the server's milestones (started, reloads,
 * stopped), one per operator action, and each must be in the log. */
static int log_limited(int level)
{
    return level != SWX_LOG_DEBUG && level != SWX_LOG_NOTICE;
}

/* Under the lock: summaries due at now into notes, then the verdict on a
 * line of kind fmt (when limited), its own summary last. */
static int log_admit(int level, const char *fmt, const char *text,
                     log_limit_note_t *notes, int *nnotes)
{
    int64_t now = loop_now();
    int ok = 1;
    int n = 0;
    pthread_mutex_lock(&limits_lock);
    if (now >= limits.due)
        n = log_limit_take_due(&limits, now, notes, LOG_NOTES_MAX - 1);
    if (fmt != NULL && log_limited(level)) {
        ok = log_limit_admit(&limits, fmt, level, now, text, log_role,
                             &notes[n]);
        if (notes[n].count > 0)
            n++;
    }
    atomic_store(&limits_due, limits.due);
    pthread_mutex_unlock(&limits_lock);
    *nnotes = n;
    return ok;
}

void log_flush(void)
{
    log_limit_note_t notes[LOG_NOTES_MAX];
    int n;
    pthread_once(&limits_once, log_limit_setup);
    do {
        pthread_mutex_lock(&limits_lock);
        n = log_limit_take_due(&limits, INT64_MAX, notes, LOG_NOTES_MAX);
        atomic_store(&limits_due, limits.due);
        pthread_mutex_unlock(&limits_lock);
        for (int i = 0; i < n; i++)
            log_emit_note(&notes[i]);
    } while (n == LOG_NOTES_MAX);
}

int log_due_in_ms(void)
{
    int64_t due = atomic_load_explicit(&limits_due, memory_order_relaxed);
    if (due == INT64_MAX)
        return -1;
    int64_t left = due - loop_now();
    return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

void log_tick(void)
{
    if (log_due_in_ms() != 0)
        return;
    log_limit_note_t notes[LOG_NOTES_MAX];
    int n = 0;
    log_admit(SWX_LOG_DEBUG, NULL, NULL, notes, &n);
    for (int i = 0; i < n; i++)
        log_emit_note(&notes[i]);
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
    if (level < log_level)
        return;
    if (level > SWX_LOG_ERROR)
        level = SWX_LOG_ERROR;
    if (level < SWX_LOG_DEBUG)
        level = SWX_LOG_DEBUG;
    pthread_once(&limits_once, log_limit_setup);

    char text[LOG_LINE_MAX];
    if (vsnprintf(text, sizeof(text), fmt, ap) < 0)
        text[0] = '\0';
    log_limit_note_t notes[LOG_NOTES_MAX];
    int n = 0;
    int ok = 1;
    /* Other lines only check for due summaries. */
    if (log_limited(level) ||
        loop_now() >= atomic_load_explicit(&limits_due,
                                             memory_order_relaxed))
        ok = log_admit(level, fmt, text, notes, &n);
    for (int i = 0; i < n; i++)
        log_emit_note(&notes[i]);
    if (ok)
        log_emit(level, log_role, text, 0);
}

void log_msg(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}
