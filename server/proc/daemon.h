/* daemon.h: going to the background, and telling the foreground process
 * how start-up went. */
#ifndef SWX_DAEMON_H
#define SWX_DAEMON_H

/*
 * Fork into the background. The parent waits until the child calls
 * daemon_ready and exits with the status it reports (1 if the child died
 * first). In the child returns 0 and sets *ready_fd; -errno (logged) when
 * the fork or its pipe failed.
 */
int daemon_detach(int *ready_fd);
/* Tell the waiting parent how start-up went (0 = serving). */
void daemon_ready(int *ready_fd, int status);

#endif
