/* proctitle.h: readable process titles in ps ("swx-server: worker 3"). */
#ifndef SWX_PROCTITLE_H
#define SWX_PROCTITLE_H

/* Call once from main, before anything reads environ or argv again. */
void proctitle_init(int argc, char **argv);
void proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
