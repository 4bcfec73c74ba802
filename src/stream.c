/* Byte-stream transports: the socket transport (one connected SOCK_STREAM
 * socket, TCP or Unix, with asyncio's _SelectorSocketTransport behaviour),
 * and the reading and writing that the pipe transports (pipe.c) share.
 *
 * Owns: the socket transport objects, their write queues (a ca_wbuf,
 * wbuf.c, flushed with sendmsg's gather write), their references to the
 * server and the sendfile waiter.  The base (transport.c) holds the loop,
 * socket, protocol and contexts, and runs closing and flow control.
 * Does not own: the watch table (io.c; a transport sits in its fd's reader
 * and writer slots while it waits, and is named in the entry as the fd's
 * owner so add_reader & co. refuse the fd), the accepting side of servers
 * (server.c), the once-per-connection orchestration (asyncio's own
 * create_connection & co., see casyncio/_loop.py).
 *
 * A kind is an ops table (ca_stream_ops, stream.h): an exact socket.socket
 * goes straight to the system calls; a subclass (pysock) through its own
 * methods; pipes through read() and write() (pipe.c).
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
#include "recv.h"
#include "stream.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define ST(o) ((StreamObj *)(o))

/* ---- the write queue, as the base sees it ---- */

Py_ssize_t
ca_stream_queue_size(TransportObj *t)
{
    return ST(t)->wbuf.size;
}

Py_ssize_t
ca_stream_queue_len(TransportObj *t)
{
    return ST(t)->wbuf.len;
}

void
ca_stream_queue_clear(TransportObj *t)
{
    ca_wbuf_clear(&ST(t)->wbuf);
}

/* Closes the file and forgets the server; after connection_lost. */
int
ca_stream_release(TransportObj *t)
{
    StreamObj *s = ST(t);
    int rc = 0;
    ca_tr_unwatch(t, 0);
    ca_tr_unwatch(t, 1);
    ca_io_release_fd(t->loop, t->fd, (PyObject *)t);
    PyObject *sock = t->sock;
    t->sock = NULL;
    if (sock != NULL) {
        PyObject *r = PyObject_CallMethod(sock, "close", NULL);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
        Py_DECREF(sock);
    }
    PyObject *server = s->server;
    s->server = NULL;
    if (server != NULL) {
#if PY_VERSION_HEX >= 0x030D0000
        PyObject *r = PyObject_CallMethod(server, "_detach", "O", (PyObject *)t);
#else
        PyObject *r = PyObject_CallMethod(server, "_detach", NULL);
#endif
        rc = r && rc == 0 ? 0 : -1;
        Py_XDECREF(r);
        Py_DECREF(server);
    }
    return rc;
}

/* ---- fd-level I/O ---- */

/* An errno of a system call: would block (EAGAIN, EINTR: the fd is
 * watched again), or the matching OSError. */
static Py_ssize_t
stream_errno(int err)
{
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
        return CA_ST_WOULD_BLOCK;
    }
    ca_err_from_errno(-err);
    return CA_ST_ERROR;
}

Py_ssize_t
ca_stream_fd_recv(StreamObj *s, PyObject **data)
{
    int err;
    Py_ssize_t n = ca_recv_bytes(s->tr.loop, s->tr.fd, CA_RECV_SCRATCH_SIZE, s->large_reads,
                                 ca_st_ops(s)->fd_socket, data, &err);
    if (n >= 0) {
        s->large_reads = n >= CA_RECV_DIRECT_MIN;
        return n;
    }
    return err ? stream_errno(err) : CA_ST_ERROR;
}

Py_ssize_t
ca_stream_fd_recv_into(StreamObj *s, PyObject *buf, Py_buffer *view)
{
    ssize_t n = ca_st_ops(s)->fd_socket ? recv(s->tr.fd, view->buf, (size_t)view->len, 0)
                                        : read(s->tr.fd, view->buf, (size_t)view->len);
    return n >= 0 ? n : stream_errno(errno);
}

