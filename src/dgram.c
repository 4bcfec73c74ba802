/* The datagram transport of create_datagram_endpoint (UDP, Unix datagram),
 * on the transport base (transport.c).
 *
 * Owns: DatagramTransport objects' queue of datagrams that could not be
 * sent at once, and their remote address; the base holds the loop, socket,
 * protocol and contexts, and runs closing and flow control.
 * Does not own: the endpoint's set-up (asyncio's own
 * BaseEventLoop.create_datagram_endpoint, bound by casyncio/_dgram.py,
 * which also fills the extra info and schedules connection_made and
 * _start_reading), the watch table (io.c: the transport waits in its fd's
 * reader and writer slots, as the stream transports do).
 *
 * The type's base is asyncio.DatagramTransport itself, so a transport is
 * an instance of asyncio's class with no Python code on its paths.  That
 * base has __slots__ = ('_extra',), the base's first slot.
 *
 * Behaviour follows asyncio's _SelectorDatagramTransport: sendto() is tried
 * at once and buffered only when the socket would block; OSErrors of
 * sends and receives go to protocol.error_received(); other exceptions are
 * fatal (exception handler, then the transport is aborted); close() lets
 * the buffer drain first; connection_lost() is called once, in a callback
 * of its own.  An exception of datagram_received() or error_received()
 * is reported as asyncio's loop reports its reader or writer callback's
 * ("Exception in callback ..."), and the transport stays open. */
#include "dgram.h"
#include "errors.h"
#include "io.h"
#include "transport.h"

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

/* asyncio's largest datagram read, and the bytes counted per buffered
 * datagram on 3.13+ (a header; 3.13's asyncio adds them when buffering
 * and forgets to take them off when sending, so its size drifts: ours
 * does not). */
#define DGRAM_MAX_SIZE (256 * 1024)
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
    TransportObj tr;
    PyObject *address;        /* the remote address (connected), or NULL */
    dgram_entry *buf;         /* ring of datagrams waiting to be sent */
    Py_ssize_t head, len, cap;
    Py_ssize_t buffer_size;
    char connected;           /* extra['peername'] was set: send(), no address */
    char reading;
} DgramObj;

