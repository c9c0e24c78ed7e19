/* http_api.h: HTTP requests and WebSocket sessions in a worker: the events
 * the reactors send (requests, handshakes, messages, closes) and the
 * swx_http_* and swx_ws_* functions of the plugin API. */
#ifndef SWX_HTTP_API_H
#define SWX_HTTP_API_H

#include <stdint.h>

#include "ipc/ipc.h"
#include "plugin/plugin.h"
#include "swx_plugin.h"

/* Handle m for plugin p if it is an HTTP or WebSocket event
 * (HTTP_MSG_REQUEST, HTTP_MSG_ABORT, WS_MSG_*): 1 when it was, else 0. */
int http_api_handle(const plugin_t *p, const ipc_msg_t *m);

/* The connection closed (IPC_CLOSE): its open response is gone (calls
 * return -ENOTCONN) while on_close runs; http_api_release frees it after. */
void http_api_gone(uint64_t session);
void http_api_release(uint64_t session);

/* Free every response (the worker exits). */
/* Responses begun and not ended whose client is still there: a stopping
 * worker waits for them (up to max_wait_time). */
int http_api_open(void);
void http_api_free(void);

/* swx_http_get_header, swx_ws_push, swx_ws_close (see swx_plugin.h); the
 * response functions are in http_response.h. */
/* swx_http_query_param, swx_http_form_param, swx_http_cookie. */
int http_api_query_param(const swx_http_request_t *req, const char *name,
                         char *out, size_t cap);
int http_api_form_param(const swx_http_request_t *req, const char *name,
                        char *out, size_t cap);
int http_api_cookie(const swx_http_request_t *req, const char *name,
                    char *out, size_t cap);
int http_api_multipart_next(const swx_http_request_t *req, size_t *cursor,
                            swx_http_part_t *part);

const char *http_api_get_header(const swx_http_request_t *req,
                                const char *name, size_t *len);
int http_api_ws_push(uint64_t session, const void *data, size_t len,
                     int opcode);
int http_api_ws_close(uint64_t session, int code);

#endif
