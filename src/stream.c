/* The stream transport: one connected SOCK_STREAM socket (TCP or Unix)
 * driven by the loop, with asyncio's _SelectorSocketTransport behaviour;
 * and in pipe mode (the section at the end) the same machinery on the fd
 * of connect_read_pipe/connect_write_pipe, as asyncio's unix_events pipe
 * transports.
 *
 * Owns: the transport object, its write queue (a ca_wbuf, wbuf.c, flushed
 * with sendmsg's or writev's gather write), its references to the socket or
 * pipe file, protocol, server and loop, and the loop's receive buffer
 * (stream_scratch).  A pipe's fd is not named as its owner in the watch
 * table (asyncio does not register pipes in _transports).
 * Does not own: the watch table (io.c; a transport sits in its fd's reader
 * and writer slots while it waits, and is named in the entry as the fd's
 * owner so add_reader & co. refuse the fd), the accepting side of servers
 * (server.c), the once-per-connection orchestration (asyncio's own
 * create_connection & co., see casyncio/_loop.py).
 *
 * The type derives from asyncio.transports._FlowControlMixin (so the
 * isinstance checks of asyncio itself, e.g. sendfile's fallback, hold); its
 * __slots__ (_extra, _high_water, _loop, _low_water, _protocol_paused) come
 * first in the struct and are kept in step with the C fields through the
 * slots' own descriptors, on the rare paths that change them.
 *
 * Life: scheduled at creation: protocol.connection_made, then watching for
 * reads, then the waiter's result.  close() stops reading and, once the
 * write queue is empty, schedules _call_connection_lost; a fatal error or
 * abort() drops the queue and schedules it at once.  connection_lost runs
 * exactly once, then the socket is closed.
 *
 * loop.sendfile() (casyncio/_loop.py) waits for the queue to drain through
 * _make_empty_waiter and then sends with sock_sendfile on the socket
 * itself; write() is refused until _reset_empty_waiter. */
#include "errors.h"
#include "io.h"
#include "stream.h"
#include "wbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* asyncio reads at most 256 KiB per readiness (max_size). */
#define STREAM_READ_SIZE (256 * 1024)
/* Once a read brings at least this much, the next reads ask FIONREAD how
 * much is waiting and receive straight into a bytes object of that size:
 * the copy out of the scratch buffer is a third of the user-space work of
 * an echo through asyncio streams with 100 KiB messages (measured with
 * callgrind), and below this size the extra ioctl costs about what the
 * copy does. */
#define STREAM_DIRECT_MIN (16 * 1024)
/* asyncio's LOG_THRESHOLD_FOR_CONNLOST_WRITES. */
#define STREAM_CONNLOST_LOG 5
#define STREAM_BASE_SLOTS 5

/* What the fd is: a connected socket, or one end of a pipe (a FIFO, a
 * socket or a character device given to connect_read_pipe or
 * connect_write_pipe, see the pipe mode section below). */
enum {
    STREAM_SOCKET = 0,
    STREAM_PIPE_READ,
    STREAM_PIPE_WRITE,
};

typedef struct {
    PyObject_HEAD
    /* _FlowControlMixin's slots, in the order CPython lays them out
     * (sorted): _extra, _high_water, _loop, _low_water, _protocol_paused. */
    PyObject *base_slots[STREAM_BASE_SLOTS];
    PyObject *weakreflist;
    /* Instance attributes, as asyncio's transports have (CPython's tests
     * replace methods of a transport with mocks). */
    PyObject *dict;
    LoopObj *loop;
    PyObject *sock;         /* the socket or pipe file; NULL once
                               connection_lost has run */
    PyObject *protocol;
    PyObject *server;       /* asyncio Server or NULL */
    /* Set while loop.sendfile() sends through the socket itself: done once
     * the write queue is empty; write() is refused meanwhile. */
    PyObject *empty_waiter;
    /* The contexts the protocol's callbacks run in, as asyncio runs them in
     * those of its reader and writer Handles: a copy of the current context
     * made when reading starts (_start_reading, at creation, which runs in
     * the creator's context) or resumes, and when writes first queue.
     * Unless ctx_fixed: the transport was given a context (3.15's
     * context=), both are it, and every callback runs in it. */
    PyObject *read_ctx;
    PyObject *write_ctx;
    ca_wbuf wbuf;
    Py_ssize_t high;
    Py_ssize_t low;
    int fd;
    int conn_lost;
    int dropped;            /* writes dropped by a closing pipe (asyncio counts
                               them in _conn_lost: see stream_write_dropped) */
    char closing;
    char eof;
    char paused;            /* reading paused by pause_reading() */
    char protocol_paused;
    char buffered;          /* the protocol is an asyncio.BufferedProtocol */
    char lost;              /* _call_connection_lost has run */
    char kind;              /* STREAM_SOCKET or a pipe end */
    char large_reads;       /* the last read was >= STREAM_DIRECT_MIN bytes */
    char pysock;            /* the socket is a socket.socket subclass (see
                               "sockets of a subclass" below) */
    char ctx_fixed;         /* read_ctx and write_ctx are the given context */
} StreamObj;

/* ---- helpers ---- */

static ca_state *
stream_state(StreamObj *self)
{
    return self->loop->state;
}

/* asyncio's fatal I/O error messages name the kind of transport. */
static const char *
stream_msg(StreamObj *self, int writing)
{
    if (self->kind != STREAM_SOCKET) {
        return writing ? "Fatal write error on pipe transport"
                       : "Fatal read error on pipe transport";
    }
    return writing ? "Fatal write error on socket transport"
                   : "Fatal read error on socket transport";
}

/* One gather write: sendmsg on a socket (MSG_NOSIGNAL: a vanished peer is
 * EPIPE, not a signal), writev on a pipe (Python ignores SIGPIPE, so a
 * pipe whose reader is gone is EPIPE too).  A single chunk, the usual
 * case, goes by send() or write(): the kernel then copies no msghdr or
 * iovec from user space, ~0.2 us less a call (Unix socket pair, 1 and 10
 * KiB, medians of 15 runs), 5-10% of a small message's echo. */
static ssize_t
stream_sys_writev(StreamObj *self, struct iovec *iov, int n)
{
    if (self->kind != STREAM_SOCKET) {
        return n == 1 ? write(self->fd, iov->iov_base, iov->iov_len)
                      : writev(self->fd, iov, n);
    }
    if (n == 1) {
        return send(self->fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL);
    }
    struct msghdr msg = {0};
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)n;
    return sendmsg(self->fd, &msg, MSG_NOSIGNAL);
}

/* call_soon(cb, *args) on the transport's loop, as asyncio schedules. */
static int
stream_call_soon(StreamObj *self, PyObject *cb, PyObject *const *args, Py_ssize_t nargs)
{
    if (ca_loop_check_closed(self->loop) < 0) {
        return -1;
    }
    ca_state *st = stream_state(self);
    HandleObj *h = ca_handle_new(st, st->HandleType, (PyObject *)self->loop, cb, args,
                                 nargs, self->ctx_fixed ? self->read_ctx : NULL, 1);
    if (h == NULL) {
        return -1;
    }
    int rc = ca_loop_schedule(self->loop, CA_READY_HANDLE, (PyObject *)h, NULL, NULL);
    Py_DECREF(h);
    return rc;
}

/* Schedules self.<name>(*args). */
static int
stream_call_soon_method(StreamObj *self, const char *name, PyObject *arg)
{
    PyObject *cb = PyObject_GetAttrString((PyObject *)self, name);
    if (cb == NULL) {
        return -1;
    }
    int rc = stream_call_soon(self, cb, &arg, arg ? 1 : 0);
    Py_DECREF(cb);
    return rc;
}

static int
stream_watch(StreamObj *self, int writer)
{
    if (ca_loop_check_closed(self->loop) < 0) {
        return -1;
    }
    return ca_io_watch_op(self->loop, self->fd, writer, (PyObject *)self, CA_WATCHER_STREAM);
}

/* Starts watching for reads or writes, with the protocol's callbacks of
 * that side to run in a copy of the current context (as asyncio's
 * add_reader/add_writer Handle would). */
static int
stream_watch_here(StreamObj *self, int writer)
{
    if (self->ctx_fixed) {
        return stream_watch(self, writer);
    }
    PyObject *ctx = PyContext_CopyCurrent();
    if (ctx == NULL) {
        return -1;
    }
    Py_XSETREF(*(writer ? &self->write_ctx : &self->read_ctx), ctx);
    return stream_watch(self, writer);
}

static void
stream_unwatch(StreamObj *self, int writer)
{
    ca_io_unwatch_op(self->loop, self->fd, writer, (PyObject *)self);
}

/* Sets one of _FlowControlMixin's slots through its descriptor. */
static int
stream_set_slot(StreamObj *self, const char *name, PyObject *value)
{
    return PyObject_SetAttrString((PyObject *)self, name, value);
}

static int
stream_set_slot_ssize(StreamObj *self, const char *name, Py_ssize_t v)
{
    PyObject *o = PyLong_FromSsize_t(v);
    if (o == NULL) {
        return -1;
    }
    int rc = stream_set_slot(self, name, o);
    Py_DECREF(o);
    return rc;
}

/* loop.call_exception_handler({'message': message, 'exception': exc,
 * 'transport': self, 'protocol': protocol}); -1 only if the handler let
 * KeyboardInterrupt or SystemExit through. */
