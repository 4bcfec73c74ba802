/* The C side of the loop's sock_* methods: one SockOp object per call, an
 * awaitable that behaves like the coroutine asyncio's `async def sock_*`
 * methods return (it passes asyncio.iscoroutine, so create_task() and
 * ensure_future() take it).
 *
 * Owns: SockOp objects (their arguments, the buffer a sendall holds, the
 * future made when an operation would block) and each loop's receive
 * scratch buffer.
 * Does not own: the fd watch table (io.c; a pending operation sits in a
 * reader or writer slot where a Handle would be), address resolution and
 * the sendfile checks and fallback (casyncio/_loop.py: once per call).
 *
 * The life of an operation, driven by whoever awaits it (usually a Task):
 *   NEW      first send(): asyncio's checks, then the system call at once.
 *            Done: return the result, no future made.  Would block
 *            (EAGAIN): make a future, watch the fd, yield the future.
 *   WAITING  when the fd is ready, ca_sockop_run tries the call again:
 *            from dispatch (phase 3), or from the ready queue (phase 5)
 *            if entries queued before the poll must run first (a cancel
 *            among them, say); once it is done, the fd is no longer
 *            watched and the outcome is set on the future, which wakes
 *            the task.
 *            send() then returns the future's result; throw() and close()
 *            (cancellation, or the future's exception thrown in by the
 *            task) stop watching, so nothing more is read or written.
 *   DONE     it cannot be awaited again.
 * As with a coroutine, nothing happens before the first send(): an
 * operation that is never awaited reads nothing.
 *
 * recv, recv_into, sendall and sendfile are raw system calls (no exception
 * object is made for EAGAIN); recvfrom, recvfrom_into, sendto, connect and
 * accept call the socket's own C methods, so addresses have exactly the
 * socket module's format.  For a socket.socket subclass, recv, recv_into and
 * sendall call its own recv(), recv_into() and send(), which may be
 * overridden, as asyncio's sock_* methods call them. */
#include "errors.h"
#include "future.h"
#include "io.h"
#include "loop.h"
#include "prims.h"
#include "sockets.h"
#include "recv.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

typedef enum {
    SOCK_RECV,
    SOCK_RECV_INTO,
    SOCK_RECVFROM,
    SOCK_RECVFROM_INTO,
    SOCK_SENDALL,
    SOCK_SENDTO,
    SOCK_CONNECT,
    SOCK_ACCEPT,
    SOCK_SENDFILE,
} sock_kind;

enum { OP_NEW, OP_WAITING, OP_DONE };

typedef struct {
    PyObject_HEAD
    LoopObj *loop;
    PyObject *sock;
    PyObject *args[3];      /* the method's arguments after sock, or NULL */
    PyObject *fut;          /* made when the operation would block */
    Py_buffer view;         /* sendall: the data (view.obj NULL otherwise) */
    Py_ssize_t n;           /* recv: size; sendall: bytes sent */
    /* sendfile: where the next byte comes from, and the totals */
    off_t offset;
    Py_ssize_t count;       /* 0: up to the end of the file */
    Py_ssize_t blocksize;
    Py_ssize_t total;
    int in_fd;
    int fd;
    uint8_t kind;           /* sock_kind */
    uint8_t phase;
    uint8_t filepos_done;   /* sendfile: the file position was set */
    uint8_t queued;         /* its fd was ready: a ready entry will run it */
    uint8_t pysock;         /* the socket is a socket.socket subclass */
} SockOpObj;

/* Tries the operation once: 1 done (*result set), 0 would block, -1 error. */
typedef int (*sock_attempt_fn)(SockOpObj *op, PyObject **result);

typedef struct {
    const char *qualname;
    sock_attempt_fn attempt;
    uint8_t writer;         /* waits for writability, not readability */
    uint8_t checks;         /* asyncio's socket checks are ours to make */
    /* The socket method asyncio calls first (NULL: none of ours): an object
     * that is not a socket fails on it, with asyncio's AttributeError. */
    const char *first_method;
} sock_kind_def;

/* ---- system calls ---- */

/* After a system call failed with errno err: 0 to wait for readiness, 1 to
 * retry now (EINTR, and no signal handler raised), -1 with the error. */
static int
sock_failed(int err)
{
    if (err == EAGAIN || err == EWOULDBLOCK) {
        return 0;
    }
    if (err == EINTR) {
        return PyErr_CheckSignals() < 0 ? -1 : 1;
    }
    ca_err_from_errno(-err);
    return -1;
}

