/* static_files.c: serving a listener's document_root from the reactor. */
#include "http/static_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "http/http_head.h"
#include "http/mime.h"
#include "protocol/http_chars.h"
#include "protocol/http_text.h"

#define STATIC_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

/* ---- the path ---- */

/* Percent-decode p[0..len) into out; the decoded length, or -400. */
static ssize_t path_decode(const char *p, size_t len, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (ch == '%') {
            int hi = i + 2 < len ? http_hex_digit((unsigned char)p[i + 1]) : -1;
            int lo = hi >= 0 ? http_hex_digit((unsigned char)p[i + 2]) : -1;
            if (lo < 0)
                return -400;
            ch = (char)(hi << 4 | lo);
            i += 2;
        }
        if (ch == '\0')
            return -400;
        if (n + 1 >= size)
            return -414;
        out[n++] = ch;
    }
    return (ssize_t)n;
}

/* Append segment s[0..len) to out, '/'-separated. 0, 400 or 414. */
static int path_segment(const char *s, size_t len, char *out, size_t *n,
                        size_t size)
{
    if (len == 0 || (len == 1 && s[0] == '.'))
        return 0;
    if (len == 2 && s[0] == '.' && s[1] == '.')
        return 400;
    if (*n + len + 2 > size)
        return 414;
    if (*n > 0)
        out[(*n)++] = '/';
    memcpy(out + *n, s, len);
    *n += len;
    return 0;
}

int static_path(const char *path, size_t len, char *out, size_t size)
{
    char dec[PATH_MAX];
    ssize_t dlen = path_decode(path, len, dec, sizeof(dec));
    if (dlen < 0)
        return (int)-dlen;
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= (size_t)dlen; i++) {
        if (i < (size_t)dlen && dec[i] != '/')
            continue;
        int rc = path_segment(dec + start, i - start, out, &n, size);
        if (rc != 0)
            return rc;
        start = i + 1;
    }
    if (size == 0)
        return 414;
    out[n] = '\0';
    return 0;
}

/* ---- opening ---- */

/* realpath and a prefix check, for kernels without openat2. */
static int open_checked(const char *root, const char *rel)
{
    char full[PATH_MAX], real[PATH_MAX];
    if (snprintf(full, sizeof(full), "%s/%s", root, rel) >= (int)sizeof(full))
        return -ENAMETOOLONG;
    if (realpath(full, real) == NULL)
        return -errno;
    size_t rl = strlen(root);
    if (strncmp(real, root, rl) != 0 ||
        (real[rl] != '/' && real[rl] != '\0' && strcmp(root, "/") != 0))
        return -EXDEV;
    int fd = open(real, STATIC_OPEN_FLAGS | O_NOFOLLOW);
    return fd < 0 ? -errno : fd;
}

/* The roots a reactor thread keeps open (O_PATH), by their config
 * string, so that a request costs no open and close of its root. Only the
 * master's reactor threads serve files, and they start after the manager
 * is forked: no worker inherits these. */
#define STATIC_ROOTS 16
static __thread struct {
    const char *root;
    int fd;
} roots[STATIC_ROOTS];

/* An O_PATH fd of root: kept (*keep set) or to be closed; -errno. */
static int root_dir(const char *root, int *keep)
{
    int i = 0;
    while (i < STATIC_ROOTS && roots[i].root != NULL && roots[i].root != root)
        i++;
    *keep = i < STATIC_ROOTS;
    if (*keep && roots[i].root == root)
        return roots[i].fd;
    int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -errno;
    if (*keep) {
        roots[i].root = root;
        roots[i].fd = dir;
    }
    return dir;
}