/* One gather write.  On a socket, sendmsg (MSG_NOSIGNAL: a vanished peer
 * is EPIPE, not a signal); on a pipe, writev (Python ignores SIGPIPE, so a
 * pipe whose reader is gone is EPIPE too).  A single chunk, the usual
 * case, goes by send() or write(): the kernel then copies no msghdr or
 * iovec from user space, ~0.2 us less a call (Unix socket pair, 1 and 10
 * KiB, medians of 15 runs), 5-10% of a small message's echo. */
static Py_ssize_t
stream_writev(StreamObj *s, struct iovec *iov, int n)
{
    int fd = s->tr.fd;
    ssize_t r;
    if (!ca_st_ops(s)->fd_socket) {
        r = n == 1 ? write(fd, iov->iov_base, iov->iov_len) : writev(fd, iov, n);
    }
    else if (n == 1) {
        r = send(fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL);
    }
    else {
        struct msghdr msg = {0};
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)n;
        r = sendmsg(fd, &msg, MSG_NOSIGNAL);
    }
    return r >= 0 ? r : stream_errno(errno);
}

Py_ssize_t
ca_stream_fd_send(StreamObj *s, PyObject *data, const char *buf, Py_ssize_t len)
{
    struct iovec iov = {(void *)buf, (size_t)len};
    return stream_writev(s, &iov, 1);
}

Py_ssize_t
ca_stream_fd_flush(StreamObj *s)
{
    struct iovec iov[CA_WBUF_IOV_MAX];
    return stream_writev(s, iov, ca_wbuf_fill_iov(&s->wbuf, iov));
}

static int
socket_shutdown_wr(StreamObj *s)
{
    if (shutdown(s->tr.fd, SHUT_WR) < 0) {
        ca_err_from_errno(-errno);
        return -1;
    }
    return 0;
}

/* ---- sockets of a subclass ----
 * asyncio's selector transport reads and writes through the socket
 * object's own methods: recv() (recv_into() for a BufferedProtocol),
 * send(), and shutdown() for write_eof.  A socket.socket subclass may
 * override them, to count or log the traffic or to wrap it, so for one
 * (pysock) the transport calls them too, and sendmsg() for queued data
 * from 3.12 on; an exact socket.socket goes straight to the system calls.
 * Those methods run Python code, which may write to, close or abort the
 * transport before they return. */

/* After such a call raised: BlockingIOError and InterruptedError are
 * "not now", as asyncio ignores them. */
static Py_ssize_t
pysock_failed(void)
{
    return ca_err_clear_would_block() ? CA_ST_WOULD_BLOCK : CA_ST_ERROR;
}

/* sock.recv(max_size). */
static Py_ssize_t
pysock_recv(StreamObj *s, PyObject **data)
{
    PyObject *size = PyLong_FromLong(CA_RECV_SCRATCH_SIZE);
    if (size == NULL) {
        return CA_ST_ERROR;
    }
    PyObject *r = PyObject_CallMethodOneArg(s->tr.sock, ca_tr_state(&s->tr)->str_recv, size);
    Py_DECREF(size);
    Py_ssize_t n = r ? PyObject_Size(r) : -1;
    if (n <= 0) {
        Py_XDECREF(r);
        return n == 0 ? 0 : pysock_failed();
    }
    *data = r;
    return n;
}

/* sock.recv_into(buf). */
static Py_ssize_t
pysock_recv_into(StreamObj *s, PyObject *buf, Py_buffer *view)
{
    PyBuffer_Release(view);
    PyObject *r = PyObject_CallMethodOneArg(s->tr.sock, ca_tr_state(&s->tr)->str_recv_into,
                                            buf);
    Py_ssize_t n = r ? PyNumber_AsSsize_t(r, PyExc_OverflowError) : -1;
    Py_XDECREF(r);
    return n == -1 && PyErr_Occurred() ? pysock_failed() : n;
}

/* sock.<method>(data), sending `len` bytes given as one argument. */
static Py_ssize_t
pysock_call_send(StreamObj *s, PyObject *method, PyObject *data, Py_ssize_t len)
{
    PyObject *r = PyObject_CallMethodOneArg(s->tr.sock, method, data);
    Py_ssize_t n = r ? PyNumber_AsSsize_t(r, PyExc_OverflowError) : -1;
    Py_XDECREF(r);
    if (n == -1 && PyErr_Occurred()) {
        return pysock_failed();
    }
    return n < 0 ? 0 : n > len ? len : n;
}

