/* admin.c: the optional admin endpoint in the master: HTTP GET /stats (the
 * server's figures as JSON) and POST /reload, on a Unix socket or a port. */
#include "net/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "plugin/api_shared.h"
#include "core/log.h"
#include "http/http_head.h"
#include "net/health.h"
#include "net/metrics.h"
#include "net/sockfile.h"

#define ADMIN_REQ_MAX 4096
#define ADMIN_MAX_CONNS 16

typedef struct admin_conn admin_conn_t;
struct admin_conn {
    int fd;
    int64_t timer;      /* closes it once idle_timeout has passed */
    int64_t last;       /* ms (loop_now): when bytes last came */
    admin_conn_t *prev, *next; /* in conns, the longest idle first */
    size_t len;
    char req[ADMIN_REQ_MAX];
};

static server_t *srv;
static loop_t *loop;
static int listen_fd = -1;
static sockfile_t unix_file; /* the socket file admin_open made */
static void (*reload_cb)(void);
static int nconns;
static struct {
    admin_conn_t *head, *tail;
} conns;

static socklen_t admin_addr(const config_admin_t *a,
                            struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->unix_path != NULL) {
        struct sockaddr_un *u = (struct sockaddr_un *)ss;
        u->sun_family = AF_UNIX;
        snprintf(u->sun_path, sizeof(u->sun_path), "%s", a->unix_path);
        return sizeof(*u);
    }
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET6, a->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)a->port);
        return sizeof(*a6);
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)a->port);
    inet_pton(AF_INET, a->host, &a4->sin_addr);
    return sizeof(*a4);
}

/* The Unix socket's path must be free or hold a stale socket. */
static int admin_claim(const config_t *cfg, char *err, size_t errlen)
{
    const char *path = cfg->admin.unix_path;
    char where[512];
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errlen, "%s: admin.unix: path too long", cfg->path);
        return -ENAMETOOLONG;
    }
    snprintf(where, sizeof(where), "%s: admin.unix", cfg->path);
    return sockfile_claim(path, SOCK_STREAM, where, err, errlen);
}

/* bind(2) (a Unix socket created with mode) and listen(2); 0 or -1 with
 * errno set and *what the call. */
static int admin_bind(int fd, const struct sockaddr_storage *ss,
                      socklen_t len, int mode, const char **what)
{
    int one = 1;
    *what = "bind";
    if (ss->ss_family == AF_UNIX) {
        int rc = sockfile_bind(fd, (const struct sockaddr_un *)ss, mode,
                               &unix_file, what);
        if (rc < 0) {
            errno = -rc;
            return -1;
        }
    } else {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (const struct sockaddr *)ss, len) < 0)
            return -1;
    }
    *what = "listen";
    return listen(fd, 16);
}

int admin_open(const config_t *cfg, char *err, size_t errlen)
{
    const config_admin_t *a = &cfg->admin;
    struct sockaddr_storage ss;
    socklen_t len = admin_addr(a, &ss);
    if (a->unix_path != NULL && admin_claim(cfg, err, errlen) < 0)
        return -1;
    const char *what = "socket";
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || admin_bind(fd, &ss, len, a->mode, &what) < 0) {
        int e = errno;
        if (a->unix_path != NULL)
            snprintf(err, errlen, "%s: admin.unix: cannot listen on %s: "
                     "%s: %s", cfg->path, a->unix_path, what, strerror(e));
        else
            snprintf(err, errlen, "%s: admin.port: cannot listen on %s:%d: "
                     "%s: %s", cfg->path, a->host, a->port, what,
                     strerror(e));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    listen_fd = fd;
    return fd;
}

/* A JSON reply (body and a newline), then the connection closes. extra:
 * more header lines, or NULL. */
