/* The I/O backend contract: the reactor only reports (fd, mask) pairs;
 * the loop decides what they mean.  Implemented by reactor_epoll.c.
 * Every function returns 0 (or a count) or -errno and touches no Python
 * object, so a backend never needs the GIL. */
#ifndef CA_REACTOR_H
#define CA_REACTOR_H

#include <stdint.h>

#define CA_READABLE 1u
#define CA_WRITABLE 2u
/* With CA_READABLE/CA_WRITABLE: the entry is disarmed by the first event
 * it reports, until set again (epoll's EPOLLONESHOT). */
#define CA_ONESHOT 4u

typedef struct ca_reactor ca_reactor;

int ca_reactor_open(ca_reactor **out);
void ca_reactor_close(ca_reactor *r);
/* Changes the interest in fd from old_mask to new_mask (either may be 0;
 * old_mask 0 means there is no entry for fd yet, whatever a one-shot
 * entry's state).  Removing interest in an fd that was closed meanwhile is
 * not an error. */
int ca_reactor_ctl(ca_reactor *r, int fd, uint32_t old_mask, uint32_t new_mask);
/* Waits up to timeout_ms (-1: no limit) and returns the number of ready
 * fds, or -errno (-EINTR when a signal arrived). */
int ca_reactor_poll(ca_reactor *r, int timeout_ms);
/* The i-th result of the last poll. */
void ca_reactor_event(ca_reactor *r, int i, int *fd, uint32_t *mask);

#endif
