/* Signal delivery to a loop running on the main thread, and the handlers
 * of add_signal_handler.
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
 * previous one back when it stops (unless it has signal handlers: then the
 * pipe stays the wakeup fd until the last one is removed, so a signal that
 * arrives between runs is handled at the next one, as asyncio's is).
 *
 * add_signal_handler (casyncio/_signals.py: checks and signal.signal, once
 * per call) puts a Handle in the loop's {signum: Handle} dict and a no-op
 * Python handler on the signal.  Each byte read from the pipe is a signal
 * number: its Handle is queued here, in C, and runs in the next pass over
 * the ready queue, never inside a signal handler.
 *
 * Owns: the pipe and the handlers dict.  The watch table entry for the
 * pipe's read end is io.c's. */
#include "errors.h"
#include "io.h"
#include "loop.h"
#include "signals.h"

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

/* Queues the handler of signal `signum`, if the loop has one.  A handler
 * cancelled since is removed instead (asyncio's _handle_signal). */
static int
signals_fire(LoopObj *loop, int signum)
{
    PyObject *key = PyLong_FromLong(signum);
    if (key == NULL) {
        return -1;
    }
    PyObject *h = PyDict_GetItemWithError(loop->signal_handlers, key);
    int rc = 0;
    if (h == NULL) {
        rc = PyErr_Occurred() ? -1 : 0;  /* no handler: Python's alone */
    }
    else if (PyObject_TypeCheck(h, loop->state->HandleType)
             && ((HandleObj *)h)->cancelled) {
        PyObject *r = PyObject_CallMethod((PyObject *)loop, "remove_signal_handler",
                                          "O", key);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
    }
    else {
        rc = ca_loop_schedule(loop, CA_READY_HANDLE, h, NULL, NULL);
    }
    Py_DECREF(key);
    return rc;
}

int
ca_signals_dispatch(LoopObj *loop)
{
    unsigned char buf[256];
    ssize_t n;
    while ((n = read(loop->signal_rfd, buf, sizeof(buf))) > 0
           || (n < 0 && errno == EINTR)) {
        /* Beware: a handler removed by signals_fire may empty the dict,
         * never replace it, so the pointer is checked once per byte. */
        for (ssize_t i = 0; i < n && loop->signal_handlers != NULL; i++) {
            if (buf[i] != 0 && signals_fire(loop, buf[i]) < 0) {
                return -1;
            }
        }
    }
    /* Then Python's own handlers (the no-op of ours, SIGINT's default). */
    return PyErr_CheckSignals();
}

/* _signal_handlers: the dict add_signal_handler fills, as asyncio's. */
PyObject *
ca_loop_get_signal_handlers(LoopObj *loop, void *closure)
{
    if (loop->signal_handlers == NULL) {
        loop->signal_handlers = PyDict_New();
        if (loop->signal_handlers == NULL) {
            return NULL;
        }
    }
    return Py_NewRef(loop->signal_handlers);
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