static int
stream_report(StreamObj *self, const char *message, PyObject *exc)
{
    ca_state *st = stream_state(self);
    PyObject *res = NULL;
    PyObject *ctx = Py_BuildValue("{s:s,s:O,s:O,s:O}", "message", message, "exception",
                                  exc, "transport", (PyObject *)self, "protocol",
                                  self->protocol ? self->protocol : Py_None);
    if (ctx != NULL) {
        res = PyObject_CallMethodOneArg((PyObject *)self->loop,
                                        st->str_call_exception_handler, ctx);
        Py_DECREF(ctx);
    }
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

/* ---- closing ---- */

static void
stream_release_fd(StreamObj *self)
{
    ca_io_release_fd(self->loop, self->fd, (PyObject *)self);
}

/* asyncio's _force_close: drop the write queue, stop reading and schedule
 * connection_lost(exc), once. */
static int
stream_force_close(StreamObj *self, PyObject *exc)
{
    if (self->conn_lost) {
        return 0;
    }
    if (self->wbuf.len > 0) {
        ca_wbuf_clear(&self->wbuf);
        stream_unwatch(self, 1);
    }
    if (!self->closing) {
        self->closing = 1;
        stream_release_fd(self);
        stream_unwatch(self, 0);
    }
    self->conn_lost++;
    return stream_call_soon_method(self, "_call_connection_lost", exc ? exc : Py_None);
}

/* Whether _fatal_error only logs exc in debug mode: any OSError (the
 * peer went away), except on a read pipe, where asyncio keeps quiet only
 * about EIO (the other side of a pty closed). */
static int
stream_error_is_quiet(StreamObj *self, PyObject *exc)
{
    if (!PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_OSError)) {
        return 0;
    }
    if (self->kind != STREAM_PIPE_READ) {
        return 1;
    }
    PyObject *err = PyObject_GetAttrString(exc, "errno");
    if (err == NULL) {
        return -1;
    }
    int eio = PyLong_Check(err) && PyLong_AsLong(err) == EIO;
    Py_DECREF(err);
    return eio;
}

/* asyncio's _fatal_error: an OSError (the peer went away) is only logged
 * in debug mode, anything else goes to the exception handler; then the
 * transport is closed with exc. */
static int
stream_fatal(StreamObj *self, PyObject *exc, const char *message)
{
    int quiet = stream_error_is_quiet(self, exc);
    if (quiet < 0) {
        return -1;
    }
    if (quiet) {
        if (self->loop->debug) {
            PyObject *kw = Py_BuildValue("{s:O}", "exc_info", exc);
            PyObject *debug = PyObject_GetAttrString(stream_state(self)->logger, "debug");
            PyObject *args = Py_BuildValue("(sOs)", "%r: %s", (PyObject *)self, message);
            PyObject *r = kw && debug && args ? PyObject_Call(debug, args, kw) : NULL;
            Py_XDECREF(kw);
            Py_XDECREF(debug);
            Py_XDECREF(args);
            if (r == NULL) {
                return -1;
            }
            Py_DECREF(r);
        }
    }
    else if (stream_report(self, message, exc) < 0) {
        return -1;
    }
    return stream_force_close(self, exc);
}

/* The current exception came from a protocol callback or a system call:
 * KeyboardInterrupt and SystemExit propagate (-1), anything else is a
 * fatal error of the transport. */
static int
stream_failed(StreamObj *self, const char *message)
{
    PyObject *exc = ca_err_fetch();
    if (exc == NULL) {
        return 0;
    }
    if (ca_err_is_fatal(exc)) {
        ca_err_restore(exc);
        return -1;
    }
    int rc = stream_fatal(self, exc, message);
    Py_DECREF(exc);
    return rc;
}

static int
stream_errno_failed(StreamObj *self, int err, const char *message)
{
    ca_err_from_errno(err);  /* err is -errno */
    return stream_failed(self, message);
}

static int
stream_close(StreamObj *self)
{
    if (self->closing) {
        return 0;
    }
    self->closing = 1;
    stream_release_fd(self);
    stream_unwatch(self, 0);
    if (self->wbuf.len == 0) {
        self->conn_lost++;
        stream_unwatch(self, 1);
        return stream_call_soon_method(self, "_call_connection_lost", Py_None);
    }
    return 0;
}

/* Closes the socket and forgets the server; after connection_lost. */
static int
stream_release(StreamObj *self)
{
    int rc = 0;
    stream_unwatch(self, 0);
    stream_unwatch(self, 1);
    stream_release_fd(self);
    PyObject *sock = self->sock;
    self->sock = NULL;
    if (sock != NULL) {
        PyObject *r = PyObject_CallMethod(sock, "close", NULL);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
        Py_DECREF(sock);
    }
    PyObject *server = self->server;
    self->server = NULL;
    if (server != NULL) {
#if PY_VERSION_HEX >= 0x030D0000
        PyObject *r = PyObject_CallMethod(server, "_detach", "O", (PyObject *)self);
#else
        PyObject *r = PyObject_CallMethod(server, "_detach", NULL);
#endif
        rc = r && rc == 0 ? 0 : -1;
        Py_XDECREF(r);
        Py_DECREF(server);
    }
    return rc;
}

/* ---- flow control ---- */

static int
stream_call_flow(StreamObj *self, const char *method, const char *message)
{
    PyObject *proto = Py_NewRef(self->protocol);
    PyObject *r = PyObject_CallMethod(proto, method, NULL);
    Py_DECREF(proto);
    if (r != NULL) {
        Py_DECREF(r);
        return 0;
    }
    PyObject *exc = ca_err_fetch();
    if (ca_err_is_fatal(exc)) {
        ca_err_restore(exc);
        return -1;
    }
    int rc = stream_report(self, message, exc);
    Py_DECREF(exc);
    return rc;
}

static int
stream_set_paused(StreamObj *self, int paused)
{
    self->protocol_paused = (char)paused;
    return stream_set_slot(self, "_protocol_paused", paused ? Py_True : Py_False);
}

static int
stream_maybe_pause(StreamObj *self)
{
    if (self->wbuf.size <= self->high || self->protocol_paused) {
        return 0;
    }
    if (stream_set_paused(self, 1) < 0) {
        return -1;
    }
    return stream_call_flow(self, "pause_writing", "protocol.pause_writing() failed");
}

static int
stream_maybe_resume(StreamObj *self)
{
    if (!self->protocol_paused || self->wbuf.size > self->low) {
        return 0;
    }
    if (stream_set_paused(self, 0) < 0) {
        return -1;
    }
    return stream_call_flow(self, "resume_writing", "protocol.resume_writing() failed");
}

/* ---- reading ---- */

static char *
stream_scratch(LoopObj *loop)
{
    if (loop->stream_scratch == NULL) {
        loop->stream_scratch = malloc(STREAM_READ_SIZE);
        if (loop->stream_scratch == NULL) {
            PyErr_NoMemory();
        }
    }
    return loop->stream_scratch;
}

static int pipe_on_eof(StreamObj *self);
static int pipe_data_received_failed(StreamObj *self);

static int
stream_on_eof(StreamObj *self)
{
    ca_state *st = stream_state(self);
    if (self->kind == STREAM_PIPE_READ) {
        return pipe_on_eof(self);
    }
    if (self->loop->debug) {
        PyObject *r = PyObject_CallMethod(st->logger, "debug", "sO", "%r received EOF",
                                          (PyObject *)self);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
    }
    PyObject *proto = Py_NewRef(self->protocol);
    PyObject *res = PyObject_CallMethodNoArgs(proto, st->str_eof_received);
    Py_DECREF(proto);
    if (res == NULL) {
        return stream_failed(self, "Fatal error: protocol.eof_received() call failed.");
    }
    int keep_open = PyObject_IsTrue(res);
    Py_DECREF(res);
    if (keep_open < 0) {
        return stream_failed(self, "Fatal error: protocol.eof_received() call failed.");
    }
    if (keep_open) {
        stream_unwatch(self, 0);
        return 0;
    }
    return stream_close(self);
}

/* recv() into buf: bytes read, 0 at EOF, -1 would block (nothing to do),
 * -2 failed (the transport has been closed with the error, or -3 when a
 * KeyboardInterrupt/SystemExit must propagate). */
static Py_ssize_t
stream_recv(StreamObj *self, char *buf, Py_ssize_t size)
{
    ssize_t n = self->kind == STREAM_SOCKET ? recv(self->fd, buf, (size_t)size, 0)
                                            : read(self->fd, buf, (size_t)size);
    if (n >= 0) {
        return n;
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
        return -1;
    }
    return stream_errno_failed(self, -err, stream_msg(self, 0)) < 0
           ? -3 : -2;
}

/* stream_recv's outcomes, and the two of the readers below. */
#define STREAM_NOMEM (-4)
#define STREAM_NOT_DIRECT (-5)

/* ---- sockets of a subclass ----
 * asyncio's selector transport reads and writes through the socket
 * object's own methods: recv() (recv_into() for a BufferedProtocol),
 * send(), and shutdown() for write_eof.  A socket.socket subclass may
 * override them, to count or log the traffic or to wrap it, so for one
 * (pysock) the transport calls them too, and sendmsg() for queued data
 * from 3.12 on; an exact socket.socket goes straight to the system calls.
 * Those methods run Python code, which may write to, close or abort the
 * transport before they return. */

/* After such a call raised: -1 would block (BlockingIOError or
 * InterruptedError, as asyncio ignores them), else stream_recv's -2 (the
 * transport has been closed with the exception) or -3. */
static Py_ssize_t
stream_py_failed(StreamObj *self, int writing)
{
    if (ca_err_clear_would_block()) {
        return -1;
    }
    return stream_failed(self, stream_msg(self, writing)) < 0 ? -3 : -2;
}

/* sock.recv(max_size): what it returned in *data and its length, 0 for
 * an empty result (EOF), or stream_py_failed's outcomes. */
static Py_ssize_t
stream_recv_py(StreamObj *self, PyObject **data)
{
    PyObject *size = PyLong_FromLong(STREAM_READ_SIZE);
    if (size == NULL) {
        return STREAM_NOMEM;
    }
    PyObject *r = PyObject_CallMethodOneArg(self->sock, stream_state(self)->str_recv, size);
    Py_DECREF(size);
    Py_ssize_t n = r ? PyObject_Size(r) : -1;
    if (n <= 0) {
        Py_XDECREF(r);
        return n == 0 ? 0 : stream_py_failed(self, 0);
    }
    *data = r;
    return n;
}

