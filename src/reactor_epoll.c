/* The Linux I/O backend over epoll, level-triggered: the only file that
 * includes sys/epoll.h.  It keeps no per-fd state: the loop passes the
 * old and new interest masks, which decide between ADD, MOD and DEL. */
#include "reactor.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Level-triggered, so fds left over when more than this many are ready at
 * once are simply reported by the next poll. */
#define REACTOR_MAX_EVENTS 1024

struct ca_reactor {
    int epfd;
    struct epoll_event events[REACTOR_MAX_EVENTS];
};

int
ca_reactor_open(ca_reactor **out)
{
    ca_reactor *r = malloc(sizeof(*r));
    if (r == NULL) {
        return -ENOMEM;
    }
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0) {
        int err = errno;
        free(r);
        return -err;
    }
    *out = r;
    return 0;
}

void
ca_reactor_close(ca_reactor *r)
{
    if (r != NULL) {
        close(r->epfd);
        free(r);
    }
}

static uint32_t
reactor_to_epoll(uint32_t mask)
{
    return ((mask & CA_READABLE) ? EPOLLIN : 0)
           | ((mask & CA_WRITABLE) ? EPOLLOUT : 0)
           | ((mask & CA_ONESHOT) ? EPOLLONESHOT : 0);
}

int
ca_reactor_ctl(ca_reactor *r, int fd, uint32_t old_mask, uint32_t new_mask)
{
    struct epoll_event ev = {.events = reactor_to_epoll(new_mask), .data.fd = fd};
    if (new_mask == 0) {
        /* The fd may be closed already, which removed it from the set. */
        if (old_mask != 0) {
            (void)epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
        }
        return 0;
    }
    int op = old_mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(r->epfd, op, fd, &ev) == 0) {
        return 0;
    }
    /* Our view and the kernel's can differ when an fd was closed and its
     * number reused behind our back: retry with the other operation. */
    if (errno == ENOENT && op == EPOLL_CTL_MOD) {
        op = EPOLL_CTL_ADD;
    }
    else if (errno == EEXIST && op == EPOLL_CTL_ADD) {
        op = EPOLL_CTL_MOD;
    }
    else {
        return -errno;
    }
    return epoll_ctl(r->epfd, op, fd, &ev) == 0 ? 0 : -errno;
}

int
ca_reactor_poll(ca_reactor *r, int timeout_ms)
{
    int n = epoll_wait(r->epfd, r->events, REACTOR_MAX_EVENTS, timeout_ms);
    return n < 0 ? -errno : n;
}

void
ca_reactor_event(ca_reactor *r, int i, int *fd, uint32_t *mask)
{
    uint32_t ev = r->events[i].events;
    *fd = r->events[i].data.fd;
    /* As selectors.EpollSelector: an error or hang-up wakes both sides, so
     * the reader sees EOF or the error and the writer sees the failure. */
    *mask = ((ev & ~(uint32_t)EPOLLOUT) ? CA_READABLE : 0)
            | ((ev & ~(uint32_t)EPOLLIN) ? CA_WRITABLE : 0);
}