static Py_ssize_t
pysock_send(StreamObj *s, PyObject *data, const char *buf, Py_ssize_t len)
{
    return pysock_call_send(s, ca_tr_state(&s->tr)->str_send, data, len);
}

/* The queue, from where the last send stopped, handed to the socket as
 * asyncio's transport hands its buffer: sock.sendmsg() of the queued
 * chunks from 3.12 on; before, sock.send() of the first (3.11's asyncio
 * sends its whole bytearray, of which the socket takes what it can). */
static Py_ssize_t
pysock_flush(StreamObj *s)
{
    ca_wbuf *b = &s->wbuf;
    ca_state *st = ca_tr_state(&s->tr);
    PyObject *head = Py_NewRef(ca_wbuf_at(b, 0));
    Py_ssize_t offset = b->offset, len = PyBytes_GET_SIZE(head) - offset;
    PyObject *chunk = offset == 0
        ? Py_NewRef(head)
        : PyBytes_FromStringAndSize(PyBytes_AS_STRING(head) + offset, len);
    Py_ssize_t n = CA_ST_ERROR;
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
        n = pysock_call_send(s, st->str_sendmsg, chunks, len);
        Py_DECREF(chunks);
    }
#else
    if (chunk != NULL) {
        n = pysock_call_send(s, st->str_send, chunk, len);
    }
#endif
    Py_XDECREF(chunk);
    /* send() may have run code that wrote, closed or aborted: what it sent
     * counts only if the queue still starts where it did. */
    if (n >= 0 && (b->len == 0 || ca_wbuf_at(b, 0) != head || b->offset != offset)) {
        n = CA_ST_WOULD_BLOCK;
    }
    Py_DECREF(head);
    return n;
}

static int
pysock_shutdown_wr(StreamObj *s)
{
    PyObject *r = PyObject_CallMethod(s->tr.sock, "shutdown", "i", SHUT_WR);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* ---- reading ---- */

int
ca_stream_eof_failed(StreamObj *s)
{
    return ca_tr_failed(&s->tr, "Fatal error: protocol.eof_received() call failed.");
}

/* A socket at end of file: eof_received() decides whether the transport
 * stays open for writing. */
static int
socket_on_eof(StreamObj *s)
{
    TransportObj *t = &s->tr;
    if (ca_tr_log(t, "debug", "%r received EOF") < 0) {
        return -1;
    }
    PyObject *proto = Py_NewRef(t->protocol);
    PyObject *res = PyObject_CallMethodNoArgs(proto, ca_tr_state(t)->str_eof_received);
    Py_DECREF(proto);
    int keep_open = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    if (keep_open < 0) {
        return ca_stream_eof_failed(s);
    }
    if (keep_open) {
        ca_tr_unwatch(t, 0);
        return 0;
    }
    return ca_tr_close(t);
}

static int
socket_data_failed(StreamObj *s)
{
    return ca_tr_failed(&s->tr, "Fatal error: protocol.data_received() call failed.");
}

/* What recv & co. returned, when it is not data: 1 go on, else the
 * return value of the read. */
static int
stream_read_outcome(StreamObj *s, Py_ssize_t n, int *rc)
{
    if (n > 0) {
        return 1;
    }
    *rc = n == 0 ? ca_st_ops(s)->on_eof(s)
          : n == CA_ST_WOULD_BLOCK ? 0
                                   : ca_tr_failed(&s->tr, ca_st_ops(s)->read_error);
    return 0;
}

static int
stream_read_data(StreamObj *s)
{
    ca_state *st = ca_tr_state(&s->tr);
    PyObject *data = NULL;
    int rc;
    Py_ssize_t n = ca_st_ops(s)->recv(s, &data);
    if (!stream_read_outcome(s, n, &rc)) {
        return rc;
    }
    PyObject *proto = Py_NewRef(s->tr.protocol);
    PyObject *res = PyObject_CallMethodOneArg(proto, st->str_data_received, data);
    Py_DECREF(proto);
    Py_DECREF(data);
    if (res == NULL) {
        return ca_st_ops(s)->data_failed(s);
    }
    Py_DECREF(res);
    return 0;
}

/* BufferedProtocol: get_buffer(-1), recv_into it, buffer_updated(n). */
static int
stream_read_buffered(StreamObj *s)
{
    ca_state *st = ca_tr_state(&s->tr);
    PyObject *proto = Py_NewRef(s->tr.protocol);
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
        return ca_tr_failed(&s->tr, "Fatal error: protocol.get_buffer() call failed.");
    }
    Py_ssize_t n = ca_st_ops(s)->recv_into(s, buf, &view);
    PyBuffer_Release(&view);  /* a no-op if recv_into released it */
    Py_DECREF(buf);
    int rc;
    if (!stream_read_outcome(s, n, &rc)) {
        Py_DECREF(proto);
        return rc;
    }
    PyObject *nobj = PyLong_FromSsize_t(n);
    PyObject *res = nobj ? PyObject_CallMethodOneArg(proto, st->str_buffer_updated, nobj)
                         : NULL;
    Py_XDECREF(nobj);
    Py_DECREF(proto);
    if (res == NULL) {
        return ca_tr_failed(&s->tr, "Fatal error: protocol.buffer_updated() call failed.");
    }
    Py_DECREF(res);
    return 0;
}

