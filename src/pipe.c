/* The pipe transports of connect_read_pipe and connect_write_pipe: the
 * byte-stream machinery of stream.c on a pipe, FIFO, socket or character
 * device, with asyncio's _UnixReadPipeTransport and _UnixWritePipeTransport
 * behaviour where it differs from a socket's:
 * - read() and write()/writev() instead of recv() and sendmsg();
 * - end of file closes a read pipe (eof_received's answer is not asked);
 * - a read pipe's failing data_received is a failed callback, not fatal;
 * - only EIO is a quiet error of a read pipe (the other side of a pty
 *   closed);
 * - write_eof() is close() on a write pipe, and write() drops data from
 *   close() on;
 * - a write pipe on a pipe or socket watches its fd for readability, which
 *   there means the reader went away.
 *
 * Owns: the pipe transport objects (a StreamObj, stream.h) and their
 * references to the pipe file.  Pipes are not claimed in the watch table:
 * asyncio does not register them in _transports either.  Both types are
 * made by their constructor, ReadPipeTransport(loop, pipe, protocol,
 * waiter=None, extra=None), called by casyncio/_pipes.py. */
#include "errors.h"
#include "io.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define ST(o) ((StreamObj *)(o))

/* data_received of a read pipe's protocol raised: asyncio's read pipe lets
 * it out of its reader callback, so the loop reports a failed callback
 * ("Exception in callback ..._read_ready()", with a 'handle') and the pipe
 * stays open, where a socket transport's error is fatal to it. */
static int
pipe_data_failed(StreamObj *s)
{
    return ca_tr_callback_failed(&s->tr, "_read_ready");
}

/* A read pipe at end of file: closed, eof_received then connection_lost
 * scheduled, as asyncio's read pipe does. */
static int
pipe_on_eof(StreamObj *s)
{
    TransportObj *t = &s->tr;
    if (ca_tr_log(t, "info", "%r was closed by peer") < 0) {
        return ca_stream_eof_failed(s);
    }
    PyObject *eof = PyObject_GetAttr(t->protocol, ca_tr_state(t)->str_eof_received);
    if (eof == NULL) {
        return ca_stream_eof_failed(s);
    }
    t->closing = 1;
    ca_tr_unwatch(t, 0);
    t->conn_lost++;
    int rc = ca_tr_call_soon(t, eof, NULL, 0);
    Py_DECREF(eof);
    if (rc == 0) {
        rc = ca_tr_call_soon_method(t, "_call_connection_lost", Py_None);
    }
    return rc;
}

/* The write pipe's fd is readable: its reader has gone.  Queued data can
 * no longer be delivered, which connection_lost reports as BrokenPipeError. */
static int
pipe_peer_closed(TransportObj *t)
{
    ca_tr_unwatch(t, 0);
    if (ca_tr_log(t, "info", "%r was closed by peer") < 0) {
        return -1;
    }
    PyObject *exc = NULL;
    if (ST(t)->wbuf.len > 0 && (exc = PyObject_CallNoArgs(PyExc_BrokenPipeError)) == NULL) {
        return -1;
    }
    int rc = ca_tr_force_close(t, exc);
    Py_XDECREF(exc);
    return rc;
}

/* A read pipe keeps quiet only about EIO. */
static int
pipe_read_error_is_quiet(TransportObj *t, PyObject *exc)
{
    if (!PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_OSError)) {
        return 0;
    }
    PyObject *err = PyObject_GetAttrString(exc, "errno");
    if (err == NULL) {
        return -1;
    }
    int eio = PyLong_Check(err) && PyLong_AsLong(err) == EIO;
    Py_DECREF(err);
    return eio;
}

#define PIPE_OPS_COMMON                                                                 \
    .recv = ca_stream_fd_recv, .recv_into = ca_stream_fd_recv_into,                     \
    .send = ca_stream_fd_send, .flush = ca_stream_fd_flush,                             \
    .on_eof = pipe_on_eof,                                                              \
    .data_failed = pipe_data_failed, .read_error = "Fatal read error on pipe transport", \
    .write_error = "Fatal write error on pipe transport", .drop_when_closing = 1

static const ca_stream_ops pipe_read_ops = {
    .tr = {
        CA_STREAM_TR_OPS,
        .read_ready = ca_stream_read_ready,
        .error_is_quiet = pipe_read_error_is_quiet,
        .dropped_warning = "pipe closed by peer or os.write(pipe, data) raised exception.",
    },
    PIPE_OPS_COMMON,
};

