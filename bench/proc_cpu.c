/* proc_cpu.c: CPU time of a process and all of its descendants, read from
 * /proc: what a server costs per request, whatever its process model. */
#include "proc_cpu.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct proc_row {
    pid_t pid;
    pid_t ppid;
    uint64_t ticks;
} proc_row_t;

/* ppid and utime + stime of one process (all of its threads, live or
 * ended). The command name may hold blanks and parentheses, so the fields
 * are counted from the last ')'. */
static int stat_read(pid_t pid, proc_row_t *row)
{
    char path[64], buf[1024];
    unsigned long long ut, st;
    const char *p;
    ssize_t n;
    int fd, ppid;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    p = strrchr(buf, ')');
    /* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (!p || sscanf(p + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                     &ppid, &ut, &st) != 3)
        return -1;
    row->pid = pid;
    row->ppid = ppid;
    row->ticks = ut + st;
    return 0;
}

static bool is_pid_name(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

static int rows_grow(proc_row_t **rows, size_t *cap)
{
    size_t want = *cap ? 2 * *cap : 512;
    proc_row_t *p = realloc(*rows, want * sizeof *p);

    if (!p)
        return -1;
    *rows = p;
    *cap = want;
    return 0;
}

/* Every process in /proc (readdir lists processes, not threads); one that
 * ends while the list is read is left out. *rows is malloc'd. */
static int proc_scan(proc_row_t **rows, size_t *n)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    size_t cap = 0;

    *rows = NULL;
    *n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        if (!is_pid_name(de->d_name))
            continue;
        if (*n == cap && rows_grow(rows, &cap) < 0)
            goto fail;
        if (stat_read((pid_t)atoi(de->d_name), &(*rows)[*n]) == 0)
            (*n)++;
    }
    closedir(d);
    return 0;
fail:
    closedir(d);
    free(*rows);
    *rows = NULL;
    errno = ENOMEM;
    return -1;
}

static bool has_pid(const proc_cpu_t *t, pid_t pid)
{
    for (int i = 0; i < t->npids; i++)
        if (t->pids[i] == pid)
            return true;
    return false;
}

/* Adds every row whose parent is already in the tree, pass after pass
 * (one per generation), until a pass adds none. */
static void tree_collect(const proc_row_t *rows, size_t n, proc_cpu_t *t)
{
    bool grew = true;

    while (grew) {
        grew = false;
        for (size_t i = 0; i < n && t->npids < PROC_CPU_MAX_TREE; i++) {
            if (has_pid(t, rows[i].pid) || !has_pid(t, rows[i].ppid))
                continue;
            t->pids[t->npids++] = rows[i].pid;
            t->ticks += rows[i].ticks;
            grew = true;
        }
    }
}

static int pid_cmp(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

    return (x > y) - (x < y);
}

int proc_cpu_sample(pid_t root, proc_cpu_t *out)
{
    proc_row_t *rows;
    size_t n, i;

    if (proc_scan(&rows, &n) < 0)
        return -1;
    for (i = 0; i < n && rows[i].pid != root; i++)
        ;
    if (i == n) {
        free(rows);
        errno = ESRCH;
        return -1;
    }
    out->pids[0] = root;
    out->npids = 1;
    out->ticks = rows[i].ticks;
    tree_collect(rows, n, out);
    free(rows);
    qsort(out->pids, (size_t)out->npids, sizeof out->pids[0], pid_cmp);
    return 0;
}

bool proc_cpu_same_tree(const proc_cpu_t *a, const proc_cpu_t *b)
{
    return a->npids == b->npids &&
           memcmp(a->pids, b->pids, (size_t)a->npids * sizeof a->pids[0]) == 0;
}