#define DG(o) ((DgramObj *)(o))

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
dgram_queue_clear(TransportObj *tr)
{
    DgramObj *t = DG(tr);
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

static Py_ssize_t
dgram_queue_size(TransportObj *t)
{
    return DG(t)->buffer_size;
}

static Py_ssize_t
dgram_queue_len(TransportObj *t)
{
    return DG(t)->len;
}

/* Stops watching and closes the socket. */
static int
dgram_release(TransportObj *t)
{
    ca_tr_unwatch(t, 0);
    ca_tr_unwatch(t, 1);
    PyObject *sock = t->sock;
    t->sock = NULL;
    if (sock == NULL) {
        return 0;
    }
    PyObject *r = PyObject_CallMethod(sock, "close", NULL);
    Py_DECREF(sock);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* ---- errors ---- */

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
        PyObject *proto = Py_NewRef(t->tr.protocol);
        PyObject *r = PyObject_CallMethodOneArg(proto, ca_tr_state(&t->tr)->str_error_received,
                                                exc);
        Py_DECREF(proto);
        Py_XDECREF(r);
        rc = r ? 0 : -1;
    }
    else if (ca_err_is_fatal(exc)) {
        ca_err_restore(Py_NewRef(exc));
        rc = -1;
    }
    else {
        rc = ca_tr_fatal(&t->tr, exc, message);
    }
    Py_DECREF(exc);
    return rc < 0 ? -1 : 1;
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
        while ((n = send(t->tr.fd, b.buf, (size_t)b.len, 0)) < 0 && (err = errno) == EINTR
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
    PyObject *args[3] = {t->tr.sock, data, addr};
    PyObject *r = PyObject_VectorcallMethod(ca_tr_state(&t->tr)->str_sendto, args,
                                            3, NULL);
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
    return rc < 0 ? -1 : ca_tr_maybe_pause(&t->tr);
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
    if ((t->tr.conn_lost && t->address != NULL) || t->tr.sock == NULL) {
        return ca_tr_write_dropped(&t->tr) < 0 ? NULL : Py_NewRef(Py_None);
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
        if (ca_tr_watch_here(&t->tr, 1) < 0) {
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

/* connection_lost(exc) once, then the socket is closed and the protocol
 * forgotten, as asyncio's _call_connection_lost. */
static int
dgram_connection_lost(DgramObj *t, PyObject *exc)
{
    if (t->tr.lost) {
        return 0;
    }
    int rc = ca_tr_connection_lost(&t->tr, exc);
    Py_CLEAR(t->tr.protocol);
    return rc;
}

/* asyncio's _sendto_ready; -1 with an exception. */
static int
dgram_sendto_ready(DgramObj *t)
{
    if (t->tr.sock == NULL) {
        return 0;
    }
    int rc = dgram_flush(t);
    if (rc != 0) {
        return rc < 0 ? -1 : 0;
    }
    if (ca_tr_maybe_resume(&t->tr) < 0) {  /* may append to the buffer */
        return -1;
    }
    if (t->len == 0) {
        ca_tr_unwatch(&t->tr, 1);
        if (t->tr.closing) {
            return dgram_connection_lost(t, Py_None);
        }
    }
    return 0;
}

/* ---- receiving ---- */

/* One datagram: 1 handed to the protocol, 0 none ready, -1 error. */
static int
dgram_read_one(DgramObj *t, PyObject *max_size)
{
    ca_state *st = ca_tr_state(&t->tr);
    PyObject *args[2] = {t->tr.sock, max_size};
    PyObject *pair = PyObject_VectorcallMethod(st->str_recvfrom, args, 2, NULL);
    if (pair == NULL) {
        int rc = dgram_failed(t, "Fatal read error on datagram transport");
        return rc <= 0 ? rc : 0;
    }
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        Py_DECREF(pair);
        PyErr_SetString(PyExc_TypeError, "recvfrom() did not return a pair");
        return -1;
    }
    PyObject *proto = Py_NewRef(t->tr.protocol);
    PyObject *cargs[3] = {proto, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1)};
    PyObject *r = PyObject_VectorcallMethod(st->str_datagram_received, cargs, 3, NULL);
    Py_DECREF(proto);
    Py_DECREF(pair);
    Py_XDECREF(r);
    return r ? 1 : -1;
}

/* asyncio's _read_ready, reading up to DGRAM_READS_PER_EVENT datagrams;
 * -1 with an exception. */
static int
dgram_read_ready(DgramObj *t)
{
    PyObject *max_size = PyLong_FromLong(DGRAM_MAX_SIZE);
    if (max_size == NULL) {
        return -1;
    }
    int rc = 1;
    for (int i = 0; i < DGRAM_READS_PER_EVENT && rc > 0; i++) {
        if (t->tr.conn_lost || t->tr.closing || t->tr.sock == NULL) {
            break;
        }
        rc = dgram_read_one(t, max_size);
    }
    Py_DECREF(max_size);
    return rc < 0 ? -1 : 0;
}

/* The events, as the loop runs them: an exception the protocol let out is
 * reported as one of asyncio's reader or writer Handle would be. */
static int
dgram_read_event(TransportObj *t)
{
    return dgram_read_ready(DG(t)) < 0 ? ca_tr_callback_failed(t, "_read_ready") : 0;
}

static int
dgram_write_event(TransportObj *t)
{
    return dgram_sendto_ready(DG(t)) < 0 ? ca_tr_callback_failed(t, "_sendto_ready") : 0;
}

static const ca_transport_ops dgram_ops = {
    .read_ready = dgram_read_event,
    .write_ready = dgram_write_event,
    .queue_size = dgram_queue_size,
    .queue_len = dgram_queue_len,
    .queue_clear = dgram_queue_clear,
    .release = dgram_release,
    .dropped_warning = "socket.send() raised exception.",
};

/* ---- the Python-facing side ---- */

static PyObject *
dgram_py_read_ready(PyObject *self, PyObject *unused)
{
    return dgram_read_ready(DG(self)) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *
dgram_py_sendto_ready(PyObject *self, PyObject *unused)
{
    return dgram_sendto_ready(DG(self)) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *
dgram_py_start_reading(PyObject *self, PyObject *unused)
{
    DgramObj *t = DG(self);
    if (t->tr.closing || t->reading || t->tr.lost) {
        Py_RETURN_NONE;
    }
    if (ca_tr_watch_here(&t->tr, 0) < 0) {
        return NULL;
    }
    t->reading = 1;
    Py_RETURN_NONE;
}

static PyObject *
dgram_py_call_connection_lost(PyObject *self, PyObject *exc)
{
    return dgram_connection_lost(DG(self), exc) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *
dgram_py_sendto(PyObject *self, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    static const char *const names[2] = {"data", "addr"};
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *bound[2] = {nargs > 0 ? args[0] : NULL, nargs > 1 ? args[1] : NULL};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, i);
        PyObject **slot = ca_kw_slot(kw, names, bound, 2);
        if (slot == NULL || *slot != NULL) {
            PyErr_Format(PyExc_TypeError, "sendto() got an unexpected or repeated "
                                          "keyword argument '%U'", kw);
            return NULL;
        }
        *slot = args[nargs + i];
    }
    if (bound[0] == NULL || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "sendto() takes data and an optional addr");
        return NULL;
    }
    return dgram_sendto_impl(DG(self), bound[0], bound[1] ? bound[1] : Py_None);
}

static PyObject *
dgram_py_set_protocol(PyObject *self, PyObject *protocol)
{
    Py_XSETREF(DG(self)->tr.protocol, Py_NewRef(protocol));
    Py_RETURN_NONE;
}

/* ---- slots ---- */

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
    PyObject *fdobj = PyObject_CallMethodNoArgs(sock, st->str_fileno);
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
    ca_tr_init(&t->tr, &dgram_ops, (LoopObj *)loop, sock, (int)fd, protocol, NULL);
    t->tr.base_slots[0] = Py_NewRef(extra);  /* _extra */
    t->address = address == Py_None ? NULL : Py_NewRef(address);
    t->connected = (char)connected;
    return (PyObject *)t;
}

/* Everything is done by tp_new; asyncio's BaseTransport.__init__ must not
 * run (it would take our arguments for its own). */
static int
dgram_tp_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    return 0;
}