/* Calls sock.<name>(*args[1:nargs]) (args[0] is the socket): the socket
 * module's BlockingIOError and InterruptedError mean "would block". */
static int
sock_call(PyObject *name, PyObject *const *args, size_t nargs, PyObject **result)
{
    *result = PyObject_VectorcallMethod(name, args, nargs, NULL);
    if (*result != NULL) {
        return 1;
    }
    return ca_err_clear_would_block() ? 0 : -1;
}

static int
sock_recv_attempt(SockOpObj *op, PyObject **result)
{
    if (op->pysock) {
        PyObject *size = PyLong_FromSsize_t(op->n);
        if (size == NULL) {
            return -1;
        }
        PyObject *args[2] = {op->sock, size};
        int rc = sock_call(op->loop->state->str_recv, args, 2, result);
        Py_DECREF(size);
        return rc;
    }
    if (op->n == 0) {
        /* The socket module answers b'' without a system call. */
        *result = PyBytes_FromStringAndSize(NULL, 0);
        return *result ? 1 : -1;
    }
    for (;;) {
        int err;
        Py_ssize_t got = ca_recv_bytes(op->loop, op->fd, op->n, op->loop->recv_large, 1,
                                       result, &err);
        if (got >= 0) {
            op->loop->recv_large = got >= CA_RECV_DIRECT_MIN;
        }
        if (got == 0) {
            *result = PyBytes_FromStringAndSize(NULL, 0);
            return *result ? 1 : -1;
        }
        if (got > 0) {
            return 1;
        }
        int rc = err ? sock_failed(err) : -1;
        if (rc != 1) {
            return rc;
        }
    }
}

static int
sock_recv_into_attempt(SockOpObj *op, PyObject **result)
{
    if (op->pysock) {
        PyObject *args[2] = {op->sock, op->args[0]};
        return sock_call(op->loop->state->str_recv_into, args, 2, result);
    }
    Py_buffer b;
    /* "w*" gives socket.recv_into's TypeError for a read-only buffer. */
    if (!PyArg_Parse(op->args[0], "w*:recv_into", &b)) {
        return -1;
    }
    ssize_t got = 0;
    int rc = 1;
    while (b.len > 0 && (got = recv(op->fd, b.buf, (size_t)b.len, 0)) < 0
           && (rc = sock_failed(errno)) == 1) {
        /* EINTR: retry */
    }
    PyBuffer_Release(&b);
    if (got < 0) {
        return rc;
    }
    *result = PyLong_FromSsize_t(got);
    return *result ? 1 : -1;
}

static int
sock_recvfrom_attempt(SockOpObj *op, PyObject **result)
{
    PyObject *args[2] = {op->sock, op->args[0]};
    return sock_call(op->loop->state->str_recvfrom, args, 2, result);
}

static int
sock_recvfrom_into_attempt(SockOpObj *op, PyObject **result)
{
    PyObject *args[3] = {op->sock, op->args[0], op->args[1]};
    return sock_call(op->loop->state->str_recvfrom_into, args, 3, result);
}

/* A subclass's send() of what sendall has left, as asyncio hands it over:
 * the data itself first, then memoryview(data)[sent:].  As sock_call,
 * with the bytes sent in *sent. */
static int
sock_send_py(SockOpObj *op, ssize_t *sent)
{
    PyObject *chunk;
    if (op->n == 0) {
        chunk = Py_NewRef(op->args[0]);
    }
    else {
        PyObject *view = PyMemoryView_FromObject(op->args[0]);
        chunk = view ? PySequence_GetSlice(view, op->n, op->view.len) : NULL;
        Py_XDECREF(view);
        if (chunk == NULL) {
            return -1;
        }
    }
    PyObject *args[2] = {op->sock, chunk}, *r;
    int rc = sock_call(op->loop->state->str_send, args, 2, &r);
    Py_DECREF(chunk);
    if (rc == 1) {
        Py_ssize_t n = PyNumber_AsSsize_t(r, PyExc_OverflowError);
        Py_DECREF(r);
        if (n == -1 && PyErr_Occurred()) {
            return -1;
        }
        *sent = (ssize_t)n;
    }
    return rc;
}

/* One send() per readiness, as asyncio: after a partial write the next
 * one would almost always fail with EAGAIN. */
