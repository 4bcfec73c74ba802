/* The accepting side of servers: one Accepter per listening socket, in the
 * reader slot of its fd, accepting up to `backlog` connections per readable
 * event and making a protocol and a stream transport for each, as asyncio's
 * BaseSelectorEventLoop._accept_connection does.
 *
 * Owns: Accepter objects (the listening socket, protocol factory, server
 * and TLS hook they hold).
 * Does not own: the Server object (asyncio.base_events.Server, used as is),
 * closing the listening socket (loop._stop_serving in casyncio/_loop.py),
 * TLS connections: for a TLS server each accepted socket goes to a Python
 * hook (asyncio's own _accept_connection2 with its SSL protocol, in a task).
 *
 * Out of file descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM), an accepter
 * reports through the exception handler, stops watching for a second
 * (asyncio's ACCEPT_RETRY_DELAY) and resumes, so the server keeps serving.
 * Other accept errors are reported as a failed callback, as asyncio's are,
 * and accepting goes on. */
#include "errors.h"
#include "io.h"
#include "server.h"
#include "stream.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

/* asyncio.constants.ACCEPT_RETRY_DELAY, in seconds. */
#define ACCEPT_RETRY_DELAY 1.0

typedef struct {
    PyObject_HEAD
    LoopObj *loop;
    PyObject *sock;             /* the listening socket */
    PyObject *protocol_factory;
    PyObject *server;           /* asyncio Server, or None */
    PyObject *ssl_accept;       /* None, or callable(conn, addr) for TLS */
    /* A copy of the context serving started in, or the server's context
     * (3.15's Server passes one): each connection's protocol factory and
     * transport start in a copy of it, as asyncio accepts in its reader
     * Handle's context and sets up each connection in a task.  With the
     * server's context, that copy is the transport's context (ctx_fixed in
     * stream.c), as 3.15's transports keep the context they are given. */
    PyObject *ctx;
    int fixed;
    int backlog;
    int fd;
} AccepterObj;

/* asyncio's _accept_connection2 reports failures to set up an accepted
 * connection only in debug mode. */
static int
accepter_setup_failed(AccepterObj *self, PyObject *protocol, PyObject *conn)
{
    PyObject *exc = ca_err_fetch();
    if (exc != NULL && ca_err_is_fatal(exc)) {
        ca_err_restore(exc);
        return -1;
    }
    PyObject *r = PyObject_CallMethod(conn, "close", NULL);
    Py_XDECREF(r);
    PyErr_Clear();
    int rc = 0;
    if (self->loop->debug && exc != NULL) {
        PyObject *ctx = Py_BuildValue(
            "{s:s,s:O}", "message", "Error on transport creation for incoming connection",
            "exception", exc);
        if (ctx != NULL && protocol != NULL) {
            PyDict_SetItemString(ctx, "protocol", protocol);
        }
        r = ctx ? PyObject_CallMethod((PyObject *)self->loop, "call_exception_handler",
                                      "O", ctx)
                : NULL;
        Py_XDECREF(ctx);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
    }
    Py_XDECREF(exc);
    return rc;
}

/* A TLS connection goes to the Python hook; a plain one gets
 * protocol_factory() and a transport, which schedules connection_made. */
static int
accepter_connect(AccepterObj *self, PyObject *conn, PyObject *addr, PyObject *ctx)
{
    if (self->ssl_accept != Py_None) {
        PyObject *r = PyObject_CallFunctionObjArgs(self->ssl_accept, conn, addr, NULL);
        if (r == NULL) {
            return accepter_setup_failed(self, NULL, conn);
        }
        Py_DECREF(r);
        return 0;
    }
    PyObject *protocol = PyObject_CallNoArgs(self->protocol_factory);
    if (protocol == NULL) {
        return accepter_setup_failed(self, NULL, conn);
    }
    PyObject *extra = Py_BuildValue("{s:O}", "peername", addr);
    PyObject *tr = extra ? ca_stream_new(self->loop, conn, protocol, NULL, extra,
                                         self->server, self->fixed ? ctx : NULL)
                         : NULL;
    Py_XDECREF(extra);
    int rc = 0;
    if (tr == NULL) {
        rc = accepter_setup_failed(self, protocol, conn);
    }
    Py_XDECREF(tr);
    Py_DECREF(protocol);
    return rc;
}