int
ca_stream_read_ready(TransportObj *t)
{
    StreamObj *s = ST(t);
    if (t->paused) {
        ca_tr_unwatch(t, 0);  /* paused since the last poll */
        return 0;
    }
    if (t->conn_lost) {
        return 0;
    }
    return s->buffered ? stream_read_buffered(s) : stream_read_data(s);
}

/* ---- writing ---- */

/* The sendfile waiter: its result (exc NULL) or exception. */
static int
stream_settle_waiter(StreamObj *s, PyObject *exc)
{
    PyObject *r = exc ? PyObject_CallMethod(s->empty_waiter, "set_exception", "O", exc)
                      : PyObject_CallMethod(s->empty_waiter, "set_result", "O", Py_None);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* A send of the queue failed (its exception set). */
static int
stream_write_failed(StreamObj *s)
{
    PyObject *exc = ca_err_fetch_handled();
    if (exc == NULL) {
        return -1;
    }
    ca_tr_unwatch(&s->tr, 1);
    ca_wbuf_clear(&s->wbuf);
    int rc = ca_tr_fatal(&s->tr, exc, ca_st_ops(s)->write_error);
    if (rc == 0 && s->empty_waiter != NULL) {
        rc = stream_settle_waiter(s, exc);
    }
    Py_DECREF(exc);
    return rc;
}

/* The queue is sent: the sendfile waiter, a pending close or write_eof. */
static int
stream_drained(StreamObj *s)
{
    TransportObj *t = &s->tr;
    ca_tr_unwatch(t, 1);
    if (s->empty_waiter != NULL && stream_settle_waiter(s, NULL) < 0) {
        return -1;
    }
    if (t->closing) {
        PyObject *r = PyObject_CallMethod((PyObject *)t, "_call_connection_lost", "O",
                                          Py_None);
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    if (s->eof && ca_st_ops(s)->shutdown_wr(s) < 0) {
        /* An error is ignored, but a KeyboardInterrupt propagates. */
        PyObject *exc = ca_err_fetch_handled();
        if (exc == NULL) {
            return -1;
        }
        Py_DECREF(exc);
    }
    return 0;
}

/* Writes what can be written of the queue (one gather write a readiness). */
int
ca_stream_write_ready(TransportObj *t)
{
    StreamObj *s = ST(t);
    if (t->conn_lost || s->wbuf.len == 0) {
        return 0;
    }
    Py_ssize_t n = ca_st_ops(s)->flush(s);
    if (n == CA_ST_WOULD_BLOCK) {
        return 0;
    }
    if (n == CA_ST_ERROR) {
        return stream_write_failed(s);
    }
    ca_wbuf_consume(&s->wbuf, n);
    if (ca_tr_maybe_resume(t) < 0) {
        return -1;
    }
    return s->wbuf.len > 0 ? 0 : stream_drained(s);
}

/* Queues data[sent:] (a new bytes object unless data is bytes and nothing
 * was sent: bytes cannot change under us, a bytearray can). */
static int
stream_queue(StreamObj *s, PyObject *data, const char *buf, Py_ssize_t len, Py_ssize_t sent)
{
    PyObject *chunk;
    if (sent == 0 && PyBytes_CheckExact(data)) {
        chunk = Py_NewRef(data);
    }
    else if ((chunk = PyBytes_FromStringAndSize(buf + sent, len - sent)) == NULL) {
        return -1;
    }
    if (s->wbuf.items == NULL) {
        CA_LIVE_ADD(ca_tr_state(&s->tr), CA_LIVE_WRITEBUF, 1);  /* ca_wbuf_push allocates */
    }
    if (ca_wbuf_push(&s->wbuf, chunk) < 0) {
        Py_DECREF(chunk);
        return -1;
    }
    return 0;
}

static int
stream_check_writable(StreamObj *s, PyObject *data)
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
    if (s->eof) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot call write() after write_eof()");
        return -1;
    }
    if (s->empty_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "unable to write; sendfile is in progress");
        return -1;
    }
    return 0;
}

