/* test_table.c: the shared-memory table: schema, values, limits, iteration, processes. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "plugin/table.h"

enum { COL_ID, COL_SCORE, COL_NAME };
#define NAME_SIZE 16

static const table_column_t schema[] = {
    {"id", TABLE_INT, 0},
    {"score", TABLE_FLOAT, 0},
    {"name", TABLE_STRING, NAME_SIZE},
};

static table_t *t;
static _Alignas(8) char row[256];

static table_t *make(uint32_t rows)
{
    table_t *tt = NULL;
    ck_assert_int_eq(table_create(&tt, schema, 3, rows), 0);
    ck_assert_ptr_nonnull(tt);
    return tt;
}

static void teardown(void)
{
    table_destroy(t);
    t = NULL;
}

static int set_all(const char *key, int64_t id, double score, const char *name)
{
    table_field_t f[] = {
        {.col = COL_ID, .type = TABLE_INT, .i = id},
        {.col = COL_SCORE, .type = TABLE_FLOAT, .f = score},
        {.col = COL_NAME, .type = TABLE_STRING, .str = name,
         .len = strlen(name)},
    };
    return table_set(t, key, f, 3);
}

static int64_t get_id(const char *key)
{
    int64_t v;
    ck_assert_int_eq(table_get(t, key, row), 0);
    ck_assert_int_eq(table_row_int(t, row, COL_ID, &v), 0);
    return v;
}

static const char *get_name(const char *key, size_t *len)
{
    const char *s;
    ck_assert_int_eq(table_get(t, key, row), 0);
    ck_assert_int_eq(table_row_str(t, row, COL_NAME, &s, len), 0);
    return s;
}

START_TEST(bad_schemas_are_rejected)
{
    table_t *x = NULL;
    table_column_t c[2] = {{"a", TABLE_INT, 0}, {"b", TABLE_STRING, 8}};
    ck_assert_uint_gt(table_size_for(c, 2, 100), 100 * (80 + 8 + 16));
    ck_assert_int_eq(table_create(&x, c, 2, 0), -EINVAL);
    ck_assert_int_eq(table_create(&x, c, 2, TABLE_MAX_ROWS + 1), -EINVAL);
    ck_assert_int_eq(table_create(&x, c, -1, 10), -EINVAL);
    ck_assert_int_eq(table_create(&x, c, TABLE_MAX_COLUMNS + 1, 10), -EINVAL);
    c[1].name = "a";
    ck_assert_int_eq(table_create(&x, c, 2, 10), -EINVAL);
    c[1].name = "";
    ck_assert_int_eq(table_create(&x, c, 2, 10), -EINVAL);
    c[1].name = "a_name_that_is_longer_than_31_bytes";
    ck_assert_int_eq(table_create(&x, c, 2, 10), -EINVAL);
    c[1].name = "b";
    c[1].size = 0;
    ck_assert_int_eq(table_create(&x, c, 2, 10), -EINVAL);
    c[1].size = TABLE_STRING_MAX + 1;
    ck_assert_int_eq(table_create(&x, c, 2, 10), -EINVAL);
    c[1].size = 8;
    c[1].type = (table_type_t)9;
    ck_assert_int_eq(table_create(&x, c, 2, 10), -EINVAL);
    ck_assert_uint_eq(table_size_for(c, 2, 10), 0);
    ck_assert_ptr_null(x);
}
END_TEST

START_TEST(set_get_del_exists_count)
{
    t = make(100);
    ck_assert_uint_eq(table_capacity(t), 100);
    ck_assert_uint_le(table_row_size(t), sizeof(row));
    ck_assert_int_eq(table_column(t, "score"), COL_SCORE);
    ck_assert_int_eq(table_column(t, "nope"), -EINVAL);
    ck_assert_uint_eq(table_count(t), 0);
    ck_assert_int_eq(table_exists(t, "alice"), 0);
    ck_assert_int_eq(table_get(t, "alice", row), -ENOENT);
    ck_assert_int_eq(set_all("alice", 7, 1.5, "Alice"), 0);
    ck_assert_int_eq(set_all("bob", 8, -2.25, "Bob"), 0);
    ck_assert_int_eq(table_exists(t, "alice"), 1);
    ck_assert_uint_eq(table_count(t), 2);

    int64_t i;
    double d;
    const char *s;
    size_t len;
    ck_assert_int_eq(table_get(t, "bob", row), 0);
    ck_assert_int_eq(table_row_int(t, row, COL_ID, &i), 0);
    ck_assert_int_eq(i, 8);
    ck_assert_int_eq(table_row_float(t, row, COL_SCORE, &d), 0);
    ck_assert_double_eq(d, -2.25);
    ck_assert_int_eq(table_row_str(t, row, COL_NAME, &s, &len), 0);
    ck_assert_str_eq(s, "Bob");
    ck_assert_uint_eq(len, 3);
    /* Wrong type or column on a snapshot. */
    ck_assert_int_eq(table_row_int(t, row, COL_SCORE, &i), -EINVAL);
    ck_assert_int_eq(table_row_float(t, row, COL_NAME, &d), -EINVAL);
    ck_assert_int_eq(table_row_str(t, row, COL_ID, &s, &len), -EINVAL);
    ck_assert_int_eq(table_row_int(t, row, 3, &i), -EINVAL);
    ck_assert_int_eq(table_row_int(t, row, -1, &i), -EINVAL);

    /* Setting one column leaves the others. */
    table_field_t f = {.col = COL_ID, .type = TABLE_INT, .i = 70};
    ck_assert_int_eq(table_set(t, "alice", &f, 1), 0);
    ck_assert_int_eq(get_id("alice"), 70);
    ck_assert_str_eq(get_name("alice", &len), "Alice");
    ck_assert_uint_eq(table_count(t), 2);

    ck_assert_int_eq(table_del(t, "alice"), 0);
    ck_assert_int_eq(table_del(t, "alice"), -ENOENT);
    ck_assert_int_eq(table_exists(t, "alice"), 0);
    ck_assert_int_eq(get_id("bob"), 8);
    ck_assert_uint_eq(table_count(t), 1);
}
END_TEST