static int
accepter_out_of_resources(AccepterObj *self, PyObject *exc)
{
    ca_state *st = self->loop->state;
    PyObject *r = NULL;
    PyObject *tsock = PyObject_CallOneArg(st->TransportSocket, self->sock);
    PyObject *ctx = tsock ? Py_BuildValue("{s:s,s:O,s:O}", "message",
                                          "socket.accept() out of system resource",
                                          "exception", exc, "socket", tsock)
                          : NULL;
    Py_XDECREF(tsock);
    if (ctx != NULL) {
        r = PyObject_CallMethod((PyObject *)self->loop, "call_exception_handler", "O",
                                ctx);
        Py_DECREF(ctx);
    }
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    ca_io_unwatch_op(self->loop, self->fd, 0, (PyObject *)self);
    PyObject *resume = PyObject_GetAttrString((PyObject *)self, "_resume");
    r = resume ? PyObject_CallMethod((PyObject *)self->loop, "call_later", "dO",
                                     ACCEPT_RETRY_DELAY, resume)
               : NULL;
    Py_XDECREF(resume);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* Any other accept() error: asyncio's _accept_connection lets it escape
 * its reader callback, so the loop reports it as a failed callback
 * ("Exception in callback ...", with a 'handle'); the same here, the
 * callback being our own _accept_connection.  Still watched, as there. */
static int
accepter_report_error(AccepterObj *self, PyObject *exc)
{
    PyObject *cb = PyObject_GetAttrString((PyObject *)self, "_accept_connection");
    if (cb == NULL) {
        return -1;
    }
    int rc = ca_report_callback_error(self->loop->state, (PyObject *)self->loop, cb,
                                      NULL, 0, NULL, NULL, exc);
    Py_DECREF(cb);
    return rc;
}

/* accept() failed: 1 to go on accepting, 0 to stop for now, -1 error. */
static int
accepter_accept_failed(AccepterObj *self)
{
    if (ca_err_clear_would_block()) {
        return 0;
    }
    if (PyErr_ExceptionMatches(PyExc_ConnectionAbortedError)) {
        PyErr_Clear();
        return 1;  /* the peer gave up before we accepted; next */
    }
    PyObject *exc = ca_err_fetch();
    int rc = 0;
    if (ca_err_is_fatal(exc)) {
        ca_err_restore(exc);
        return -1;
    }
    int err = 0;
    if (PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_OSError)) {
        PyObject *eo = PyObject_GetAttrString(exc, "errno");
        err = eo && PyLong_Check(eo) ? (int)PyLong_AsLong(eo) : 0;
        Py_XDECREF(eo);
        PyErr_Clear();
    }
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        rc = accepter_out_of_resources(self, exc);
    }
    else {
        rc = accepter_report_error(self, exc);
    }
    Py_DECREF(exc);
    return rc;
}

/* accepter_connect in a copy of the serving context. */
static int
accepter_connect_in_context(AccepterObj *self, PyObject *conn, PyObject *addr)
{
    PyObject *ctx = PyContext_Copy(self->ctx);
    if (ctx == NULL) {
        return -1;
    }
    if (PyContext_Enter(ctx) < 0) {
        Py_DECREF(ctx);
        return -1;
    }
    int rc = accepter_connect(self, conn, addr, ctx);
    if (PyContext_Exit(ctx) < 0) {
        rc = -1;
    }
    Py_DECREF(ctx);
    return rc;
}

/* Accepts one connection: 1 accepted (or skipped), 0 nothing more, -1. */
static int
accepter_accept_one(AccepterObj *self)
{
    ca_state *st = self->loop->state;
    PyObject *pair = PyObject_CallMethodNoArgs(self->sock, st->str_accept);
    if (pair == NULL) {
        return accepter_accept_failed(self);
    }
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        Py_DECREF(pair);
        PyErr_SetString(PyExc_TypeError, "accept() did not return a (socket, address) pair");
        return -1;
    }
    PyObject *conn = PyTuple_GET_ITEM(pair, 0);
    PyObject *r = PyObject_CallMethodOneArg(conn, st->str_setblocking, Py_False);
    int rc = r ? accepter_connect_in_context(self, conn, PyTuple_GET_ITEM(pair, 1))
               : accepter_setup_failed(self, NULL, conn);
    Py_XDECREF(r);
    Py_DECREF(pair);
    return rc < 0 ? -1 : 1;
}

int
ca_accepter_ready(LoopObj *loop, PyObject *obj)
{
    AccepterObj *self = (AccepterObj *)Py_NewRef(obj);
    int rc = 1;
    for (int i = 0; i < self->backlog && rc == 1; i++) {
        rc = accepter_accept_one(self);
    }
    Py_DECREF(self);
    return rc < 0 ? -1 : 0;
}

/* loop._unlink_unix_socket(path, ino): 3.13's clean-up of a UNIX server's
 * path when it stops serving: unlink it if it is still the inode the server
 * bound.  The stat() and unlink() asyncio's _stop_serving makes with
 * os.stat and os.unlink, made here in C: the same system calls, but not
 * reported as blocking calls from the loop by tools such as blockbuster,
 * which allow them in asyncio's function (aiohttp's suite runs it). */
PyObject *
ca_loop_unlink_unix_socket(LoopObj *loop, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *bytes = NULL;
    unsigned long long ino;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_unlink_unix_socket() takes 2 arguments");
        return NULL;
    }
    ino = PyLong_AsUnsignedLongLong(args[1]);
    if ((ino == (unsigned long long)-1 && PyErr_Occurred())
        || !PyUnicode_FSConverter(args[0], &bytes)) {
        return NULL;
    }
    const char *path = PyBytes_AS_STRING(bytes);
    struct stat st;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = stat(path, &st);
    if (rc == 0 && (unsigned long long)st.st_ino == ino) {
        rc = unlink(path);
    }
    Py_END_ALLOW_THREADS
    int err = errno;
    Py_DECREF(bytes);
    if (rc < 0) {
        errno = err;
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, args[0]);
    }
    Py_RETURN_NONE;
}

