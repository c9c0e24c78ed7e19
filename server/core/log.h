/* log.h: log lines with time, level, pid and role, to stderr or log_file;
 * each kind of line rate-limited (log_limit.h). */
#ifndef SWX_LOG_H
#define SWX_LOG_H

#include <stdarg.h>
#include <sys/types.h>

#include "swx_plugin.h"

/* Open log_file (NULL: stderr) and set the threshold. 0 or -errno. */
int log_open(const char *file, int level);
/* Open the log file again (after logrotate moved it); a new file is given
 * to uid/gid unless uid is -1. 0 or -errno (logged; the old file stays). */
int log_reopen(uid_t uid, gid_t gid);
/* While on, error lines also go to stderr when a log_file is set: start-up
 * failures must reach the terminal that started the server. */
void log_set_echo(int on);
/* The message of the last error line ("" if none), for the daemon's parent. */
const char *log_last_error(void);
/* The fd lines go to. */
int log_fileno(void);
/* Name this thread's role in its lines: "master", "worker 3", ... */
void log_set_role(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* This thread's role, as its lines name it. */
const char *log_get_role(void);
int log_get_level(void);
/* Write the summaries of every line held back by the rate limit now (they
 * are otherwise written when due, at the next log call): at exit. */
void log_flush(void);
/* ms until a summary of held-back lines falls due (0: it is), or -1 when
 * nothing is held back: how long an event loop may sleep. */
int log_due_in_ms(void);
/* Write the summaries that are due; an atomic load when none is pending. */
void log_tick(void);
/* A line at level. Info, warning and error lines are rate-limited: past
 * LOG_LIMIT_BURST lines of one format and level, one a second is written
 * and the rest are summed up later. Debug and notice lines are not. */
void log_vmsg(int level, const char *fmt, va_list ap);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(SWX_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(SWX_LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(SWX_LOG_NOTICE, __VA_ARGS__)
#define log_warn(...) log_msg(SWX_LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(SWX_LOG_ERROR, __VA_ARGS__)

#endif