/* A write pipe's fd is readable only when its reader went away. */
static const ca_stream_ops pipe_write_ops = {
    .tr = {
        CA_STREAM_TR_OPS,
        .read_ready = pipe_peer_closed,
        .dropped_warning = "pipe closed by peer or os.write(pipe, data) raised exception.",
        .flow_slots = 1,
    },
    PIPE_OPS_COMMON,
};

static int
pipe_is_writer(StreamObj *s)
{
    return s->tr.ops == &pipe_write_ops.tr;
}

/* ---- creation ---- */

/* The fd's file type decides what the pipe transports take, with
 * asyncio's messages; a write pipe watches for its reader's going on a
 * FIFO or socket (not on a character device, where readable means input). */
static int
pipe_check_mode(int fd, int writer, int *watch_peer)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        ca_err_from_errno(-errno);
        return -1;
    }
    int fifo = S_ISFIFO(st.st_mode), sock = S_ISSOCK(st.st_mode);
    if (!(fifo || sock || S_ISCHR(st.st_mode))) {
        PyErr_SetString(PyExc_ValueError,
                        writer ? "Pipe transport is only for pipes, sockets and character devices"
                               : "Pipe transport is for pipes/sockets only.");
        return -1;
    }
    *watch_peer = writer && (fifo || sock);
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

/* The slots of the Python base: _extra only for ReadTransport, all of
 * _FlowControlMixin's for a write pipe. */
static int
pipe_init_slots(StreamObj *s, PyObject *pipe, PyObject *extra)
{
    TransportObj *t = &s->tr;
    PyObject *d = extra != NULL && extra != Py_None ? PyDict_Copy(extra) : PyDict_New();
    if (d == NULL || PyDict_SetItemString(d, "pipe", pipe) < 0) {
        Py_XDECREF(d);
        return -1;
    }
    int rc = ca_tr_set_slot(t, "_extra", d);
    if (rc == 0 && pipe_is_writer(s)
        && (ca_tr_set_slot(t, "_loop", (PyObject *)t->loop) < 0
            || ca_tr_set_slot(t, "_protocol_paused", Py_False) < 0
            || ca_tr_set_slot_ssize(t, "_high_water", t->high) < 0
            || ca_tr_set_slot_ssize(t, "_low_water", t->low) < 0)) {
        rc = -1;
    }
    Py_DECREF(d);
    return rc;
}

static PyObject *
pipe_new(PyTypeObject *tp, const ca_stream_ops *ops, PyObject *args, PyObject *kwds)
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
    int writer = ops == &pipe_write_ops;
    int fd = PyObject_AsFileDescriptor(pipe), watch_peer = 0;
    if (fd < 0 || pipe_check_mode(fd, writer, &watch_peer) < 0 || pipe_set_nonblocking(fd) < 0) {
        return NULL;
    }
    StreamObj *s = (StreamObj *)tp->tp_alloc(tp, 0);
    if (s == NULL) {
        return NULL;
    }
    CA_LIVE_ADD(st, CA_LIVE_TRANSPORT, 1);
    /* The protocol: data_received only, as asyncio's (no BufferedProtocol). */
    ca_tr_init(&s->tr, &ops->tr, (LoopObj *)loop, pipe, fd, protocol, NULL);
    if (pipe_init_slots(s, pipe, extra) < 0
        || ca_tr_schedule_start(&s->tr, waiter, !writer || watch_peer) < 0) {
        Py_CLEAR(s->tr.sock);  /* the pipe stays the caller's on failure */
        Py_DECREF(s);
        return NULL;
    }
    return (PyObject *)s;
}

static PyObject *
pipe_read_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    return pipe_new(tp, &pipe_read_ops, args, kwds);
}

static PyObject *
pipe_write_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    return pipe_new(tp, &pipe_write_ops, args, kwds);
}

/* Everything is done by tp_new; asyncio's BaseTransport.__init__ must not
 * run (it would take our arguments for its own). */
static int
pipe_tp_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    return 0;
}

/* ---- Python-facing ---- */

/* _read_ready(): what the loop runs when the pipe is readable (asyncio's
 * read pipe has it; a failed data_received is reported as its failure). */
static PyObject *
pipe_py_read_ready(PyObject *self, PyObject *unused)
{
    if (ca_transport_ready(ST(self)->tr.loop, self, 0) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
pipe_get_pipe(PyObject *self, void *c)
{
    return Py_NewRef(ST(self)->tr.sock ? ST(self)->tr.sock : Py_None);
}

/* Setting _pipe to None forgets the file without closing it (CPython's
 * tests do so to silence the unclosed-transport warning). */
static int
pipe_set_pipe(PyObject *self, PyObject *value, void *c)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete _pipe");
        return -1;
    }
    Py_XSETREF(ST(self)->tr.sock, value == Py_None ? NULL : Py_NewRef(value));
    return 0;
}