static int
sock_sendall_attempt(SockOpObj *op, PyObject **result)
{
    const char *buf = (const char *)op->view.buf + op->n;
    size_t left = (size_t)(op->view.len - op->n);
    ssize_t sent;
    if (op->pysock) {
        int rc = sock_send_py(op, &sent);
        if (rc != 1) {
            return rc;
        }
        sent = sent < 0 ? 0 : (size_t)sent > left ? (ssize_t)left : sent;
    }
    else {
        /* MSG_NOSIGNAL: a closed peer is an EPIPE error, whatever SIGPIPE's
         * disposition (Python ignores it, but an embedding may not). */
        while ((sent = send(op->fd, buf, left, MSG_NOSIGNAL)) < 0) {
            int rc = sock_failed(errno);
            if (rc != 1) {
                return rc;
            }
        }
    }
    op->n += sent;
    if (op->n < op->view.len) {
        return 0;
    }
    *result = Py_NewRef(Py_None);
    return 1;
}

static int
sock_sendto_attempt(SockOpObj *op, PyObject **result)
{
    PyObject *args[3] = {op->sock, op->args[0], op->args[1]};
    return sock_call(op->loop->state->str_sendto, args, 3, result);
}

/* The outcome of a connect() in progress, once the socket is writable. */
static int
sock_connect_outcome(SockOpObj *op, PyObject **result)
{
    int err = 0;
    socklen_t len = sizeof(err);
    while (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        int rc = sock_failed(errno);
        if (rc != 1) {
            return rc;
        }
    }
    if (err == 0) {
        *result = Py_NewRef(Py_None);
        return 1;
    }
    PyObject *msg = PyUnicode_FromFormat("Connect call failed %S", op->args[0]);
    if (msg != NULL) {
        ca_err_from_errno_msg(-err, msg);
        Py_DECREF(msg);
    }
    return -1;
}

static int
sock_connect_attempt(SockOpObj *op, PyObject **result)
{
    if (op->phase == OP_WAITING) {
        return sock_connect_outcome(op, result);
    }
    PyObject *args[2] = {op->sock, op->args[0]};
    return sock_call(op->loop->state->str_connect, args, 2, result);
}

static int
sock_accept_attempt(SockOpObj *op, PyObject **result)
{
    PyObject *pair;
    int rc = sock_call(op->loop->state->str_accept, &op->sock, 1, &pair);
    if (rc != 1) {
        return rc;
    }
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        PyErr_SetString(PyExc_TypeError, "sock.accept() did not return a pair");
        Py_DECREF(pair);
        return -1;
    }
    PyObject *r = PyObject_CallMethodOneArg(PyTuple_GET_ITEM(pair, 0),
                                            op->loop->state->str_setblocking,
                                            Py_False);
    if (r == NULL) {
        Py_DECREF(pair);
        return -1;
    }
    Py_DECREF(r);
    *result = pair;
    return 1;
}

/* ---- sendfile ---- */

/* As asyncio: the file position is left after the last byte sent, however
 * the operation ends (before 3.14, only once anything was sent). */
static void
sock_sendfile_update_filepos(SockOpObj *op)
{
#if PY_VERSION_HEX >= 0x030E0000
    int moved = 1;
#else
    int moved = op->total > 0;
#endif
    if (op->kind == SOCK_SENDFILE && !op->filepos_done && moved) {
        op->filepos_done = 1;
        (void)lseek(op->in_fd, op->offset, SEEK_SET);
    }
}

static int
sock_sendfile_done(SockOpObj *op, PyObject **result)
{
    sock_sendfile_update_filepos(op);
    *result = PyLong_FromSsize_t(op->total);
    return *result ? 1 : -1;
}

/* asyncio's errors: nothing sent yet means sendfile() cannot be used here
 * (the caller falls back to read + send); ENOTCONN after the first call
 * means the peer went away mid-transfer. */
static int
sock_sendfile_error(SockOpObj *op, int err)
{
    sock_sendfile_update_filepos(op);
    if (op->total == 0) {
        PyErr_SetString(op->loop->state->SendfileNotAvailableError,
                        "os.sendfile call failed");
        return -1;
    }
    ca_err_from_errno(-err);
    if (err != ENOTCONN || op->phase != OP_WAITING) {
        return -1;
    }
    PyObject *cause = ca_err_fetch();
    PyObject *exc = PyObject_CallFunction(PyExc_ConnectionError, "si",
                                          "socket is not connected", ENOTCONN);
    if (exc == NULL) {
        Py_DECREF(cause);
        return -1;
    }
    PyException_SetCause(exc, cause);
    ca_err_restore(exc);
    return -1;
}

/* One sendfile() per readiness, as asyncio (a large file to a fast peer
 * must not keep the loop from other work). */