START_TEST(new_row_starts_at_zero)
{
    t = make(10);
    ck_assert_int_eq(table_set(t, "k", NULL, 0), 0);
    ck_assert_int_eq(get_id("k"), 0);
    size_t len = 99;
    ck_assert_str_eq(get_name("k", &len), "");
    ck_assert_uint_eq(len, 0);
    double d = 1;
    ck_assert_int_eq(table_row_float(t, row, COL_SCORE, &d), 0);
    ck_assert_double_eq(d, 0.0);
    /* A deleted row comes back clean. */
    ck_assert_int_eq(set_all("k", 5, 5, "five"), 0);
    ck_assert_int_eq(table_del(t, "k"), 0);
    ck_assert_int_eq(table_set(t, "k", NULL, 0), 0);
    ck_assert_int_eq(get_id("k"), 0);
    ck_assert_str_eq(get_name("k", &len), "");
}
END_TEST

START_TEST(bad_fields_change_nothing)
{
    t = make(10);
    ck_assert_int_eq(set_all("k", 1, 1, "one"), 0);
    table_field_t f[2] = {
        {.col = COL_ID, .type = TABLE_INT, .i = 2},
        {.col = COL_NAME, .type = TABLE_INT, .i = 3},
    };
    ck_assert_int_eq(table_set(t, "k", f, 2), -EINVAL);
    f[1] = (table_field_t){.col = 3, .type = TABLE_INT, .i = 3};
    ck_assert_int_eq(table_set(t, "k", f, 2), -EINVAL);
    f[1] = (table_field_t){.col = -1, .type = TABLE_INT, .i = 3};
    ck_assert_int_eq(table_set(t, "k", f, 2), -EINVAL);
    f[1] = (table_field_t){.col = COL_NAME, .type = TABLE_STRING, .len = 1};
    ck_assert_int_eq(table_set(t, "k", f, 2), -EINVAL); /* NULL str */
    ck_assert_int_eq(table_set(t, "k", NULL, 1), -EINVAL);
    ck_assert_int_eq(table_set(t, "k", f, -1), -EINVAL);
    ck_assert_int_eq(get_id("k"), 1);
    ck_assert_int_eq(table_set(t, "new", f, 2), -EINVAL);
    ck_assert_int_eq(table_exists(t, "new"), 0);
    ck_assert_uint_eq(table_count(t), 1);
}
END_TEST

