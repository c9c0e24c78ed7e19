/* static_files.h: serving a listener's document_root from the reactor:
 * safe path resolution, Content-Type, Last-Modified / If-Modified-Since,
 * single byte ranges, and the file itself with sendfile(2). */
#ifndef SWX_STATIC_FILES_H
#define SWX_STATIC_FILES_H

#include <stddef.h>

#include "net/conn.h"
#include "protocol/http_parser.h"

/*
 * The request path (raw, as sent) made relative to the root: percent-
 * decoded, "." and empty segments dropped. 0 with out NUL-terminated ("" is
 * the root itself), 400 for a bad escape, a NUL or a ".." segment, 414
 * when it does not fit out.
 */
int static_path(const char *path, size_t len, char *out, size_t size);

/*
 * Answer a GET or HEAD for a file under l's document_root (an absolute,
 * resolved directory, the config's string: the calling thread keeps the
 * directory open by that pointer, for the life of the process), if the
 * path is under one of its static_handler_locations; a directory is
 * answered with its first http_index_files entry. A file or link that would leave root is refused. 1 when the
 * response was queued, 0 when there is no such file (or the method is not
 * GET/HEAD: the plugin's turn), -1 when the connection was closed, or an
 * HTTP status (400, 403, 414) for the caller to answer with.
 */
int static_serve(conn_t *c, const config_listener_t *l,
                 const http_request_t *req);

/* Where static_serve_to puts a response: bytes (the HTTP/1.1 head, then
 * the body) and a file's range, which it owns from then on (fd closed
 * whatever happens). Each returns 0, or -1 when the connection was closed.
 * static_serve writes to the connection (conn_write, conn_write_file);
 * HTTP/2 streams take them into a stream (protocol/http2_conn.c). */
typedef struct static_out {
    int (*write)(conn_t *c, const void *data, size_t len);
    int (*write_file)(conn_t *c, int fd, off_t off, uint64_t len);
} static_out_t;

int static_serve_to(conn_t *c, const config_listener_t *l,
                    const http_request_t *req, const static_out_t *o);

#endif
