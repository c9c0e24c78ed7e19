/* api_shared.h: the plugin API over shared memory and the server's figures. */
#ifndef SWX_API_SHARED_H
#define SWX_API_SHARED_H

#include "proc/server.h"
#include "swx_plugin.h"

/* The server whose tables, counters and figures the calls use. */
void api_shared_init(server_t *srv);

swx_table_t *api_table(const char *name);
int api_table_set_int(swx_table_t *t, const char *key, const char *column,
                      int64_t v);
int api_table_set_float(swx_table_t *t, const char *key, const char *column,
                        double v);
int api_table_set_string(swx_table_t *t, const char *key, const char *column,
                         const char *v, size_t len);
int api_table_get_int(swx_table_t *t, const char *key, const char *column,
                      int64_t *out);
int api_table_get_float(swx_table_t *t, const char *key, const char *column,
                        double *out);
int api_table_get_string(swx_table_t *t, const char *key, const char *column,
                         char *buf, size_t size);
int api_table_incr(swx_table_t *t, const char *key, const char *column,
                   int64_t delta, int64_t *result);
int api_table_incr_float(swx_table_t *t, const char *key, const char *column,
                         double delta, double *result);
int api_table_del(swx_table_t *t, const char *key);
int api_table_exists(swx_table_t *t, const char *key);
long api_table_count(swx_table_t *t);
int api_table_next(swx_table_t *t, uint32_t *cursor, char key[64]);

swx_atomic_t *api_atomic(const char *name, int64_t initial);
int64_t api_atomic_add(swx_atomic_t *a, int64_t v);
int64_t api_atomic_get(swx_atomic_t *a);
void api_atomic_set(swx_atomic_t *a, int64_t v);
int api_atomic_cmpset(swx_atomic_t *a, int64_t expected, int64_t desired);
int api_atomic_wait(swx_atomic_t *a, int timeout_ms);
int api_atomic_wakeup(swx_atomic_t *a, int n);

int api_stats(swx_stats_t *out);
/* Pretty JSON, malloc'd (swx_free). */
char *api_stats_json(void);

#endif