START_TEST(strings_at_and_over_the_limit)
{
    t = make(10);
    char s[NAME_SIZE + 2];
    memset(s, 'x', sizeof(s));
    s[NAME_SIZE] = '\0';
    ck_assert_int_eq(set_all("k", 1, 0, s), 0);
    size_t len;
    ck_assert_str_eq(get_name("k", &len), s);
    ck_assert_uint_eq(len, NAME_SIZE);
    s[NAME_SIZE] = 'y';
    s[NAME_SIZE + 1] = '\0';
    ck_assert_int_eq(set_all("k", 2, 0, s), -E2BIG);
    ck_assert_int_eq(get_id("k"), 1); /* nothing written */
    ck_assert_int_eq(set_all("other", 2, 0, s), -E2BIG);
    ck_assert_int_eq(table_exists(t, "other"), 0);
    /* Shorter values replace longer ones completely; bytes are bytes. */
    ck_assert_int_eq(set_all("k", 3, 0, "ab"), 0);
    ck_assert_str_eq(get_name("k", &len), "ab");
    table_field_t f = {.col = COL_NAME, .type = TABLE_STRING,
                       .str = "a\0b", .len = 3};
    ck_assert_int_eq(table_set(t, "k", &f, 1), 0);
    const char *got = get_name("k", &len);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(got, "a\0b", 4);
}
END_TEST

START_TEST(key_limits)
{
    t = make(10);
    char key[TABLE_KEY_MAX + 2];
    memset(key, 'k', sizeof(key));
    key[TABLE_KEY_MAX] = '\0';
    ck_assert_int_eq(set_all(key, 63, 0, ""), 0);
    ck_assert_int_eq(get_id(key), 63);
    uint32_t cursor = 0;
    char out[TABLE_KEY_MAX + 1];
    ck_assert_int_eq(table_iter_next(t, &cursor, out, NULL), 1);
    ck_assert_str_eq(out, key);
    key[TABLE_KEY_MAX] = 'k';
    key[TABLE_KEY_MAX + 1] = '\0';
    ck_assert_int_eq(set_all(key, 64, 0, ""), -ENAMETOOLONG);
    ck_assert_int_eq(table_get(t, key, row), -ENAMETOOLONG);
    ck_assert_int_eq(table_exists(t, key), -ENAMETOOLONG);
    ck_assert_int_eq(table_del(t, key), -ENAMETOOLONG);
    ck_assert_int_eq(table_incr(t, key, COL_ID, 1, NULL), -ENAMETOOLONG);
    ck_assert_int_eq(set_all("", 0, 0, ""), -EINVAL);
    ck_assert_int_eq(set_all(NULL, 0, 0, ""), -EINVAL);
    ck_assert_uint_eq(table_count(t), 1);
    /* Keys that share a prefix are distinct. */
    ck_assert_int_eq(set_all("ab", 1, 0, ""), 0);
    ck_assert_int_eq(set_all("abc", 2, 0, ""), 0);
    ck_assert_int_eq(get_id("ab"), 1);
    ck_assert_int_eq(get_id("abc"), 2);
}
END_TEST

START_TEST(full_table_refuses_new_keys_only)
{
    enum { ROWS = 8 };
    t = make(ROWS);
    char key[16];
    for (int i = 0; i < ROWS; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        ck_assert_int_eq(set_all(key, i, i, key), 0);
    }
    ck_assert_uint_eq(table_count(t), ROWS);
    ck_assert_int_eq(set_all("extra", 99, 99, "extra"), -ENOSPC);
    ck_assert_int_eq(table_incr(t, "extra", COL_ID, 1, NULL), -ENOSPC);
    ck_assert_int_eq(table_incr_float(t, "extra", COL_SCORE, 1, NULL),
                     -ENOSPC);
    ck_assert_int_eq(table_exists(t, "extra"), 0);
    ck_assert_uint_eq(table_count(t), ROWS);
    for (int i = 0; i < ROWS; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        ck_assert_int_eq(get_id(key), i);
        size_t len;
        ck_assert_str_eq(get_name(key, &len), key);
        /* Existing rows still change while full. */
        ck_assert_int_eq(table_incr(t, key, COL_ID, 100, NULL), 0);
    }
    ck_assert_int_eq(table_del(t, "key3"), 0);
    ck_assert_int_eq(set_all("extra", 99, 99, "extra"), 0);
    ck_assert_int_eq(set_all("extra2", 99, 99, "extra"), -ENOSPC);
    ck_assert_int_eq(get_id("key4"), 104);
    ck_assert_int_eq(get_id("extra"), 99);
}
END_TEST

/* A table filled to capacity has long chains (rows <= buckets, so about a
 * third of the keys share a bucket): deleting from heads, middles and
 * tails of chains keeps every other key reachable. */