static int
sock_sendfile_attempt(SockOpObj *op, PyObject **result)
{
    size_t blocksize = (size_t)op->blocksize;
    if (op->count > 0) {
        if (op->count - op->total <= 0) {
            return sock_sendfile_done(op, result);
        }
        blocksize = (size_t)(op->count - op->total);
    }
    off_t off = op->offset;
    ssize_t sent;
    while ((sent = sendfile(op->fd, op->in_fd, &off, blocksize)) < 0) {
        int err = errno;
        if (err == EINTR) {
            if (PyErr_CheckSignals() < 0) {
                return -1;
            }
            continue;
        }
        return err == EAGAIN || err == EWOULDBLOCK ? 0 : sock_sendfile_error(op, err);
    }
    if (sent == 0) {
        return sock_sendfile_done(op, result);
    }
    op->offset += sent;
    op->total += sent;
    return 0;
}

static const sock_kind_def sock_kinds[] = {
    [SOCK_RECV] = {"Loop.sock_recv", sock_recv_attempt, 0, 1, "recv"},
    [SOCK_RECV_INTO] = {"Loop.sock_recv_into", sock_recv_into_attempt, 0, 1,
                        "recv_into"},
    [SOCK_RECVFROM] = {"Loop.sock_recvfrom", sock_recvfrom_attempt, 0, 1, "recvfrom"},
    [SOCK_RECVFROM_INTO] = {"Loop.sock_recvfrom_into", sock_recvfrom_into_attempt,
                            0, 1, "recvfrom_into"},
    [SOCK_SENDALL] = {"Loop.sock_sendall", sock_sendall_attempt, 1, 1, "send"},
    [SOCK_SENDTO] = {"Loop.sock_sendto", sock_sendto_attempt, 1, 1, "sendto"},
    [SOCK_CONNECT] = {"Loop._sock_connect", sock_connect_attempt, 1, 0, NULL},
    [SOCK_ACCEPT] = {"Loop.sock_accept", sock_accept_attempt, 0, 1, "fileno"},
    [SOCK_SENDFILE] = {"Loop._sock_sendfile_native", sock_sendfile_attempt, 1, 0,
                       NULL},
};

/* ---- the life of an operation ---- */

/* base_events._check_ssl_socket, and in debug mode the non-blocking check
 * (asyncio makes it only in debug mode). */
static int
sockop_check_socket(SockOpObj *op)
{
    ca_state *st = op->loop->state;
    if (st->SSLSocket != Py_None) {
        int r = PyObject_IsInstance(op->sock, st->SSLSocket);
        if (r != 0) {
            if (r > 0) {
                PyErr_SetString(PyExc_TypeError, "Socket cannot be of type SSLSocket");
            }
            return -1;
        }
    }
    if (!op->loop->debug) {
        return 0;
    }
    PyObject *timeout = PyObject_CallMethodNoArgs(op->sock, st->str_gettimeout);
    if (timeout == NULL) {
        return -1;
    }
    PyObject *zero = PyLong_FromLong(0);
    int blocking = zero ? PyObject_RichCompareBool(timeout, zero, Py_NE) : -1;
    Py_XDECREF(zero);
    Py_DECREF(timeout);
    if (blocking > 0) {
        PyErr_SetString(PyExc_ValueError, "the socket must be non-blocking");
    }
    return blocking == 0 ? 0 : -1;
}

static int
sockop_fileno(SockOpObj *op)
{
    PyObject *r = PyObject_CallMethodNoArgs(op->sock, op->loop->state->str_fileno);
    if (r == NULL) {
        return -1;
    }
    long fd = PyLong_AsLong(r);
    Py_DECREF(r);
    if (fd == -1 && PyErr_Occurred()) {
        return -1;
    }
    /* A closed socket.socket says -1: its calls fail with EBADF, as the
     * socket's own methods do. */
    op->fd = fd < -1 || fd > INT32_MAX ? -1 : (int)fd;
    return 0;
}

