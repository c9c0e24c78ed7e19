/* main.c: swx-server's command line: run, check a config, help, version. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plugin.h"
#include "proctitle.h"
#include "server.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: swx-server [--config FILE] [-t]\n"
            "\n"
            "  -c, --config FILE  the JSON config (default conf/server.json)\n"
            "  -t, --test         check the config and load every plugin, "
            "then exit\n"
            "  -h, --help         this text\n"
            "  -v, --version      the version and plugin ABI\n"
            "\n"
            "Signals: SIGTERM or SIGINT stop the server gracefully.\n");
}

typedef struct options {
    char *config;
    int test;
} options_t;

/* 0 to go on, or an exit status + 1. */
static int parse_args(int argc, char **argv, options_t *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"test", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:thv", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            free(o->config);
            o->config = strdup(optarg);
            break;
        case 't':
            o->test = 1;
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

int main(int argc, char **argv)
{
    options_t opt = {0};
    int rc = parse_args(argc, argv, &opt);
    if (rc != 0) {
        free(opt.config);
        return rc - 1;
    }
    server_t srv = {0};
    char err[1024];
    if (config_load(opt.config, &srv.cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "swx-server: %s\n", err);
        free(opt.config);
        return 1;
    }
    free(opt.config);
    rc = log_open(srv.cfg.log_file, srv.cfg.log_level);
    if (rc < 0) {
        fprintf(stderr, "swx-server: %s: server.log_file: cannot open \"%s\": "
                "%s\n", srv.cfg.path, srv.cfg.log_file, strerror(-rc));
        config_free(&srv.cfg);
        return 1;
    }
    if (plugin_check_all(&srv.cfg, &worker_api, err, sizeof(err)) < 0) {
        log_error("%s", err);
        if (srv.cfg.log_file != NULL)
            fprintf(stderr, "swx-server: %s\n", err);
        config_free(&srv.cfg);
        return 1;
    }
    if (opt.test) {
        printf("swx-server: %s: configuration ok (%d plugin(s) loaded, %d "
               "listener(s))\n", srv.cfg.path, srv.cfg.nplugins,
               srv.cfg.nlisteners);
        config_free(&srv.cfg);
        return 0;
    }
    proctitle_init(argc, argv);
    rc = master_run(&srv);
    config_free(&srv.cfg);
    return rc;
}