static void admin_reply_with(admin_conn_t *c, int status, const char *extra,
                             const char *body)
{
    size_t blen = strlen(body);
    http_head_lines_t lines[] = {
        {"Content-Type: application/json\r\n", 0},
        {extra, 0},
    };
    http_head_t h = {.status = status, .framing = HTTP_HEAD_LENGTH,
                     .length = blen + 1, .conn = HTTP_HEAD_CLOSE,
                     .lines = lines, .nlines = 2};
    buf_t head = {0};
    if (http_head_append(&head, &h) < 0) {
        log_debug("admin: reply not sent: out of memory");
        return;
    }
    struct iovec iov[3] = {{buf_head(&head), buf_pending(&head)},
                           {(void *)body, blen}, {"\n", 1}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};
    /* Small replies fit the socket buffer; a client that cannot take
     * them is not waited for. */
    if (sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("admin: reply not sent: %s", strerror(errno));
    buf_free(&head);
}

static void admin_reply(admin_conn_t *c, int status, const char *body)
{
    admin_reply_with(c, status, NULL, body);
}

static void admin_route(admin_conn_t *c, const char *method, const char *path)
{
    int is_stats = strcmp(path, "/stats") == 0;
    int is_reload = strcmp(path, "/reload") == 0;
    int is_health = strcmp(path, "/health") == 0;
    if (is_stats && strcmp(method, "GET") == 0) {
        char *body = api_stats_json();
        admin_reply(c, body ? 200 : 500,
                    body ? body : "{\"error\":\"out of memory\"}");
        free(body);
    } else if (is_reload && strcmp(method, "POST") == 0) {
        log_notice("admin: reload requested");
        reload_cb();
        admin_reply(c, 202, "{\"reload\":\"requested\"}");
    } else if (is_health && strcmp(method, "GET") == 0) {
        char *body = NULL;
        int status = health_report(srv, &body);
        admin_reply(c, body ? status : 500,
                    body ? body : "{\"error\":\"out of memory\"}");
        free(body);
    } else if (strcmp(path, "/metrics") == 0) {
        metrics_serve(c->fd, method, srv);
    } else if (is_stats || is_reload || is_health) {
        admin_reply(c, 405, "{\"error\":\"GET /stats, GET /health or POST "
                    "/reload\"}");
    } else {
        admin_reply(c, 404, "{\"error\":\"not found\"}");
    }
}

static void admin_conns_unlink(admin_conn_t *c)
{
    *(c->prev != NULL ? &c->prev->next : &conns.head) = c->next;
    *(c->next != NULL ? &c->next->prev : &conns.tail) = c->prev;
    c->prev = c->next = NULL;
}

static void admin_conns_append(admin_conn_t *c)
{
    c->prev = conns.tail;
    c->next = NULL;
    *(conns.tail != NULL ? &conns.tail->next : &conns.head) = c;
    conns.tail = c;
}

static void admin_close(admin_conn_t *c)
{
    if (c->timer > 0)
        timer_clear(loop_timers(loop), c->timer);
    admin_conns_unlink(c);
    loop_del(loop, c->fd);
    close(c->fd);
    free(c);
    nconns--;
}

static int64_t admin_idle_ms(void)
{
    return (int64_t)srv->cfg.admin.idle_timeout * 1000;
}

/* Due when the connection may have been idle for idle_timeout; bytes
 * that came since only push the deadline on. */
static void admin_idle(int64_t id, void *arg)
{
    (void)id;
    admin_conn_t *c = arg;
    int64_t now = loop_now(), left = c->last + admin_idle_ms() - now;
    c->timer = left > 0 ? timer_add(loop_timers(loop), now, left, 0,
                                    admin_idle, c)
                        : 0;
    if (c->timer > 0)
        return;
    log_info("admin: nothing received for %d s (admin.idle_timeout); "
             "closing the connection", srv->cfg.admin.idle_timeout);
    admin_close(c);
}

/* Bytes came: c becomes the most recently active. */
static void admin_touch(admin_conn_t *c)
{
    c->last = loop_now();
    admin_conns_unlink(c);
    admin_conns_append(c);
}

/* "METHOD /path HTTP/1.x" on the first line; 0 or -1 when malformed.
 * *fields: the header lines after it. */
static int admin_request_line(char *req, char **method, char **path,
                              char **fields)
{
    char *eol = strstr(req, "\r\n");
    if (eol == NULL)
        return -1;
    *eol = '\0';
    *fields = eol + 2;
    *method = strtok(req, " ");
    *path = strtok(NULL, " ");
    char *version = strtok(NULL, " ");
    if (*method == NULL || *path == NULL || version == NULL ||
        strncmp(version, "HTTP/1.", 7) != 0)
        return -1;
    char *q = strchr(*path, '?');
    if (q != NULL)
        *q = '\0';
    return 0;
}

/* Equal to admin.token, in a time that depends only on the token's
 * length: no byte of it can be guessed from how soon a reply comes. */
static int admin_token_equal(const char *given, size_t len)
{
    const char *token = srv->cfg.admin.token;
    size_t n = strlen(token);
    volatile unsigned char diff = len != n;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(token[i] ^ (i < len ? given[i] : 0));
    return diff == 0;
}

/* The value of the one "Authorization" field among the CRLF-separated
 * header lines, blanks trimmed; NULL when there is none or several. */
static char *admin_authorization(char *fields)
{
    char *found = NULL;
    int count = 0;
    for (char *line = fields; *line != '\0' && strncmp(line, "\r\n", 2);) {
        char *eol = strstr(line, "\r\n");
        if (eol == NULL)
            break;
        *eol = '\0';
        if (strncasecmp(line, "Authorization:", 14) == 0) {
            found = line + 14 + strspn(line + 14, " \t");
            count++;
        }
        line = eol + 2;
    }
    if (count != 1)
        return NULL;
    size_t n = strlen(found);
    while (n > 0 && (found[n - 1] == ' ' || found[n - 1] == '\t'))
        found[--n] = '\0';
    return found;
}

/* With admin.token set, "Authorization: Bearer TOKEN" is required. */
static int admin_authorized(char *fields)
{
    if (srv->cfg.admin.token == NULL)
        return 1;
    const char *v = admin_authorization(fields);
    if (v == NULL || strncasecmp(v, "Bearer", 6) != 0 ||
        (v[6] != ' ' && v[6] != '\t'))
        return 0;
    v += 6 + strspn(v + 6, " \t");
    return admin_token_equal(v, strlen(v));
}

/* Neither the request's nor the expected token goes to the log. */
static void admin_unauthorized(admin_conn_t *c)
{
    log_info("admin: a request without the right bearer token; 401");
    admin_reply_with(c, 401,
                     "WWW-Authenticate: Bearer realm=\"swx-admin\"\r\n",
                     "{\"error\":\"a valid bearer token is required\"}");
}

static void admin_io(loop_t *l, int fd, int events, void *arg)
{
    (void)l;
    (void)events;
    admin_conn_t *c = arg;
    ssize_t n = recv(fd, c->req + c->len, ADMIN_REQ_MAX - 1 - c->len, 0);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        admin_close(c);
        return;
    }
    admin_touch(c);
    c->len += (size_t)n;
    c->req[c->len] = '\0';
    if (strstr(c->req, "\r\n\r\n") == NULL) {
        if (c->len == ADMIN_REQ_MAX - 1) {
            admin_reply(c, 431, "{\"error\":\"request too large\"}");
            admin_close(c);
        }
        return;
    }
    char *method, *path, *fields;
    if (admin_request_line(c->req, &method, &path, &fields) < 0)
        admin_reply(c, 400, "{\"error\":\"bad request\"}");
    else if (!admin_authorized(fields))
        admin_unauthorized(c);
    else
        admin_route(c, method, path);
    admin_close(c);
}