START_TEST(deletes_with_collisions)
{
    enum { ROWS = 1000 };
    static char live[ROWS];
    char key[16];
    t = make(ROWS);
    for (int i = 0; i < ROWS; i++) {
        snprintf(key, sizeof(key), "c%d", i);
        ck_assert_int_eq(set_all(key, i, 0, ""), 0);
        live[i] = 1;
    }
    srand(3);
    for (int round = 0; round < 20; round++) {
        for (int n = 0; n < 300; n++) {
            int i = rand() % ROWS;
            snprintf(key, sizeof(key), "c%d", i);
            if (live[i]) {
                ck_assert_int_eq(table_del(t, key), 0);
            } else {
                ck_assert_int_eq(table_del(t, key), -ENOENT);
                ck_assert_int_eq(set_all(key, i + round * ROWS, 0, ""), 0);
            }
            live[i] = !live[i];
            if (live[i])
                ck_assert_int_eq(get_id(key), i + round * ROWS);
        }
        uint32_t n = 0;
        for (int i = 0; i < ROWS; i++) {
            snprintf(key, sizeof(key), "c%d", i);
            ck_assert_int_eq(table_exists(t, key), live[i]);
            n += (uint32_t)live[i];
        }
        ck_assert_uint_eq(table_count(t), n);
    }
}
END_TEST

START_TEST(iteration_sees_every_row_once)
{
    enum { N = 300 };
    static int seen[N];
    char key[TABLE_KEY_MAX + 1];
    t = make(512);
    uint32_t cursor = 0;
    ck_assert_int_eq(table_iter_next(t, &cursor, key, row), 0);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "it%d", i);
        ck_assert_int_eq(set_all(key, i, i / 2.0, key), 0);
    }
    /* Holes from deletes are skipped. */
    for (int i = 0; i < N; i += 7) {
        snprintf(key, sizeof(key), "it%d", i);
        ck_assert_int_eq(table_del(t, key), 0);
    }
    int n = 0;
    cursor = 0;
    while (table_iter_next(t, &cursor, key, row) == 1) {
        int64_t id;
        double score;
        const char *name;
        ck_assert_int_eq(table_row_int(t, row, COL_ID, &id), 0);
        ck_assert_int_eq(table_row_float(t, row, COL_SCORE, &score), 0);
        ck_assert_int_eq(table_row_str(t, row, COL_NAME, &name, NULL), 0);
        ck_assert(id >= 0 && id < N && id % 7 != 0);
        ck_assert_str_eq(name, key);
        ck_assert_double_eq(score, id / 2.0);
        seen[id]++;
        n++;
    }
    ck_assert_int_eq(n, N - (N + 6) / 7);
    ck_assert_uint_eq(table_count(t), (uint32_t)n);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], i % 7 ? 1 : 0);
    ck_assert_int_eq(table_iter_next(t, &cursor, key, row), 0);
}
END_TEST

START_TEST(delete_while_iterating)
{
    char key[TABLE_KEY_MAX + 1];
    t = make(64);
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "d%d", i);
        ck_assert_int_eq(set_all(key, i, 0, ""), 0);
    }
    uint32_t cursor = 0;
    int n = 0;
    while (table_iter_next(t, &cursor, key, NULL) == 1) {
        ck_assert_int_eq(table_del(t, key), 0);
        n++;
    }
    ck_assert_int_eq(n, 50);
    ck_assert_uint_eq(table_count(t), 0);
}
END_TEST

START_TEST(incr_and_decr)
{
    t = make(10);
    int64_t v = 0;
    double d = 0;
    ck_assert_int_eq(table_incr(t, "n", COL_ID, 5, &v), 0);
    ck_assert_int_eq(v, 5);
    ck_assert_uint_eq(table_count(t), 1);
    ck_assert_int_eq(table_incr(t, "n", COL_ID, -2, &v), 0);
    ck_assert_int_eq(v, 3);
    ck_assert_int_eq(table_decr(t, "n", COL_ID, 10, &v), 0);
    ck_assert_int_eq(v, -7);
    ck_assert_int_eq(table_incr(t, "n", COL_ID, 1, NULL), 0);
    ck_assert_int_eq(get_id("n"), -6);
    /* The other columns of a row created by incr are zero. */
    size_t len;
    ck_assert_str_eq(get_name("n", &len), "");

    ck_assert_int_eq(table_incr_float(t, "f", COL_SCORE, 0.25, &d), 0);
    ck_assert_double_eq(d, 0.25);
    ck_assert_int_eq(table_decr_float(t, "f", COL_SCORE, 1.0, &d), 0);
    ck_assert_double_eq(d, -0.75);
    ck_assert_int_eq(get_id("f"), 0);

    ck_assert_int_eq(table_incr(t, "n", COL_SCORE, 1, &v), -EINVAL);
    ck_assert_int_eq(table_incr(t, "n", COL_NAME, 1, &v), -EINVAL);
    ck_assert_int_eq(table_incr(t, "n", 7, 1, &v), -EINVAL);
    ck_assert_int_eq(table_incr_float(t, "n", COL_ID, 1, &d), -EINVAL);
    ck_assert_int_eq(table_incr(t, "absent", COL_NAME, 1, &v), -EINVAL);
    ck_assert_int_eq(table_exists(t, "absent"), 0);

    /* Ints wrap like the hardware does. */
    table_field_t f = {.col = COL_ID, .type = TABLE_INT, .i = INT64_MAX};
    ck_assert_int_eq(table_set(t, "w", &f, 1), 0);
    ck_assert_int_eq(table_incr(t, "w", COL_ID, 1, &v), 0);
    ck_assert_int_eq(v, INT64_MIN);
    ck_assert_int_eq(table_decr(t, "w", COL_ID, INT64_MIN, &v), 0);
    ck_assert_int_eq(v, 0);
}
END_TEST

