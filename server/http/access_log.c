/* access_log.c: access log lines, rendered by each reactor thread (in base
 * mode, by the worker's loop) into its own chunk (a lock it shares only
 * with the writer's swap), handed in full chunks to one writer thread per
 * process that does every write(2): at least once a second, at once when
 * a chunk fills, and for the last time at the stop. Past
 * ACCESS_LOG_CHUNKS chunks per thread waiting for the disk, lines are
 * dropped and counted, never waited for. */
#include "http/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define ACCESS_CHUNK ACCESS_LINE_MAX

typedef struct alog_chunk {
    struct alog_chunk *next;
    size_t len;
    char data[ACCESS_CHUNK];
} alog_chunk_t;

/* One reactor thread's lines for one file. mu is held by the thread
 * while it renders a line, and by the writer only to take full chunks. */
typedef struct alog_slot {
    pthread_mutex_t mu;
    alog_chunk_t *cur;                /* being filled */
    alog_chunk_t *full, **full_tail;  /* waiting for the writer, in order */
    alog_chunk_t *spare;              /* written, for reuse */
    int nchunks;                      /* allocated, at most ACCESS_LOG_CHUNKS */
    uint64_t dropped;
} alog_slot_t;

typedef struct alog_file {
    char *path;
    int fd;
    alog_slot_t *slots;               /* [nthreads] */
    uint64_t dropped_told;            /* drops already logged */
} alog_file_t;

static struct {
    alog_file_t *files;
    int nfiles;
    int nthreads;
    int first;                        /* the thread number of slot 0 */
    int *file_of;                     /* [listener]: a file, or -1 */
    access_fmt_t *fmts;               /* [listener] */
    int nlisteners;
    pthread_t writer;
    int running;
    pthread_mutex_t mu;               /* the writer's wake-up */
    pthread_cond_t cond;
    int wake, reopen, stop;
    int pid;                          /* the master's, for $pid */
    _Atomic uint64_t *shared_dropped; /* drops published for /metrics */
} al = {.mu = PTHREAD_MUTEX_INITIALIZER};

static __thread access_clock_t al_clock;

void access_log_settings(const config_t *cfg, int l, const char **path,
                         const char **format)
{
    const config_listener_t *lc = &cfg->listeners[l];
    const char *p = lc->access_log != NULL ? lc->access_log : cfg->access_log;
    *path = p != NULL && strcmp(p, "off") != 0 ? p : NULL;
    *format = lc->access_log_format != NULL ? lc->access_log_format
              : cfg->access_log_format != NULL ? cfg->access_log_format
                                               : ACCESS_FMT_COMBINED;
}

/* ---- the reactor side ---- */

const access_fmt_t *access_log_format(int listener)
{
    if (listener < 0 || listener >= al.nlisteners ||
        al.file_of[listener] < 0)
        return NULL;
    return &al.fmts[listener];
}

/* The chunk being filled, if it holds lines, goes to the writer. */
static int alog_queue_cur(alog_slot_t *s)
{
    if (s->cur == NULL || s->cur->len == 0)
        return 0;
    s->cur->next = NULL;
    *s->full_tail = s->cur;
    s->full_tail = &s->cur->next;
    s->cur = NULL;
    return 1;
}

/* A chunk for the next line: the full one goes to the writer (*wake).
 * -1 when ACCESS_LOG_CHUNKS are all waiting for the disk. */
static int alog_next_chunk(alog_slot_t *s, int *wake)
{
    *wake = alog_queue_cur(s);
    if (s->cur != NULL)
        return 0;
    if (s->spare != NULL) {
        s->cur = s->spare;
        s->spare = s->cur->next;
    } else if (s->nchunks < ACCESS_LOG_CHUNKS &&
               (s->cur = malloc(sizeof(*s->cur))) != NULL) {
        s->nchunks++;
    }
    if (s->cur == NULL)
        return -1;
    s->cur->len = 0;
    return 0;
}

/* Set one of the writer's flags (wake, reopen, stop) and wake it. */
static void alog_tell(int *flag)
{
    pthread_mutex_lock(&al.mu);
    *flag = 1;
    pthread_cond_signal(&al.cond);
    pthread_mutex_unlock(&al.mu);
}