/* At the cap, the connection idle longest makes room for a new one: idle
 * clients cannot lock the endpoint out. */
static void admin_make_room(void)
{
    admin_conn_t *c = conns.head;
    if (nconns < ADMIN_MAX_CONNS || c == NULL)
        return;
    log_warn("admin: %d connections open; closing the one idle for %lld ms "
             "to serve a new one", nconns, (long long)(loop_now() - c->last));
    admin_close(c);
}

/* Serve fd; 0, or -1 (fd is then the caller's to close). */
static int admin_track(loop_t *l, int fd)
{
    admin_conn_t *c = malloc(sizeof(*c));
    if (c == NULL) {
        log_error("admin: malloc: out of memory; connection closed");
        return -1;
    }
    *c = (admin_conn_t){.fd = fd, .last = loop_now()};
    c->timer = timer_add(loop_timers(l), c->last, admin_idle_ms(), 0, admin_idle, c);
    int rc = c->timer < 0 ? (int)c->timer
                          : loop_add(l, fd, LOOP_READ, admin_io, c);
    if (rc < 0) {
        log_error("admin: cannot watch a connection: %s", strerror(-rc));
        if (c->timer > 0)
            timer_clear(loop_timers(l), c->timer);
        free(c);
        return -1;
    }
    admin_conns_append(c);
    nconns++;
    return 0;
}

static void admin_accept(loop_t *l, int fd, int events, void *arg)
{
    (void)events;
    (void)arg;
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            return;
        admin_make_room();
        if (admin_track(l, c) < 0)
            close(c);
    }
}

int admin_start(loop_t *l, int fd, server_t *s, void (*on_reload)(void))
{
    loop = l;
    listen_fd = fd;
    srv = s;
    reload_cb = on_reload;
    return loop_add(l, fd, LOOP_READ, admin_accept, NULL);
}

void admin_stop(const config_t *cfg)
{
    while (conns.head != NULL)
        admin_close(conns.head);
    if (listen_fd >= 0) {
        if (loop != NULL)
            loop_del(loop, listen_fd);
        close(listen_fd);
        listen_fd = -1;
    }
    if (cfg->admin.unix_path != NULL)
        sockfile_remove(&unix_file, cfg->admin.unix_path);
}