/* loop._start_accepting(sock, protocol_factory, server, backlog,
 * ssl_accept, context): watch the listening socket. */
PyObject *
ca_loop_start_accepting(LoopObj *loop, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "_start_accepting() takes 6 arguments");
        return NULL;
    }
    int fixed = args[5] != Py_None;
    if (fixed && !PyContext_CheckExact(args[5])) {
        PyErr_SetString(PyExc_TypeError, "context must be a contextvars.Context");
        return NULL;
    }
    int backlog = PyLong_Check(args[3]) ? (int)PyLong_AsLong(args[3]) : 100;
    if (PyErr_Occurred() || ca_loop_check_closed(loop) < 0) {
        return NULL;
    }
    PyObject *fdobj = PyObject_CallMethodNoArgs(args[0], loop->state->str_fileno);
    long fd = fdobj ? PyLong_AsLong(fdobj) : -1;
    Py_XDECREF(fdobj);
    if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *ctx = fixed ? Py_NewRef(args[5]) : PyContext_CopyCurrent();
    if (ctx == NULL) {
        return NULL;
    }
    AccepterObj *self = PyObject_GC_New(AccepterObj, loop->state->AccepterType);
    if (self == NULL) {
        Py_DECREF(ctx);
        return NULL;
    }
    self->ctx = ctx;
    self->fixed = fixed;
    CA_LIVE_ADD(loop->state, CA_LIVE_SERVER, 1);
    self->loop = (LoopObj *)Py_NewRef((PyObject *)loop);
    self->sock = Py_NewRef(args[0]);
    self->protocol_factory = Py_NewRef(args[1]);
    self->server = Py_NewRef(args[2]);
    self->ssl_accept = Py_NewRef(args[4]);
    self->backlog = backlog > 0 ? backlog : 1;
    self->fd = (int)fd;
    PyObject_GC_Track(self);
    if (ca_io_watch_op(loop, self->fd, 0, (PyObject *)self, CA_WATCHER_ACCEPTER) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* One readable event's worth of accepting, as the reader slot does it;
 * also what the 'handle' of a reported accept error runs. */
static PyObject *
accepter_accept_connection(AccepterObj *self, PyObject *unused)
{
    if (ca_accepter_ready(self->loop, (PyObject *)self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* After ACCEPT_RETRY_DELAY: watch again, unless the socket was closed
 * (the server stopped serving) or the loop was. */
static PyObject *
accepter_resume(AccepterObj *self, PyObject *unused)
{
    if (self->loop->closed) {
        Py_RETURN_NONE;
    }
    PyObject *fdobj = PyObject_CallMethodNoArgs(self->sock, self->loop->state->str_fileno);
    long fd = fdobj ? PyLong_AsLong(fdobj) : -1;
    Py_XDECREF(fdobj);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (fd == self->fd && ca_io_watch_op(self->loop, self->fd, 0, (PyObject *)self,
                                          CA_WATCHER_ACCEPTER) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static int
accepter_traverse(AccepterObj *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT((PyObject *)self->loop);
    Py_VISIT(self->sock);
    Py_VISIT(self->protocol_factory);
    Py_VISIT(self->server);
    Py_VISIT(self->ssl_accept);
    Py_VISIT(self->ctx);
    return 0;
}

static int
accepter_clear(AccepterObj *self)
{
    Py_CLEAR(self->loop);
    Py_CLEAR(self->sock);
    Py_CLEAR(self->protocol_factory);
    Py_CLEAR(self->server);
    Py_CLEAR(self->ssl_accept);
    Py_CLEAR(self->ctx);
    return 0;
}

static void
accepter_dealloc(AccepterObj *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    (void)accepter_clear(self);
    CA_LIVE_ADD_TYPE(tp, CA_LIVE_SERVER, -1);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef accepter_methods[] = {
    {"_resume", (PyCFunction)accepter_resume, METH_NOARGS, NULL},
    {"_accept_connection", (PyCFunction)accepter_accept_connection, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot accepter_slots[] = {
    {Py_tp_doc, "Accepts connections on one listening socket of a server."},
    {Py_tp_methods, accepter_methods},
    {Py_tp_traverse, accepter_traverse},
    {Py_tp_clear, accepter_clear},
    {Py_tp_dealloc, accepter_dealloc},
    {0, NULL},
};

static PyType_Spec accepter_spec = {
    .name = "casyncio._core.Accepter",
    .basicsize = sizeof(AccepterObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = accepter_slots,
};

int
ca_server_types_init(PyObject *module, ca_state *st)
{
    st->AccepterType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &accepter_spec, NULL);
    if (st->AccepterType == NULL) {
        return -1;
    }
    return PyModule_AddType(module, st->AccepterType);
}