/* The argument conversions the socket's methods would make. */
static int
sockop_convert_args(SockOpObj *op)
{
    switch (op->kind) {
    case SOCK_RECV:
        op->n = PyNumber_AsSsize_t(op->args[0], PyExc_OverflowError);
        if (op->n == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (op->n < 0) {
            PyErr_SetString(PyExc_ValueError, "negative buffersize in recv");
            return -1;
        }
        return 0;
    case SOCK_SENDALL:
        return PyObject_GetBuffer(op->args[0], &op->view, PyBUF_SIMPLE);
    case SOCK_RECVFROM_INTO: {
        /* asyncio: `if not nbytes: nbytes = len(buf)` */
        int given = op->args[1] ? PyObject_IsTrue(op->args[1]) : 0;
        if (given != 0) {
            return given < 0 ? -1 : 0;
        }
        Py_ssize_t len = PyObject_Length(op->args[0]);
        PyObject *n = len < 0 ? NULL : PyLong_FromSsize_t(len);
        Py_XSETREF(op->args[1], n);
        return n ? 0 : -1;
    }
    default:
        return 0;
    }
}

static int
sockop_prepare(SockOpObj *op)
{
    const sock_kind_def *kind = &sock_kinds[op->kind];
    if (kind->checks && sockop_check_socket(op) < 0) {
        return -1;
    }
    if (kind->first_method != NULL
        && !PyObject_TypeCheck(op->sock, (PyTypeObject *)op->loop->state->SocketType)) {
        PyObject *m = PyObject_GetAttrString(op->sock, kind->first_method);
        if (m == NULL) {
            return -1;
        }
        Py_DECREF(m);
    }
    if (sockop_fileno(op) < 0) {
        return -1;
    }
    return sockop_convert_args(op);
}

/* The operation will not run again: stop watching its fd, let go of the
 * data it holds, leave a sendfile's file position after what was sent. */
static void
sockop_finish(SockOpObj *op)
{
    if (op->phase == OP_WAITING) {
        ca_io_unwatch_op(op->loop, op->fd, sock_kinds[op->kind].writer,
                         (PyObject *)op);
    }
    op->phase = OP_DONE;
    if (op->view.obj != NULL) {
        PyBuffer_Release(&op->view);
    }
    sock_sendfile_update_filepos(op);
}

/* It would block: watch the fd and yield a future for the task to wait on.
 * asyncio raises 'Event loop is closed' at this point, not before. */
static PySendResult
sockop_wait(SockOpObj *op, PyObject **result)
{
    LoopObj *loop = op->loop;
    if (ca_loop_check_closed(loop) < 0) {
        return PYGEN_ERROR;
    }
    op->fut = ca_future_create(loop->state, (PyObject *)loop);
    if (op->fut == NULL) {
        return PYGEN_ERROR;
    }
    if (ca_io_watch_op(loop, op->fd, sock_kinds[op->kind].writer, (PyObject *)op,
                       CA_WATCHER_SOCKOP) < 0) {
        Py_CLEAR(op->fut);
        return PYGEN_ERROR;
    }
    op->phase = OP_WAITING;
    ((FutureObj *)op->fut)->blocking = 1;
    *result = Py_NewRef(op->fut);
    return PYGEN_NEXT;
}

static PySendResult
sockop_start(SockOpObj *op, PyObject **result)
{
    int rc = sockop_prepare(op);
    if (rc == 0) {
        rc = sock_kinds[op->kind].attempt(op, result);
        if (rc == 0) {
            PySendResult status = sockop_wait(op, result);
            if (status == PYGEN_NEXT) {
                return status;
            }
            rc = -1;
        }
    }
    sockop_finish(op);
    return rc > 0 ? PYGEN_RETURN : PYGEN_ERROR;
}

/* The task was woken by the future: hand over its outcome. */
static PySendResult
sockop_resume(SockOpObj *op, PyObject **result)
{
    FutureObj *fut = (FutureObj *)op->fut;
    op->fut = NULL;
    sockop_finish(op);
    if (fut->fstate == CA_FUT_PENDING) {
        Py_DECREF(fut);
        PyErr_SetString(PyExc_RuntimeError, "await wasn't used with future");
        return PYGEN_ERROR;
    }
    *result = ca_future_result(fut);
    Py_DECREF(fut);
    return *result ? PYGEN_RETURN : PYGEN_ERROR;
}

/* The fd is ready.  When entries queued before the poll (or due timers)
 * wait, the attempt is queued behind them, where asyncio queues the reader's
 * Handle: a cancel() among them runs first and the operation then reads
 * nothing (made at once, it read the bytes and the cancellation threw them
 * away with its result).  Otherwise nothing can come before it, and it is
 * made at once: queued, the task it wakes would run one iteration later,
 * after one more poll. */
int
ca_sockop_ready(LoopObj *loop, PyObject *obj, int behind)
{
    SockOpObj *op = (SockOpObj *)obj;
    if (!behind && !op->queued) {
        /* Beware: finishing drops the watch table's reference, which may
         * be the last one. */
        Py_INCREF(obj);
        int rc = ca_sockop_run(loop, obj);
        Py_DECREF(obj);
        return rc;
    }
    if (!op->queued) {
        if (ca_loop_schedule(loop, CA_READY_SOCKOP, obj, NULL, NULL) < 0) {
            return -1;
        }
        op->queued = 1;
    }
    return 1;
}

/* Sets the outcome of a finished attempt on the future, which wakes the
 * task; the fd is no longer watched. */
static int
sockop_settle(SockOpObj *op, int r, PyObject *res, PyObject *exc)
{
    ca_io_unwatch_op(op->loop, op->fd, sock_kinds[op->kind].writer, (PyObject *)op);
    if (op->view.obj != NULL) {
        PyBuffer_Release(&op->view);
    }
    int rc;
    if (r > 0) {
        rc = ca_future_set_result((FutureObj *)op->fut, res);
        Py_DECREF(res);
    }
    else {
        rc = ca_future_set_exception((FutureObj *)op->fut, exc);
        Py_DECREF(exc);
    }
    return rc;
}

int
ca_sockop_run(LoopObj *loop, PyObject *obj)
{
    SockOpObj *op = (SockOpObj *)obj;
    FutureObj *fut = (FutureObj *)op->fut;
    int writer = sock_kinds[op->kind].writer;
    op->queued = 0;
    if (!ca_io_watching_op(loop, op->fd, writer, obj)) {
        return 0;  /* finished, replaced or removed since the poll */
    }
    if (op->phase != OP_WAITING || fut == NULL || fut->fstate != CA_FUT_PENDING) {
        /* Cancelled since the poll: touch nothing, lose nothing. */
        ca_io_unwatch_op(loop, op->fd, writer, obj);
        return 0;
    }
    PyObject *res = NULL;
    int r = sock_kinds[op->kind].attempt(op, &res);
    PyObject *exc = r < 0 ? ca_err_fetch() : NULL;
    if (r != 0 && (exc == NULL || !ca_err_is_fatal(exc))) {
        return sockop_settle(op, r, res, exc);
    }
    /* Not ready after all, or KeyboardInterrupt/SystemExit from a signal
     * handler: that propagates out of the loop, as from a Handle, and the
     * operation stays watched to be tried again. */
    ca_io_rearm(loop, op->fd);
    if (exc != NULL) {
        ca_err_restore(exc);
        return -1;
    }
    return 0;
}

/* ---- the awaitable protocol ---- */

static PySendResult
sockop_am_send(SockOpObj *op, PyObject *arg, PyObject **result)
{
    *result = NULL;
    switch (op->phase) {
    case OP_NEW:
        if (arg != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "can't send non-None value to a just-started coroutine");
            return PYGEN_ERROR;
        }
        return sockop_start(op, result);
    case OP_WAITING:
        return sockop_resume(op, result);
    default:
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
        return PYGEN_ERROR;
    }
}