static void wait_children(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        int status;
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "child %d: status %#x", i, status);
    }
}

/* 4 processes, 20 000 increments each on 10 shared keys (int and float),
 * plus keys of their own: the totals are exact. */
START_TEST(concurrent_incr_from_processes)
{
    enum { PROCS = 4, OPS = 20000, HOT = 10, OWN = 500 };
    t = make(4096);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] > 0)
            continue;
        char key[32];
        for (int i = 0; i < OPS; i++) {
            snprintf(key, sizeof(key), "hot%d", i % HOT);
            if (table_incr(t, key, COL_ID, 1, NULL) != 0 ||
                table_incr_float(t, key, COL_SCORE, 0.5, NULL) != 0)
                _exit(1);
            snprintf(key, sizeof(key), "p%d-%d", p, i % OWN);
            if (table_incr(t, key, COL_ID, 1, NULL) != 0)
                _exit(2);
        }
        _exit(0);
    }
    wait_children(pids, PROCS);
    char key[32];
    for (int i = 0; i < HOT; i++) {
        snprintf(key, sizeof(key), "hot%d", i);
        ck_assert_int_eq(get_id(key), PROCS * OPS / HOT);
        double d;
        ck_assert_int_eq(table_row_float(t, row, COL_SCORE, &d), 0);
        ck_assert_double_eq(d, PROCS * OPS / HOT * 0.5);
    }
    for (int p = 0; p < PROCS; p++)
        for (int i = 0; i < OWN; i++) {
            snprintf(key, sizeof(key), "p%d-%d", p, i);
            ck_assert_int_eq(get_id(key), OPS / OWN);
        }
    ck_assert_uint_eq(table_count(t), HOT + PROCS * OWN);
    ck_assert_uint_eq(table_recoveries(t), 0);
}
END_TEST

/* A row whose string is `len` copies of `c` and whose id is c * 1000 +
 * len: any mix of two writes shows up as a mismatch. */
static int write_uniform(const char *key, char c, size_t len)
{
    char buf[NAME_SIZE];
    memset(buf, c, len);
    table_field_t f[] = {
        {.col = COL_NAME, .type = TABLE_STRING, .str = buf, .len = len},
        {.col = COL_ID, .type = TABLE_INT, .i = c * 1000 + (int64_t)len},
    };
    return table_set(t, key, f, 2);
}

static int row_is_uniform(const void *r)
{
    int64_t id;
    const char *s;
    size_t len;
    if (table_row_int(t, r, COL_ID, &id) != 0 ||
        table_row_str(t, r, COL_NAME, &s, &len) != 0)
        return 0;
    if (len == 0)
        return id == 0;
    if (id != s[0] * 1000 + (int64_t)len || s[len] != '\0')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] != s[0])
            return 0;
    return 1;
}

START_TEST(readers_never_see_torn_rows)
{
    enum { WRITERS = 2, READERS = 2, KEYS = 4, OPS = 30000 };
    t = make(64);
    pid_t pids[WRITERS + READERS];
    for (int p = 0; p < WRITERS + READERS; p++) {
        pids[p] = fork();
        ck_assert_int_ge(pids[p], 0);
        if (pids[p] > 0)
            continue;
        srand((unsigned)p + 1);
        char key[8];
        static _Alignas(8) char r[256];
        for (int i = 0; i < OPS; i++) {
            snprintf(key, sizeof(key), "t%d", rand() % KEYS);
            if (p < WRITERS) {
                if (write_uniform(key, (char)('a' + rand() % 26),
                                  1 + (size_t)(rand() % NAME_SIZE)) != 0)
                    _exit(1);
            } else if (table_get(t, key, r) == 0 && !row_is_uniform(r)) {
                _exit(2);
            }
        }
        _exit(0);
    }
    wait_children(pids, WRITERS + READERS);
}
END_TEST