/* sock.recv_into(buf), as stream_recv returns. */
static Py_ssize_t
stream_recv_into_py(StreamObj *self, PyObject *buf)
{
    PyObject *r = PyObject_CallMethodOneArg(self->sock, stream_state(self)->str_recv_into, buf);
    Py_ssize_t n = r ? PyNumber_AsSsize_t(r, PyExc_OverflowError) : -1;
    Py_XDECREF(r);
    return n == -1 && PyErr_Occurred() ? stream_py_failed(self, 0) : n;
}

/* sock.send(data), or another method of the socket sending `len` bytes
 * given as one argument: bytes sent (at most len), -1 would block, -2 with
 * the exception set. */
static Py_ssize_t
stream_send_py(StreamObj *self, PyObject *method, PyObject *data, Py_ssize_t len)
{
    PyObject *r = PyObject_CallMethodOneArg(self->sock, method, data);
    Py_ssize_t n = r ? PyNumber_AsSsize_t(r, PyExc_OverflowError) : -1;
    Py_XDECREF(r);
    if (n == -1 && PyErr_Occurred()) {
        return ca_err_clear_would_block() ? -1 : -2;
    }
    return n < 0 ? 0 : n > len ? len : n;
}

/* The queue, from where the last send stopped, handed to the socket as
 * asyncio's transport hands its buffer: sock.sendmsg() of the queued
 * chunks from 3.12 on; before, sock.send() of the first (3.11's asyncio
 * sends its whole bytearray, of which the socket takes what it can).  As
 * stream_send_py. */
static Py_ssize_t
stream_flush_py(StreamObj *self)
{
    ca_wbuf *b = &self->wbuf;
    PyObject *head = Py_NewRef(ca_wbuf_at(b, 0));
    Py_ssize_t offset = b->offset, len = PyBytes_GET_SIZE(head) - offset;
    PyObject *chunk = offset == 0
        ? Py_NewRef(head)
        : PyBytes_FromStringAndSize(PyBytes_AS_STRING(head) + offset, len);
    Py_ssize_t n = -2;
#if PY_VERSION_HEX >= 0x030C0000
    Py_ssize_t count = b->len < CA_WBUF_IOV_MAX ? b->len : CA_WBUF_IOV_MAX;
    PyObject *chunks = chunk ? PyList_New(count) : NULL;
    if (chunks != NULL) {
        PyList_SET_ITEM(chunks, 0, Py_NewRef(chunk));
        for (Py_ssize_t i = 1; i < count; i++) {
            PyObject *item = ca_wbuf_at(b, i);
            PyList_SET_ITEM(chunks, i, Py_NewRef(item));
            len += PyBytes_GET_SIZE(item);
        }
        n = stream_send_py(self, stream_state(self)->str_sendmsg, chunks, len);
        Py_DECREF(chunks);
    }
#else
    if (chunk != NULL) {
        n = stream_send_py(self, stream_state(self)->str_send, chunk, len);
    }
#endif
    Py_XDECREF(chunk);
    /* send() may have run code that wrote, closed or aborted: what it sent
     * counts only if the queue still starts where it did. */
    if (n >= 0 && (b->len == 0 || ca_wbuf_at(b, 0) != head || b->offset != offset)) {
        n = -1;
    }
    Py_DECREF(head);
    return n;
}

/* write_eof's shutdown(SHUT_WR), through sock.shutdown() for a subclass;
 * -1 with the exception set. */
static int
stream_shutdown_wr(StreamObj *self)
{
    if (!self->pysock) {
        if (shutdown(self->fd, SHUT_WR) < 0) {
            ca_err_from_errno(-errno);
            return -1;
        }
        return 0;
    }
    PyObject *r = PyObject_CallMethod(self->sock, "shutdown", "i", SHUT_WR);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* Receives through the loop's scratch buffer into *data (one copy). */
static Py_ssize_t
stream_recv_scratch(StreamObj *self, PyObject **data)
{
    char *buf = stream_scratch(self->loop);
    if (buf == NULL) {
        return STREAM_NOMEM;
    }
    Py_ssize_t n = stream_recv(self, buf, STREAM_READ_SIZE);
    if (n > 0 && (*data = PyBytes_FromStringAndSize(buf, n)) == NULL) {
        return STREAM_NOMEM;
    }
    return n;
}

/* Receives straight into a bytes object of the size FIONREAD reports, or
 * STREAM_NOT_DIRECT when little is waiting. */
static Py_ssize_t
stream_recv_direct(StreamObj *self, PyObject **data)
{
    int avail = 0;
    if (ioctl(self->fd, FIONREAD, &avail) < 0 || avail < STREAM_DIRECT_MIN) {
        return STREAM_NOT_DIRECT;
    }
    Py_ssize_t size = avail < STREAM_READ_SIZE ? avail : STREAM_READ_SIZE;
    PyObject *b = PyBytes_FromStringAndSize(NULL, size);
    if (b == NULL) {
        return STREAM_NOMEM;
    }
    Py_ssize_t n = stream_recv(self, PyBytes_AS_STRING(b), size);
    if (n == size || n <= 0) {
        *data = n > 0 ? b : NULL;
        if (n <= 0) {
            Py_DECREF(b);
        }
        return n;
    }
    /* Less than FIONREAD said (another reader of the fd): exact size. */
    *data = PyBytes_FromStringAndSize(PyBytes_AS_STRING(b), n);
    Py_DECREF(b);
    return *data ? n : STREAM_NOMEM;
}

static int
stream_read_data(StreamObj *self)
{
    ca_state *st = stream_state(self);
    PyObject *data = NULL;
    Py_ssize_t n = self->pysock        ? stream_recv_py(self, &data)
                   : self->large_reads ? stream_recv_direct(self, &data)
                                       : STREAM_NOT_DIRECT;
    if (n == STREAM_NOT_DIRECT) {
        n = stream_recv_scratch(self, &data);
    }
    if (n == STREAM_NOMEM) {
        return stream_failed(self, stream_msg(self, 0));
    }
    if (n < 0) {
        return n == -3 ? -1 : 0;
    }
    if (n == 0) {
        return stream_on_eof(self);
    }
    self->large_reads = n >= STREAM_DIRECT_MIN;
    PyObject *proto = Py_NewRef(self->protocol);
    PyObject *res = PyObject_CallMethodOneArg(proto, st->str_data_received, data);
    Py_DECREF(proto);
    Py_DECREF(data);
    if (res == NULL && self->kind == STREAM_PIPE_READ) {
        return pipe_data_received_failed(self);
    }
    if (res == NULL) {
        return stream_failed(self, "Fatal error: protocol.data_received() call failed.");
    }
    Py_DECREF(res);
    return 0;
}

/* BufferedProtocol: get_buffer(-1), recv_into it, buffer_updated(n). */
static int
stream_read_buffered(StreamObj *self)
{
    ca_state *st = stream_state(self);
    PyObject *proto = Py_NewRef(self->protocol);
    PyObject *minus_one = PyLong_FromLong(-1);
    PyObject *buf = minus_one
        ? PyObject_CallMethodOneArg(proto, st->str_get_buffer, minus_one) : NULL;
    Py_XDECREF(minus_one);
    Py_buffer view = {0};
    if (buf != NULL && PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE) == 0
        && view.len == 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_RuntimeError, "get_buffer() returned an empty buffer");
    }
    if (PyErr_Occurred()) {
        Py_XDECREF(buf);
        Py_DECREF(proto);
        return stream_failed(self, "Fatal error: protocol.get_buffer() call failed.");
    }
    Py_ssize_t n;
    if (self->pysock) {
        PyBuffer_Release(&view);
        n = stream_recv_into_py(self, buf);
    }
    else {
        n = stream_recv(self, view.buf, view.len);
        PyBuffer_Release(&view);
    }
    Py_DECREF(buf);
    if (n <= 0) {
        Py_DECREF(proto);
        return n == 0 ? stream_on_eof(self) : n == -3 ? -1 : 0;
    }
    PyObject *nobj = PyLong_FromSsize_t(n);
    PyObject *res = nobj ? PyObject_CallMethodOneArg(proto, st->str_buffer_updated, nobj)
                         : NULL;
    Py_XDECREF(nobj);
    Py_DECREF(proto);
    if (res == NULL) {
        return stream_failed(self, "Fatal error: protocol.buffer_updated() call failed.");
    }
    Py_DECREF(res);
    return 0;
}

/* ---- writing ---- */