/* send()'s and __next__'s protocol (ca_send_as_iter). */
static PyObject *
sockop_send_as_iter(SockOpObj *op, PyObject *arg)
{
    PyObject *result;
    PySendResult r = sockop_am_send(op, arg, &result);
    return ca_send_as_iter(r, result, 0);
}

static PyObject *
sockop_iternext(SockOpObj *op)
{
    return sockop_send_as_iter(op, Py_None);
}

static PyObject *
sockop_send(SockOpObj *op, PyObject *arg)
{
    return sockop_send_as_iter(op, arg);
}

static PyObject *
sockop_throw(SockOpObj *op, PyObject *const *args, Py_ssize_t nargs)
{
    sockop_finish(op);
    Py_CLEAR(op->fut);
    return ca_raise_thrown(args, nargs);
}

static PyObject *
sockop_close(SockOpObj *op, PyObject *unused)
{
    sockop_finish(op);
    Py_CLEAR(op->fut);
    Py_RETURN_NONE;
}

static PyObject *
sockop_await(SockOpObj *op)
{
    return Py_NewRef(op);
}

static PyObject *
sockop_get_qualname(SockOpObj *op, void *c)
{
    return PyUnicode_FromString(sock_kinds[op->kind].qualname);
}

static PyObject *
sockop_get_name(SockOpObj *op, void *c)
{
    const char *q = sock_kinds[op->kind].qualname;
    return PyUnicode_FromString(q + sizeof("Loop.") - 1);
}

/* ---- creation and the Python-facing methods ---- */

