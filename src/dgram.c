/* The datagram transport of create_datagram_endpoint (UDP, Unix datagram).
 *
 * Owns: DatagramTransport objects: the socket, the protocol, the queue of
 * datagrams that could not be sent at once, flow control, closing.
 * Does not own: the endpoint's set-up (asyncio's own
 * BaseEventLoop.create_datagram_endpoint, bound by casyncio/_dgram.py,
 * which also fills the extra info and schedules connection_made), or the
 * fd watch table: the transport watches its fd with add_reader/add_writer
 * Handles whose callbacks are its C methods _read_ready/_sendto_ready.
 *
 * The type's base is asyncio.DatagramTransport itself, so a transport is
 * an instance of asyncio's class with no Python code on its paths.  That
 * base has __slots__ = ('_extra',): the struct below starts with that slot,
 * and module init checks the base's size so a change of it cannot go
 * unnoticed.
 *
 * Behaviour follows asyncio's _SelectorDatagramTransport: sendto() is tried
 * at once and buffered only when the socket would block; OSErrors of
 * sends and receives go to protocol.error_received(); other exceptions are
 * fatal (exception handler, then the transport is aborted); close() lets
 * the buffer drain first; connection_lost() is called once, in a callback
 * of its own. */
#include "dgram.h"
#include "errors.h"
#include "io.h"
#include "loop.h"

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

/* asyncio's limits: the largest datagram read, default water marks, and
 * the bytes counted per buffered datagram on 3.13+ (a header; 3.13's
 * asyncio adds them when buffering and forgets to take them off when
 * sending, so its size drifts: ours does not). */
#define DGRAM_MAX_SIZE (256 * 1024)
#define DGRAM_HIGH_WATER (64 * 1024)
#define DGRAM_LOG_CONNLOST 5
#if PY_VERSION_HEX >= 0x030D0000
#define DGRAM_HEADER_SIZE 8
#else
#define DGRAM_HEADER_SIZE 0
#endif
/* Datagrams read per readiness: fewer loop iterations under load, and a
 * bound so a flood on one socket cannot starve the rest of the loop. */
#define DGRAM_READS_PER_EVENT 16

typedef struct {
    PyObject *data;   /* bytes */
    PyObject *addr;   /* the address given to sendto(), or None */
} dgram_entry;

typedef struct {
    PyObject_HEAD
    PyObject *extra;          /* asyncio's BaseTransport._extra slot */
    LoopObj *loop;            /* NULL once connection_lost was called */
    PyObject *sock;           /* NULL once closed */
    PyObject *protocol;
    PyObject *address;        /* the remote address (connected), or NULL */
    dgram_entry *buf;         /* ring of datagrams waiting to be sent */
    Py_ssize_t head, len, cap;
    Py_ssize_t buffer_size;
    Py_ssize_t high_water, low_water;
    Py_ssize_t conn_lost;
    int fd;
    char closing;
    char paused;              /* protocol.pause_writing() was called */
    char connected;           /* extra['peername'] was set: send(), no address */
    char reading;
} DgramObj;

/* ---- the send queue ---- */

static int
dgram_push(DgramObj *t, PyObject *data, PyObject *addr, int front)
{
    if (t->len == t->cap) {
        Py_ssize_t cap = t->cap ? t->cap * 2 : 16;
        dgram_entry *nb = PyMem_Malloc((size_t)cap * sizeof(*nb));
        if (nb == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < t->len; i++) {
            nb[i] = t->buf[(t->head + i) % t->cap];
        }
        PyMem_Free(t->buf);
        t->buf = nb;
        t->head = 0;
        t->cap = cap;
    }
    if (front) {
        t->head = (t->head + t->cap - 1) % t->cap;
        t->buf[t->head] = (dgram_entry){Py_NewRef(data), Py_NewRef(addr)};
    }
    else {
        t->buf[(t->head + t->len) % t->cap] = (dgram_entry){Py_NewRef(data),
                                                            Py_NewRef(addr)};
    }
    t->len++;
    t->buffer_size += PyBytes_GET_SIZE(data) + DGRAM_HEADER_SIZE;
    return 0;
}