/* The sendfile waiter: its result (exc NULL) or exception. */
static int
stream_settle_waiter(StreamObj *self, PyObject *exc)
{
    PyObject *r = exc ? PyObject_CallMethod(self->empty_waiter, "set_exception", "O", exc)
                      : PyObject_CallMethod(self->empty_waiter, "set_result", "O", Py_None);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* Writes what can be written of the queue (one sendmsg per readiness). */
static int
stream_write_ready(StreamObj *self)
{
    if (self->conn_lost || self->wbuf.len == 0) {
        return 0;
    }
    ssize_t n;
    if (self->pysock) {
        n = stream_flush_py(self);
        if (n == -1) {
            return 0;
        }
    }
    else {
        struct iovec iov[CA_WBUF_IOV_MAX];
        n = stream_sys_writev(self, iov, ca_wbuf_fill_iov(&self->wbuf, iov));
        if (n < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
                return 0;
            }
            ca_err_from_errno(-err);
        }
    }
    if (n < 0) {
        PyObject *exc = ca_err_fetch();
        if (ca_err_is_fatal(exc)) {
            ca_err_restore(exc);
            return -1;
        }
        stream_unwatch(self, 1);
        ca_wbuf_clear(&self->wbuf);
        int rc = stream_fatal(self, exc, stream_msg(self, 1));
        if (rc == 0 && self->empty_waiter != NULL) {
            rc = stream_settle_waiter(self, exc);
        }
        Py_DECREF(exc);
        return rc;
    }
    ca_wbuf_consume(&self->wbuf, n);
    if (stream_maybe_resume(self) < 0) {
        return -1;
    }
    if (self->wbuf.len > 0) {
        return 0;
    }
    stream_unwatch(self, 1);
    if (self->empty_waiter != NULL && stream_settle_waiter(self, NULL) < 0) {
        return -1;
    }
    if (self->closing) {
        PyObject *r = PyObject_CallMethod((PyObject *)self, "_call_connection_lost", "O",
                                          Py_None);
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    if (self->eof && stream_shutdown_wr(self) < 0) {
        /* An error is ignored, but a KeyboardInterrupt propagates. */
        PyObject *exc = ca_err_fetch();
        if (ca_err_is_fatal(exc)) {
            ca_err_restore(exc);
            return -1;
        }
        Py_DECREF(exc);
    }
    return 0;
}

/* Queues data[sent:] (a new bytes object unless data is bytes and nothing
 * was sent: bytes cannot change under us, a bytearray can). */
static int
stream_queue(StreamObj *self, PyObject *data, const char *buf, Py_ssize_t len,
             Py_ssize_t sent)
{
    PyObject *chunk;
    if (sent == 0 && PyBytes_CheckExact(data)) {
        chunk = Py_NewRef(data);
    }
    else if ((chunk = PyBytes_FromStringAndSize(buf + sent, len - sent)) == NULL) {
        return -1;
    }
    if (self->wbuf.items == NULL) {
        CA_LIVE_ADD(self->loop->state, CA_LIVE_WRITEBUF, 1);  /* ca_wbuf_push allocates */
    }
    if (ca_wbuf_push(&self->wbuf, chunk) < 0) {
        Py_DECREF(chunk);
        return -1;
    }
    return 0;
}

static int
stream_check_writable(StreamObj *self, PyObject *data)
{
    if (!PyBytes_Check(data) && !PyByteArray_Check(data) && !PyMemoryView_Check(data)) {
        PyObject *name = PyType_GetName(Py_TYPE(data));
        if (name != NULL) {
            PyErr_Format(PyExc_TypeError,
#if PY_VERSION_HEX >= 0x030E0000
                         "data argument must be a bytes, bytearray, or memoryview "
                         "object, not %R",
#else
                         "data argument must be a bytes-like object, not %R",
#endif
                         name);
            Py_DECREF(name);
        }
        return -1;
    }
    if (self->eof) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot call write() after write_eof()");
        return -1;
    }
    if (self->empty_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "unable to write; sendfile is in progress");
        return -1;
    }
    return 0;
}

/* After the connection was lost, or once a pipe is closing, writes are
 * dropped; asyncio counts them (in _conn_lost, a closing pipe's too) and
 * warns from the fifth on.  A closing pipe's are counted apart: conn_lost
 * means connection_lost is scheduled, and the queue still drains. */
static int
stream_write_dropped(StreamObj *self)
{
    if (self->conn_lost + self->dropped >= STREAM_CONNLOST_LOG) {
        const char *msg = self->kind == STREAM_SOCKET
            ? "socket.send() raised exception."
            : "pipe closed by peer or os.write(pipe, data) raised exception.";
        PyObject *r = PyObject_CallMethod(stream_state(self)->logger, "warning", "s", msg);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
    }
    if (self->conn_lost) {
        self->conn_lost++;
    }
    else {
        self->dropped++;
    }
    return 0;
}

/* Sends at once what the socket takes and queues the rest. */
static int
stream_write_buffer(StreamObj *self, PyObject *data, const char *buf, Py_ssize_t len)
{
    Py_ssize_t sent = 0;
    if (self->wbuf.len == 0 && self->pysock) {
        Py_ssize_t n = stream_send_py(self, stream_state(self)->str_send, data, len);
        if (n == -2) {
            return stream_failed(self, stream_msg(self, 1));
        }
        sent = n < 0 ? 0 : n;
        if (sent == len || self->conn_lost) {
            return 0;  /* all sent, or send() ran code that aborted */
        }
        if (stream_watch_here(self, 1) < 0) {
            return -1;
        }
    }
    else if (self->wbuf.len == 0) {
        struct iovec iov = {(void *)buf, (size_t)len};
        ssize_t n = stream_sys_writev(self, &iov, 1);
        if (n < 0) {
            int err = errno;
            if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
                return stream_errno_failed(self, -err,
                                           stream_msg(self, 1));
            }
            n = 0;
        }
        sent = n;
        if (sent == len) {
            return 0;
        }
        if (stream_watch_here(self, 1) < 0) {
            return -1;
        }
    }
    if (stream_queue(self, data, buf, len, sent) < 0) {
        return -1;
    }
    return stream_maybe_pause(self);
}