/* Sends at once what the fd takes and queues the rest. */
static int
stream_write_buffer(StreamObj *s, PyObject *data, const char *buf, Py_ssize_t len)
{
    Py_ssize_t sent = 0;
    if (s->wbuf.len == 0) {
        Py_ssize_t n = ca_st_ops(s)->send(s, data, buf, len);
        if (n == CA_ST_ERROR) {
            return ca_tr_failed(&s->tr, ca_st_ops(s)->write_error);
        }
        sent = n < 0 ? 0 : n;
        if (sent == len || s->tr.conn_lost) {
            return 0;  /* all sent, or send() ran code that aborted */
        }
        if (ca_tr_watch_here(&s->tr, 1) < 0) {
            return -1;
        }
    }
    if (stream_queue(s, data, buf, len, sent) < 0) {
        return -1;
    }
    return ca_tr_maybe_pause(&s->tr);
}

static int
stream_write(StreamObj *s, PyObject *data)
{
    if (stream_check_writable(s, data) < 0) {
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
    else if (s->tr.conn_lost || (s->tr.closing && ca_st_ops(s)->drop_when_closing)) {
        rc = ca_tr_write_dropped(&s->tr);
    }
    else {
        rc = stream_write_buffer(s, data, view.buf, view.len);
    }
    PyBuffer_Release(&view);
    return rc;
}

/* ---- the kinds ---- */

/* What an exact socket and a subclass's share: all but how bytes move. */
#define SOCKET_OPS_COMMON                                                               \
    .tr = {                                                                             \
        CA_STREAM_TR_OPS,                                                               \
        .read_ready = ca_stream_read_ready,                                             \
        .dropped_warning = "socket.send() raised exception.",                           \
        .flow_slots = 1,                                                                \
    },                                                                                  \
    .on_eof = socket_on_eof, .data_failed = socket_data_failed,                         \
    .read_error = "Fatal read error on socket transport",                               \
    .write_error = "Fatal write error on socket transport"

static const ca_stream_ops socket_ops = {
    SOCKET_OPS_COMMON,
    .recv = ca_stream_fd_recv,
    .recv_into = ca_stream_fd_recv_into,
    .send = ca_stream_fd_send,
    .flush = ca_stream_fd_flush,
    .shutdown_wr = socket_shutdown_wr,
    .fd_socket = 1,
};

static const ca_stream_ops pysock_ops = {
    SOCKET_OPS_COMMON,
    .recv = pysock_recv,
    .recv_into = pysock_recv_into,
    .send = pysock_send,
    .flush = pysock_flush,
    .shutdown_wr = pysock_shutdown_wr,
};

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
stream_set_protocol(StreamObj *s, PyObject *protocol)
{
    int buffered = PyObject_IsInstance(protocol, ca_tr_state(&s->tr)->BufferedProtocol);
    if (buffered < 0) {
        return -1;
    }
    s->buffered = (char)buffered;
    Py_XSETREF(s->tr.protocol, Py_NewRef(protocol));
    return 0;
}

static int
stream_attach(StreamObj *s, PyObject *server)
{
    if (server == NULL || server == Py_None) {
        return 0;
    }
    s->server = Py_NewRef(server);
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *r = PyObject_CallMethod(server, "_attach", "O", (PyObject *)s);
#else
    PyObject *r = PyObject_CallMethod(server, "_attach", NULL);
#endif
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* _FlowControlMixin's slots. */
static int
stream_init_slots(StreamObj *s, PyObject *extra)
{
    TransportObj *t = &s->tr;
    if (ca_tr_set_slot(t, "_extra", extra) < 0
        || ca_tr_set_slot(t, "_loop", (PyObject *)t->loop) < 0
        || ca_tr_set_slot(t, "_protocol_paused", Py_False) < 0
        || ca_tr_set_slot_ssize(t, "_high_water", t->high) < 0
        || ca_tr_set_slot_ssize(t, "_low_water", t->low) < 0) {
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
    StreamObj *s = PyObject_GC_New(StreamObj, st->StreamTransportType);
    if (s == NULL) {
        return NULL;
    }
    memset((char *)s + sizeof(PyObject), 0, sizeof(StreamObj) - sizeof(PyObject));
    CA_LIVE_ADD(st, CA_LIVE_TRANSPORT, 1);
    const ca_stream_ops *ops = ca_is_socket_subclass(st, sock) ? &pysock_ops : &socket_ops;
    ca_tr_init(&s->tr, &ops->tr, loop, sock, (int)fd, NULL, context);
    PyObject_GC_Track(s);
    PyObject *ex = stream_make_extra(st, sock, extra);
    if (ex == NULL || stream_init_slots(s, ex) < 0 || stream_set_protocol(s, protocol) < 0
        || stream_attach(s, server) < 0
        || ca_io_claim_fd(loop, (int)fd, (PyObject *)s) < 0) {
        goto error;
    }
    Py_CLEAR(ex);
    stream_set_nodelay((int)fd);
    if (ca_tr_schedule_start(&s->tr, waiter, 1) < 0) {
        goto error;
    }
    return (PyObject *)s;
error:
    Py_XDECREF(ex);
    /* Not the caller's to close: the socket stays theirs on failure. */
    ca_io_release_fd(loop, (int)fd, (PyObject *)s);
    Py_CLEAR(s->tr.sock);
    Py_CLEAR(s->server);
    Py_DECREF(s);
    return NULL;
}

/* ---- Python-facing methods ---- */

PyObject *
ca_stream_py_write(PyObject *self, PyObject *data)
{
    if (stream_write(ST(self), data) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* One write of the joined buffers (3.12+ asyncio checks for write_eof
 * first, with its own message; 3.11 joins, then write() complains). */
PyObject *
ca_stream_py_writelines(PyObject *self, PyObject *lines)
{
#if PY_VERSION_HEX >= 0x030C0000
    if (ST(self)->eof) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot call writelines() after write_eof()");
        return NULL;
    }
    if (ST(self)->empty_waiter != NULL) {
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
    PyObject *r = ca_stream_py_write(self, data);
    Py_DECREF(data);
    return r;
}

static PyObject *
stream_py_write_eof(PyObject *self, PyObject *unused)
{
    StreamObj *s = ST(self);
    if (s->tr.closing || s->eof) {
        Py_RETURN_NONE;
    }
    s->eof = 1;
    if (s->wbuf.len == 0 && ca_st_ops(s)->shutdown_wr(s) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
ca_stream_py_can_write_eof(PyObject *self, PyObject *unused)
{
    Py_RETURN_TRUE;
}

static int
stream_is_reading(StreamObj *s)
{
    return !s->tr.closing && !s->tr.paused;
}

PyObject *
ca_stream_py_is_reading(PyObject *self, PyObject *unused)
{
    return PyBool_FromLong(stream_is_reading(ST(self)));
}

PyObject *
ca_stream_py_pause_reading(PyObject *self, PyObject *unused)
{
    if (!stream_is_reading(ST(self))) {
        Py_RETURN_NONE;
    }
    /* The kernel entry stays until it next reports the fd readable
     * (ca_stream_read_ready drops it then): a stream reader pauses when its
     * buffer passes the limit and resumes as soon as its task has read,
     * usually before the loop polls again, and the entry's DEL then ADD
     * cost two epoll_ctl a read that way. */
    ST(self)->tr.paused = 1;
    if (ca_tr_log(&ST(self)->tr, "debug", "%r pauses reading") < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
ca_stream_py_resume_reading(PyObject *self, PyObject *unused)
{
    TransportObj *t = &ST(self)->tr;
    if (t->closing || !t->paused) {
        Py_RETURN_NONE;
    }
    t->paused = 0;
    /* Costs nothing if the entry is still there (see pause_reading). */
    if (ca_tr_watch_here(t, 0) < 0 || ca_tr_log(t, "debug", "%r resumes reading") < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
ca_stream_py_start_reading(PyObject *self, PyObject *unused)
{
    if (stream_is_reading(ST(self)) && ca_tr_watch_here(&ST(self)->tr, 0) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
ca_stream_py_call_connection_lost(PyObject *self, PyObject *exc)
{
    StreamObj *s = ST(self);
    if (s->tr.lost) {
        Py_RETURN_NONE;
    }
    int rc = ca_tr_connection_lost(&s->tr, exc);
    if (s->empty_waiter != NULL) {
        PyObject *err = rc < 0 ? ca_err_fetch() : NULL;
        PyObject *lost = PyObject_CallFunction(PyExc_ConnectionError, "s",
                                               "Connection is closed by peer");
        if (lost == NULL || stream_settle_waiter(s, lost) < 0) {
            rc = -1;
        }
        Py_XDECREF(lost);
        if (err != NULL) {
            PyErr_Clear();
            ca_err_restore(err);
        }
    }
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* For loop.sendfile (casyncio/_loop.py): a future done once the write
 * queue is empty.  While it is set the socket is sendfile's, so the fd
 * is not claimed (asyncio removes the transport from _transports). */
static PyObject *
stream_py_make_empty_waiter(PyObject *self, PyObject *unused)
{
    StreamObj *s = ST(self);
    if (s->empty_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Empty waiter is already set");
        return NULL;
    }
    s->empty_waiter = PyObject_CallMethod((PyObject *)s->tr.loop, "create_future", NULL);
    if (s->empty_waiter == NULL
        || (s->wbuf.len == 0 && stream_settle_waiter(s, NULL) < 0)) {
        Py_CLEAR(s->empty_waiter);
        return NULL;
    }
    ca_io_release_fd(s->tr.loop, s->tr.fd, self);
    return Py_NewRef(s->empty_waiter);
}

static PyObject *
stream_py_reset_empty_waiter(PyObject *self, PyObject *unused)
{
    StreamObj *s = ST(self);
    Py_CLEAR(s->empty_waiter);
    if (!s->tr.closing && ca_io_claim_fd(s->tr.loop, s->tr.fd, self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
ca_stream_py_set_protocol(PyObject *self, PyObject *protocol)
{
    if (stream_set_protocol(ST(self), protocol) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_get_sock(PyObject *self, void *c)
{
    return Py_NewRef(ST(self)->tr.sock ? ST(self)->tr.sock : Py_None);
}

static PyObject *
stream_repr(PyObject *self)
{
    StreamObj *s = ST(self);
    PyObject *name = PyType_GetName(Py_TYPE(self));
    if (name == NULL) {
        return NULL;
    }
    const char *state = s->tr.sock == NULL ? " closed" : s->tr.closing ? " closing" : "";
    PyObject *r;
    if (s->tr.sock == NULL || s->tr.loop->closed) {
        r = PyUnicode_FromFormat("<%U%s fd=%d>", name, state, s->tr.fd);
    }
    else {
        int reading = stream_is_reading(s) && !s->tr.lost;
        r = PyUnicode_FromFormat("<%U%s fd=%d read=%s write=<%s, bufsize=%zd>>", name,
                                 state, s->tr.fd, reading ? "polling" : "idle",
                                 s->wbuf.len ? "polling" : "idle", s->wbuf.size);
    }
    Py_DECREF(name);
    return r;
}

/* ---- slots ---- */

void
ca_stream_finalize(PyObject *self)
{
    ca_tr_finalize(&ST(self)->tr);
}

int
ca_stream_traverse(PyObject *self, visitproc visit, void *arg)
{
    StreamObj *s = ST(self);
    int rc = ca_tr_traverse(&s->tr, visit, arg);
    if (rc != 0) {
        return rc;
    }
    Py_VISIT(s->server);
    Py_VISIT(s->empty_waiter);
    for (Py_ssize_t i = 0; i < s->wbuf.len; i++) {
        Py_VISIT(ca_wbuf_at(&s->wbuf, i));
    }
    return 0;
}

int
ca_stream_clear(PyObject *self)
{
    StreamObj *s = ST(self);
    Py_CLEAR(s->server);
    Py_CLEAR(s->empty_waiter);
    ca_tr_clear(&s->tr);
    return 0;
}

void
ca_stream_dealloc(PyObject *self)
{
    StreamObj *s = ST(self);
    if (!ca_tr_dealloc_begin(&s->tr)) {
        return;
    }
    (void)ca_stream_clear(self);
    if (s->wbuf.items != NULL) {
        CA_LIVE_ADD_TYPE(Py_TYPE(self), CA_LIVE_WRITEBUF, -1);
    }
    ca_wbuf_free(&s->wbuf);
    ca_tr_dealloc_end(&s->tr);
}

/* ---- tables ---- */

static PyMethodDef stream_methods[] = {
    CA_STREAM_WRITE_METHODS,
    CA_STREAM_READ_METHODS,
    CA_STREAM_COMMON_METHODS,
    {"write_eof", stream_py_write_eof, METH_NOARGS,
     "write_eof($self, /)\n--\n\nShut the write side down once the queue is sent."},
    {"close", ca_tr_py_close, METH_NOARGS,
     "close($self, /)\n--\n\nStop reading; connection_lost(None) follows once the "
     "queued data is sent."},
    {"_make_empty_waiter", stream_py_make_empty_waiter, METH_NOARGS, NULL},
    {"_reset_empty_waiter", stream_py_reset_empty_waiter, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef stream_getset[] = {
    {"_sock", stream_get_sock, NULL, NULL, NULL},
    {"_sock_fd", ca_tr_get_fd, NULL, NULL, NULL},
    {"_paused", ca_tr_get_paused, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyMemberDef ca_stream_members[] = {
    CA_TR_MEMBERS,
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot stream_slots[] = {
    {Py_tp_doc, "A TCP or Unix stream transport (asyncio.Transport)."},
    {Py_tp_methods, stream_methods},
    {Py_tp_getset, stream_getset},
    {Py_tp_members, ca_stream_members},
    {Py_tp_repr, stream_repr},
    {Py_tp_traverse, ca_stream_traverse},
    {Py_tp_clear, ca_stream_clear},
    {Py_tp_finalize, ca_stream_finalize},
    {Py_tp_dealloc, ca_stream_dealloc},
    {0, NULL},
};

static PyType_Spec stream_spec = {
    .name = "casyncio._core.SocketTransport",
    .basicsize = sizeof(StreamObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = stream_slots,
};

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

int
ca_stream_types_init(PyObject *module, ca_state *st)
{
    st->StreamTransportType = ca_tr_type_new(module, &stream_spec, "_FlowControlMixin", 1);
    if (st->StreamTransportType == NULL) {
        return -1;
    }
    /* loop.sendfile() tries os.sendfile (sock_sendfile) on our transports,
     * then asyncio's write-based fallback. */
    PyObject *modes = ca_import_attr("asyncio.constants", "_SendfileMode");
    PyObject *mode = modes ? PyObject_GetAttrString(modes, "TRY_NATIVE") : NULL;
    Py_XDECREF(modes);
    int rc = mode == NULL
             || PyObject_SetAttrString((PyObject *)st->StreamTransportType,
                                       "_sendfile_compatible", mode) < 0
             /* start_tls() layers asyncio's SSL protocol over it. */
             || PyObject_SetAttrString((PyObject *)st->StreamTransportType,
                                       "_start_tls_compatible", Py_True) < 0
             ? -1 : 0;
    Py_XDECREF(mode);
    return rc < 0 ? -1 : stream_cache(st);
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