/* Takes the first entry (the references move to *e). */
static void
dgram_pop(DgramObj *t, dgram_entry *e)
{
    *e = t->buf[t->head];
    t->head = (t->head + 1) % t->cap;
    t->len--;
    t->buffer_size -= PyBytes_GET_SIZE(e->data) + DGRAM_HEADER_SIZE;
}

/* Beware: releasing the data can run no Python code (bytes), but an
 * address can be anything; the queue is taken out first. */
static void
dgram_clear_buffer(DgramObj *t)
{
    dgram_entry *b = t->buf;
    Py_ssize_t head = t->head, len = t->len, cap = t->cap;
    t->buf = NULL;
    t->head = t->len = t->cap = 0;
    t->buffer_size = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        dgram_entry *e = &b[(head + i) % cap];
        Py_DECREF(e->data);
        Py_DECREF(e->addr);
    }
    PyMem_Free(b);
}

/* ---- the loop's watchers ---- */

static int
dgram_watch(DgramObj *t, int writer, const char *method)
{
    PyObject *fd = PyLong_FromLong(t->fd);
    PyObject *cb = fd ? PyObject_GetAttrString((PyObject *)t, method) : NULL;
    PyObject *r = NULL;
    if (cb != NULL) {
        PyObject *args[2] = {fd, cb};
        r = writer ? ca_loop_add_writer(t->loop, args, 2)
                   : ca_loop_add_reader(t->loop, args, 2);
    }
    Py_XDECREF(cb);
    Py_XDECREF(fd);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static void
dgram_unwatch(DgramObj *t, int writer)
{
    if (t->loop == NULL) {
        return;
    }
    PyObject *fd = PyLong_FromLong(t->fd);
    PyObject *r = NULL;
    if (fd != NULL) {
        r = writer ? ca_loop_remove_writer(t->loop, fd)
                   : ca_loop_remove_reader(t->loop, fd);
    }
    Py_XDECREF(fd);
    if (r == NULL) {
        PyErr_Clear();  /* the loop was closed: nothing is watched */
    }
    Py_XDECREF(r);
}

/* ---- reporting ---- */

static int
dgram_report(DgramObj *t, const char *message, PyObject *exc)
{
    PyObject *ctx = Py_BuildValue("{s:s,s:O,s:O,s:O}", "message", message,
                                  "exception", exc, "transport", (PyObject *)t,
                                  "protocol", t->protocol ? t->protocol : Py_None);
    if (ctx == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethod((PyObject *)t->loop, "call_exception_handler",
                                      "O", ctx);
    Py_DECREF(ctx);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* Calls protocol.<name>(*args); its exception stays set (-1). */
static int
dgram_call_protocol(DgramObj *t, const char *name, PyObject *arg1, PyObject *arg2)
{
    PyObject *proto = Py_NewRef(t->protocol);
    PyObject *meth = PyObject_GetAttrString(proto, name);
    Py_DECREF(proto);
    if (meth == NULL) {
        return -1;
    }
    PyObject *args[2] = {arg1, arg2};
    PyObject *r = PyObject_Vectorcall(meth, args, arg2 ? 2 : (arg1 ? 1 : 0), NULL);
    Py_DECREF(meth);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* ---- closing ---- */

static int
dgram_schedule_lost(DgramObj *t, PyObject *exc)
{
    PyObject *cb = PyObject_GetAttrString((PyObject *)t, "_call_connection_lost");
    if (cb == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethod((PyObject *)t->loop, "call_soon", "OO", cb,
                                      exc ? exc : Py_None);
    Py_DECREF(cb);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* asyncio's _force_close: drop the buffer, stop reading, lose the
 * connection in a callback. */
static int
dgram_force_close(DgramObj *t, PyObject *exc)
{
    if (t->conn_lost || t->loop == NULL) {
        return 0;
    }
    if (t->len > 0) {
        dgram_clear_buffer(t);
        dgram_unwatch(t, 1);
    }
    if (!t->closing) {
        t->closing = 1;
        dgram_unwatch(t, 0);
    }
    t->conn_lost++;
    return dgram_schedule_lost(t, exc);
}

/* A non-OSError from a send or receive: report it, abort. */
static int
dgram_fatal(DgramObj *t, PyObject *exc, const char *message)
{
    if (ca_err_is_fatal(exc)) {
        ca_err_restore(Py_NewRef(exc));
        return -1;
    }
    int is_oserror = PyErr_GivenExceptionMatches(exc, PyExc_OSError);
    if (!is_oserror && dgram_report(t, message, exc) < 0) {
        return -1;
    }
    return dgram_force_close(t, exc);
}

/* After a failed send or receive (an exception set): EAGAIN is 0, an
 * OSError goes to error_received() (1), anything else is fatal (1);
 * -1 when that raised in turn. */
static int
dgram_failed(DgramObj *t, const char *message)
{
    if (ca_err_clear_would_block()) {
        return 0;
    }
    PyObject *exc = ca_err_fetch();
    int rc;
    if (PyErr_GivenExceptionMatches(exc, PyExc_OSError)) {
        rc = dgram_call_protocol(t, "error_received", exc, NULL);
    }
    else {
        rc = dgram_fatal(t, exc, message);
    }
    Py_DECREF(exc);
    return rc < 0 ? -1 : 1;
}

/* ---- flow control ---- */

/* After a pause_writing()/resume_writing() that raised: report it, as
 * asyncio's _FlowControlMixin does (KeyboardInterrupt & co. propagate). */
static int
dgram_flow_failed(DgramObj *t, const char *message)
{
    PyObject *exc = ca_err_fetch();
    if (ca_err_is_fatal(exc)) {
        ca_err_restore(exc);
        return -1;
    }
    int rc = dgram_report(t, message, exc);
    Py_DECREF(exc);
    return rc;
}

static int
dgram_maybe_pause(DgramObj *t)
{
    if (t->buffer_size <= t->high_water || t->paused) {
        return 0;
    }
    t->paused = 1;
    if (dgram_call_protocol(t, "pause_writing", NULL, NULL) == 0) {
        return 0;
    }
    return dgram_flow_failed(t, "protocol.pause_writing() failed");
}

static int
dgram_maybe_resume(DgramObj *t)
{
    if (!t->paused || t->buffer_size > t->low_water) {
        return 0;
    }
    t->paused = 0;
    if (dgram_call_protocol(t, "resume_writing", NULL, NULL) == 0) {
        return 0;
    }
    return dgram_flow_failed(t, "protocol.resume_writing() failed");
}

/* ---- sending ---- */

/* One send: 1 sent, 0 would block, -1 with an exception. */
static int
dgram_send_one(DgramObj *t, PyObject *data, PyObject *addr)
{
    if (t->connected) {
        Py_buffer b;
        if (PyObject_GetBuffer(data, &b, PyBUF_SIMPLE) < 0) {
            return -1;
        }
        ssize_t n;
        int err = 0;
        while ((n = send(t->fd, b.buf, (size_t)b.len, 0)) < 0 && (err = errno) == EINTR
               && PyErr_CheckSignals() == 0) {
            /* retry */
        }
        PyBuffer_Release(&b);
        if (n >= 0) {
            return 1;
        }
        if (err == EAGAIN || err == EWOULDBLOCK) {
            return 0;
        }
        if (!PyErr_Occurred()) {
            ca_err_from_errno(-err);
        }
        return -1;
    }
    PyObject *r = PyObject_CallMethod(t->sock, "sendto", "OO", data, addr);
    Py_XDECREF(r);
    if (r != NULL) {
        return 1;
    }
    return ca_err_clear_would_block() ? 0 : -1;
}

static int
dgram_check_data(PyObject *data)
{
    if (PyBytes_Check(data) || PyByteArray_Check(data) || PyMemoryView_Check(data)) {
        return 0;
    }
    PyErr_Format(PyExc_TypeError,
                 "data argument must be a bytes-like object, not '%s'",
                 Py_TYPE(data)->tp_name);
    return -1;
}

/* The address checks of a connected transport; *addr becomes its address. */
static int
dgram_check_addr(DgramObj *t, PyObject **addr)
{
    int truth = t->address ? PyObject_IsTrue(t->address) : 0;
    if (truth <= 0) {
        return truth;
    }
    if (*addr != Py_None) {
        int same = PyObject_RichCompareBool(*addr, t->address, Py_EQ);
        if (same < 0) {
            return -1;
        }
        if (!same) {
            PyErr_Format(PyExc_ValueError, "Invalid address: must be None or %S",
                         t->address);
            return -1;
        }
    }
    *addr = t->address;
    return 0;
}

/* Queues a copy of data (asyncio keeps what it buffers immutable). */
static int
dgram_buffer(DgramObj *t, PyObject *data, PyObject *addr)
{
    PyObject *copy = PyBytes_Check(data) ? Py_NewRef(data)
                                         : PyBytes_FromObject(data);
    if (copy == NULL) {
        return -1;
    }
    int rc = dgram_push(t, copy, addr, 0);
    Py_DECREF(copy);
    return rc < 0 ? -1 : dgram_maybe_pause(t);
}

static PyObject *
dgram_sendto_impl(DgramObj *t, PyObject *data, PyObject *addr)
{
    if (dgram_check_data(data) < 0 || dgram_check_addr(t, &addr) < 0) {
        return NULL;
    }
#if PY_VERSION_HEX < 0x030D0000
    Py_ssize_t size = PyObject_Length(data);
    if (size <= 0) {
        /* Before 3.13 asyncio sends no empty datagram. */
        return size < 0 ? NULL : Py_NewRef(Py_None);
    }
#endif
    /* asyncio drops the sends of a connected transport once its connection
     * is lost; with no socket left, an unconnected one does the same. */
    if ((t->conn_lost && t->address != NULL) || t->sock == NULL) {
        ca_state *st = ca_state_from_type(Py_TYPE(t));
        if (st == NULL) {
            return NULL;
        }
        if (t->conn_lost >= DGRAM_LOG_CONNLOST) {
            PyObject *r = PyObject_CallMethod(st->logger, "warning", "s",
                                              "socket.send() raised exception.");
            if (r == NULL) {
                return NULL;
            }
            Py_DECREF(r);
        }
        t->conn_lost++;
        Py_RETURN_NONE;
    }
    if (t->len == 0) {
        int rc = dgram_send_one(t, data, addr);
        if (rc > 0) {
            Py_RETURN_NONE;
        }
        if (rc < 0) {
            rc = dgram_failed(t, "Fatal write error on datagram transport");
            return rc < 0 ? NULL : Py_NewRef(Py_None);
        }
        if (dgram_watch(t, 1, "_sendto_ready") < 0) {
            return NULL;
        }
    }
    if (dgram_buffer(t, data, addr) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The socket is writable: send what was buffered, in order. */
static int
dgram_flush(DgramObj *t)
{
    while (t->len > 0) {
        dgram_entry e;
        dgram_pop(t, &e);
        int rc = dgram_send_one(t, e.data, e.addr);
        if (rc == 0 || (rc < 0 && ca_err_clear_would_block())) {
            rc = dgram_push(t, e.data, e.addr, 1);  /* try again later */
            Py_DECREF(e.data);
            Py_DECREF(e.addr);
            return rc < 0 ? -1 : 0;
        }
        Py_DECREF(e.data);
        Py_DECREF(e.addr);
        if (rc < 0) {
            rc = dgram_failed(t, "Fatal write error on datagram transport");
            return rc < 0 ? -1 : 1;
        }
    }
    return 0;
}

static PyObject *dgram_call_connection_lost(DgramObj *t, PyObject *exc);

static PyObject *
dgram_sendto_ready(DgramObj *t, PyObject *unused)
{
    if (t->sock == NULL) {
        Py_RETURN_NONE;
    }
    int rc = dgram_flush(t);
    if (rc != 0) {
        return rc < 0 ? NULL : Py_NewRef(Py_None);
    }
    if (dgram_maybe_resume(t) < 0) {  /* may append to the buffer */
        return NULL;
    }
    if (t->len == 0) {
        dgram_unwatch(t, 1);
        if (t->closing) {
            return dgram_call_connection_lost(t, Py_None);
        }
    }
    Py_RETURN_NONE;
}

/* ---- receiving ---- */

/* One datagram: 1 handed to the protocol, 0 none ready, -1 error. */
static int
dgram_read_one(DgramObj *t, PyObject *max_size)
{
    PyObject *args[2] = {t->sock, max_size};
    PyObject *pair = PyObject_VectorcallMethod(t->loop->state->str_recvfrom, args,
                                               2, NULL);
    if (pair == NULL) {
        int rc = dgram_failed(t, "Fatal read error on datagram transport");
        return rc <= 0 ? rc : 0;
    }
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        Py_DECREF(pair);
        PyErr_SetString(PyExc_TypeError, "recvfrom() did not return a pair");
        return -1;
    }
    int rc = dgram_call_protocol(t, "datagram_received", PyTuple_GET_ITEM(pair, 0),
                                 PyTuple_GET_ITEM(pair, 1));
    Py_DECREF(pair);
    return rc < 0 ? -1 : 1;
}

static PyObject *
dgram_read_ready(DgramObj *t, PyObject *unused)
{
    PyObject *max_size = PyLong_FromLong(DGRAM_MAX_SIZE);
    if (max_size == NULL) {
        return NULL;
    }
    Py_INCREF(t);  /* the protocol may drop the last other reference */
    int rc = 1;
    for (int i = 0; i < DGRAM_READS_PER_EVENT && rc > 0; i++) {
        if (t->conn_lost || t->closing || t->sock == NULL) {
            break;
        }
        rc = dgram_read_one(t, max_size);
    }
    Py_DECREF(t);
    Py_DECREF(max_size);
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *
dgram_start_reading(DgramObj *t, PyObject *unused)
{
    if (t->closing || t->reading || t->loop == NULL) {
        Py_RETURN_NONE;
    }
    if (dgram_watch(t, 0, "_read_ready") < 0) {
        return NULL;
    }
    t->reading = 1;
    Py_RETURN_NONE;
}

/* ---- closing, the Python-facing side ---- */

static PyObject *
dgram_call_connection_lost(DgramObj *t, PyObject *exc)
{
    if (t->sock == NULL) {
        Py_RETURN_NONE;  /* called already */
    }
    int rc = 0;
    if (t->protocol != NULL) {
        rc = dgram_call_protocol(t, "connection_lost", exc, NULL);
    }
    PyObject *err = rc < 0 ? ca_err_fetch() : NULL;
    PyObject *sock = t->sock;
    t->sock = NULL;
    PyObject *r = PyObject_CallMethod(sock, "close", NULL);
    Py_DECREF(sock);
    Py_XDECREF(r);
    Py_CLEAR(t->protocol);
    Py_CLEAR(t->loop);
    if (err != NULL) {
        Py_XDECREF(ca_err_fetch());
        ca_err_restore(err);
        return NULL;
    }
    return r ? Py_NewRef(Py_None) : NULL;
}

static PyObject *
dgram_close(DgramObj *t, PyObject *unused)
{
    if (t->closing || t->loop == NULL) {
        Py_RETURN_NONE;
    }
    t->closing = 1;
    dgram_unwatch(t, 0);
    if (t->len == 0) {
        t->conn_lost++;
        dgram_unwatch(t, 1);
        if (dgram_schedule_lost(t, Py_None) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
dgram_abort(DgramObj *t, PyObject *unused)
{
    if (dgram_force_close(t, NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
dgram_is_closing(DgramObj *t, PyObject *unused)
{
    return PyBool_FromLong(t->closing);
}

static PyObject *
dgram_sendto(DgramObj *t, PyObject *const *args, Py_ssize_t nargsf,
             PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *data = nargs > 0 ? args[0] : NULL;
    PyObject *addr = nargs > 1 ? args[1] : NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, i);
        PyObject **slot = PyUnicode_CompareWithASCIIString(kw, "data") == 0   ? &data
                          : PyUnicode_CompareWithASCIIString(kw, "addr") == 0 ? &addr
                                                                              : NULL;
        if (slot == NULL || *slot != NULL) {
            PyErr_Format(PyExc_TypeError, "sendto() got an unexpected or repeated "
                                          "keyword argument '%U'", kw);
            return NULL;
        }
        *slot = args[nargs + i];
    }
    if (data == NULL || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "sendto() takes data and an optional addr");
        return NULL;
    }
    return dgram_sendto_impl(t, data, addr ? addr : Py_None);
}

static PyObject *
dgram_get_write_buffer_size(DgramObj *t, PyObject *unused)
{
    return PyLong_FromSsize_t(t->buffer_size);
}

static PyObject *
dgram_get_write_buffer_limits(DgramObj *t, PyObject *unused)
{
    return Py_BuildValue("nn", t->low_water, t->high_water);
}

/* asyncio's _set_write_buffer_limits, same error. */
static int
dgram_set_limits(DgramObj *t, PyObject *high, PyObject *low)
{
    Py_ssize_t h, l;
    if (high == Py_None) {
        h = -1;
    }
    else if ((h = PyNumber_AsSsize_t(high, PyExc_OverflowError)) == -1
             && PyErr_Occurred()) {
        return -1;
    }
    if (low == Py_None) {
        l = -1;
    }
    else if ((l = PyNumber_AsSsize_t(low, PyExc_OverflowError)) == -1
             && PyErr_Occurred()) {
        return -1;
    }
    if (high == Py_None) {
        h = low == Py_None ? DGRAM_HIGH_WATER : 4 * l;
    }
    if (low == Py_None) {
        l = h / 4;
    }
    if (!(h >= l && l >= 0)) {
        PyErr_Format(PyExc_ValueError, "high (%zd) must be >= low (%zd) must be >= 0",
                     h, l);
        return -1;
    }
    t->high_water = h;
    t->low_water = l;
    return 0;
}

static PyObject *
dgram_set_write_buffer_limits(DgramObj *t, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"high", "low", NULL};
    PyObject *high = Py_None, *low = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:set_write_buffer_limits",
                                     kwlist, &high, &low)
        || dgram_set_limits(t, high, low) < 0 || dgram_maybe_pause(t) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
dgram_set_protocol(DgramObj *t, PyObject *protocol)
{
    Py_XSETREF(t->protocol, Py_NewRef(protocol));
    Py_RETURN_NONE;
}

static PyObject *
dgram_get_protocol(DgramObj *t, PyObject *unused)
{
    return Py_NewRef(t->protocol ? t->protocol : Py_None);
}

/* ---- slots ---- */

static int dgram_clear(DgramObj *t);

/* DatagramTransport(loop, sock, protocol, address, extra): the caller
 * (casyncio/_dgram.py) fills extra and schedules connection_made and
 * _start_reading, as asyncio's constructor does. */
static PyObject *
dgram_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    PyObject *loop, *sock, *protocol, *address, *extra;
    if (!PyArg_ParseTuple(args, "OOOOO!:DatagramTransport", &loop, &sock, &protocol,
                          &address, &PyDict_Type, &extra)) {
        return NULL;
    }
    ca_state *st = ca_state_from_type(tp);
    if (st == NULL) {
        return NULL;
    }
    if (!PyObject_TypeCheck(loop, st->LoopType)) {
        PyErr_SetString(PyExc_TypeError, "a casyncio loop is required");
        return NULL;
    }
    PyObject *fdobj = PyObject_CallMethod(sock, "fileno", NULL);
    long fd = fdobj ? PyLong_AsLong(fdobj) : -1;
    Py_XDECREF(fdobj);
    if (fd == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *peer = PyDict_GetItemString(extra, "peername");
    int connected = peer ? PyObject_IsTrue(peer) : 0;
    if (connected < 0) {
        return NULL;
    }
    DgramObj *t = (DgramObj *)tp->tp_alloc(tp, 0);
    if (t == NULL) {
        return NULL;
    }
    CA_LIVE_ADD_TYPE(tp, CA_LIVE_TRANSPORT, 1);
    t->extra = Py_NewRef(extra);
    t->loop = (LoopObj *)Py_NewRef(loop);
    t->sock = Py_NewRef(sock);
    t->protocol = Py_NewRef(protocol);
    t->address = address == Py_None ? NULL : Py_NewRef(address);
    t->fd = (int)fd;
    t->connected = (char)connected;
    t->high_water = DGRAM_HIGH_WATER;
    t->low_water = DGRAM_HIGH_WATER / 4;
    return (PyObject *)t;
}

/* Everything is done by tp_new; asyncio's BaseTransport.__init__ must not
 * run (it would take our arguments for its own). */
static int
dgram_tp_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    return 0;
}

/* An unclosed transport: warn and close its socket, as asyncio. */
static void
dgram_finalize(DgramObj *t)
{
    if (t->sock == NULL) {
        return;
    }
    PyObject *exc = ca_err_fetch();
    if (PyErr_WarnFormat(PyExc_ResourceWarning, 1, "unclosed transport %R",
                         (PyObject *)t) < 0) {
        PyErr_WriteUnraisable((PyObject *)t);
    }
    PyObject *sock = t->sock;
    t->sock = NULL;
    PyObject *r = PyObject_CallMethod(sock, "close", NULL);
    if (r == NULL) {
        PyErr_WriteUnraisable((PyObject *)t);
    }
    Py_XDECREF(r);
    Py_DECREF(sock);
    if (exc != NULL) {
        ca_err_restore(exc);
    }
}

static int
dgram_traverse(DgramObj *t, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(t));
    Py_VISIT(t->extra);
    Py_VISIT(t->loop);
    Py_VISIT(t->sock);
    Py_VISIT(t->protocol);
    Py_VISIT(t->address);
    for (Py_ssize_t i = 0; i < t->len; i++) {
        dgram_entry *e = &t->buf[(t->head + i) % t->cap];
        Py_VISIT(e->data);
        Py_VISIT(e->addr);
    }
    return 0;
}

static int
dgram_clear(DgramObj *t)
{
    dgram_clear_buffer(t);
    Py_CLEAR(t->extra);
    Py_CLEAR(t->loop);
    Py_CLEAR(t->sock);
    Py_CLEAR(t->protocol);
    Py_CLEAR(t->address);
    return 0;
}

static void
dgram_dealloc(DgramObj *t)
{
    PyTypeObject *tp = Py_TYPE(t);
    if (PyObject_CallFinalizerFromDealloc((PyObject *)t) < 0) {
        return;  /* resurrected */
    }
    PyObject_GC_UnTrack(t);
    (void)dgram_clear(t);
    CA_LIVE_ADD_TYPE(tp, CA_LIVE_TRANSPORT, -1);
    tp->tp_free(t);
    Py_DECREF(tp);
}

/* ---- attributes ---- */

static PyObject *
dgram_get_obj(PyObject *v)
{
    return Py_NewRef(v ? v : Py_None);
}

static PyObject *
dgram_get_sock(DgramObj *t, void *c)
{
    return dgram_get_obj(t->sock);
}

static PyObject *
dgram_get_loop(DgramObj *t, void *c)
{
    return dgram_get_obj((PyObject *)t->loop);
}

static PyObject *
dgram_get_protocol_attr(DgramObj *t, void *c)
{
    return dgram_get_obj(t->protocol);
}

static PyObject *
dgram_get_address(DgramObj *t, void *c)
{
    return dgram_get_obj(t->address);
}

static PyObject *
dgram_get_sock_fd(DgramObj *t, void *c)
{
    return PyLong_FromLong(t->fd);
}

static PyObject *
dgram_get_closing(DgramObj *t, void *c)
{
    return PyBool_FromLong(t->closing);
}

static PyObject *
dgram_get_conn_lost(DgramObj *t, void *c)
{
    return PyLong_FromSsize_t(t->conn_lost);
}

static PyObject *
dgram_get_paused(DgramObj *t, void *c)
{
    return PyBool_FromLong(t->paused);
}

/* ---- tables ---- */

static PyMethodDef dgram_methods[] = {
    {"sendto", (PyCFunction)(void (*)(void))dgram_sendto,
     METH_FASTCALL | METH_KEYWORDS,
     "sendto($self, data, addr=None)\n--\n\n"
     "Send a datagram now, or queue it if the socket would block."},
    {"close", (PyCFunction)dgram_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose once the queued datagrams are sent."},
    {"abort", (PyCFunction)dgram_abort, METH_NOARGS,
     "abort($self, /)\n--\n\nClose at once, dropping queued datagrams."},
    {"is_closing", (PyCFunction)dgram_is_closing, METH_NOARGS,
     "is_closing($self, /)\n--\n\nWhether close() or abort() was called."},
    {"get_write_buffer_size", (PyCFunction)dgram_get_write_buffer_size, METH_NOARGS,
     "get_write_buffer_size($self, /)\n--\n\nBytes queued for sending."},
    {"get_write_buffer_limits", (PyCFunction)dgram_get_write_buffer_limits,
     METH_NOARGS,
     "get_write_buffer_limits($self, /)\n--\n\nThe (low, high) water marks."},
    {"set_write_buffer_limits", (PyCFunction)(void (*)(void))dgram_set_write_buffer_limits,
     METH_VARARGS | METH_KEYWORDS,
     "set_write_buffer_limits($self, /, high=None, low=None)\n--\n\n"
     "Set the water marks of pause_writing()/resume_writing()."},
    {"set_protocol", (PyCFunction)dgram_set_protocol, METH_O,
     "set_protocol($self, protocol, /)\n--\n\nReplace the protocol."},
    {"get_protocol", (PyCFunction)dgram_get_protocol, METH_NOARGS,
     "get_protocol($self, /)\n--\n\nReturn the protocol."},
    {"_read_ready", (PyCFunction)dgram_read_ready, METH_NOARGS, NULL},
    {"_sendto_ready", (PyCFunction)dgram_sendto_ready, METH_NOARGS, NULL},
    {"_start_reading", (PyCFunction)dgram_start_reading, METH_NOARGS, NULL},
    {"_call_connection_lost", (PyCFunction)dgram_call_connection_lost, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef dgram_getset[] = {
    {"_sock", (getter)dgram_get_sock, NULL, NULL, NULL},
    {"_loop", (getter)dgram_get_loop, NULL, NULL, NULL},
    {"_protocol", (getter)dgram_get_protocol_attr, NULL, NULL, NULL},
    {"_address", (getter)dgram_get_address, NULL, NULL, NULL},
    {"_sock_fd", (getter)dgram_get_sock_fd, NULL, NULL, NULL},
    {"_closing", (getter)dgram_get_closing, NULL, NULL, NULL},
    {"_conn_lost", (getter)dgram_get_conn_lost, NULL, NULL, NULL},
    {"_protocol_paused", (getter)dgram_get_paused, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot dgram_slots[] = {
    {Py_tp_doc, "The datagram transport of a casyncio loop (C)."},
    {Py_tp_new, dgram_tp_new},
    {Py_tp_init, dgram_tp_init},
    {Py_tp_finalize, dgram_finalize},
    {Py_tp_traverse, dgram_traverse},
    {Py_tp_clear, dgram_clear},
    {Py_tp_dealloc, dgram_dealloc},
    {Py_tp_methods, dgram_methods},
    {Py_tp_getset, dgram_getset},
    {0, NULL},
};

static PyType_Spec dgram_spec = {
    .name = "casyncio._core.DatagramTransport",
    .basicsize = sizeof(DgramObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = dgram_slots,
};

int
ca_dgram_init(PyObject *mod)
{
    PyObject *base = ca_import_attr("asyncio.transports", "DatagramTransport");
    if (base == NULL) {
        return -1;
    }
    if (((PyTypeObject *)base)->tp_basicsize != (Py_ssize_t)offsetof(DgramObj, loop)) {
        PyErr_SetString(PyExc_ImportError,
                        "asyncio.DatagramTransport's layout is not __slots__ = ('_extra',)");
        Py_DECREF(base);
        return -1;
    }
    PyObject *tp = PyType_FromModuleAndSpec(mod, &dgram_spec, base);
    Py_DECREF(base);
    if (tp == NULL) {
        return -1;
    }
    int rc = PyModule_AddType(mod, (PyTypeObject *)tp);
    Py_DECREF(tp);
    return rc;
}
