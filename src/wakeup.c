/* The loop's eventfd: call_soon_threadsafe writes it to wake a loop that is
 * blocked in the reactor; the loop drains it when the reactor reports it.
 * Owns the fd; the watch table entry for it is io.c's. */
#include "errors.h"
#include "io.h"
#include "loop.h"
#include "wakeup.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int
ca_wakeup_open(LoopObj *loop)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        ca_err_from_errno(-errno);
        return -1;
    }
    loop->wakeup_fd = fd;
    if (ca_io_watch_special(loop, fd, CA_WATCH_WAKEUP) < 0) {
        close(fd);
        loop->wakeup_fd = -1;
        return -1;
    }
    return 0;
}

/* Called with the GIL held, from any thread. */
void
ca_wakeup_signal(LoopObj *loop)
{
    if (loop->wakeup_pending || loop->wakeup_fd < 0) {
        return;
    }
    loop->wakeup_pending = 1;
    uint64_t one = 1;
    /* EAGAIN means the counter is saturated: the loop will wake anyway. */
    ssize_t n = write(loop->wakeup_fd, &one, sizeof(one));
    (void)n;
}

void
ca_wakeup_drain(LoopObj *loop)
{
    uint64_t value;
    ssize_t n = read(loop->wakeup_fd, &value, sizeof(value));
    (void)n;
    loop->wakeup_pending = 0;
}

void
ca_wakeup_close(LoopObj *loop)
{
    if (loop->wakeup_fd >= 0) {
        close(loop->wakeup_fd);
        loop->wakeup_fd = -1;
    }
}