/* The wall clock of this line, formatted once a second per thread. */
static void alog_clock(access_resp_t *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != al_clock.sec)
        access_clock_set(&al_clock, ts.tv_sec);
    r->clock = &al_clock;
    r->pid = al.pid;
    r->msec = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void access_log_line(int listener, int thread, const buf_t *cap,
                     access_resp_t *r)
{
    const access_fmt_t *f = access_log_format(listener);
    thread -= al.first;
    if (f == NULL || thread < 0 || thread >= al.nthreads)
        return;
    alog_slot_t *s = &al.files[al.file_of[listener]].slots[thread];
    size_t bound = access_fmt_bound(f, cap);
    int wake = 0;
    alog_clock(r);
    pthread_mutex_lock(&s->mu);
    if ((s->cur == NULL || s->cur->len + bound > ACCESS_CHUNK) &&
        alog_next_chunk(s, &wake) < 0) {
        s->dropped++;
    } else {
        alog_chunk_t *c = s->cur;
        c->len += access_fmt_render(f, cap, r, c->data + c->len,
                                    ACCESS_CHUNK - c->len);
    }
    pthread_mutex_unlock(&s->mu);
    if (wake)
        alog_tell(&al.wake);
}

/* ---- the writer ---- */

static void alog_write(alog_file_t *f, const alog_chunk_t *c)
{
    size_t done = 0;
    while (done < c->len) {
        ssize_t n = write(f->fd, c->data + done, c->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_error("access_log %s: write: %s; %zu bytes of lines lost",
                      f->path, n < 0 ? strerror(errno) : "wrote nothing",
                      c->len - done);
            return;
        }
        done += (size_t)n;
    }
}

/* Take what slot s has waiting (and the chunk being filled), write it
 * without the slot's lock, and give the chunks back for reuse. */
static uint64_t alog_drain_slot(alog_file_t *f, alog_slot_t *s)
{
    pthread_mutex_lock(&s->mu);
    alog_queue_cur(s);
    alog_chunk_t *list = s->full;
    s->full = NULL;
    s->full_tail = &s->full;
    uint64_t dropped = s->dropped;
    pthread_mutex_unlock(&s->mu);
    if (list == NULL)
        return dropped;
    alog_chunk_t *last = list;
    for (alog_chunk_t *c = list; c != NULL; c = c->next) {
        alog_write(f, c);
        last = c;
    }
    pthread_mutex_lock(&s->mu);
    last->next = s->spare;
    s->spare = list;
    pthread_mutex_unlock(&s->mu);
    return dropped;
}

static void alog_drain(void)
{
    for (int i = 0; i < al.nfiles; i++) {
        alog_file_t *f = &al.files[i];
        uint64_t dropped = 0;
        for (int t = 0; t < al.nthreads; t++)
            dropped += alog_drain_slot(f, &f->slots[t]);
        /* Once a wake-up at most: the drops of that while, in one line. */
        if (dropped > f->dropped_told) {
            log_warn("access_log %s: %llu lines dropped (%llu in all): the "
                     "disk does not keep up", f->path,
                     (unsigned long long)(dropped - f->dropped_told),
                     (unsigned long long)dropped);
            if (al.shared_dropped != NULL)
                atomic_fetch_add(al.shared_dropped, dropped - f->dropped_told);
            f->dropped_told = dropped;
        }
    }
}

static int alog_open(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/* Each file opened again; its fd keeps its number (dup2), so nothing
 * else changes. A file that cannot be opened keeps the old one. */
static void alog_reopen_files(void)
{
    for (int i = 0; i < al.nfiles; i++) {
        alog_file_t *f = &al.files[i];
        int fd = alog_open(f->path);
        if (fd < 0) {
            log_error("access_log: reopen %s: %s; still writing to the old "
                      "file", f->path, strerror(errno));
            continue;
        }
        dup2(fd, f->fd);
        close(fd);
    }
    log_info("access log reopened");
}

static void *alog_writer(void *arg)
{
    (void)arg;
    log_set_role("access log");
    pthread_mutex_lock(&al.mu);
    for (;;) {
        if (!al.wake && !al.reopen && !al.stop) {
            struct timespec until; /* on the cond's clock, monotonic */
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&al.cond, &al.mu, &until);
        }
        int reopen = al.reopen, stop = al.stop;
        al.wake = al.reopen = 0;
        pthread_mutex_unlock(&al.mu);
        alog_drain();
        if (reopen)
            alog_reopen_files();
        if (stop)
            return NULL;
        pthread_mutex_lock(&al.mu);
    }
}

/* ---- start and stop ---- */

void access_log_reopen(void)
{
    if (al.running)
        alog_tell(&al.reopen);
}

/* The file for path, opened once however many listeners name it. */
static int alog_file(const char *path)
{
    for (int i = 0; i < al.nfiles; i++)
        if (strcmp(al.files[i].path, path) == 0)
            return i;
    alog_file_t *f = &al.files[al.nfiles];
    f->fd = alog_open(path);
    if (f->fd < 0) {
        log_error("access_log: open %s: %s", path, strerror(errno));
        return -1;
    }
    f->path = strdup(path);
    f->slots = calloc((size_t)al.nthreads, sizeof(*f->slots));
    if (f->path == NULL || f->slots == NULL) {
        log_error("access_log %s: out of memory", path);
        close(f->fd);
        return -1;
    }
    for (int t = 0; t < al.nthreads; t++) {
        pthread_mutex_init(&f->slots[t].mu, NULL);
        f->slots[t].full_tail = &f->slots[t].full;
    }
    return al.nfiles++;
}

