/* table.c: the shared-memory hash table: chained buckets, striped robust locks, a row pool. */
#include "plugin/table.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "ipc/shm.h"

/*
 * The mapping is: header | bucket heads | lock stripes | rows.
 *
 * A key hashes to one of nbuckets buckets (a power of two >= rows); a
 * bucket is a chain of rows linked by reference (row index + 1; 0 ends a
 * chain). Bucket b is guarded by lock stripe b % nstripes, a robust
 * process-shared mutex; at most TABLE_MAX_STRIPES of them, so a lock costs
 * little memory and table_count sums few counters. Rows come from a pool
 * (a free list plus a high-water mark) under the pool lock, which is only
 * taken while holding a stripe (lock order: stripe, then pool). All `rows`
 * rows are usable whatever the hash distribution: a full table is exactly
 * `rows` keys.
 *
 * Why robust mutexes rather than spinlocks: a process that dies holding
 * one does not wedge every other process, the kernel hands the lock to the
 * next locker with EOWNERDEAD, and that process repairs the structure
 * before using it (no pid polling, no guessed timeouts), and a waiter
 * sleeps instead of spinning on 2 shared cores.
 *
 * For repair to be possible every change is a single store, made in an
 * order that keeps the structure valid between any two of them:
 *   - a row's owner is its bucket + 1 from allocation until it is freed,
 *     and 0 while it is free;
 *   - a new row is filled in before the store that links it;
 *   - table_set marks a row dirty while it writes values.
 * Repair of the pool rebuilds the free list from the rows whose owner is 0.
 * Repair of a stripe unlinks its dirty rows (a half-written row is dropped
 * rather than exposed), frees the rows its buckets own that are not linked
 * (allocated but not yet linked, or unlinked but not yet freed) and
 * recounts its rows.
 */

#define TABLE_MAGIC 0x7377782d7461626cull
#define TABLE_MAX_STRIPES 1024u
#define ROW_DIRTY 1u /* values being written */
#define ROW_MARK 2u  /* seen in a chain, during repair */

struct table_col {
    char name[TABLE_NAME_MAX + 1];
    uint32_t type;
    uint32_t size;   /* string: the longest value */
    uint32_t offset; /* in the row data */
};

struct table_stripe {
    _Alignas(64) pthread_mutex_t lock;
    _Atomic uint32_t count; /* rows in this stripe's buckets */
};

/* 80 bytes before the columns. A string column is a uint32 length, the
 * bytes and a NUL, padded to 8. */
struct table_row {
    _Atomic uint32_t owner; /* bucket + 1 while in use, 0 while free */
    uint32_t next;          /* reference: the chain, or the free list */
    uint32_t hash;          /* high half of the key's hash */
    uint8_t flags;
    uint8_t key_len;
    char key[TABLE_KEY_MAX + 1];
    uint64_t data[];
};

struct table_pool {
    _Alignas(64) pthread_mutex_t lock;
    uint32_t free_head;     /* reference */
    _Atomic uint32_t used;  /* rows [0, used) have been handed out */
};

struct table {
    uint64_t magic;
    size_t map_size;
    uint32_t rows;
    uint32_t nbuckets;
    uint32_t nstripes;
    int ncols;
    size_t row_stride;
    size_t data_size;
    size_t buckets_off;
    size_t stripes_off;
    size_t rows_off;
    uint64_t seed;
    _Atomic uint64_t recoveries;
    struct table_col cols[TABLE_MAX_COLUMNS];
    struct table_pool pool;
};

_Static_assert(sizeof(struct table_row) == 80, "row header layout");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "shared atomics must be lock-free");

struct table_layout {
    size_t data_size;
    size_t row_stride;
    size_t buckets_off;
    size_t stripes_off;
    size_t rows_off;
    size_t total;
    uint32_t nbuckets;
    uint32_t nstripes;
};

/* A key checked and hashed. */
struct table_key {
    const char *str;
    size_t len;
    uint32_t bucket;
    uint32_t hash;
};

typedef void table_repair_fn(table_t *t, uint32_t arg);

/* Keep the compiler from moving stores across this point: a process can
 * die between any two stores, and repair relies on their order. */
static inline void crash_order(void)
{
    atomic_signal_fence(memory_order_seq_cst);
}

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