/* rel under root, never leaving it (symlinks included). fd or -errno. */
static int open_beneath(const char *root, const char *rel)
{
    int keep;
    int dir = root_dir(root, &keep);
    if (dir < 0)
        return dir;
    struct open_how how = {.flags = STATIC_OPEN_FLAGS,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    long fd = syscall(SYS_openat2, dir, rel[0] ? rel : ".", &how,
                      sizeof(how));
    int err = errno;
    if (!keep)
        close(dir);
    if (fd < 0 && err == ENOSYS)
        return open_checked(root, rel);
    return fd < 0 ? -err : (int)fd;
}

/* What an open failure means: no such file (1, the plugin's turn), or a
 * refusal (403) or a failure (500) to answer with. */
static int static_open_error(int err)
{
    if (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG)
        return 1;
    if (err == EXDEV || err == ELOOP || err == EACCES || err == EPERM)
        return 403;
    return 500;
}

/* rel opened: 0 with *fd and *st for a regular file, 2 for a directory,
 * or what static_open_error says (1: none). */
static int static_open_one(const char *root, const char *rel, int *fd,
                           struct stat *st)
{
    *fd = open_beneath(root, rel);
    if (*fd < 0)
        return static_open_error(-*fd);
    int ok = fstat(*fd, st) == 0;
    if (ok && S_ISREG(st->st_mode))
        return 0;
    close(*fd);
    return !ok ? 500 : S_ISDIR(st->st_mode) ? 2 : 403;
}

/* rel, which must be a directory, opened for its listing: 3 with *fd, or
 * what static_open_error says. */
static int static_open_dir(const char *root, const char *rel, int *fd)
{
    struct stat st;
    *fd = open_beneath(root, rel);
    if (*fd < 0)
        return static_open_error(-*fd);
    if (fstat(*fd, &st) == 0 && S_ISDIR(st.st_mode))
        return 3; /* list it */
    close(*fd);
    return 1;
}

/* A regular file for rel (for a directory, its first index file): 0 with
 * *fd and *st (rel then names the file), 1 when there is none, 3 with *fd
 * the directory when it has no index file and autoindex is set, or a
 * status. A path that ends in '/' (is_dir) names a directory: its index
 * files are tried at once, as nginx does, which spares the open, fstat
 * and close of the directory on every request for "/". */
static int static_open(const char *root, char *const *index, char *rel,
                       size_t size, int *fd, struct stat *st, int autoindex,
                       int is_dir)
{
    static char *const default_index[] = {"index.html", NULL};
    int rc = is_dir ? 2 : static_open_one(root, rel, fd, st);
    if (rc != 2)
        return rc;
    size_t n = strlen(rel);
    for (char *const *f = index != NULL ? index : default_index; *f != NULL;
         f++) {
        if (n + 1 + strlen(*f) + 1 > size)
            continue;
        snprintf(rel + n, size - n, "%s%s", n ? "/" : "", *f);
        rc = static_open_one(root, rel, fd, st);
        if (rc != 1 && rc != 2)
            return rc;
        rel[n] = '\0';
    }
    return autoindex ? static_open_dir(root, rel, fd) : 1;
}

/* Is rel under one of the static_handler_locations (none: all)? */
static int static_location(char *const *locations, const char *rel)
{
    if (locations == NULL)
        return 1;
    for (char *const *l = locations; *l != NULL; l++) {
        size_t n = strlen(*l);
        while (n > 0 && (*l)[n - 1] == '/')
            n--;
        if (n == 0 || (strncmp(rel, *l, n) == 0 &&
                       (rel[n] == '\0' || rel[n] == '/')))
            return 1;
    }
    return 0;
}

/* ---- the response ---- */

/* Range: bytes=first-last | first- | -suffix. 1 with *off and *len, 0 to
 * send the whole file (absent, malformed, or several ranges), -1 when
 * unsatisfiable. */
static int static_range(const char *v, size_t vlen, uint64_t size,
                        uint64_t *off, uint64_t *len)
{
    char text[64];
    unsigned long long a = 0, b = 0;
    int used = 0;
    if (v == NULL || vlen >= sizeof(text) || vlen < 7 ||
        strncmp(v, "bytes=", 6) != 0)
        return 0;
    memcpy(text, v + 6, vlen - 6);
    text[vlen - 6] = '\0';
    if (strspn(text, "0123456789-") != strlen(text))
        return 0;
    if (text[0] == '-') {
        if (sscanf(text + 1, "%llu%n", &b, &used) != 1 || text[1 + used])
            return 0;
        if (b == 0 || size == 0)
            return -1;
        *len = b < size ? b : size;
        *off = size - *len;
        return 1;
    }
    if (sscanf(text, "%llu-%n", &a, &used) != 1)
        return 0;
    if (text[used] == '\0')
        b = size ? size - 1 : 0;
    else if (sscanf(text + used, "%llu%n", &b, &used) != 1 || b < a)
        return 0;
    if (a >= size)
        return -1;
    *off = a;
    *len = (b < size - 1 ? b : size - 1) - a + 1;
    return 1;
}

/* Not modified since the If-Modified-Since date? */
static int static_not_modified(const http_request_t *req, time_t mtime)
{
    size_t len;
    const char *v = http_header_get(req, "if-modified-since", &len);
    time_t since;
    return v != NULL && http_date_parse(v, len, &since) == 0 &&
           mtime <= since;
}

typedef struct static_reply {
    int status;
    uint64_t off;
    uint64_t len;
    uint64_t size;
} static_reply_t;

/* The head (http_head.c) for req, kept alive as it asks, built in the
 * reactor's scratch buffer; 0, or -1 when the connection was closed. */
static int static_write_head(conn_t *c, const static_out_t *o,
                             const http_request_t *req, http_head_t *head)
{
    head->http10 = req->version == 0;
    head->conn = req->keep_alive ? HTTP_HEAD_KEEP_ALIVE : HTTP_HEAD_CLOSE;
    buf_t *out = conn_scratch(c);
    int rc = http_head_append(out, head);
    if (rc < 0)
        conn_close(c, "out of memory for a response");
    else
        rc = o->write(c, buf_head(out), buf_pending(out));
    conn_scratch_done(out);
    return rc < 0 ? -1 : 0;
}

static int static_head(conn_t *c, const static_out_t *o,
                       const http_request_t *req,
                       const static_reply_t *r, const char *name, time_t mtime)
{
    char fields[512], mod[HTTP_DATE_LEN + 1], range[96] = "";
    http_date(mtime, mod);
    if (r->status == 206)
        snprintf(range, sizeof(range), "Content-Range: bytes %llu-%llu/%llu\r\n",
                 (unsigned long long)r->off,
                 (unsigned long long)(r->off + r->len - 1),
                 (unsigned long long)r->size);
    else if (r->status == 416)
        snprintf(range, sizeof(range), "Content-Range: bytes */%llu\r\n",
                 (unsigned long long)r->size);
    snprintf(fields, sizeof(fields),
             "Last-Modified: %s\r\nAccept-Ranges: bytes\r\n"
             "Content-Type: %s\r\n%s",
             mod, r->status == 416 ? "text/plain" : mime_type(name), range);
    http_head_lines_t lines[] = {{fields, 0}};
    /* A 304 has no body, and says nothing of one (http_head leaves its
     * length out). */
    http_head_t head = {.status = r->status, .framing = HTTP_HEAD_LENGTH,
                        .length = r->len, .lines = lines, .nlines = 1};
    return static_write_head(c, o, req, &head);
}

/* Status, range and length of the answer for a file of st. */
static void static_plan(const http_request_t *req, const struct stat *st,
                        static_reply_t *r)
{
    size_t vlen = 0;
    const char *v = http_header_get(req, "range", &vlen);
    r->size = (uint64_t)st->st_size;
    r->off = 0;
    r->len = r->size;
    r->status = 200;
    if (static_not_modified(req, st->st_mtime)) {
        r->status = 304;
        r->len = 0;
        return;
    }
    int rc = static_range(v, vlen, r->size, &r->off, &r->len);
    if (rc > 0)
        r->status = 206;
    if (rc < 0) {
        r->status = 416;
        r->off = r->len = 0;
    }
}

/* ---- http_autoindex ---- */

static int buf_puts(buf_t *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

#define LISTING_MAX_ENTRIES 10000

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* s HTML-escaped (text and attribute values alike). */
static int html_escape(buf_t *b, const char *s)
{
    int rc = 0;
    for (; *s != '\0' && rc == 0; s++) {
        const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;"
                        : *s == '>' ? "&gt;" : *s == '"' ? "&quot;"
                        : *s == '\'' ? "&#39;" : NULL;
        rc = e != NULL ? buf_append(b, e, strlen(e)) : buf_append(b, s, 1);
    }
    return rc;
}

/* s percent-encoded for a path, '/' kept. */
static int url_escape(buf_t *b, const char *s)
{
    int rc = 0;
    for (; *s != '\0' && rc == 0; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~/", ch) != NULL) {
            rc = buf_append(b, s, 1);
        } else {
            char hex[4];
            snprintf(hex, sizeof(hex), "%%%02X", ch);
            rc = buf_append(b, hex, 3);
        }
    }
    return rc;
}

/* The names in directory fd (closed here), sorted, directories with a
 * trailing '/'; hidden ones left out. NULL-terminated, or NULL. */
static char **listing_names(int fd, size_t *count)
{
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return NULL;
    }
    size_t n = 0, cap = 64;
    char **names = malloc(cap * sizeof(*names));
    struct dirent *e;
    while (names != NULL && n < LISTING_MAX_ENTRIES &&
           (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        int dir = fstatat(dirfd(d), e->d_name, &st, 0) == 0 &&
                  S_ISDIR(st.st_mode);
        if (n + 1 >= cap) {
            char **more = realloc(names, cap * 2 * sizeof(*names));
            if (more == NULL)
                break;
            names = more;
            cap *= 2;
        }
        size_t len = strlen(e->d_name);
        if ((names[n] = malloc(len + 2)) == NULL)
            break;
        memcpy(names[n], e->d_name, len);
        names[n][len] = dir ? '/' : '\0';
        names[n][len + dir] = '\0';
        n++;
    }
    closedir(d);
    if (names != NULL) {
        qsort(names, n, sizeof(*names), name_cmp);
        names[n] = NULL;
    }
    *count = n;
    return names;
}

/* http_autoindex: an HTML list of directory fd (rel under the root). 1
 * once queued, -1 when the connection closed, 500. */
static int static_listing(conn_t *c, const static_out_t *o,
                          const http_request_t *req, int fd, const char *rel)
{
    size_t n;
    char **names = listing_names(fd, &n);
    if (names == NULL)
        return 500;
    char base[PATH_MAX + 2];
    snprintf(base, sizeof(base), "/%s%s", rel, rel[0] ? "/" : "");
    buf_t body = {0};
    int rc = buf_puts(&body, "<!DOCTYPE html>\n<html><head><meta "
                             "charset=\"utf-8\"><title>Index of ");
    if (rc == 0)
        rc = html_escape(&body, base);
    if (rc == 0)
        rc = buf_puts(&body, "</title></head>\n<body><h1>Index of ");
    if (rc == 0)
        rc = html_escape(&body, base);
    if (rc == 0)
        rc = buf_puts(&body, "</h1>\n<ul>\n");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = buf_puts(&body, "<li><a href=\"");
        if (rc == 0)
            rc = url_escape(&body, base);
        if (rc == 0)
            rc = url_escape(&body, names[i]);
        if (rc == 0)
            rc = buf_puts(&body, "\">");
        if (rc == 0)
            rc = html_escape(&body, names[i]);
        if (rc == 0)
            rc = buf_puts(&body, "</a></li>\n");
    }
    if (rc == 0)
        rc = buf_puts(&body, "</ul>\n</body></html>\n");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc < 0) {
        buf_free(&body);
        return 500;
    }
    http_head_lines_t lines[] = {
        {"Content-Type: text/html; charset=utf-8\r\n", 0},
    };
    http_head_t head = {.status = 200, .framing = HTTP_HEAD_LENGTH,
                        .length = buf_pending(&body), .lines = lines,
                        .nlines = 1};
    rc = static_write_head(c, o, req, &head);
    if (rc == 0 && req->method_id != HTTP_HEAD)
        rc = o->write(c, buf_head(&body), buf_pending(&body));
    buf_free(&body);
    return rc < 0 ? -1 : 1;
}

