/* main.c: swx-server's command line: run, check a config, help, version. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/api.h"
#include "proc/pidfile.h"
#include "core/log.h"
#include "plugin/plugin.h"
#include "core/proctitle.h"
#include "proc/server.h"
#include "net/tls.h"
#include "net/activation.h"
#include "net/sockfile.h"
#include "proc/sdnotify.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: swx-server [--config FILE] [-t | -s SIGNAL]\n"
            "\n"
            "  -c, --config FILE  the JSON config (default conf/server.json)\n"
            "  -t, --test         check the config and load every plugin, "
            "then exit\n"
            "  -s, --signal SIG   send SIG to the running server named by "
            "server.pid_file\n"
            "                     (or the config's default pid file):\n"
            "                     stop (SIGTERM), reload (SIGUSR1), "
            "reload-tasks (SIGUSR2),\n"
            "                     reopen (SIGRTMIN: reopen the log files)\n"
            "  -h, --help         this text\n"
            "  -v, --version      the version and plugin ABI\n"
            "\n"
            "Signals to the master: SIGTERM or SIGINT stop gracefully, "
            "SIGUSR1 reloads\nthe workers, SIGUSR2 the task workers, "
            "SIGRTMIN reopens the log files.\n");
}

typedef struct options {
    char *config;
    int test;
    char *signal;
} options_t;

/* 0 to go on, or an exit status + 1. */
static int parse_args(int argc, char **argv, options_t *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"test", no_argument, NULL, 't'},
        {"signal", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:ts:hv", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            free(o->config);
            o->config = strdup(optarg);
            break;
        case 't':
            o->test = 1;
            break;
        case 's':
            free(o->signal);
            o->signal = strdup(optarg);
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'v':
            printf("swx-server %s (plugin ABI %d.%d)\n", SWX_VERSION,
                   SWX_ABI_MAJOR, SWX_ABI_MINOR);
            return 1;
        default:
            usage(stderr);
            return 3;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "swx-server: unexpected argument \"%s\"\n",
                argv[optind]);
        usage(stderr);
        return 3;
    }
    if (o->config == NULL)
        o->config = strdup("conf/server.json");
    return 0;
}

static int signal_number(const char *name)
{
    if (strcmp(name, "stop") == 0)
        return SIGTERM;
    if (strcmp(name, "reload") == 0)
        return SIGUSR1;
    if (strcmp(name, "reload-tasks") == 0)
        return SIGUSR2;
    if (strcmp(name, "reopen") == 0)
        return SIGRTMIN;
    return -1;
}

/* -s: signal the master named by the config's pid_file. */
static int send_signal(const config_t *cfg, const char *name)
{
    int sig = signal_number(name);
    if (sig < 0) {
        fprintf(stderr, "swx-server: -s %s: expected stop, reload, "
                "reload-tasks or reopen\n", name);
        return 1;
    }
    pid_t pid = pidfile_read(cfg->pid_file);
    if (pid < 0) {
        fprintf(stderr, "swx-server: %s: %s (is the server running?)\n",
                cfg->pid_file,
                pid == -EINVAL ? "does not hold a pid" : strerror(-pid));
        return 1;
    }
    if (kill(pid, sig) < 0) {
        fprintf(stderr, "swx-server: kill(%d, %s): %s\n", (int)pid, name,
                strerror(errno));
        return 1;
    }
    return 0;
}

/*
 * A config without server.pid_file gets the default one for that config
 * file (pidfile_default), so that -s finds the server it started. 0, or
 * -1 after saying why there is none.
 */
static int default_pid_file(config_t *cfg, int *is_default)
{
    char path[4096];
    *is_default = cfg->pid_file == NULL;
    if (cfg->pid_file != NULL)
        return 0;
    int rc = pidfile_default(cfg->path, path, sizeof(path));
    if (rc == 0 && (cfg->pid_file = strdup(path)) == NULL)
        rc = -ENOMEM;
    if (rc < 0)
        fprintf(stderr, "swx-server: %s: no server.pid_file, and no default "
                "one: %s\n", cfg->path, strerror(-rc));
    return rc < 0 ? -1 : 0;
}

/* Running with the default pid file: its directory is made; when that
 * cannot be, the server runs without one (logged) rather than not at
 * all, as it did before there was a default. */
static void default_pid_dir(config_t *cfg)
{
    if (pidfile_make_dir(cfg->pid_file) == 0)
        return;
    log_warn("running without a pid file: `swx-server -s` will not find "
             "this server; set server.pid_file");
    free(cfg->pid_file);
    cfg->pid_file = NULL;
}