/* Listener l's file and format; 0 or -1 (logged). */
static int alog_listener(const config_t *cfg, int l)
{
    const char *path, *format;
    char err[256];
    al.file_of[l] = -1;
    access_log_settings(cfg, l, &path, &format);
    if (path == NULL || (cfg->listeners[l].protocol != PROTOCOL_HTTP &&
                         cfg->listeners[l].protocol != PROTOCOL_WEBSOCKET))
        return 0;
    if (access_fmt_compile(&al.fmts[l], format, err, sizeof(err)) < 0) {
        log_error("listeners[%d].access_log_format: %s", l, err);
        return -1;
    }
    al.file_of[l] = alog_file(path);
    return al.file_of[l] < 0 ? -1 : 0;
}

int access_log_start(const config_t *cfg, int nthreads)
{
    return access_log_start_at(cfg, 0, nthreads, (int)getpid(), NULL);
}

int access_log_start_at(const config_t *cfg, int first, int nthreads,
                        int pid, _Atomic uint64_t *dropped)
{
    int n = cfg->nlisteners;
    al.first = first;
    al.shared_dropped = dropped;
    al.nthreads = nthreads;
    al.nlisteners = n;
    al.pid = pid;
    al.file_of = malloc((size_t)n * sizeof(int));
    al.fmts = calloc((size_t)n, sizeof(*al.fmts));
    al.files = calloc((size_t)n, sizeof(*al.files));
    if (al.file_of == NULL || al.fmts == NULL || al.files == NULL) {
        log_error("access_log: out of memory");
        return -1;
    }
    for (int l = 0; l < n; l++)
        if (alog_listener(cfg, l) < 0)
            return -1;
    if (al.nfiles == 0)
        return 0;
    /* A wall clock set back must not hold the once-a-second write. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&al.cond, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&al.writer, NULL, alog_writer, NULL);
    if (rc != 0) {
        log_error("pthread_create(access log writer): %s", strerror(rc));
        return -1;
    }
    al.running = 1;
    return 0;
}

int access_log_check(const config_t *cfg)
{
    int rc = access_log_start_at(cfg, 0, 0, (int)getpid(), NULL);
    access_log_stop();
    return rc;
}

static void alog_free_chunks(alog_chunk_t *c)
{
    while (c != NULL) {
        alog_chunk_t *next = c->next;
        free(c);
        c = next;
    }
}

/* The writer's last writes, waited for ms: a file on a dead disk (or a
 * FIFO nobody reads) must not keep the process from exiting. 0, or -1
 * when the writer is still stuck. */
static int alog_join(long ms)
{
    struct timespec until;
    alog_tell(&al.stop);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rc = pthread_timedjoin_np(al.writer, NULL, &until);
    if (rc == 0)
        return 0;
    log_error("access_log: the writer is still in write(2) after %ld %s "
              "(%s); the lines it holds are lost", ms % 1000 ? ms : ms / 1000,
              ms % 1000 ? "ms" : "s", strerror(rc));
    return -1;
}

void access_log_stop(void)
{
    access_log_stop_within(ACCESS_LOG_STOP_WAIT * 1000L);
}

void access_log_stop_within(long ms)
{
    if (al.running) {
        al.running = 0;
        if (alog_join(ms) < 0)
            return; /* its buffers stay: the thread may still use them */
    }
    for (int i = 0; i < al.nfiles; i++) {
        alog_file_t *f = &al.files[i];
        for (int t = 0; t < al.nthreads; t++) {
            alog_free_chunks(f->slots[t].cur);
            alog_free_chunks(f->slots[t].full);
            alog_free_chunks(f->slots[t].spare);
            pthread_mutex_destroy(&f->slots[t].mu);
        }
        close(f->fd);
        free(f->slots);
        free(f->path);
    }
    for (int l = 0; al.fmts != NULL && l < al.nlisteners; l++)
        access_fmt_free(&al.fmts[l]);
    free(al.files);
    free(al.fmts);
    free(al.file_of);
    al.files = NULL;
    al.fmts = NULL;
    al.file_of = NULL;
    al.nfiles = al.nlisteners = 0;
}

uint64_t access_log_dropped(void)
{
    uint64_t n = 0;
    for (int i = 0; i < al.nfiles; i++)
        for (int t = 0; t < al.nthreads; t++) {
            pthread_mutex_lock(&al.files[i].slots[t].mu);
            n += al.files[i].slots[t].dropped;
            pthread_mutex_unlock(&al.files[i].slots[t].mu);
        }
    return n;
}
