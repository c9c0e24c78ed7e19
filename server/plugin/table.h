/* table.h: a fixed-size hash table in shared memory for every process (like swoole_table). */
#ifndef SWX_TABLE_H
#define SWX_TABLE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Created before the fork, in one MAP_SHARED|MAP_ANONYMOUS mapping sized up
 * front: `rows` rows, never more, no allocation afterwards. Keys are C
 * strings of 1..TABLE_KEY_MAX bytes; each row holds the columns of the
 * schema. Readers get a copy of a row taken under its lock, so a string is
 * never seen half written. Locks are robust process-shared mutexes: a
 * process that dies holding one does not block the others, and the next
 * one to take it repairs what the dead one left (see table.c).
 *
 * Memory: per row 80 bytes (key and links) + 8 per int or float column +
 * (size + 5 rounded up to 8) per string column, plus 4 to 8 bytes of
 * bucket heads; plus at most 1024 lock stripes of 64 bytes. Exactly `rows`
 * keys fit, however they hash.
 *
 * Functions that take a key return -ENAMETOOLONG for a key longer than
 * TABLE_KEY_MAX and -EINVAL for an empty or NULL one.
 */
#define TABLE_KEY_MAX 63
#define TABLE_NAME_MAX 31            /* bytes in a column name */
#define TABLE_MAX_COLUMNS 64
#define TABLE_STRING_MAX (1u << 20)  /* largest string column */
#define TABLE_MAX_ROWS (1u << 30)

typedef enum table_type {
    TABLE_INT = 1,    /* int64_t */
    TABLE_FLOAT = 2,  /* double */
    TABLE_STRING = 3, /* up to `size` bytes */
} table_type_t;

typedef struct table_column {
    const char *name;
    table_type_t type;
    uint32_t size; /* TABLE_STRING: the longest value, in bytes */
} table_column_t;

/* One column's new value for table_set; type must be the column's. */
typedef struct table_field {
    int col;
    table_type_t type;
    union {
        int64_t i;
        double f;
        struct {
            const char *str;
            size_t len;
        };
    };
} table_field_t;

typedef struct table table_t;

/* Bytes the mapping takes, or 0 if the schema is invalid. */
size_t table_size_for(const table_column_t *cols, int ncols, uint32_t rows);
/* Map a table of `rows` rows (1..TABLE_MAX_ROWS). 0, -EINVAL (bad schema:
 * names empty, too long or repeated, bad type or string size) or -ENOMEM. */
int table_create(table_t **out, const table_column_t *cols, int ncols,
                 uint32_t rows);
/* Unmap it from this process (the others keep theirs). */
void table_destroy(table_t *t);

/* A column's index, or -EINVAL if there is no such column. */
int table_column(const table_t *t, const char *name);
uint32_t table_capacity(const table_t *t);
/* Rows in use; exact when no write is in flight. */
uint32_t table_count(const table_t *t);
/* Times a lock was taken over from a process that died holding it. */
uint64_t table_recoveries(const table_t *t);

/*
 * Set some columns of a row, creating it (every column 0 or "") if absent.
 * All fields are checked before anything is written: -EINVAL (column out of
 * range or type mismatch), -E2BIG (string longer than its column), or
 * -ENOSPC if the row is new and every row is taken (no other row changes).
 */
int table_set(table_t *t, const char *key, const table_field_t *fields,
              int nfields);

/*
 * A row snapshot is table_row_size(t) bytes, 8-byte aligned, filled by
 * table_get or table_iter_next and read with table_row_*.
 */
size_t table_row_size(const table_t *t);
/* Copy the row into `row`. 0 or -ENOENT. */
int table_get(table_t *t, const char *key, void *row);
/* A column of a snapshot: 0, or -EINVAL (bad column or not that type). */
int table_row_int(const table_t *t, const void *row, int col, int64_t *out);
int table_row_float(const table_t *t, const void *row, int col, double *out);
/* *str points into the snapshot and is NUL-terminated. */
int table_row_str(const table_t *t, const void *row, int col,
                  const char **str, size_t *len);

/*
 * Add delta to an int (table_incr) or float (table_incr_float) column,
 * creating the row with zeros if absent, and store the new value in
 * *result (may be NULL). Ints wrap around. 0, -EINVAL (wrong column or
 * type) or -ENOSPC.
 */
int table_incr(table_t *t, const char *key, int col, int64_t delta,
               int64_t *result);
int table_decr(table_t *t, const char *key, int col, int64_t delta,
               int64_t *result);
int table_incr_float(table_t *t, const char *key, int col, double delta,
                     double *result);
int table_decr_float(table_t *t, const char *key, int col, double delta,
                     double *result);

/* 0 or -ENOENT. */
int table_del(table_t *t, const char *key);
/* 1 if the key is present, 0 if not, or -errno. */
int table_exists(table_t *t, const char *key);

/*
 * Walk the rows: start with *cursor = 0; each call copies the next row's
 * key (and, if row is not NULL, its snapshot) and returns 1, or returns 0
 * at the end. Safe while other processes write: each row is copied under
 * its lock, but rows added, deleted or changed during the walk may be
 * missed or seen in either state.
 */
int table_iter_next(table_t *t, uint32_t *cursor,
                    char key[TABLE_KEY_MAX + 1], void *row);

#endif