/* asyncio's pipe repr: closed/closing, the fd, polling or idle (open once
 * the loop is closed), and a write pipe's buffer size. */
static PyObject *
pipe_repr(PyObject *self)
{
    StreamObj *s = ST(self);
    TransportObj *t = &s->tr;
    PyObject *name = PyType_GetName(Py_TYPE(self));
    if (name == NULL) {
        return NULL;
    }
    const char *state = t->sock == NULL ? " closed" : t->closing ? " closing" : "";
    int writer = pipe_is_writer(s);
    const char *poll = "closed";
    if (t->sock != NULL && !t->loop->closed) {
        /* A paused reader may keep its entry until the fd next reports
         * readable (pause_reading): it is idle all the same. */
        int watched = ca_io_watching_op(t->loop, t->fd, writer, self)
                      && (writer || !t->paused);
        poll = watched ? "polling" : "idle";
    }
    else if (t->sock != NULL) {
        poll = "open";
    }
    PyObject *r;
    if (writer && strcmp(poll, "open") != 0 && strcmp(poll, "closed") != 0) {
        r = PyUnicode_FromFormat("<%U%s fd=%d %s bufsize=%zd>", name, state, t->fd, poll,
                                 s->wbuf.size);
    }
    else {
        r = PyUnicode_FromFormat("<%U%s fd=%d %s>", name, state, t->fd, poll);
    }
    Py_DECREF(name);
    return r;
}

/* ---- tables ---- */

static PyMethodDef pipe_read_methods[] = {
    CA_STREAM_READ_METHODS,
    CA_STREAM_COMMON_METHODS,
    {"_read_ready", pipe_py_read_ready, METH_NOARGS, NULL},
    {"close", ca_tr_py_close, METH_NOARGS,
     "close($self, /)\n--\n\nStop reading; connection_lost(None) follows."},
    {"abort", ca_tr_py_abort, METH_NOARGS,
     "abort($self, /)\n--\n\nClose at once; connection_lost(None) follows."},
    {NULL, NULL, 0, NULL},
};

/* write_eof() is close() on a pipe: a pipe cannot be half-closed. */
static PyMethodDef pipe_write_methods[] = {
    CA_STREAM_WRITE_METHODS,
    CA_STREAM_COMMON_METHODS,
    {"write_eof", ca_tr_py_close, METH_NOARGS,
     "write_eof($self, /)\n--\n\nClose the pipe once the queue is written."},
    {"close", ca_tr_py_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the pipe once the queued data is written."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef pipe_getset[] = {
    {"_pipe", pipe_get_pipe, pipe_set_pipe, NULL, NULL},
    {"_fileno", ca_tr_get_fd, NULL, NULL, NULL},
    {"_closing", ca_tr_get_closing, NULL, NULL, NULL},
    {"_paused", ca_tr_get_paused, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

#define PIPE_SLOTS_COMMON                                                               \
    {Py_tp_init, pipe_tp_init},                                                         \
    {Py_tp_getset, pipe_getset},                                                        \
    {Py_tp_members, ca_stream_members},                                                 \
    {Py_tp_repr, pipe_repr},                                                            \
    {Py_tp_traverse, ca_stream_traverse},                                               \
    {Py_tp_clear, ca_stream_clear},                                                     \
    {Py_tp_finalize, ca_stream_finalize},                                               \
    {Py_tp_dealloc, ca_stream_dealloc}

static PyType_Slot pipe_read_slots[] = {
    {Py_tp_doc, "The read end of a pipe, FIFO or character device (asyncio.ReadTransport)."},
    {Py_tp_new, pipe_read_tp_new},
    {Py_tp_methods, pipe_read_methods},
    PIPE_SLOTS_COMMON,
    {0, NULL},
};

static PyType_Slot pipe_write_slots[] = {
    {Py_tp_doc, "The write end of a pipe, FIFO or character device (asyncio.WriteTransport)."},
    {Py_tp_new, pipe_write_tp_new},
    {Py_tp_methods, pipe_write_methods},
    PIPE_SLOTS_COMMON,
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

int
ca_pipe_types_init(PyObject *module)
{
    PyTypeObject *r = ca_tr_type_new(module, &pipe_read_spec, "ReadTransport", 0);
    PyTypeObject *w = r ? ca_tr_type_new(module, &pipe_write_spec, "_FlowControlMixin", 0)
                        : NULL;
    Py_XDECREF(r);
    Py_XDECREF(w);
    return w ? 0 : -1;
}
