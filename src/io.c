/* The fd watch table and the reader/writer callbacks of add_reader and
 * add_writer; phase 3 of an iteration (ca_io_dispatch).
 *
 * Owns: the table (indexed by fd) and the references in it: the
 * reader/writer Handles, and the pending sock_* operations of sockets.c,
 * the transports of transport.c and the accepters of server.c, which
 * take a Handle's place in a slot and run from dispatch directly, unless
 * entries that asyncio would run first wait (then they are queued).  Each
 * slot's kind (ca_watcher_kind, io.h) is set with it, and io_fire's one
 * switch dispatches by it.
 * Does not own: the fds themselves (the caller's) or the wakeup fd
 * (wakeup.c), which only has an entry here so dispatch can recognise it.
 *
 * Interest changes of callback watchers are pushed to the reactor at once,
 * not batched: the caller owns the fd and may close it right after
 * remove_reader(), and a batched change would then apply to whatever file
 * reuses the number. */
#include "errors.h"
#include "io.h"
#include "loop.h"
#include "signals.h"
#include "sockets.h"
#include "server.h"
#include "transport.h"
#include "wakeup.h"

#include <errno.h>
#include <stdlib.h>

static ca_watch *
io_watch(LoopObj *loop, int fd)
{
    return fd < loop->nwatches ? &loop->watches[fd] : NULL;
}