static int
stream_write(StreamObj *self, PyObject *data)
{
    if (stream_check_writable(self, data) < 0) {
        return -1;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    int rc = 0;
    if (view.len == 0) {
        rc = 0;
    }
    else if (self->conn_lost || (self->closing && self->kind != STREAM_SOCKET)) {
        /* A pipe drops writes from close() on, a socket queues them. */
        rc = stream_write_dropped(self);
    }
    else {
        rc = stream_write_buffer(self, data, view.buf, view.len);
    }
    PyBuffer_Release(&view);
    return rc;
}

/* ---- creation ---- */

static void
stream_set_nodelay(int fd)
{
    int domain = 0, type = 0, proto = 0, one = 1;
    socklen_t len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0
        || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0
        || getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0) {
        return;
    }
    if ((domain == AF_INET || domain == AF_INET6) && type == SOCK_STREAM
        && proto == IPPROTO_TCP) {
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

/* sock.<method>(), or None if it raises OSError. */
static PyObject *
stream_sock_name(PyObject *sock, const char *method)
{
    PyObject *r = PyObject_CallMethod(sock, method, NULL);
    if (r == NULL && PyErr_ExceptionMatches(PyExc_OSError)) {
        PyErr_Clear();
        r = Py_NewRef(Py_None);
    }
    return r;
}

/* asyncio's extra info: the caller's, plus socket, sockname, peername. */
static PyObject *
stream_make_extra(ca_state *st, PyObject *sock, PyObject *extra)
{
    PyObject *d = extra && extra != Py_None ? PyDict_Copy(extra) : PyDict_New();
    PyObject *tsock = NULL, *name = NULL;
    if (d == NULL) {
        return NULL;
    }
    if ((tsock = PyObject_CallOneArg(st->TransportSocket, sock)) == NULL
        || PyDict_SetItemString(d, "socket", tsock) < 0
        || (name = stream_sock_name(sock, "getsockname")) == NULL
        || PyDict_SetItemString(d, "sockname", name) < 0) {
        goto error;
    }
    Py_CLEAR(name);
    int has = PyDict_Contains(d, st->str_peername);
    if (has < 0) {
        goto error;
    }
    if (!has && ((name = stream_sock_name(sock, "getpeername")) == NULL
                 || PyDict_SetItem(d, st->str_peername, name) < 0)) {
        goto error;
    }
    Py_XDECREF(name);
    Py_DECREF(tsock);
    return d;
error:
    Py_XDECREF(name);
    Py_XDECREF(tsock);
    Py_DECREF(d);
    return NULL;
}

static int
stream_set_protocol(StreamObj *self, PyObject *protocol)
{
    int buffered = PyObject_IsInstance(protocol, stream_state(self)->BufferedProtocol);
    if (buffered < 0) {
        return -1;
    }
    self->buffered = (char)buffered;
    Py_XSETREF(self->protocol, Py_NewRef(protocol));
    return 0;
}

static int
stream_attach(StreamObj *self, PyObject *server)
{
    if (server == NULL || server == Py_None) {
        return 0;
    }
    self->server = Py_NewRef(server);
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *r = PyObject_CallMethod(server, "_attach", "O", (PyObject *)self);
#else
    PyObject *r = PyObject_CallMethod(server, "_attach", NULL);
#endif
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* connection_made, then reading, then the waiter's result: three
 * callbacks, as asyncio schedules them. */
static int
stream_schedule_start(StreamObj *self, PyObject *waiter)
{
    PyObject *made = PyObject_GetAttrString(self->protocol, "connection_made");
    if (made == NULL) {
        return -1;
    }
    PyObject *arg = (PyObject *)self;
    int rc = stream_call_soon(self, made, &arg, 1);
    Py_DECREF(made);
    if (rc < 0 || stream_call_soon_method(self, "_start_reading", NULL) < 0) {
        return -1;
    }
    if (waiter == NULL || waiter == Py_None) {
        return 0;
    }
    PyObject *args[2] = {waiter, Py_None};
    return stream_call_soon(self, stream_state(self)->set_result_unless_cancelled, args, 2);
}

static int
stream_init_slots(StreamObj *self, PyObject *extra)
{
    if (stream_set_slot(self, "_extra", extra) < 0
        || stream_set_slot(self, "_loop", (PyObject *)self->loop) < 0
        || stream_set_slot(self, "_protocol_paused", Py_False) < 0
        || stream_set_slot_ssize(self, "_high_water", self->high) < 0
        || stream_set_slot_ssize(self, "_low_water", self->low) < 0) {
        return -1;
    }
    return 0;
}

PyObject *
ca_stream_new(LoopObj *loop, PyObject *sock, PyObject *protocol, PyObject *waiter,
              PyObject *extra, PyObject *server, PyObject *context)
{
    ca_state *st = loop->state;
    if (ca_loop_check_closed(loop) < 0) {
        return NULL;
    }
    PyObject *fdobj = PyObject_CallMethodNoArgs(sock, st->str_fileno);
    long fd = fdobj ? PyLong_AsLong(fdobj) : -1;
    Py_XDECREF(fdobj);
    if (fd < 0 || fd > INT_MAX) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %ld", fd);
        }
        return NULL;
    }
    StreamObj *self = PyObject_GC_New(StreamObj, st->StreamTransportType);
    if (self == NULL) {
        return NULL;
    }
    memset((char *)self + sizeof(PyObject), 0, sizeof(StreamObj) - sizeof(PyObject));
    CA_LIVE_ADD(st, CA_LIVE_TRANSPORT, 1);
    self->loop = (LoopObj *)Py_NewRef((PyObject *)loop);
    self->sock = Py_NewRef(sock);
    self->fd = (int)fd;
    self->pysock = (char)ca_is_socket_subclass(st, sock);
    self->high = 64 * 1024;
    self->low = 16 * 1024;
    if (context != NULL && context != Py_None) {
        self->ctx_fixed = 1;
        self->read_ctx = Py_NewRef(context);
        self->write_ctx = Py_NewRef(context);
    }
    PyObject_GC_Track(self);
    PyObject *ex = stream_make_extra(st, sock, extra);
    if (ex == NULL || stream_init_slots(self, ex) < 0 || stream_set_protocol(self, protocol) < 0
        || stream_attach(self, server) < 0
        || ca_io_claim_fd(loop, (int)fd, (PyObject *)self) < 0) {
        goto error;
    }
    Py_CLEAR(ex);
    stream_set_nodelay((int)fd);
    if (stream_schedule_start(self, waiter) < 0) {
        goto error;
    }
    return (PyObject *)self;
error:
    Py_XDECREF(ex);
    /* Not the caller's to close: the socket stays theirs on failure. */
    stream_release_fd(self);
    Py_CLEAR(self->sock);
    Py_CLEAR(self->server);
    Py_DECREF(self);
    return NULL;
}

static int pipe_peer_closed(StreamObj *self);

int
ca_stream_ready(LoopObj *loop, PyObject *obj, int writer)
{
    StreamObj *self = (StreamObj *)Py_NewRef(obj);
    /* Kept: a callback may replace the transport's context (resume_reading). */
    PyObject *ctx = Py_XNewRef(writer ? self->write_ctx : self->read_ctx);
    if (ctx != NULL && PyContext_Enter(ctx) < 0) {
        Py_DECREF(ctx);
        Py_DECREF(self);
        return -1;
    }
    int rc = 0;
    if (writer) {
        rc = stream_write_ready(self);
    }
    else if (self->kind == STREAM_PIPE_WRITE) {
        rc = pipe_peer_closed(self);
    }
    else if (self->paused) {
        stream_unwatch(self, 0);  /* paused since the last poll */
    }
    else if (!self->conn_lost) {
        rc = self->buffered ? stream_read_buffered(self) : stream_read_data(self);
    }
    if (ctx != NULL) {
        if (PyContext_Exit(ctx) < 0) {
            rc = -1;
        }
        Py_DECREF(ctx);
    }
    Py_DECREF(self);
    return rc;
}

void
ca_streams_release(LoopObj *loop)
{
    free(loop->stream_scratch);
    loop->stream_scratch = NULL;
}

/* ---- Python-facing methods ---- */

static PyObject *
stream_py_write(StreamObj *self, PyObject *data)
{
    if (stream_write(self, data) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* One write of the joined buffers (3.12+ asyncio checks for write_eof
 * first, with its own message; 3.11 joins, then write() complains). */
static PyObject *
stream_py_writelines(StreamObj *self, PyObject *lines)
{
#if PY_VERSION_HEX >= 0x030C0000
    if (self->eof) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot call writelines() after write_eof()");
        return NULL;
    }
    if (self->empty_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "unable to writelines; sendfile is in progress");
        return NULL;
    }
#endif
    PyObject *empty = PyBytes_FromStringAndSize(NULL, 0);
    PyObject *data = empty ? PyObject_CallMethod(empty, "join", "O", lines) : NULL;
    Py_XDECREF(empty);
    if (data == NULL) {
        return NULL;
    }
    PyObject *r = stream_py_write(self, data);
    Py_DECREF(data);
    return r;
}

static PyObject *
stream_py_write_eof(StreamObj *self, PyObject *unused)
{
    if (self->closing || self->eof) {
        Py_RETURN_NONE;
    }
    self->eof = 1;
    if (self->wbuf.len == 0 && stream_shutdown_wr(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_py_can_write_eof(StreamObj *self, PyObject *unused)
{
    Py_RETURN_TRUE;
}

static PyObject *
stream_py_close(StreamObj *self, PyObject *unused)
{
    if (stream_close(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_py_abort(StreamObj *self, PyObject *unused)
{
    if (stream_force_close(self, NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_py_force_close(StreamObj *self, PyObject *exc)
{
    if (stream_force_close(self, exc == Py_None ? NULL : exc) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_py_is_closing(StreamObj *self, PyObject *unused)
{
    return PyBool_FromLong(self->closing);
}

static int
stream_is_reading(StreamObj *self)
{
    return !self->closing && !self->paused;
}

static PyObject *
stream_py_is_reading(StreamObj *self, PyObject *unused)
{
    return PyBool_FromLong(stream_is_reading(self));
}

static int
stream_log_debug(StreamObj *self, const char *fmt)
{
    if (!self->loop->debug) {
        return 0;
    }
    PyObject *r = PyObject_CallMethod(stream_state(self)->logger, "debug", "sO", fmt,
                                      (PyObject *)self);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static PyObject *
stream_py_pause_reading(StreamObj *self, PyObject *unused)
{
    if (!stream_is_reading(self)) {
        Py_RETURN_NONE;
    }
    /* The kernel entry stays until it next reports the fd readable
     * (ca_stream_ready drops it then): a stream reader pauses when its
     * buffer passes the limit and resumes as soon as its task has read,
     * usually before the loop polls again, and the entry's DEL then ADD
     * cost two epoll_ctl a read that way. */
    self->paused = 1;
    if (stream_log_debug(self, "%r pauses reading") < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_py_resume_reading(StreamObj *self, PyObject *unused)
{
    if (self->closing || !self->paused) {
        Py_RETURN_NONE;
    }
    self->paused = 0;
    /* Costs nothing if the entry is still there (see pause_reading). */
    if (stream_watch_here(self, 0) < 0
        || stream_log_debug(self, "%r resumes reading") < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_py_start_reading(StreamObj *self, PyObject *unused)
{
    if (stream_is_reading(self) && stream_watch_here(self, 0) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_py_call_connection_lost(StreamObj *self, PyObject *exc)
{
    if (self->lost) {
        Py_RETURN_NONE;
    }
    self->lost = 1;
    PyObject *r = NULL;
    if (self->protocol != NULL) {
        PyObject *proto = Py_NewRef(self->protocol);
        r = PyObject_CallMethod(proto, "connection_lost", "O", exc);
        Py_DECREF(proto);
    }
    else {
        r = Py_NewRef(Py_None);
    }
    PyObject *err = r ? NULL : ca_err_fetch();
    int rc = stream_release(self);
    if (self->empty_waiter != NULL) {
        PyObject *lost = PyObject_CallFunction(PyExc_ConnectionError, "s",
                                               "Connection is closed by peer");
        if (lost == NULL || stream_settle_waiter(self, lost) < 0) {
            rc = -1;
        }
        Py_XDECREF(lost);
    }
    if (err != NULL) {
        if (rc < 0) {
            PyErr_Clear();
        }
        Py_XDECREF(r);
        ca_err_restore(err);
        return NULL;
    }
    if (rc < 0) {
        Py_DECREF(r);
        return NULL;
    }
    return r;
}

/* For loop.sendfile (casyncio/_loop.py): a future done once the write
 * queue is empty.  While it is set the socket is sendfile's, so the fd
 * is not claimed (asyncio removes the transport from _transports). */
static PyObject *
stream_py_make_empty_waiter(StreamObj *self, PyObject *unused)
{
    if (self->empty_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Empty waiter is already set");
        return NULL;
    }
    self->empty_waiter = PyObject_CallMethod((PyObject *)self->loop, "create_future", NULL);
    if (self->empty_waiter == NULL
        || (self->wbuf.len == 0 && stream_settle_waiter(self, NULL) < 0)) {
        Py_CLEAR(self->empty_waiter);
        return NULL;
    }
    stream_release_fd(self);
    return Py_NewRef(self->empty_waiter);
}

static PyObject *
stream_py_reset_empty_waiter(StreamObj *self, PyObject *unused)
{
    Py_CLEAR(self->empty_waiter);
    if (!self->closing && ca_io_claim_fd(self->loop, self->fd, (PyObject *)self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_py_get_protocol(StreamObj *self, PyObject *unused)
{
    return Py_NewRef(self->protocol ? self->protocol : Py_None);
}

static PyObject *
stream_py_set_protocol(StreamObj *self, PyObject *protocol)
{
    if (stream_set_protocol(self, protocol) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_py_get_write_buffer_size(StreamObj *self, PyObject *unused)
{
    return PyLong_FromSsize_t(self->wbuf.size);
}

static PyObject *
stream_py_get_write_buffer_limits(StreamObj *self, PyObject *unused)
{
    return Py_BuildValue("(nn)", self->low, self->high);
}

/* asyncio's defaults: high 64 KiB, or 4 * low; low high // 4. */
static int
stream_parse_limits(PyObject *high_o, PyObject *low_o, Py_ssize_t *high, Py_ssize_t *low)
{
    if (high_o == Py_None) {
        *high = 64 * 1024;
        if (low_o != Py_None) {
            *low = PyNumber_AsSsize_t(low_o, PyExc_OverflowError);
            *high = *low * 4;
        }
    }
    else {
        *high = PyNumber_AsSsize_t(high_o, PyExc_OverflowError);
    }
    if (low_o == Py_None) {
        *low = *high / 4;
        if (*high < 0 && *high % 4) {
            *low -= 1;  /* Python's floor division */
        }
    }
    else {
        *low = PyNumber_AsSsize_t(low_o, PyExc_OverflowError);
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    if (!(*high >= *low && *low >= 0)) {
        PyErr_Format(PyExc_ValueError, "high (%zd) must be >= low (%zd) must be >= 0",
                     *high, *low);
        return -1;
    }
    return 0;
}

static PyObject *
stream_py_set_write_buffer_limits(StreamObj *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"high", "low", NULL};
    PyObject *high_o = Py_None, *low_o = Py_None;
    Py_ssize_t high, low;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:set_write_buffer_limits", kwlist,
                                     &high_o, &low_o)
        || stream_parse_limits(high_o, low_o, &high, &low) < 0) {
        return NULL;
    }
    self->high = high;
    self->low = low;
    if (stream_set_slot_ssize(self, "_high_water", high) < 0
        || stream_set_slot_ssize(self, "_low_water", low) < 0
        || stream_maybe_pause(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_get_sock(StreamObj *self, void *c)
{
    return Py_NewRef(self->sock ? self->sock : Py_None);
}

static PyObject *
stream_get_fd(StreamObj *self, void *c)
{
    return PyLong_FromLong(self->fd);
}

/* _paused: reading paused by pause_reading(), as asyncio's transports
 * have it (3.15's test_server_context reads it). */
static PyObject *
stream_get_paused(StreamObj *self, void *c)
{
    return PyBool_FromLong(self->paused);
}

static PyObject *
stream_repr(StreamObj *self)
{
    PyObject *name = PyType_GetName(Py_TYPE(self));
    if (name == NULL) {
        return NULL;
    }
    const char *state = self->sock == NULL ? " closed" : self->closing ? " closing" : "";
    PyObject *r;
    if (self->sock == NULL || self->loop->closed) {
        r = PyUnicode_FromFormat("<%U%s fd=%d>", name, state, self->fd);
    }
    else {
        int reading = stream_is_reading(self) && !self->lost;
        r = PyUnicode_FromFormat("<%U%s fd=%d read=%s write=<%s, bufsize=%zd>>", name,
                                 state, self->fd, reading ? "polling" : "idle",
                                 self->wbuf.len ? "polling" : "idle", self->wbuf.size);
    }
    Py_DECREF(name);
    return r;
}

/* ---- slots ---- */

static void
stream_finalize(StreamObj *self)
{
    if (self->sock == NULL || self->loop == NULL) {
        return;
    }
    PyObject *exc = ca_err_fetch();
    if (PyErr_ResourceWarning((PyObject *)self, 1, "unclosed transport %R",
                              (PyObject *)self) < 0) {
        PyErr_WriteUnraisable((PyObject *)self);
    }
    ca_wbuf_clear(&self->wbuf);
    if (stream_release(self) < 0) {
        PyErr_WriteUnraisable((PyObject *)self);
    }
    if (exc != NULL) {
        ca_err_restore(exc);
    }
}

static int
stream_traverse(StreamObj *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    for (int i = 0; i < STREAM_BASE_SLOTS; i++) {
        Py_VISIT(self->base_slots[i]);
    }
    Py_VISIT(self->dict);
    Py_VISIT((PyObject *)self->loop);
    Py_VISIT(self->sock);
    Py_VISIT(self->protocol);
    Py_VISIT(self->server);
    Py_VISIT(self->empty_waiter);
    Py_VISIT(self->read_ctx);
    Py_VISIT(self->write_ctx);
    for (Py_ssize_t i = 0; i < self->wbuf.len; i++) {
        Py_VISIT(ca_wbuf_at(&self->wbuf, i));
    }
    return 0;
}

static int
stream_clear(StreamObj *self)
{
    if (self->loop != NULL) {
        stream_release_fd(self);
    }
    for (int i = 0; i < STREAM_BASE_SLOTS; i++) {
        Py_CLEAR(self->base_slots[i]);
    }
    ca_wbuf_clear(&self->wbuf);
    Py_CLEAR(self->dict);
    Py_CLEAR(self->sock);
    Py_CLEAR(self->protocol);
    Py_CLEAR(self->server);
    Py_CLEAR(self->empty_waiter);
    Py_CLEAR(self->read_ctx);
    Py_CLEAR(self->write_ctx);
    Py_CLEAR(self->loop);
    return 0;
}

static void
stream_dealloc(StreamObj *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0) {
        return;  /* resurrected */
    }
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    (void)stream_clear(self);
    if (self->wbuf.items != NULL) {
        CA_LIVE_ADD_TYPE(tp, CA_LIVE_WRITEBUF, -1);
    }
    ca_wbuf_free(&self->wbuf);
    CA_LIVE_ADD_TYPE(tp, CA_LIVE_TRANSPORT, -1);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* ---- tables ---- */

/* Method table entries shared by the socket and the pipe transports. */
#define STREAM_WRITE_METHODS                                                            \
    {"write", (PyCFunction)stream_py_write, METH_O,                                     \
     "write($self, data, /)\n--\n\nWrite data: at once if the fd takes it, else "      \
     "queued and written when the fd is writable."},                                    \
    {"writelines", (PyCFunction)stream_py_writelines, METH_O,                           \
     "writelines($self, list_of_data, /)\n--\n\nWrite the concatenated buffers."},     \
    {"can_write_eof", (PyCFunction)stream_py_can_write_eof, METH_NOARGS,                \
     "can_write_eof($self, /)\n--\n\nTrue."},                                          \
    {"abort", (PyCFunction)stream_py_abort, METH_NOARGS,                                \
     "abort($self, /)\n--\n\nClose at once, dropping queued data."},                   \
    {"get_write_buffer_size", (PyCFunction)stream_py_get_write_buffer_size,             \
     METH_NOARGS, "get_write_buffer_size($self, /)\n--\n\nBytes queued, not yet sent."}, \
    {"get_write_buffer_limits", (PyCFunction)stream_py_get_write_buffer_limits,         \
     METH_NOARGS, "get_write_buffer_limits($self, /)\n--\n\nThe (low, high) marks."},  \
    {"set_write_buffer_limits",                                                         \
     (PyCFunction)(void (*)(void))stream_py_set_write_buffer_limits,                    \
     METH_VARARGS | METH_KEYWORDS,                                                      \
     "set_write_buffer_limits($self, /, high=None, low=None)\n--\n\n"                  \
     "Set the marks at which pause_writing/resume_writing are called."}

#define STREAM_READ_METHODS                                                             \
    {"is_reading", (PyCFunction)stream_py_is_reading, METH_NOARGS,                      \
     "is_reading($self, /)\n--\n\nTrue unless reading is paused or closing."},         \
    {"pause_reading", (PyCFunction)stream_py_pause_reading, METH_NOARGS,                \
     "pause_reading($self, /)\n--\n\nStop calling data_received until resumed."},      \
    {"resume_reading", (PyCFunction)stream_py_resume_reading, METH_NOARGS,              \
     "resume_reading($self, /)\n--\n\nResume after pause_reading()."}

#define STREAM_COMMON_METHODS                                                           \
    {"is_closing", (PyCFunction)stream_py_is_closing, METH_NOARGS,                      \
     "is_closing($self, /)\n--\n\nTrue once closing (or at a pipe's end of file)."},   \
    {"get_protocol", (PyCFunction)stream_py_get_protocol, METH_NOARGS,                  \
     "get_protocol($self, /)\n--\n\nThe current protocol."},                           \
    {"set_protocol", (PyCFunction)stream_py_set_protocol, METH_O,                       \
     "set_protocol($self, protocol, /)\n--\n\nReplace the protocol."},                 \
    {"_force_close", (PyCFunction)stream_py_force_close, METH_O, NULL},                 \
    {"_call_connection_lost", (PyCFunction)stream_py_call_connection_lost, METH_O, NULL}, \
    {"_start_reading", (PyCFunction)stream_py_start_reading, METH_NOARGS, NULL}

static PyMethodDef stream_methods[] = {
    STREAM_WRITE_METHODS,
    STREAM_READ_METHODS,
    STREAM_COMMON_METHODS,
    {"write_eof", (PyCFunction)stream_py_write_eof, METH_NOARGS,
     "write_eof($self, /)\n--\n\nShut the write side down once the queue is sent."},
    {"close", (PyCFunction)stream_py_close, METH_NOARGS,
     "close($self, /)\n--\n\nStop reading; connection_lost(None) follows once the "
     "queued data is sent."},
    {"_make_empty_waiter", (PyCFunction)stream_py_make_empty_waiter, METH_NOARGS, NULL},
    {"_reset_empty_waiter", (PyCFunction)stream_py_reset_empty_waiter, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef stream_getset[] = {
    {"_sock", (getter)stream_get_sock, NULL, NULL, NULL},
    {"_sock_fd", (getter)stream_get_fd, NULL, NULL, NULL},
    {"_paused", (getter)stream_get_paused, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef stream_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(StreamObj, weakreflist), READONLY, NULL},
    {"__dictoffset__", T_PYSSIZET, offsetof(StreamObj, dict), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot stream_slots[] = {
    {Py_tp_doc, "A TCP or Unix stream transport (asyncio.Transport)."},
    {Py_tp_methods, stream_methods},
    {Py_tp_getset, stream_getset},
    {Py_tp_members, stream_members},
    {Py_tp_repr, stream_repr},
    {Py_tp_traverse, stream_traverse},
    {Py_tp_clear, stream_clear},
    {Py_tp_finalize, stream_finalize},
    {Py_tp_dealloc, stream_dealloc},
    {0, NULL},
};

static PyType_Spec stream_spec = {
    .name = "casyncio._core.SocketTransport",
    .basicsize = sizeof(StreamObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = stream_slots,
};

/* The base must have exactly the slots our struct reserves for it. */
static int
stream_check_base(PyTypeObject *base)
{
    if (base->tp_basicsize != (Py_ssize_t)offsetof(StreamObj, weakreflist)
        || base->tp_dictoffset != 0 || base->tp_weaklistoffset != 0) {
        PyErr_SetString(PyExc_ImportError,
                        "asyncio.transports._FlowControlMixin has an unexpected layout");
        return -1;
    }
    return 0;
}

static int
stream_cache(ca_state *st)
{
    if ((st->TransportSocket = ca_import_attr("asyncio.trsock", "TransportSocket")) == NULL
        || (st->BufferedProtocol = ca_import_attr("asyncio.protocols", "BufferedProtocol"))
               == NULL
        || (st->set_result_unless_cancelled
            = ca_import_attr("asyncio.futures", "_set_result_unless_cancelled")) == NULL
        || (st->str_data_received = PyUnicode_InternFromString("data_received")) == NULL
        || (st->str_get_buffer = PyUnicode_InternFromString("get_buffer")) == NULL
        || (st->str_buffer_updated = PyUnicode_InternFromString("buffer_updated")) == NULL
        || (st->str_eof_received = PyUnicode_InternFromString("eof_received")) == NULL
        || (st->str_peername = PyUnicode_InternFromString("peername")) == NULL
        || (st->SocketType = ca_import_attr("socket", "socket")) == NULL
        || (st->str_recv = PyUnicode_InternFromString("recv")) == NULL
        || (st->str_recv_into = PyUnicode_InternFromString("recv_into")) == NULL
        || (st->str_send = PyUnicode_InternFromString("send")) == NULL
        || (st->str_sendmsg = PyUnicode_InternFromString("sendmsg")) == NULL) {
        return -1;
    }
    return 0;
}

static int pipe_types_init(PyObject *module);

int
ca_stream_types_init(PyObject *module, ca_state *st)
{
    PyObject *base = ca_import_attr("asyncio.transports", "_FlowControlMixin");
    PyObject *mode = NULL;
    if (base == NULL || stream_check_base((PyTypeObject *)base) < 0) {
        goto error;
    }
    st->StreamTransportType
        = (PyTypeObject *)PyType_FromModuleAndSpec(module, &stream_spec, base);
    Py_CLEAR(base);
    if (st->StreamTransportType == NULL) {
        goto error;
    }
    /* loop.sendfile() tries os.sendfile (sock_sendfile) on our transports,
     * then asyncio's write-based fallback. */
    PyObject *modes = ca_import_attr("asyncio.constants", "_SendfileMode");
    mode = modes ? PyObject_GetAttrString(modes, "TRY_NATIVE") : NULL;
    Py_XDECREF(modes);
    if (mode == NULL
        || PyObject_SetAttrString((PyObject *)st->StreamTransportType,
                                  "_sendfile_compatible", mode) < 0) {
        goto error;
    }
    Py_CLEAR(mode);
    /* start_tls() layers asyncio's SSL protocol over it. */
    if (PyObject_SetAttrString((PyObject *)st->StreamTransportType,
                               "_start_tls_compatible", Py_True) < 0) {
        goto error;
    }
    st->AccepterType
        = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ca_accepter_spec, NULL);
    if (st->AccepterType == NULL
        || PyModule_AddType(module, st->StreamTransportType) < 0
        || PyModule_AddType(module, st->AccepterType) < 0) {
        goto error;
    }
    if (pipe_types_init(module) < 0) {
        goto error;
    }
    return stream_cache(st);
error:
    Py_XDECREF(base);
    Py_XDECREF(mode);
    return -1;
}

/* loop._make_socket_transport(sock, protocol, waiter=None, *, extra=None,
 * server=None, context=None), the hook asyncio's create_connection & co.
 * call (3.15's pass context=: see ca_stream_new). */
PyObject *
ca_loop_make_socket_transport(LoopObj *loop, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    PyObject *sock = NULL, *protocol = NULL, *waiter = Py_None, *extra = Py_None,
             *server = Py_None, *context = Py_None;
    PyObject **pos[3] = {&sock, &protocol, &waiter};
    if (nargs < 2 || nargs > 3) {
        PyErr_Format(PyExc_TypeError,
                     "_make_socket_transport() takes 2 or 3 positional arguments (%zd given)",
                     nargs);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        *pos[i] = args[i];
    }
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(k, "extra") == 0) {
            extra = args[nargs + i];
        }
        else if (PyUnicode_CompareWithASCIIString(k, "server") == 0) {
            server = args[nargs + i];
        }
        else if (PyUnicode_CompareWithASCIIString(k, "waiter") == 0) {
            waiter = args[nargs + i];
        }
        else if (PyUnicode_CompareWithASCIIString(k, "context") == 0) {
            context = args[nargs + i];
        }
        else {
            PyErr_Format(PyExc_TypeError,
                         "_make_socket_transport() got an unexpected keyword argument %R", k);
            return NULL;
        }
    }
    if (context != Py_None && !PyContext_CheckExact(context)) {
        PyErr_Format(PyExc_TypeError, "context must be a contextvars.Context, not %s",
                     Py_TYPE(context)->tp_name);
        return NULL;
    }
    return ca_stream_new(loop, sock, protocol, waiter, extra, server, context);
}

/* ---- pipe mode: connect_read_pipe and connect_write_pipe ----
 *
 * The same object and machinery on a pipe, FIFO, socket or character
 * device given to the loop's pipe methods, with asyncio's
 * _UnixReadPipeTransport and _UnixWritePipeTransport behaviour where it
 * differs from a socket's: read()/writev() instead of recv()/sendmsg();
 * end of file closes a read pipe (eof_received's answer is not asked);
 * write_eof() is close() on a write pipe; a write pipe on a pipe or socket
 * watches its fd for readability, which there means the reader went away.
 * Pipes are not claimed in the watch table: asyncio does not register
 * them in _transports either.  Both types are made by their constructor,
 * ReadPipeTransport(loop, pipe, protocol, waiter=None, extra=None), called
 * by casyncio/_pipes.py. */

static int
pipe_log_info(StreamObj *self, const char *fmt)
{
    if (!self->loop->debug) {
        return 0;
    }
    PyObject *r = PyObject_CallMethod(stream_state(self)->logger, "info", "sO", fmt,
                                      (PyObject *)self);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* data_received of a read pipe's protocol raised: asyncio's read pipe lets
 * it out of its reader callback, so the loop reports a failed callback
 * ("Exception in callback ..._read_ready()", with a 'handle') and the pipe
 * stays open, where a socket transport's error is fatal to it.
 * KeyboardInterrupt and SystemExit propagate. */
static int
pipe_data_received_failed(StreamObj *self)
{
    PyObject *exc = ca_err_fetch();
    if (ca_err_is_fatal(exc)) {
        ca_err_restore(exc);
        return -1;
    }
    /* The report's handle gets a copy of the current context (the reading
     * side's, entered now: the handler, run in it from 3.12 on, could not
     * enter it again). */
    PyObject *cb = PyObject_GetAttrString((PyObject *)self, "_read_ready");
    int rc = cb ? ca_report_callback_error(stream_state(self), (PyObject *)self->loop,
                                           cb, NULL, 0, NULL, NULL, exc)
                : -1;
    Py_XDECREF(cb);
    Py_DECREF(exc);
    return rc;
}

/* _read_ready(): what the loop runs when the pipe is readable (asyncio's
 * read pipe has it; a failed data_received is reported as its failure). */
static PyObject *
pipe_py_read_ready(StreamObj *self, PyObject *unused)
{
    if (ca_stream_ready(self->loop, (PyObject *)self, 0) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* A read pipe at end of file: closed, eof_received then connection_lost
 * scheduled, as asyncio's read pipe does. */
static int
pipe_on_eof(StreamObj *self)
{
    if (pipe_log_info(self, "%r was closed by peer") < 0) {
        return stream_failed(self, "Fatal error: protocol.eof_received() call failed.");
    }
    PyObject *eof = PyObject_GetAttr(self->protocol, stream_state(self)->str_eof_received);
    if (eof == NULL) {
        return stream_failed(self, "Fatal error: protocol.eof_received() call failed.");
    }
    self->closing = 1;
    stream_unwatch(self, 0);
    self->conn_lost++;
    int rc = stream_call_soon(self, eof, NULL, 0);
    Py_DECREF(eof);
    if (rc == 0) {
        rc = stream_call_soon_method(self, "_call_connection_lost", Py_None);
    }
    return rc;
}

/* The write pipe's fd is readable: its reader has gone.  Queued data can
 * no longer be delivered, which connection_lost reports as BrokenPipeError. */
static int
pipe_peer_closed(StreamObj *self)
{
    stream_unwatch(self, 0);
    if (pipe_log_info(self, "%r was closed by peer") < 0) {
        return -1;
    }
    PyObject *exc = NULL;
    if (self->wbuf.len > 0 && (exc = PyObject_CallNoArgs(PyExc_BrokenPipeError)) == NULL) {
        return -1;
    }
    int rc = stream_force_close(self, exc);
    Py_XDECREF(exc);
    return rc;
}

/* The fd's file type decides what the pipe transports take, with
 * asyncio's messages; a write pipe watches for its reader's going on a
 * FIFO or socket (not on a character device, where readable means input). */
static int
pipe_check_mode(int fd, int kind, int *watch_peer)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        ca_err_from_errno(-errno);
        return -1;
    }
    int fifo = S_ISFIFO(st.st_mode), sock = S_ISSOCK(st.st_mode);
    if (!(fifo || sock || S_ISCHR(st.st_mode))) {
        PyErr_SetString(PyExc_ValueError,
                        kind == STREAM_PIPE_READ
                            ? "Pipe transport is for pipes/sockets only."
                            : "Pipe transport is only for pipes, sockets and character devices");
        return -1;
    }
    *watch_peer = kind == STREAM_PIPE_WRITE && (fifo || sock);
    return 0;
}

static int
pipe_set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        ca_err_from_errno(-errno);
        return -1;
    }
    return 0;
}

/* The slots of the Python base: only _extra for ReadTransport. */
static int
pipe_init_slots(StreamObj *self, PyObject *pipe, PyObject *extra)
{
    PyObject *d = extra != NULL && extra != Py_None ? PyDict_Copy(extra) : PyDict_New();
    if (d == NULL || PyDict_SetItemString(d, "pipe", pipe) < 0) {
        Py_XDECREF(d);
        return -1;
    }
    int rc = self->kind == STREAM_PIPE_READ ? stream_set_slot(self, "_extra", d)
                                            : stream_init_slots(self, d);
    Py_DECREF(d);
    return rc;
}

/* connection_made, then reading (or watching for the reader's going),
 * then the waiter's result, as asyncio's pipe transports schedule. */
static int
pipe_schedule_start(StreamObj *self, PyObject *waiter, int watch)
{
    PyObject *made = PyObject_GetAttrString(self->protocol, "connection_made");
    if (made == NULL) {
        return -1;
    }
    PyObject *arg = (PyObject *)self;
    int rc = stream_call_soon(self, made, &arg, 1);
    Py_DECREF(made);
    if (rc < 0 || (watch && stream_call_soon_method(self, "_start_reading", NULL) < 0)) {
        return -1;
    }
    if (waiter == NULL || waiter == Py_None) {
        return 0;
    }
    PyObject *args[2] = {waiter, Py_None};
    return stream_call_soon(self, stream_state(self)->set_result_unless_cancelled, args, 2);
}

static PyObject *
pipe_new(PyTypeObject *tp, int kind, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"loop", "pipe", "protocol", "waiter", "extra", NULL};
    PyObject *loop, *pipe, *protocol, *waiter = Py_None, *extra = Py_None;
    ca_state *st = ca_state_from_type(tp);
    if (st == NULL
        || !PyArg_ParseTupleAndKeywords(args, kwds, "O!OO|OO", kwlist, st->LoopType, &loop,
                                        &pipe, &protocol, &waiter, &extra)
        || ca_loop_check_closed((LoopObj *)loop) < 0) {
        return NULL;
    }
    int fd = PyObject_AsFileDescriptor(pipe), watch_peer = 0;
    if (fd < 0 || pipe_check_mode(fd, kind, &watch_peer) < 0 || pipe_set_nonblocking(fd) < 0) {
        return NULL;
    }
    StreamObj *self = (StreamObj *)tp->tp_alloc(tp, 0);
    if (self == NULL) {
        return NULL;
    }
    CA_LIVE_ADD(st, CA_LIVE_TRANSPORT, 1);
    self->loop = (LoopObj *)Py_NewRef(loop);
    self->sock = Py_NewRef(pipe);
    self->protocol = Py_NewRef(protocol);  /* data_received only, as asyncio */
    self->fd = fd;
    self->kind = (char)kind;
    self->high = 64 * 1024;
    self->low = 16 * 1024;
    if (pipe_init_slots(self, pipe, extra) < 0
        || pipe_schedule_start(self, waiter, kind == STREAM_PIPE_READ || watch_peer) < 0) {
        Py_CLEAR(self->sock);  /* the pipe stays the caller's on failure */
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static PyObject *
pipe_read_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    return pipe_new(tp, STREAM_PIPE_READ, args, kwds);
}

static PyObject *
pipe_write_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    return pipe_new(tp, STREAM_PIPE_WRITE, args, kwds);
}

/* Everything is done by tp_new; asyncio's BaseTransport.__init__ must not
 * run (it would take our arguments for its own). */
static int
pipe_tp_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    return 0;
}

static PyObject *
pipe_get_pipe(StreamObj *self, void *c)
{
    return Py_NewRef(self->sock ? self->sock : Py_None);
}

/* Setting _pipe to None forgets the file without closing it (CPython's
 * tests do so to silence the unclosed-transport warning). */
static int
pipe_set_pipe(StreamObj *self, PyObject *value, void *c)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete _pipe");
        return -1;
    }
    Py_XSETREF(self->sock, value == Py_None ? NULL : Py_NewRef(value));
    return 0;
}

static PyObject *
pipe_get_closing(StreamObj *self, void *c)
{
    return PyBool_FromLong(self->closing);
}

/* asyncio's pipe repr: closed/closing, the fd, polling or idle (open once
 * the loop is closed), and a write pipe's buffer size. */
static PyObject *
pipe_repr(StreamObj *self)
{
    PyObject *name = PyType_GetName(Py_TYPE(self));
    if (name == NULL) {
        return NULL;
    }
    const char *state = self->sock == NULL ? " closed" : self->closing ? " closing" : "";
    int writer = self->kind == STREAM_PIPE_WRITE;
    const char *poll = "closed";
    if (self->sock != NULL && !self->loop->closed) {
        ca_watch *w = self->fd < self->loop->nwatches ? &self->loop->watches[self->fd] : NULL;
        PyObject *slot = w == NULL ? NULL : writer ? w->writer : w->reader;
        /* A paused reader may keep its entry until the fd next reports
         * readable (pause_reading): it is idle all the same. */
        int watched = slot == (PyObject *)self && (writer || !self->paused);
        poll = watched ? "polling" : "idle";
    }
    else if (self->sock != NULL) {
        poll = "open";
    }
    PyObject *r;
    if (writer && strcmp(poll, "open") != 0 && strcmp(poll, "closed") != 0) {
        r = PyUnicode_FromFormat("<%U%s fd=%d %s bufsize=%zd>", name, state, self->fd, poll,
                                 self->wbuf.size);
    }
    else {
        r = PyUnicode_FromFormat("<%U%s fd=%d %s>", name, state, self->fd, poll);
    }
    Py_DECREF(name);
    return r;
}

static PyMethodDef pipe_read_methods[] = {
    STREAM_READ_METHODS,
    STREAM_COMMON_METHODS,
    {"_read_ready", (PyCFunction)pipe_py_read_ready, METH_NOARGS, NULL},
    {"close", (PyCFunction)stream_py_close, METH_NOARGS,
     "close($self, /)\n--\n\nStop reading; connection_lost(None) follows."},
    {NULL, NULL, 0, NULL},
};

/* write_eof() is close() on a pipe: a pipe cannot be half-closed. */
static PyMethodDef pipe_write_methods[] = {
    STREAM_WRITE_METHODS,
    STREAM_COMMON_METHODS,
    {"write_eof", (PyCFunction)stream_py_close, METH_NOARGS,
     "write_eof($self, /)\n--\n\nClose the pipe once the queue is written."},
    {"close", (PyCFunction)stream_py_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the pipe once the queued data is written."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef pipe_getset[] = {
    {"_pipe", (getter)pipe_get_pipe, (setter)pipe_set_pipe, NULL, NULL},
    {"_fileno", (getter)stream_get_fd, NULL, NULL, NULL},
    {"_closing", (getter)pipe_get_closing, NULL, NULL, NULL},
    {"_paused", (getter)stream_get_paused, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot pipe_read_slots[] = {
    {Py_tp_doc, "The read end of a pipe, FIFO or character device (asyncio.ReadTransport)."},
    {Py_tp_new, pipe_read_tp_new},
    {Py_tp_init, pipe_tp_init},
    {Py_tp_methods, pipe_read_methods},
    {Py_tp_getset, pipe_getset},
    {Py_tp_members, stream_members},
    {Py_tp_repr, pipe_repr},
    {Py_tp_traverse, stream_traverse},
    {Py_tp_clear, stream_clear},
    {Py_tp_finalize, stream_finalize},
    {Py_tp_dealloc, stream_dealloc},
    {0, NULL},
};

static PyType_Slot pipe_write_slots[] = {
    {Py_tp_doc, "The write end of a pipe, FIFO or character device (asyncio.WriteTransport)."},
    {Py_tp_new, pipe_write_tp_new},
    {Py_tp_init, pipe_tp_init},
    {Py_tp_methods, pipe_write_methods},
    {Py_tp_getset, pipe_getset},
    {Py_tp_members, stream_members},
    {Py_tp_repr, pipe_repr},
    {Py_tp_traverse, stream_traverse},
    {Py_tp_clear, stream_clear},
    {Py_tp_finalize, stream_finalize},
    {Py_tp_dealloc, stream_dealloc},
    {0, NULL},
};

static PyType_Spec pipe_read_spec = {
    .name = "casyncio._core.ReadPipeTransport",
    .basicsize = sizeof(StreamObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = pipe_read_slots,
};

static PyType_Spec pipe_write_spec = {
    .name = "casyncio._core.WritePipeTransport",
    .basicsize = sizeof(StreamObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = pipe_write_slots,
};

/* One pipe type over the asyncio class `base`, whose __slots__ must fit
 * in the ones our struct reserves (ReadTransport has only _extra). */
static int
pipe_type_init(PyObject *module, PyType_Spec *spec, const char *base_name)
{
    PyObject *base = ca_import_attr("asyncio.transports", base_name);
    if (base == NULL) {
        return -1;
    }
    Py_ssize_t size = ((PyTypeObject *)base)->tp_basicsize;
    if (size < (Py_ssize_t)offsetof(StreamObj, base_slots[1])
        || size > (Py_ssize_t)offsetof(StreamObj, weakreflist)
        || ((PyTypeObject *)base)->tp_dictoffset != 0
        || ((PyTypeObject *)base)->tp_weaklistoffset != 0) {
        PyErr_Format(PyExc_ImportError, "asyncio.transports.%s has an unexpected layout",
                     base_name);
        Py_DECREF(base);
        return -1;
    }
    PyObject *tp = PyType_FromModuleAndSpec(module, spec, base);
    Py_DECREF(base);
    if (tp == NULL) {
        return -1;
    }
    int rc = PyModule_AddType(module, (PyTypeObject *)tp);
    Py_DECREF(tp);
    return rc;
}

static int
pipe_types_init(PyObject *module)
{
    if (pipe_type_init(module, &pipe_read_spec, "ReadTransport") < 0
        || pipe_type_init(module, &pipe_write_spec, "_FlowControlMixin") < 0) {
        return -1;
    }
    return 0;
}