static uint32_t *bucket_heads(const table_t *t)
{
    return (uint32_t *)((char *)t + t->buckets_off);
}

static uint32_t stripe_of(const table_t *t, uint32_t bucket)
{
    return bucket & (t->nstripes - 1);
}

static struct table_stripe *stripe_at(const table_t *t, uint32_t s)
{
    return (struct table_stripe *)((char *)t + t->stripes_off) + s;
}

static struct table_row *row_at(const table_t *t, uint32_t i)
{
    return (struct table_row *)((char *)t + t->rows_off + i * t->row_stride);
}

static uint32_t row_index(const table_t *t, const struct table_row *r)
{
    return (uint32_t)(((const char *)r - ((const char *)t + t->rows_off)) /
                      t->row_stride);
}

static size_t column_span(const table_column_t *c)
{
    return c->type == TABLE_STRING ? align_up(4 + (size_t)c->size + 1, 8) : 8;
}

static int column_check(const table_column_t *cols, int i)
{
    const table_column_t *c = &cols[i];
    if (c->name == NULL || c->name[0] == '\0' ||
        strlen(c->name) > TABLE_NAME_MAX)
        return -EINVAL;
    if (c->type == TABLE_STRING) {
        if (c->size == 0 || c->size > TABLE_STRING_MAX)
            return -EINVAL;
    } else if (c->type != TABLE_INT && c->type != TABLE_FLOAT) {
        return -EINVAL;
    }
    for (int j = 0; j < i; j++)
        if (strcmp(cols[j].name, c->name) == 0)
            return -EINVAL;
    return 0;
}

static int table_layout(const table_column_t *cols, int ncols, uint32_t rows,
                        struct table_layout *l)
{
    if (rows == 0 || rows > TABLE_MAX_ROWS || ncols < 0 ||
        ncols > TABLE_MAX_COLUMNS || (ncols > 0 && cols == NULL))
        return -EINVAL;
    l->data_size = 0;
    for (int i = 0; i < ncols; i++) {
        if (column_check(cols, i) < 0)
            return -EINVAL;
        l->data_size += column_span(&cols[i]);
    }
    l->row_stride = sizeof(struct table_row) + l->data_size;
    l->nbuckets = 1;
    while (l->nbuckets < rows)
        l->nbuckets *= 2;
    l->nstripes = l->nbuckets < TABLE_MAX_STRIPES ? l->nbuckets
                                                  : TABLE_MAX_STRIPES;
    l->buckets_off = align_up(sizeof(struct table), 64);
    l->stripes_off = align_up(l->buckets_off + l->nbuckets * sizeof(uint32_t),
                              64);
    l->rows_off = l->stripes_off + l->nstripes * sizeof(struct table_stripe);
    if (__builtin_mul_overflow((size_t)rows, l->row_stride, &l->total) ||
        __builtin_add_overflow(l->total, l->rows_off, &l->total))
        return -ENOMEM;
    return 0;
}

size_t table_size_for(const table_column_t *cols, int ncols, uint32_t rows)
{
    struct table_layout l;
    return table_layout(cols, ncols, rows, &l) < 0 ? 0 : l.total;
}