/* Makes the table cover fd; returns the entry or NULL with MemoryError. */
static ca_watch *
io_watch_grow(LoopObj *loop, int fd)
{
    if (fd < loop->nwatches) {
        return &loop->watches[fd];
    }
    int n = loop->nwatches ? loop->nwatches : 64;
    while (n <= fd) {
        n *= 2;
    }
    ca_watch *w = realloc(loop->watches, (size_t)n * sizeof(*w));
    if (w == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (int i = loop->nwatches; i < n; i++) {
        w[i] = (ca_watch){0};
    }
    loop->watches = w;
    loop->nwatches = n;
    return &w[fd];
}

/* Whether fd is watched only by sock_* operations, which get a one-shot
 * kernel entry (see ca_watch in io.h).  Not transports and accepters:
 * they stay in their slot across events, and a one-shot entry cost them an
 * epoll_ctl to re-arm after every read (an echo server made one per
 * message, which uvloop does not). */
static int
io_ops_only(ca_watch *w)
{
    return w->kind == CA_WATCH_CALLBACK
           && (w->reader == NULL || w->reader_kind == CA_WATCHER_SOCKOP)
           && (w->writer == NULL || w->writer_kind == CA_WATCHER_SOCKOP);
}

/* Puts obj, a watcher of `kind`, in fd's reader or writer slot; returns
 * what the slot held (the caller releases it) and, unless old_kind is
 * NULL, its kind in *old_kind. */
static PyObject *
io_set_slot(ca_watch *w, int writer, PyObject *obj, uint8_t kind, uint8_t *old_kind)
{
    PyObject **slot = writer ? &w->writer : &w->reader;
    uint8_t *slot_kind = writer ? &w->writer_kind : &w->reader_kind;
    PyObject *old = *slot;
    if (old_kind != NULL) {
        *old_kind = *slot_kind;
    }
    *slot = obj;
    *slot_kind = obj == NULL ? CA_WATCHER_NONE : kind;
    return old;
}

/* Pushes the interest implied by the entry's watchers to the reactor. */
static int
io_sync(LoopObj *loop, int fd)
{
    ca_watch *w = &loop->watches[fd];
    uint32_t want = (w->reader ? CA_READABLE : 0) | (w->writer ? CA_WRITABLE : 0);
    if (w->kind == CA_WATCH_WAKEUP || w->kind == CA_WATCH_SIGNAL) {
        want = CA_READABLE;
    }
    if (want == 0) {
        w->kind = CA_WATCH_NONE;
    }
    uint32_t next = want && io_ops_only(w) ? want | CA_ONESHOT : want;
    /* A disarmed one-shot entry reports nothing: leave it rather than pay
     * an epoll_ctl to delete it; it is re-armed or replaced when next used. */
    if ((next == w->mask && !w->disarmed) || (next == 0 && w->disarmed)) {
        return 0;
    }
    int err = ca_reactor_ctl(loop->reactor, fd, w->mask, next);
    if (err < 0) {
        ca_err_from_errno(err);
        return -1;
    }
    CA_LIVE_ADD(loop->state, CA_LIVE_WATCHER, (next != 0) - (w->mask != 0));
    w->mask = next;
    w->disarmed = 0;
    return 0;
}

int
ca_io_watch_special(LoopObj *loop, int fd, int kind)
{
    ca_watch *w = io_watch_grow(loop, fd);
    if (w == NULL) {
        return -1;
    }
    w->kind = (uint8_t)kind;
    return io_sync(loop, fd);
}

/* asyncio's selector_events._fileobj_to_fd: an int, or an object whose
 * fileno() gives one; ValueError for anything else (-1) or a negative fd
 * (-2, the fd of a closed socket). */
static int
io_fileobj_to_fd(PyObject *fileobj)
{
    long fd;
    if (PyLong_Check(fileobj)) {
        fd = PyLong_AsLong(fileobj);
    }
    else {
        PyObject *r = PyObject_CallMethod(fileobj, "fileno", NULL);
        if (r == NULL || !PyLong_Check(r)) {
            if (r == NULL && !PyErr_ExceptionMatches(PyExc_AttributeError)
                && !PyErr_ExceptionMatches(PyExc_TypeError)
                && !PyErr_ExceptionMatches(PyExc_ValueError)) {
                return -1;
            }
            Py_XDECREF(r);
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "Invalid file object: %R", fileobj);
            return -1;
        }
        fd = PyLong_AsLong(r);
        Py_DECREF(r);
    }
    if (fd == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (fd < 0 || fd > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %ld", fd);
        return fd < 0 ? -2 : -1;
    }
    return (int)fd;
}

/* The fd that add_reader/add_writer last registered `fileobj` for, or -1. */
static int
io_find_fileobj(LoopObj *loop, PyObject *fileobj)
{
    for (int fd = 0; fd < loop->nwatches; fd++) {
        if (loop->watches[fd].fileobj == fileobj) {
            return fd;
        }
    }
    return -1;
}

/* asyncio's _ensure_fd_no_transport. */
static int
io_check_transport(LoopObj *loop, int fd, PyObject *op)
{
    ca_watch *w = io_watch(loop, fd);
    if (w != NULL && w->transport != NULL && w->transport != op) {
        PyErr_Format(PyExc_RuntimeError, "File descriptor %d is used by transport %R",
                     fd, w->transport);
        return -1;
    }
    return 0;
}

int
ca_io_claim_fd(LoopObj *loop, int fd, PyObject *transport)
{
    ca_watch *w = io_watch_grow(loop, fd);
    if (w == NULL) {
        return -1;
    }
    w->transport = transport;
    return 0;
}

void
ca_io_release_fd(LoopObj *loop, int fd, PyObject *transport)
{
    ca_watch *w = fd < 0 ? NULL : io_watch(loop, fd);
    if (w != NULL && w->transport == transport) {
        w->transport = NULL;
    }
}

/* Releases what a reader/writer slot held, a watcher of `kind`: a Handle
 * is cancelled, as asyncio cancels a replaced or removed reader; a sock_*
 * operation (sockets.c) simply stops being watched and its future stays
 * pending, as the future of a replaced asyncio reader does. */
static void
io_drop_watcher(PyObject *obj, uint8_t kind)
{
    if (obj != NULL) {
        if (kind == CA_WATCHER_HANDLE) {
            ca_handle_mark_cancelled((HandleObj *)obj);
        }
        Py_DECREF(obj);
    }
}

static PyObject *
io_add(LoopObj *loop, PyObject *const *args, Py_ssize_t nargs, int writer,
       const char *method)
{
    if (nargs < 2) {
        PyErr_Format(PyExc_TypeError, "%s() missing required positional argument: '%s'",
                     method, nargs < 1 ? "fd" : "callback");
        return NULL;
    }
    int fd = io_fileobj_to_fd(args[0]);
    if (fd < 0 || ca_loop_check_closed(loop) < 0 || io_check_transport(loop, fd, NULL) < 0) {
        return NULL;
    }
    if (io_watch(loop, fd) != NULL && (loop->watches[fd].kind == CA_WATCH_WAKEUP
                                       || loop->watches[fd].kind == CA_WATCH_SIGNAL)) {
        PyErr_Format(PyExc_RuntimeError, "File descriptor %d is used by the loop", fd);
        return NULL;
    }
    HandleObj *h = ca_handle_new(loop->state, loop->state->HandleType,
                                 (PyObject *)loop, args[1], args + 2, nargs - 2, NULL,
                                 0);
    if (h == NULL || io_watch_grow(loop, fd) == NULL) {
        Py_XDECREF(h);
        return NULL;
    }
    ca_watch *w = &loop->watches[fd];
    uint8_t old_kind;
    PyObject *old = io_set_slot(w, writer, (PyObject *)h, CA_WATCHER_HANDLE, &old_kind);
    w->kind = CA_WATCH_CALLBACK;
    if (io_sync(loop, fd) < 0) {
        /* the reactor refused the fd: leave things as they were */
        (void)io_set_slot(w, writer, old, old_kind, NULL);
        if (old == NULL && w->reader == NULL && w->writer == NULL) {
            w->kind = CA_WATCH_NONE;
        }
        Py_DECREF(h);
        return NULL;
    }
    PyObject *old_fileobj = w->fileobj;
    w->fileobj = Py_NewRef(args[0]);
    Py_XDECREF(old_fileobj);
    io_drop_watcher(old, old_kind);
    Py_RETURN_NONE;
}

/* io_sync where failing is no error: only a closed fd fails, and the kernel
 * forgot a closed fd already. */
static void
io_sync_or_forget(LoopObj *loop, int fd)
{
    if (io_sync(loop, fd) < 0) {
        ca_watch *w = &loop->watches[fd];
        PyErr_Clear();
        CA_LIVE_ADD(loop->state, CA_LIVE_WATCHER, -(w->mask != 0));
        w->mask = 0;
        w->disarmed = 0;
        w->kind = w->reader || w->writer ? CA_WATCH_CALLBACK : CA_WATCH_NONE;
    }
}

/* Empties fd's reader or writer slot and updates the reactor; returns the
 * slot's old content (a reference the caller releases) and its kind in
 * *kind (unless NULL).  The file object goes with the last slot. */
static PyObject *
io_take_slot(LoopObj *loop, int fd, int writer, uint8_t *kind)
{
    ca_watch *w = &loop->watches[fd];
    PyObject *obj = io_set_slot(w, writer, NULL, CA_WATCHER_NONE, kind);
    PyObject *fileobj = NULL;
    if (w->reader == NULL && w->writer == NULL) {
        fileobj = w->fileobj;
        w->fileobj = NULL;
    }
    io_sync_or_forget(loop, fd);
    Py_XDECREF(fileobj);  /* may run a finalizer: the entry is consistent */
    return obj;
}

static PyObject *
io_remove(LoopObj *loop, PyObject *fileobj, int writer)
{
    if (loop->closed) {
        Py_RETURN_FALSE;
    }
    int fd = io_fileobj_to_fd(fileobj);
    if (fd == -2) {
        /* A negative fileno(), as a closed socket has: the selector then
         * looks for the object among those registered, and so do we. */
        int found = io_find_fileobj(loop, fileobj);
        if (found >= 0) {
            PyErr_Clear();
            fd = found;
        }
    }
    if (fd < 0 || io_check_transport(loop, fd, NULL) < 0) {
        return NULL;
    }
    ca_watch *w = io_watch(loop, fd);
    if (w == NULL || w->kind != CA_WATCH_CALLBACK
        || (writer ? w->writer : w->reader) == NULL) {
        Py_RETURN_FALSE;
    }
    uint8_t kind;
    PyObject *h = io_take_slot(loop, fd, writer, &kind);
    io_drop_watcher(h, kind);
    Py_RETURN_TRUE;
}

int
ca_io_watch_op(LoopObj *loop, int fd, int writer, PyObject *op, ca_watcher_kind kind)
{
    if (fd < 0) {
        PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %d", fd);
        return -1;
    }
    ca_watch *w = io_watch(loop, fd);
    if (w != NULL && (w->kind == CA_WATCH_WAKEUP || w->kind == CA_WATCH_SIGNAL)) {
        PyErr_Format(PyExc_RuntimeError, "File descriptor %d is used by the loop", fd);
        return -1;
    }
    if (io_check_transport(loop, fd, op) < 0 || (w = io_watch_grow(loop, fd)) == NULL) {
        return -1;
    }
    uint8_t old_watch_kind = w->kind, old_kind;
    PyObject *old = io_set_slot(w, writer, Py_NewRef(op), (uint8_t)kind, &old_kind);
    w->kind = CA_WATCH_CALLBACK;
    if (io_sync(loop, fd) < 0) {
        (void)io_set_slot(w, writer, old, old_kind, NULL);
        w->kind = old_watch_kind;
        Py_DECREF(op);
        return -1;
    }
    io_drop_watcher(old, old_kind);
    return 0;
}

int
ca_io_watching_op(LoopObj *loop, int fd, int writer, PyObject *op)
{
    ca_watch *w = fd < 0 ? NULL : io_watch(loop, fd);
    return w != NULL && (writer ? w->writer : w->reader) == op;
}

void
ca_io_unwatch_op(LoopObj *loop, int fd, int writer, PyObject *op)
{
    ca_watch *w = fd < 0 ? NULL : io_watch(loop, fd);
    if (w == NULL || (writer ? w->writer : w->reader) != op) {
        return;  /* replaced, removed, or the loop was closed */
    }
    PyObject *obj = io_take_slot(loop, fd, writer, NULL);
    Py_DECREF(obj);
}

PyObject *
ca_loop_add_reader(LoopObj *loop, PyObject *const *args, Py_ssize_t nargs)
{
    return io_add(loop, args, nargs, 0, "add_reader");
}

PyObject *
ca_loop_add_writer(LoopObj *loop, PyObject *const *args, Py_ssize_t nargs)
{
    return io_add(loop, args, nargs, 1, "add_writer");
}

PyObject *
ca_loop_remove_reader(LoopObj *loop, PyObject *fileobj)
{
    return io_remove(loop, fileobj, 0);
}

PyObject *
ca_loop_remove_writer(LoopObj *loop, PyObject *fileobj)
{
    return io_remove(loop, fileobj, 1);
}

/* Runs a transport's or an accepter's event. */
static int
io_run_watcher(LoopObj *loop, PyObject *obj, uint8_t kind, int writer)
{
    return kind == CA_WATCHER_ACCEPTER ? ca_accepter_ready(loop, obj)
                                       : ca_transport_ready(loop, obj, writer);
}

/* A transport's or accepter's event runs at once; if entries queued before
 * the poll or due timers wait (behind), it is queued after them, where
 * asyncio's selector loop queues the transport's reader or writer Handle:
 * a callback scheduled before the data came runs before data_received. */
static int
io_fire_watcher(LoopObj *loop, int fd, PyObject *obj, uint8_t kind, int writer,
                int behind)
{
    if (!behind) {
        return io_run_watcher(loop, obj, kind, writer);
    }
    PyObject *fdobj = PyLong_FromLong(fd);
    if (fdobj == NULL) {
        return -1;
    }
    int rc = ca_loop_schedule(loop, writer ? CA_READY_WATCH_WRITE : CA_READY_WATCH_READ,
                              obj, fdobj, NULL);
    Py_DECREF(fdobj);
    return rc;
}

int
ca_io_run_queued(LoopObj *loop, ca_ready_entry *e)
{
    int writer = e->kind == CA_READY_WATCH_WRITE;
    ca_watch *w = io_watch(loop, (int)PyLong_AsLong(e->arg));
    /* Unwatched since it was queued (paused, closed, stopped serving): as
     * asyncio's remove_reader cancels the queued Handle, nothing runs. */
    if (w == NULL || w->kind != CA_WATCH_CALLBACK
        || (writer ? w->writer : w->reader) != e->obj) {
        return 0;
    }
    return io_run_watcher(loop, e->obj, writer ? w->writer_kind : w->reader_kind, writer);
}

/* Queues the handle in *slot, or unregisters it if it was cancelled (as
 * asyncio's _process_events does).  A sock_* operation runs at once, or
 * if entries queued before the poll wait (behind), is queued after them;
 * then 1: its fd's one-shot entry stays disarmed until the operation ran.
 * A transport or accepter runs or is queued the same way. */
static int
io_fire(LoopObj *loop, int fd, int writer, int behind)
{
    ca_watch *w = &loop->watches[fd];
    PyObject *obj = writer ? w->writer : w->reader;
    uint8_t kind = writer ? w->writer_kind : w->reader_kind;
    switch (kind) {
    case CA_WATCHER_SOCKOP:
        return ca_sockop_ready(loop, obj, behind);
    case CA_WATCHER_TRANSPORT:
    case CA_WATCHER_ACCEPTER:
        return io_fire_watcher(loop, fd, obj, kind, writer, behind);
    case CA_WATCHER_HANDLE:
        if (((HandleObj *)obj)->cancelled) {
            PyObject *fdobj = PyLong_FromLong(fd);
            PyObject *r = fdobj ? io_remove(loop, fdobj, writer) : NULL;
            Py_XDECREF(fdobj);
            Py_XDECREF(r);
            return r ? 0 : -1;
        }
        return ca_loop_schedule(loop, CA_READY_HANDLE, obj, NULL, NULL);
    default:
        return 0;  /* an empty slot */
    }
}

/* Runs the watchers of one ready fd. */
static int
io_dispatch_one(LoopObj *loop, int fd, uint32_t mask, int behind)
{
    ca_watch *w = io_watch(loop, fd);
    if (w == NULL) {
        return 0;
    }
    int rd = 0, wr = 0;
    switch (w->kind) {
    case CA_WATCH_WAKEUP:
        ca_wakeup_drain(loop);
        return 0;
    case CA_WATCH_SIGNAL:
        return ca_signals_dispatch(loop);  /* a handler may raise */
    case CA_WATCH_CALLBACK:
        /* Beware: io_fire may release a handle and run a finalizer that
         * changes the table, so look the entry up again each time. */
        if ((mask & CA_READABLE) && (rd = io_fire(loop, fd, 0, behind)) < 0) {
            return -1;
        }
        if ((mask & CA_WRITABLE) && fd < loop->nwatches
            && (wr = io_fire(loop, fd, 1, behind)) < 0) {
            return -1;
        }
        return rd > 0 || wr > 0;
    default:
        return 0;
    }
}

/* Records that reporting the event disarmed fd's entry, if one-shot. */
static void
io_mark_disarmed(LoopObj *loop, int fd)
{
    ca_watch *w = io_watch(loop, fd);
    if (w != NULL && (w->mask & CA_ONESHOT)) {
        w->disarmed = 1;
    }
}

/* Re-arms fd's one-shot entry if it is still disarmed and still wanted
 * (an operation found EAGAIN after all, or the other direction waits). */
void
ca_io_rearm(LoopObj *loop, int fd)
{
    ca_watch *w = io_watch(loop, fd);
    if (w != NULL && (w->mask & CA_ONESHOT) && w->disarmed) {
        io_sync_or_forget(loop, fd);
    }
}

int
ca_io_dispatch(LoopObj *loop, int nevents, int behind)
{
    for (int i = 0; i < nevents; i++) {
        int fd;
        uint32_t mask;
        ca_reactor_event(loop->reactor, i, &fd, &mask);
        io_mark_disarmed(loop, fd);
        int rc = io_dispatch_one(loop, fd, mask, behind);
        if (rc < 0) {
            /* KeyboardInterrupt & co.: the events not dispatched disarmed
             * their entries too; leave every entry armed as wanted. */
            PyObject *exc = ca_err_fetch();
            ca_io_rearm(loop, fd);
            for (int j = i + 1; j < nevents; j++) {
                ca_reactor_event(loop->reactor, j, &fd, &mask);
                io_mark_disarmed(loop, fd);
                ca_io_rearm(loop, fd);
            }
            ca_err_restore(exc);
            return -1;
        }
        if (rc == 0) {
            /* A queued sock_* operation re-arms (or drops) the entry when
             * it has run: re-arming now would cost an epoll_ctl, and a
             * second one when it is done. */
            ca_io_rearm(loop, fd);
        }
    }
    return 0;
}

void
ca_io_clear(LoopObj *loop)
{
    /* Beware: releasing handles can run finalizers; empty the table first. */
    ca_watch *watches = loop->watches;
    int n = loop->nwatches;
    loop->watches = NULL;
    loop->nwatches = 0;
    for (int i = 0; i < n; i++) {
        CA_LIVE_ADD(loop->state, CA_LIVE_WATCHER, -(watches[i].mask != 0));
        Py_XDECREF(watches[i].reader);
        Py_XDECREF(watches[i].writer);
        Py_XDECREF(watches[i].fileobj);
    }
    free(watches);
}

int
ca_io_traverse(LoopObj *loop, visitproc visit, void *arg)
{
    for (int i = 0; i < loop->nwatches; i++) {
        Py_VISIT(loop->watches[i].reader);
        Py_VISIT(loop->watches[i].writer);
        Py_VISIT(loop->watches[i].fileobj);
    }
    return 0;
}