static PyObject *
sockop_new(LoopObj *loop, sock_kind kind, PyObject *sock, PyObject *const *args,
           int nargs)
{
    SockOpObj *op = PyObject_GC_New(SockOpObj, loop->state->SockOpType);
    if (op == NULL) {
        return NULL;
    }
    CA_LIVE_ADD(loop->state, CA_LIVE_SOCKOP, 1);
    op->loop = (LoopObj *)Py_NewRef(loop);
    op->sock = Py_NewRef(sock);
    for (int i = 0; i < 3; i++) {
        op->args[i] = i < nargs ? Py_XNewRef(args[i]) : NULL;
    }
    op->fut = NULL;
    op->view.obj = NULL;
    op->n = 0;
    op->offset = 0;
    op->count = op->blocksize = op->total = 0;
    op->in_fd = op->fd = -1;
    op->kind = (uint8_t)kind;
    op->phase = OP_NEW;
    op->filepos_done = 0;
    op->queued = 0;
    op->pysock = (uint8_t)ca_is_socket_subclass(loop->state, sock);
    PyObject_GC_Track(op);
    return (PyObject *)op;
}

/* Binds (sock, *params) from positional and keyword arguments as a Python
 * signature would; out[0] is sock, optional parameters not given stay
 * NULL.  names[0] is "sock". */
static int
sock_bind_args(const char *method, const char *const *names, int nreq, int nmax,
               PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames,
               PyObject **out)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs > nmax) {
        PyErr_Format(PyExc_TypeError,
                     "%s() takes %d positional arguments but %zd were given",
                     method, nmax + 1, nargs + 1);
        return -1;
    }
    for (int i = 0; i < nmax; i++) {
        out[i] = i < nargs ? args[i] : NULL;
    }
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, k);
        int j = 0;
        while (j < nmax && PyUnicode_CompareWithASCIIString(kw, names[j]) != 0) {
            j++;
        }
        if (j == nmax || out[j] != NULL) {
            PyErr_Format(PyExc_TypeError,
                         j == nmax ? "%s() got an unexpected keyword argument '%U'"
                                   : "%s() got multiple values for argument '%U'",
                         method, kw);
            return -1;
        }
        out[j] = args[nargs + k];
    }
    for (int i = 0; i < nreq; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError,
                         "%s() missing required argument: '%s'", method, names[i]);
            return -1;
        }
    }
    return 0;
}

static PyObject *
sock_method(LoopObj *loop, sock_kind kind, const char *method,
            const char *const *names, int nreq, int nmax, PyObject *const *args,
            Py_ssize_t nargsf, PyObject *kwnames)
{
    PyObject *bound[4];
    if (sock_bind_args(method, names, nreq, nmax, args, nargsf, kwnames, bound) < 0) {
        return NULL;
    }
    return sockop_new(loop, kind, bound[0], bound + 1, nmax - 1);
}

PyObject *
ca_loop_sock_recv(LoopObj *loop, PyObject *const *args, Py_ssize_t nargsf,
                  PyObject *kwnames)
{
    static const char *const names[] = {"sock", "n"};
    return sock_method(loop, SOCK_RECV, "sock_recv", names, 2, 2, args, nargsf,
                       kwnames);
}

PyObject *
ca_loop_sock_recv_into(LoopObj *loop, PyObject *const *args, Py_ssize_t nargsf,
                       PyObject *kwnames)
{
    static const char *const names[] = {"sock", "buf"};
    return sock_method(loop, SOCK_RECV_INTO, "sock_recv_into", names, 2, 2, args,
                       nargsf, kwnames);
}

PyObject *
ca_loop_sock_recvfrom(LoopObj *loop, PyObject *const *args, Py_ssize_t nargsf,
                      PyObject *kwnames)
{
    static const char *const names[] = {"sock", "bufsize"};
    return sock_method(loop, SOCK_RECVFROM, "sock_recvfrom", names, 2, 2, args,
                       nargsf, kwnames);
}

PyObject *
ca_loop_sock_recvfrom_into(LoopObj *loop, PyObject *const *args, Py_ssize_t nargsf,
                           PyObject *kwnames)
{
    static const char *const names[] = {"sock", "buf", "nbytes"};
    return sock_method(loop, SOCK_RECVFROM_INTO, "sock_recvfrom_into", names, 2, 3,
                       args, nargsf, kwnames);
}

PyObject *
ca_loop_sock_sendall(LoopObj *loop, PyObject *const *args, Py_ssize_t nargsf,
                     PyObject *kwnames)
{
    static const char *const names[] = {"sock", "data"};
    return sock_method(loop, SOCK_SENDALL, "sock_sendall", names, 2, 2, args, nargsf,
                       kwnames);
}