static uint64_t key_hash(uint64_t seed, const char *key, size_t len)
{
    /* FNV-1a with a per-table seed, then a murmur3 finalizer so the low
     * bits (the bucket) depend on every byte. */
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

static int key_prepare(const table_t *t, const char *key, struct table_key *k)
{
    if (key == NULL || key[0] == '\0')
        return -EINVAL;
    k->len = strnlen(key, TABLE_KEY_MAX + 1);
    if (k->len > TABLE_KEY_MAX)
        return -ENAMETOOLONG;
    uint64_t h = key_hash(t->seed, key, k->len);
    k->str = key;
    k->bucket = (uint32_t)h & (t->nbuckets - 1);
    k->hash = (uint32_t)(h >> 32);
    return 0;
}

/* Lock m; if its owner died holding it, repair(t, arg) first. */
static int lock_robust(table_t *t, pthread_mutex_t *m, table_repair_fn *repair,
                       uint32_t arg, const char *what)
{
    int rc = pthread_mutex_lock(m);
    if (rc == EOWNERDEAD) {
        repair(t, arg); /* logs what it found */
        atomic_fetch_add(&t->recoveries, 1);
        rc = pthread_mutex_consistent(m);
        if (rc != 0)
            pthread_mutex_unlock(m);
    }
    if (rc != 0) {
        log_error("table: pthread_mutex_lock(%s %u): %s", what, arg,
                  strerror(rc));
        return -rc;
    }
    return 0;
}

static void pool_repair(table_t *t, uint32_t unused)
{
    (void)unused;
    uint32_t head = 0, n = 0;
    for (uint32_t i = atomic_load(&t->pool.used); i-- > 0;) {
        struct table_row *r = row_at(t, i);
        if (atomic_load_explicit(&r->owner, memory_order_relaxed) == 0) {
            r->next = head;
            head = i + 1;
            n++;
        }
    }
    t->pool.free_head = head;
    log_warn("table: a process died holding the row pool lock; rebuilt the "
             "free list (%u rows)", n);
}

static int pool_lock(table_t *t)
{
    return lock_robust(t, &t->pool.lock, pool_repair, 0, "pool");
}

/* A free row, now owned by bucket; the caller holds the bucket's stripe. */
static int pool_alloc(table_t *t, uint32_t bucket, uint32_t *out)
{
    struct table_pool *p = &t->pool;
    int rc = pool_lock(t);
    if (rc < 0)
        return rc;
    uint32_t used = atomic_load_explicit(&p->used, memory_order_relaxed);
    uint32_t i;
    if (p->free_head != 0) {
        i = p->free_head - 1;
        atomic_store(&row_at(t, i)->owner, bucket + 1);
        crash_order();
        p->free_head = row_at(t, i)->next;
    } else if (used < t->rows) {
        i = used;
        atomic_store(&row_at(t, i)->owner, bucket + 1);
        crash_order();
        atomic_store(&p->used, used + 1);
    } else {
        pthread_mutex_unlock(&p->lock);
        return -ENOSPC;
    }
    pthread_mutex_unlock(&p->lock);
    *out = i;
    return 0;
}

/* Return an unlinked row to the pool; the caller holds its stripe. */
static void pool_free(table_t *t, uint32_t i)
{
    struct table_row *r = row_at(t, i);
    if (pool_lock(t) < 0)
        return; /* logged; the next pool repair finds it */
    r->next = t->pool.free_head;
    crash_order();
    atomic_store(&r->owner, 0);
    crash_order();
    t->pool.free_head = i + 1;
    pthread_mutex_unlock(&t->pool.lock);
}

/* Unlink the dirty rows of bucket b and mark the others; how many stay.
 * *dropped counts the dirty ones. */
static uint32_t chain_repair(table_t *t, uint32_t b, uint32_t *dropped)
{
    uint32_t *link = &bucket_heads(t)[b];
    uint32_t n = 0;
    while (*link != 0) {
        /* Only memory corruption breaks these; cut the chain there. */
        if (*link > t->rows || n >= t->rows ||
            atomic_load(&row_at(t, *link - 1)->owner) != b + 1) {
            *link = 0;
            break;
        }
        struct table_row *r = row_at(t, *link - 1);
        if (r->flags & ROW_DIRTY) {
            *link = r->next; /* freed by the sweep in stripe_repair */
            (*dropped)++;
            continue;
        }
        r->flags |= ROW_MARK;
        link = &r->next;
        n++;
    }
    return n;
}

static void stripe_repair(table_t *t, uint32_t s)
{
    uint32_t n = 0, dropped = 0, freed = 0;
    for (uint32_t b = s; b < t->nbuckets; b += t->nstripes)
        n += chain_repair(t, b, &dropped);
    /* Owners in this stripe cannot change while we hold it. */
    uint32_t used = atomic_load(&t->pool.used);
    for (uint32_t i = 0; i < used; i++) {
        struct table_row *r = row_at(t, i);
        uint32_t owner = atomic_load(&r->owner);
        if (owner == 0 || stripe_of(t, owner - 1) != s)
            continue;
        if (r->flags & ROW_MARK) {
            r->flags &= (uint8_t)~ROW_MARK;
        } else {
            pool_free(t, i);
            freed++;
        }
    }
    atomic_store(&stripe_at(t, s)->count, n);
    log_warn("table: a process died holding lock stripe %u; dropped %u "
             "half-written rows, returned %u rows to the pool", s, dropped,
             freed - dropped);
}

static int stripe_lock(table_t *t, uint32_t bucket)
{
    uint32_t s = stripe_of(t, bucket);
    return lock_robust(t, &stripe_at(t, s)->lock, stripe_repair, s, "stripe");
}

static void stripe_unlock(table_t *t, uint32_t bucket)
{
    pthread_mutex_unlock(&stripe_at(t, stripe_of(t, bucket))->lock);
}

/* The row of k, or NULL; *link_out gets the reference that points at it. */
static struct table_row *chain_find(table_t *t, const struct table_key *k,
                                    uint32_t **link_out)
{
    uint32_t *link = &bucket_heads(t)[k->bucket];
    while (*link != 0) {
        struct table_row *r = row_at(t, *link - 1);
        if (r->hash == k->hash && r->key_len == k->len &&
            memcmp(r->key, k->str, k->len) == 0) {
            if (link_out != NULL)
                *link_out = link;
            return r;
        }
        link = &r->next;
    }
    return NULL;
}

/* Add a row for k with every column zero; the caller holds its stripe. */
static int row_insert(table_t *t, const struct table_key *k,
                      struct table_row **out)
{
    uint32_t i;
    int rc = pool_alloc(t, k->bucket, &i);
    if (rc < 0)
        return rc;
    struct table_row *r = row_at(t, i);
    uint32_t *head = &bucket_heads(t)[k->bucket];
    r->hash = k->hash;
    r->flags = 0;
    r->key_len = (uint8_t)k->len;
    memcpy(r->key, k->str, k->len);
    r->key[k->len] = '\0';
    memset(r->data, 0, t->data_size);
    r->next = *head;
    crash_order();
    *head = i + 1;
    atomic_fetch_add(&stripe_at(t, stripe_of(t, k->bucket))->count, 1);
    *out = r;
    return 0;
}

static int row_get_or_add(table_t *t, const struct table_key *k,
                          struct table_row **out)
{
    *out = chain_find(t, k, NULL);
    return *out != NULL ? 0 : row_insert(t, k, out);
}

static int field_check(const table_t *t, const table_field_t *f)
{
    if (f->col < 0 || f->col >= t->ncols ||
        (uint32_t)f->type != t->cols[f->col].type)
        return -EINVAL;
    if (f->type == TABLE_STRING) {
        if (f->str == NULL && f->len > 0)
            return -EINVAL;
        if (f->len > t->cols[f->col].size)
            return -E2BIG;
    }
    return 0;
}

static void field_write(const table_t *t, struct table_row *r,
                        const table_field_t *f)
{
    char *p = (char *)r->data + t->cols[f->col].offset;
    uint32_t len = (uint32_t)f->len;
    switch (f->type) {
    case TABLE_INT:
        memcpy(p, &f->i, sizeof(f->i));
        break;
    case TABLE_FLOAT:
        memcpy(p, &f->f, sizeof(f->f));
        break;
    case TABLE_STRING:
        if (len > 0)
            memcpy(p + 4, f->str, len);
        p[4 + len] = '\0';
        memcpy(p, &len, sizeof(len));
        break;
    }
}

static void header_init(table_t *t, const struct table_layout *l,
                        const table_column_t *cols, int ncols, uint32_t rows)
{
    t->magic = TABLE_MAGIC;
    t->map_size = l->total;
    t->rows = rows;
    t->nbuckets = l->nbuckets;
    t->nstripes = l->nstripes;
    t->ncols = ncols;
    t->row_stride = l->row_stride;
    t->data_size = l->data_size;
    t->buckets_off = l->buckets_off;
    t->stripes_off = l->stripes_off;
    t->rows_off = l->rows_off;
    if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) !=
        (ssize_t)sizeof(t->seed))
        t->seed = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    uint32_t offset = 0;
    for (int i = 0; i < ncols; i++) {
        strcpy(t->cols[i].name, cols[i].name);
        t->cols[i].type = cols[i].type;
        t->cols[i].size = cols[i].type == TABLE_STRING ? cols[i].size : 8;
        t->cols[i].offset = offset;
        offset += (uint32_t)column_span(&cols[i]);
    }
}

