/* epoll_echo.c: bare single-threaded epoll TCP echo server, the benchmark reference. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_BUF 16384
#define MAX_EVENTS 256

/* While a reply is only partly written the connection stops reading
 * (interest EPOLLOUT only): that is the whole of its back-pressure. */
typedef struct conn {
    int fd;
    size_t off;
    size_t len;
    unsigned char buf[ECHO_BUF];
} conn_t;

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void conn_close(conn_t *c)
{
    close(c->fd);
    free(c);
}

/* A client that goes away mid-echo is normal in a benchmark; anything else
 * is worth a line. */
static void conn_fail(conn_t *c, const char *what)
{
    if (errno != ECONNRESET && errno != EPIPE)
        fprintf(stderr, "epoll_echo: %s(fd %d): %s\n", what, c->fd, strerror(errno));
    conn_close(c);
}

static int conn_watch(int epfd, conn_t *c, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };

    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        conn_fail(c, "epoll_ctl");
        return -1;
    }
    return 0;
}

/* Writes what is buffered; switches interest when a write falls short or
 * when a short write has finally drained. */
static void conn_flush(int epfd, conn_t *c, int was_waiting)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!was_waiting)
                conn_watch(epfd, c, EPOLLOUT);
            return;
        }
        if (n < 0) {
            conn_fail(c, "send");
            return;
        }
        c->off += (size_t)n;
    }
    if (was_waiting)
        conn_watch(epfd, c, EPOLLIN);
}

static void conn_read(int epfd, conn_t *c)
{
    ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) {
        conn_fail(c, "recv");
        return;
    }
    if (n == 0) {
        conn_close(c);
        return;
    }
    c->off = 0;
    c->len = (size_t)n;
    conn_flush(epfd, c, 0);
}

/* Errors and hang-ups surface through the recv or send that follows. */
static void conn_event(int epfd, conn_t *c)
{
    if (c->off < c->len)
        conn_flush(epfd, c, 1);
    else
        conn_read(epfd, c);
}

static void conn_add(int epfd, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN };
    conn_t *c = malloc(sizeof *c);
    int one = 1;

    if (!c) {
        fprintf(stderr, "epoll_echo: malloc: %s\n", strerror(errno));
        close(fd);
        return;
    }
    c->fd = fd;
    c->off = c->len = 0;
    ev.data.ptr = c;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        fprintf(stderr, "epoll_echo: setsockopt(TCP_NODELAY): %s\n", strerror(errno));
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        fprintf(stderr, "epoll_echo: epoll_ctl(ADD): %s\n", strerror(errno));
        conn_close(c);
    }
}

static void accept_all(int epfd, int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd >= 0) {
            conn_add(epfd, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN)
            fprintf(stderr, "epoll_echo: accept4: %s\n", strerror(errno));
        return;
    }
}

static int listen_on(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        fprintf(stderr, "epoll_echo: socket: %s\n", strerror(errno));
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        fprintf(stderr, "epoll_echo: listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        close(fd);
        return -1;
    }
    printf("epoll_echo: listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

static void setup_process(void)
{
    struct sigaction sa = { .sa_handler = on_signal };
    struct rlimit rl;

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            fprintf(stderr, "epoll_echo: setrlimit(NOFILE): %s\n", strerror(errno));
    }
}

static int serve(int epfd, int lfd)
{
    struct epoll_event ev[MAX_EVENTS];

    while (!stopping) {
        int n = epoll_wait(epfd, ev, MAX_EVENTS, -1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "epoll_echo: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr)
                conn_event(epfd, ev[i].data.ptr);
            else
                accept_all(epfd, lfd);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    char *end;
    long port;
    int lfd, epfd;

    port = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || end == argv[1] || *end || port < 0 || port > 65535) {
        fprintf(stderr, "usage: epoll-echo PORT   (binds 127.0.0.1; 0 picks a free port)\n");
        return 2;
    }
    setup_process();
    lfd = listen_on((int)port);
    if (lfd < 0)
        return 1;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        fprintf(stderr, "epoll_echo: epoll setup: %s\n", strerror(errno));
        return 1;
    }
    return serve(epfd, lfd);
}