/*
 * Kill a process at random points while it sets, deletes and increments:
 * afterwards nobody deadlocks, no row is torn, count matches the rows seen,
 * and the dead process's locks get taken over and repaired.
 */
static void crash_worker(void)
{
    char key[8];
    srand((unsigned)getpid());
    for (;;) {
        int k = rand() % 40;
        snprintf(key, sizeof(key), "x%d", k);
        if (k < 30)
            write_uniform(key, (char)('a' + rand() % 26),
                          1 + (size_t)(rand() % NAME_SIZE));
        else if (k < 35)
            table_del(t, key);
        else
            table_incr_float(t, key, COL_SCORE, 1, NULL);
    }
}

static void check_consistent(void)
{
    char key[TABLE_KEY_MAX + 1];
    static _Alignas(8) char r[256];
    uint32_t cursor = 0, n = 0;
    int rc;
    while ((rc = table_iter_next(t, &cursor, key, r)) == 1) {
        ck_assert_msg(row_is_uniform(r), "torn row %s", key);
        ck_assert_int_eq(table_exists(t, key), 1);
        n++;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(table_count(t), n);
    /* Every lock works: touch every key, make and drop a row. */
    for (int k = 0; k < 40; k++) {
        snprintf(key, sizeof(key), "x%d", k);
        ck_assert_int_ge(table_exists(t, key), 0);
    }
    ck_assert_int_eq(write_uniform("probe", 'p', 3), 0);
    ck_assert_int_eq(table_del(t, "probe"), 0);
}

START_TEST(survives_processes_killed_mid_write)
{
    t = make(48); /* 41 keys at most: allocation and free run often */
    log_open(NULL, SWX_LOG_ERROR); /* each repair logs a warning */
    srand((unsigned)time(NULL));
    for (int round = 0; round < 400; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            crash_worker();
        usleep((useconds_t)(500 + rand() % 3000));
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
        check_consistent();
        if (round >= 50 && table_recoveries(t) >= 5)
            break;
    }
    ck_assert_uint_gt(table_recoveries(t), 0);
    ck_assert_uint_le(table_count(t), 41);
}
END_TEST

/* The table is the same memory in every process. */
START_TEST(children_see_parent_rows_and_back)
{
    t = make(16);
    ck_assert_int_eq(set_all("parent", 1, 0, "p"), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        static _Alignas(8) char r[256];
        int64_t v = 0;
        if (table_get(t, "parent", r) != 0 ||
            table_row_int(t, r, COL_ID, &v) != 0 || v != 1)
            _exit(1);
        _exit(set_all("child", 2, 0, "c") == 0 ? 0 : 2);
    }
    wait_children(&pid, 1);
    ck_assert_int_eq(get_id("child"), 2);
    ck_assert_uint_eq(table_count(t), 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("table");
    TCase *tc = tcase_create("single");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, bad_schemas_are_rejected);
    tcase_add_test(tc, set_get_del_exists_count);
    tcase_add_test(tc, new_row_starts_at_zero);
    tcase_add_test(tc, bad_fields_change_nothing);
    tcase_add_test(tc, strings_at_and_over_the_limit);
    tcase_add_test(tc, key_limits);
    tcase_add_test(tc, full_table_refuses_new_keys_only);
    tcase_add_test(tc, deletes_with_collisions);
    tcase_add_test(tc, iteration_sees_every_row_once);
    tcase_add_test(tc, delete_while_iterating);
    tcase_add_test(tc, incr_and_decr);
    suite_add_tcase(s, tc);
    TCase *mp = tcase_create("processes");
    tcase_add_checked_fixture(mp, NULL, teardown);
    tcase_set_timeout(mp, 60);
    tcase_add_test(mp, children_see_parent_rows_and_back);
    tcase_add_test(mp, concurrent_incr_from_processes);
    tcase_add_test(mp, readers_never_see_torn_rows);
    tcase_add_test(mp, survives_processes_killed_mid_write);
    suite_add_tcase(s, mp);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