PyObject *
ca_loop_sock_sendto(LoopObj *loop, PyObject *const *args, Py_ssize_t nargsf,
                    PyObject *kwnames)
{
    static const char *const names[] = {"sock", "data", "address"};
    return sock_method(loop, SOCK_SENDTO, "sock_sendto", names, 3, 3, args, nargsf,
                       kwnames);
}

PyObject *
ca_loop_sock_accept(LoopObj *loop, PyObject *const *args, Py_ssize_t nargsf,
                    PyObject *kwnames)
{
    static const char *const names[] = {"sock"};
    return sock_method(loop, SOCK_ACCEPT, "sock_accept", names, 1, 1, args, nargsf,
                       kwnames);
}

/* _sock_connect(sock, address): the connect of sock_connect, whose checks
 * and address resolution are done in Python. */
PyObject *
ca_loop_sock_connect_op(LoopObj *loop, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_sock_connect(sock, address)");
        return NULL;
    }
    return sockop_new(loop, SOCK_CONNECT, args[0], args + 1, 1);
}

/* _sock_sendfile_native(sock, fileno, offset, count, blocksize): the
 * os.sendfile() loop of sock_sendfile (count 0: to the end of the file). */
PyObject *
ca_loop_sock_sendfile_op(LoopObj *loop, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "_sock_sendfile_native(sock, fileno, offset, count, blocksize)");
        return NULL;
    }
    long in_fd = PyLong_AsLong(args[1]);
    long long offset = PyLong_AsLongLong(args[2]);
    Py_ssize_t count = PyLong_AsSsize_t(args[3]);
    Py_ssize_t blocksize = PyLong_AsSsize_t(args[4]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (in_fd < 0 || in_fd > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %ld", in_fd);
        return NULL;
    }
    SockOpObj *op = (SockOpObj *)sockop_new(loop, SOCK_SENDFILE, args[0], NULL, 0);
    if (op != NULL) {
        op->in_fd = (int)in_fd;
        op->offset = (off_t)offset;
        op->count = count;
        op->blocksize = blocksize;
    }
    return (PyObject *)op;
}

/* ---- slots ---- */

static int
sockop_traverse(SockOpObj *op, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(op->loop);
    Py_VISIT(op->sock);
    for (int i = 0; i < 3; i++) {
        Py_VISIT(op->args[i]);
    }
    Py_VISIT(op->fut);
    Py_VISIT(op->view.obj);
    return 0;
}

static int
sockop_clear(SockOpObj *op)
{
    if (op->view.obj != NULL) {
        PyBuffer_Release(&op->view);
    }
    Py_CLEAR(op->fut);
    for (int i = 0; i < 3; i++) {
        Py_CLEAR(op->args[i]);
    }
    Py_CLEAR(op->sock);
    Py_CLEAR(op->loop);
    return 0;
}

static void
sockop_dealloc(SockOpObj *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    (void)sockop_clear(op);
    CA_LIVE_ADD_TYPE(tp, CA_LIVE_SOCKOP, -1);
    PyObject_GC_Del(op);
    Py_DECREF(tp);
}

/* ---- tables ---- */

static PyMethodDef sockop_methods[] = {
    {"send", (PyCFunction)sockop_send, METH_O,
     "send($self, value, /)\n--\n\nResume the operation (value must be None)."},
    {"throw", (PyCFunction)(void (*)(void))sockop_throw, METH_FASTCALL,
     "throw($self, exc, /)\n--\n\nStop the operation and raise exc."},
    {"close", (PyCFunction)sockop_close, METH_NOARGS,
     "close($self, /)\n--\n\nStop the operation; nothing more is read or written."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sockop_getset[] = {
    {"__qualname__", (getter)sockop_get_qualname, NULL, NULL, NULL},
    {"__name__", (getter)sockop_get_name, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot sockop_slots[] = {
    {Py_tp_doc, "A pending sock_* call of a casyncio loop: await it."},
    {Py_am_await, sockop_await},
    {Py_am_send, sockop_am_send},
    {Py_tp_iternext, sockop_iternext},
    {Py_tp_traverse, sockop_traverse},
    {Py_tp_clear, sockop_clear},
    {Py_tp_dealloc, sockop_dealloc},
    {Py_tp_methods, sockop_methods},
    {Py_tp_getset, sockop_getset},
    {0, NULL},
};

PyType_Spec ca_sockop_spec = {
    .name = "casyncio._core.SockOp",
    .basicsize = sizeof(SockOpObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = sockop_slots,
};