int table_create(table_t **out, const table_column_t *cols, int ncols,
                 uint32_t rows)
{
    struct table_layout l;
    int rc = table_layout(cols, ncols, rows, &l);
    if (rc < 0)
        return rc;
    /* Zero-filled: every bucket empty, every row free, owner 0. */
    void *p = mmap(NULL, l.total, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        log_error("table: mmap(%zu bytes, MAP_SHARED): %s", l.total,
                  strerror(errno));
        return -ENOMEM;
    }
    table_t *t = p;
    header_init(t, &l, cols, ncols, rows);
    rc = shm_mutex_init(&t->pool.lock);
    for (uint32_t s = 0; rc == 0 && s < t->nstripes; s++)
        rc = shm_mutex_init(&stripe_at(t, s)->lock);
    if (rc < 0) {
        munmap(p, l.total);
        return rc;
    }
    *out = t;
    return 0;
}

void table_destroy(table_t *t)
{
    if (t != NULL && t->magic == TABLE_MAGIC)
        munmap(t, t->map_size);
}

int table_column(const table_t *t, const char *name)
{
    for (int i = 0; name != NULL && i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return i;
    return -EINVAL;
}

uint32_t table_capacity(const table_t *t)
{
    return t->rows;
}

uint32_t table_count(const table_t *t)
{
    uint32_t n = 0;
    for (uint32_t s = 0; s < t->nstripes; s++)
        n += atomic_load_explicit(&stripe_at(t, s)->count,
                                  memory_order_relaxed);
    return n;
}

uint64_t table_recoveries(const table_t *t)
{
    return atomic_load((_Atomic uint64_t *)&t->recoveries);
}

size_t table_row_size(const table_t *t)
{
    return t->data_size;
}

int table_set(table_t *t, const char *key, const table_field_t *fields,
              int nfields)
{
    struct table_key k;
    int rc = key_prepare(t, key, &k);
    if (rc < 0)
        return rc;
    if (nfields < 0 || (nfields > 0 && fields == NULL))
        return -EINVAL;
    for (int i = 0; i < nfields; i++)
        if ((rc = field_check(t, &fields[i])) < 0)
            return rc;
    if ((rc = stripe_lock(t, k.bucket)) < 0)
        return rc;
    struct table_row *r;
    rc = row_get_or_add(t, &k, &r);
    if (rc == 0 && nfields > 0) {
        r->flags |= ROW_DIRTY;
        crash_order();
        for (int i = 0; i < nfields; i++)
            field_write(t, r, &fields[i]);
        crash_order();
        r->flags &= (uint8_t)~ROW_DIRTY;
    }
    stripe_unlock(t, k.bucket);
    return rc;
}

int table_get(table_t *t, const char *key, void *row)
{
    struct table_key k;
    int rc = key_prepare(t, key, &k);
    if (rc < 0)
        return rc;
    if ((rc = stripe_lock(t, k.bucket)) < 0)
        return rc;
    struct table_row *r = chain_find(t, &k, NULL);
    if (r != NULL && row != NULL)
        memcpy(row, r->data, t->data_size);
    stripe_unlock(t, k.bucket);
    return r != NULL ? 0 : -ENOENT;
}

int table_exists(table_t *t, const char *key)
{
    int rc = table_get(t, key, NULL);
    return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

int table_del(table_t *t, const char *key)
{
    struct table_key k;
    int rc = key_prepare(t, key, &k);
    if (rc < 0)
        return rc;
    if ((rc = stripe_lock(t, k.bucket)) < 0)
        return rc;
    uint32_t *link;
    struct table_row *r = chain_find(t, &k, &link);
    if (r != NULL) {
        *link = r->next;
        crash_order();
        atomic_fetch_sub(&stripe_at(t, stripe_of(t, k.bucket))->count, 1);
        pool_free(t, row_index(t, r));
    }
    stripe_unlock(t, k.bucket);
    return r != NULL ? 0 : -ENOENT;
}

/* Lock key's stripe and find or create its row; on success *cell is the
 * column's value and the caller unlocks k->bucket. */
static int cell_open(table_t *t, const char *key, int col, table_type_t type,
                     struct table_key *k, void **cell)
{
    int rc = key_prepare(t, key, k);
    if (rc < 0)
        return rc;
    if (col < 0 || col >= t->ncols || t->cols[col].type != (uint32_t)type)
        return -EINVAL;
    if ((rc = stripe_lock(t, k->bucket)) < 0)
        return rc;
    struct table_row *r;
    if ((rc = row_get_or_add(t, k, &r)) < 0) {
        stripe_unlock(t, k->bucket);
        return rc;
    }
    *cell = (char *)r->data + t->cols[col].offset;
    return 0;
}

/* An aligned 8-byte cell is written with one store, so a process dying
 * here leaves the old value or the new one; no dirty mark needed. */
int table_incr(table_t *t, const char *key, int col, int64_t delta,
               int64_t *result)
{
    struct table_key k;
    void *cell;
    int rc = cell_open(t, key, col, TABLE_INT, &k, &cell);
    if (rc < 0)
        return rc;
    int64_t *v = cell;
    *v = (int64_t)((uint64_t)*v + (uint64_t)delta);
    if (result != NULL)
        *result = *v;
    stripe_unlock(t, k.bucket);
    return 0;
}

int table_decr(table_t *t, const char *key, int col, int64_t delta,
               int64_t *result)
{
    return table_incr(t, key, col, (int64_t)(0 - (uint64_t)delta), result);
}

int table_incr_float(table_t *t, const char *key, int col, double delta,
                     double *result)
{
    struct table_key k;
    void *cell;
    int rc = cell_open(t, key, col, TABLE_FLOAT, &k, &cell);
    if (rc < 0)
        return rc;
    double *v = cell;
    *v += delta;
    if (result != NULL)
        *result = *v;
    stripe_unlock(t, k.bucket);
    return 0;
}

int table_decr_float(table_t *t, const char *key, int col, double delta,
                     double *result)
{
    return table_incr_float(t, key, col, -delta, result);
}

static const char *cell_of(const table_t *t, const void *row, int col,
                           table_type_t type)
{
    if (row == NULL || col < 0 || col >= t->ncols ||
        t->cols[col].type != (uint32_t)type)
        return NULL;
    return (const char *)row + t->cols[col].offset;
}

int table_row_int(const table_t *t, const void *row, int col, int64_t *out)
{
    const char *p = cell_of(t, row, col, TABLE_INT);
    if (p == NULL)
        return -EINVAL;
    memcpy(out, p, sizeof(*out));
    return 0;
}

int table_row_float(const table_t *t, const void *row, int col, double *out)
{
    const char *p = cell_of(t, row, col, TABLE_FLOAT);
    if (p == NULL)
        return -EINVAL;
    memcpy(out, p, sizeof(*out));
    return 0;
}

int table_row_str(const table_t *t, const void *row, int col,
                  const char **str, size_t *len)
{
    const char *p = cell_of(t, row, col, TABLE_STRING);
    if (p == NULL)
        return -EINVAL;
    uint32_t n;
    memcpy(&n, p, sizeof(n));
    *str = p + 4;
    if (len != NULL)
        *len = n <= t->cols[col].size ? n : t->cols[col].size;
    return 0;
}

/* Copy row i out if it is in use; 1 if copied, 0 if not, or -errno. */
static int iter_copy(table_t *t, uint32_t i, char *key, void *row)
{
    struct table_row *r = row_at(t, i);
    uint32_t owner = atomic_load(&r->owner);
    if (owner == 0)
        return 0;
    int rc = stripe_lock(t, owner - 1);
    if (rc < 0)
        return rc;
    /* Under the stripe a row it owns is linked and complete; the owner
     * may have changed to another bucket of the same stripe, which is
     * just as good. */
    uint32_t now = atomic_load(&r->owner);
    int found = now != 0 && stripe_of(t, now - 1) == stripe_of(t, owner - 1);
    if (found) {
        memcpy(key, r->key, r->key_len);
        key[r->key_len] = '\0';
        if (row != NULL)
            memcpy(row, r->data, t->data_size);
    }
    stripe_unlock(t, owner - 1);
    return found;
}

int table_iter_next(table_t *t, uint32_t *cursor,
                    char key[TABLE_KEY_MAX + 1], void *row)
{
    uint32_t used = atomic_load(&t->pool.used);
    for (uint32_t i = *cursor; i < used; i++) {
        int rc = iter_copy(t, i, key, row);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            *cursor = i + 1;
            return 1;
        }
    }
    if (*cursor < used)
        *cursor = used;
    return 0;
}