/* -t: what the tables and counters take, fixed at start; -1 when a table
 * could not be made. */
static int print_shared_memory(const config_t *cfg)
{
    size_t total = atomics_size_for(SERVER_ATOMICS);
    for (int i = 0; i < cfg->ntables; i++) {
        const config_table_t *t = &cfg->tables[i];
        table_column_t cols[TABLE_MAX_COLUMNS];
        server_table_columns(t, cols);
        size_t n = table_size_for(cols, t->ncolumns, (uint32_t)t->size);
        if (n == 0) {
            fprintf(stderr, "swx-server: %s: tables[%d]: table \"%s\" cannot "
                    "be made with these columns and rows\n", cfg->path, i,
                    t->name);
            return -1;
        }
        printf("swx-server: table \"%s\": %d rows, %zu bytes of shared "
               "memory\n", t->name, t->size, n);
        total += n;
    }
    printf("swx-server: shared memory for tables and counters: %zu bytes\n",
           total);
    return 0;
}

/* -t: one socket path; 0, or -1 after saying what is in the way. */
static int check_socket_path(const config_t *cfg, const char *path,
                             const char *key)
{
    char where[512], err[1024];
    snprintf(where, sizeof(where), "%s: %s", cfg->path, key);
    if (sockfile_check(path, where, err, sizeof(err)) == 0)
        return 0;
    fprintf(stderr, "swx-server: %s\n", err);
    return -1;
}

/* -t binds and removes nothing, but a socket path naming a file that is
 * not a socket would stop the server at start: say so now. */
static int check_socket_paths(const config_t *cfg)
{
    char key[64];
    for (int i = 0; i < cfg->nlisteners; i++) {
        snprintf(key, sizeof(key), "listeners[%d].path", i);
        if (cfg->listeners[i].path != NULL &&
            check_socket_path(cfg, cfg->listeners[i].path, key) < 0)
            return -1;
    }
    if (cfg->admin.unix_path != NULL &&
        check_socket_path(cfg, cfg->admin.unix_path, "admin.unix") < 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    options_t opt = {0};
    int rc = parse_args(argc, argv, &opt);
    if (rc != 0) {
        free(opt.config);
        free(opt.signal);
        return rc - 1;
    }
    server_t srv = {0};
    char err[1024];
    if (config_load(opt.config, &srv.cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "swx-server: %s\n", err);
        free(opt.config);
        free(opt.signal);
        return 1;
    }
    free(opt.config);
    int pid_default;
    if (default_pid_file(&srv.cfg, &pid_default) < 0) {
        free(opt.signal);
        config_free(&srv.cfg);
        return 1;
    }
    if (opt.signal != NULL) {
        rc = send_signal(&srv.cfg, opt.signal);
        free(opt.signal);
        config_free(&srv.cfg);
        return rc;
    }
    rc = log_open(srv.cfg.log_file, srv.cfg.log_level);
    if (rc < 0) {
        fprintf(stderr, "swx-server: %s: server.log_file: cannot open \"%s\": "
                "%s\n", srv.cfg.path, srv.cfg.log_file, strerror(-rc));
        config_free(&srv.cfg);
        return 1;
    }
    if (plugin_check_all(&srv.cfg, &server_api, err, sizeof(err)) < 0) {
        log_error("%s", err);
        if (srv.cfg.log_file != NULL)
            fprintf(stderr, "swx-server: %s\n", err);
        config_free(&srv.cfg);
        return 1;
    }
    /* Both run: every certificate's error is told, not only the first. */
    if (opt.test) {
        int bad_paths = check_socket_paths(&srv.cfg) < 0;
        int bad_tls = tls_check(&srv.cfg) < 0;
        if (bad_paths || bad_tls) {
            config_free(&srv.cfg);
            return 1;
        }
    }
    if (opt.test) {
        printf("swx-server: %s: configuration ok (%d plugin(s) loaded, %d "
               "listener(s))\n", srv.cfg.path, srv.cfg.nplugins,
               srv.cfg.nlisteners);
        printf("swx-server: pid file: %s%s\n", srv.cfg.pid_file,
               pid_default ? " (the default for this config)" : "");
        rc = print_shared_memory(&srv.cfg) < 0 ? 1 : 0;
        config_free(&srv.cfg);
        return rc;
    }
    if (pid_default)
        default_pid_dir(&srv.cfg);
    /* systemd's variables are read and removed before proctitle_init
     * copies the environment to the heap, where a removed one would leak. */
    sdnotify_init();
    activation_init();
    proctitle_init(argc, argv);
    rc = master_run(&srv);
    config_free(&srv.cfg);
    return rc;
}