static const static_out_t static_conn_out = {conn_write, conn_write_file};

int static_serve(conn_t *c, const config_listener_t *l,
                 const http_request_t *req)
{
    return static_serve_to(c, l, req, &static_conn_out);
}

int static_serve_to(conn_t *c, const config_listener_t *l,
                    const http_request_t *req, const static_out_t *o)
{
    const char *root = l->document_root;
    char rel[PATH_MAX];
    struct stat st;
    int fd;
    if (req->method_id != HTTP_GET && req->method_id != HTTP_HEAD)
        return 0;
    int rc = static_path(req->path, req->path_len, rel, sizeof(rel) - 16);
    if (rc != 0)
        return rc;
    if (!static_location(l->static_handler_locations, rel))
        return 0;
    int is_dir = req->path_len > 0 && req->path[req->path_len - 1] == '/';
    rc = static_open(root, l->http_index_files, rel, sizeof(rel), &fd, &st,
                     l->http_autoindex, is_dir);
    if (rc == 3)
        return static_listing(c, o, req, fd, rel);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    static_reply_t r;
    static_plan(req, &st, &r);
    if (static_head(c, o, req, &r, rel, st.st_mtime) < 0) {
        close(fd);
        return -1;
    }
    if (req->method_id == HTTP_HEAD || r.len == 0) {
        close(fd);
        return 1;
    }
    return o->write_file(c, fd, (off_t)r.off, r.len) < 0 ? -1 : 1;
}
