/* Signal delivery to a loop running on the main thread.
 *
 * Python's C-level signal handler only sets a flag; the Python handler runs
 * when the main thread next checks for signals.  A loop asleep in the
 * reactor would not check until its poll returns, so while it runs on the
 * main thread the loop makes a pipe of its own the interpreter's wakeup fd
 * (signal.set_wakeup_fd, done by the Python glue): the C handler writes the
 * signal number into it, the reactor reports it readable, and the loop
 * runs the Python handlers at once (PyErr_CheckSignals), so Ctrl-C is never
 * slept through.  The wakeup fd is the one process-wide piece of state,
 * which is why only the running main-thread loop installs it, and puts the
 * previous one back when it stops.
 *
 * Owns: the pipe.  The watch table entry for its read end is io.c's. */
#include "errors.h"
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int
signals_open(LoopObj *loop)
{
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        ca_err_from_errno(-errno);
        return -1;
    }
    loop->signal_rfd = fds[0];
    loop->signal_wfd = fds[1];
    if (ca_io_watch_special(loop, fds[0], CA_WATCH_SIGNAL) < 0) {
        ca_signals_close(loop);
        return -1;
    }
    return 0;
}

/* _signal_wakeup_fd(): the fd to pass to signal.set_wakeup_fd. */
PyObject *
ca_loop_signal_wakeup_fd(LoopObj *loop, PyObject *unused)
{
    if (ca_loop_check_closed(loop) < 0) {
        return NULL;
    }
    if (loop->signal_wfd < 0 && signals_open(loop) < 0) {
        return NULL;
    }
    return PyLong_FromLong(loop->signal_wfd);
}

int
ca_signals_dispatch(LoopObj *loop)
{
    char buf[256];
    while (read(loop->signal_rfd, buf, sizeof(buf)) > 0) {
        /* The bytes are signal numbers; the handlers are Python's. */
    }
    return PyErr_CheckSignals();
}

void
ca_signals_close(LoopObj *loop)
{
    if (loop->signal_rfd >= 0) {
        close(loop->signal_rfd);
        loop->signal_rfd = -1;
    }
    if (loop->signal_wfd >= 0) {
        close(loop->signal_wfd);
        loop->signal_wfd = -1;
    }
}