static void
dgram_finalize(PyObject *self)
{
    ca_tr_finalize(&DG(self)->tr);
}

static int
dgram_traverse(PyObject *self, visitproc visit, void *arg)
{
    DgramObj *t = DG(self);
    int rc = ca_tr_traverse(&t->tr, visit, arg);
    if (rc != 0) {
        return rc;
    }
    Py_VISIT(t->address);
    for (Py_ssize_t i = 0; i < t->len; i++) {
        dgram_entry *e = &t->buf[(t->head + i) % t->cap];
        Py_VISIT(e->data);
        Py_VISIT(e->addr);
    }
    return 0;
}

static int
dgram_clear(PyObject *self)
{
    Py_CLEAR(DG(self)->address);
    ca_tr_clear(&DG(self)->tr);
    return 0;
}

static void
dgram_dealloc(PyObject *self)
{
    if (!ca_tr_dealloc_begin(&DG(self)->tr)) {
        return;
    }
    (void)dgram_clear(self);
    ca_tr_dealloc_end(&DG(self)->tr);
}

/* ---- attributes ---- */

static PyObject *
dgram_get_obj(PyObject *v)
{
    return Py_NewRef(v ? v : Py_None);
}

static PyObject *
dgram_get_sock(PyObject *self, void *c)
{
    return dgram_get_obj(DG(self)->tr.sock);
}

/* None once connection_lost has run, as asyncio's. */
static PyObject *
dgram_get_loop(PyObject *self, void *c)
{
    return dgram_get_obj(DG(self)->tr.lost ? NULL : (PyObject *)DG(self)->tr.loop);
}

static PyObject *
dgram_get_protocol_attr(PyObject *self, void *c)
{
    return dgram_get_obj(DG(self)->tr.protocol);
}

static PyObject *
dgram_get_address(PyObject *self, void *c)
{
    return dgram_get_obj(DG(self)->address);
}

static PyObject *
dgram_get_conn_lost(PyObject *self, void *c)
{
    return PyLong_FromSsize_t(DG(self)->tr.conn_lost + DG(self)->tr.dropped);
}

static PyObject *
dgram_get_paused(PyObject *self, void *c)
{
    return PyBool_FromLong(DG(self)->tr.protocol_paused);
}

/* ---- tables ---- */

static PyMethodDef dgram_methods[] = {
    CA_TR_WRITE_BUFFER_METHODS,
    CA_TR_COMMON_METHODS,
    {"sendto", (PyCFunction)(void (*)(void))dgram_py_sendto, METH_FASTCALL | METH_KEYWORDS,
     "sendto($self, data, addr=None)\n--\n\n"
     "Send a datagram now, or queue it if the socket would block."},
    {"close", ca_tr_py_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose once the queued datagrams are sent."},
    {"set_protocol", dgram_py_set_protocol, METH_O,
     "set_protocol($self, protocol, /)\n--\n\nReplace the protocol."},
    {"_read_ready", dgram_py_read_ready, METH_NOARGS, NULL},
    {"_sendto_ready", dgram_py_sendto_ready, METH_NOARGS, NULL},
    {"_start_reading", dgram_py_start_reading, METH_NOARGS, NULL},
    {"_call_connection_lost", dgram_py_call_connection_lost, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef dgram_getset[] = {
    {"_sock", dgram_get_sock, NULL, NULL, NULL},
    {"_loop", dgram_get_loop, NULL, NULL, NULL},
    {"_protocol", dgram_get_protocol_attr, NULL, NULL, NULL},
    {"_address", dgram_get_address, NULL, NULL, NULL},
    {"_sock_fd", ca_tr_get_fd, NULL, NULL, NULL},
    {"_closing", ca_tr_get_closing, NULL, NULL, NULL},
    {"_conn_lost", dgram_get_conn_lost, NULL, NULL, NULL},
    {"_protocol_paused", dgram_get_paused, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef dgram_members[] = {
    CA_TR_MEMBERS,
    {NULL, 0, 0, 0, NULL},
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
    {Py_tp_members, dgram_members},
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
    PyTypeObject *tp = ca_tr_type_new(mod, &dgram_spec, "DatagramTransport", 0);
    Py_XDECREF(tp);
    return tp ? 0 : -1;
}
