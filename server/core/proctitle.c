/* proctitle.c: rewriting argv's memory so ps shows a process's role. */
#include "core/proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

static char *title_start;
static size_t title_len;

/*
 * argv and environ strings sit back to back; after moving environ to the
 * heap, the whole span can hold the title.
 */
void proctitle_init(int argc, char **argv)
{
    if (argc < 1 || argv[0] == NULL)
        return;
    char *end = argv[0] + strlen(argv[0]) + 1;
    for (int i = 1; i < argc; i++)
        if (argv[i] == end)
            end = argv[i] + strlen(argv[i]) + 1;
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + 1, sizeof(*env));
    if (env == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        if (environ[i] == end)
            end = environ[i] + strlen(environ[i]) + 1;
        env[i] = strdup(environ[i]);
    }
    environ = env;
    title_start = argv[0];
    title_len = (size_t)(end - argv[0]);
    for (int i = 1; i < argc; i++)
        argv[i] = NULL;
}

void proctitle_set(const char *fmt, ...)
{
    char title[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(title, sizeof(title), fmt, ap);
    va_end(ap);
    /* comm is what top and pgrep show without -f; 15 characters. */
    const char *comm = strncmp(title, "swx-server: ", 12) == 0 ? title + 12 : title;
    char name[16] = "swx-";
    size_t n = strnlen(comm, sizeof(name) - 5);
    memcpy(name + 4, comm, n);
    name[4 + n] = '\0';
    prctl(PR_SET_NAME, name, 0, 0, 0);
    if (title_start == NULL || title_len < 2)
        return;
    memset(title_start, 0, title_len);
    memcpy(title_start, title, strlen(title) < title_len - 1 ? strlen(title)
                                                             : title_len - 1);
}
