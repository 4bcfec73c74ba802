/* The transport base (transport.c): what the stream, pipe and datagram
 * transports have in common.
 *
 * Every transport object starts with a TransportObj: the slots of the
 * asyncio class it derives from, then the loop, the file, the protocol,
 * the contexts its callbacks run in, the write-buffer water marks and the
 * closing state.  What differs between kinds of transport is in its ops
 * table: what to do when the fd is readable or writable, the write queue's
 * size and how to drop it, which errors are quiet, how to let go of the
 * file.
 *
 * The closing state machine, for every kind:
 *   open --close()--> closing --queue empty--> connection_lost scheduled
 *   open or closing --abort()/fatal error--> queue dropped, connection_lost
 *       scheduled at once
 *   connection_lost scheduled --_call_connection_lost--> lost: the
 *       protocol's connection_lost ran, the file is closed (ops->release).
 * conn_lost counts from the scheduling on (asyncio's _conn_lost: writes
 * after it are dropped and warned about from the fifth on); `lost` is set
 * once connection_lost has run, and it runs once.
 *
 * A transport waits in its fd's reader and writer slots of the watch table
 * as a CA_WATCHER_TRANSPORT: io.c runs ca_transport_ready, which enters
 * the side's context and calls ops->read_ready or ops->write_ready. */
#ifndef CA_TRANSPORT_H
#define CA_TRANSPORT_H

#include "loop.h"

/* The most __slots__ an asyncio base class may bring (_FlowControlMixin's
 * five: _extra, _high_water, _loop, _low_water, _protocol_paused). */
#define CA_TR_BASE_SLOTS 5
/* asyncio's write-buffer marks: high 64 KiB, low a quarter of it. */
#define CA_TR_HIGH_WATER (64 * 1024)
/* asyncio's LOG_THRESHOLD_FOR_CONNLOST_WRITES. */
#define CA_TR_CONNLOST_LOG 5

typedef struct TransportObj TransportObj;

typedef struct {
    /* The fd is readable / writable (run in that side's context);
     * -1 only for an exception that must leave the loop. */
    int (*read_ready)(TransportObj *t);
    int (*write_ready)(TransportObj *t);
    /* Bytes queued and not yet sent (what the water marks compare),
     * entries queued, and dropping them all. */
    Py_ssize_t (*queue_size)(TransportObj *t);
    Py_ssize_t (*queue_len)(TransportObj *t);
    void (*queue_clear)(TransportObj *t);
    /* After connection_lost, or an unclosed transport's finalizer: stop
     * watching, close the file, forget what is held for it; -1 with an
     * exception (the file's close() raised). */
    int (*release)(TransportObj *t);
    /* Whether a fatal error exc is only logged (in debug mode): 1, 0, or
     * -1 with an exception.  NULL: any OSError (the peer went away). */
    int (*error_is_quiet)(TransportObj *t, PyObject *exc);
    /* The writes dropped after the connection was lost are warned about
     * with this message. */
    const char *dropped_warning;
    /* The asyncio base has _FlowControlMixin's slots: _protocol_paused,
     * _high_water and _low_water are kept in step with the C fields. */
    char flow_slots;
} ca_transport_ops;

struct TransportObj {
    PyObject_HEAD
    /* The asyncio base class's __slots__, in the order CPython lays them
     * out (sorted); base_slots[0] is always _extra. */
    PyObject *base_slots[CA_TR_BASE_SLOTS];
    PyObject *weakreflist;
    /* Instance attributes, as asyncio's transports have (CPython's tests
     * replace methods of a transport with mocks). */
    PyObject *dict;
    const ca_transport_ops *ops;
    LoopObj *loop;
    PyObject *sock;         /* the socket or pipe file; NULL once released */
    PyObject *protocol;
    /* The contexts the protocol's callbacks run in, as asyncio runs them in
     * those of its reader and writer Handles: a copy of the current context
     * made when reading starts or resumes, and when writes first queue.
     * Unless ctx_fixed: the transport was given a context (3.15's
     * context=), both are it, and every callback runs in it. */
    PyObject *read_ctx;
    PyObject *write_ctx;
    Py_ssize_t high;
    Py_ssize_t low;
    Py_ssize_t conn_lost;   /* asyncio's _conn_lost */
    /* Writes dropped by a closing pipe before connection_lost was
     * scheduled: asyncio counts them in _conn_lost too, but conn_lost here
     * means connection_lost is scheduled, and the queue still drains. */
    Py_ssize_t dropped;
    int fd;
    char closing;
    char lost;              /* _call_connection_lost has run */
    char paused;            /* reading paused by pause_reading() */
    char protocol_paused;   /* pause_writing() was called */
    char ctx_fixed;
};

static inline ca_state *
ca_tr_state(TransportObj *t)
{
    return t->loop->state;
}

/* Fills the fields every transport has (the object is zeroed): the loop,
 * the file and its fd, the protocol, asyncio's default marks, and
 * `context` (NULL or None: none) as the fixed context. */
void ca_tr_init(TransportObj *t, const ca_transport_ops *ops, LoopObj *loop,
                PyObject *sock, int fd, PyObject *protocol, PyObject *context);

/* call_soon(cb, *args) on the transport's loop, as asyncio schedules (in
 * the fixed context if there is one, else a copy of the current one). */
int ca_tr_call_soon(TransportObj *t, PyObject *cb, PyObject *const *args,
                    Py_ssize_t nargs);
/* Schedules self.<name>(arg) (arg NULL: no argument). */
int ca_tr_call_soon_method(TransportObj *t, const char *name, PyObject *arg);
/* protocol.connection_made(self), then self._start_reading() if
 * start_reading, then the waiter's result: as asyncio's transports
 * schedule their start. */
int ca_tr_schedule_start(TransportObj *t, PyObject *waiter, int start_reading);

/* Watching the fd for reads or writes.  _here: with that side's callbacks
 * to run in a copy of the current context (as asyncio's add_reader Handle
 * would), unless the context is fixed. */
int ca_tr_watch(TransportObj *t, int writer);
int ca_tr_watch_here(TransportObj *t, int writer);
void ca_tr_unwatch(TransportObj *t, int writer);

/* One of the asyncio base's slots, through its descriptor. */
int ca_tr_set_slot(TransportObj *t, const char *name, PyObject *value);
int ca_tr_set_slot_ssize(TransportObj *t, const char *name, Py_ssize_t v);

/* loop.call_exception_handler({'message', 'exception', 'transport',
 * 'protocol'}); -1 only if the handler let an exception through. */
int ca_tr_report(TransportObj *t, const char *message, PyObject *exc);
/* A reader or writer callback of asyncio's (self.<method>) would have
 * raised the current exception out of its Handle: the loop's report of a
 * failed callback ("Exception in callback ...").  KeyboardInterrupt and
 * SystemExit stay raised (-1). */
int ca_tr_callback_failed(TransportObj *t, const char *method);
/* Logs fmt % (self,) at `level` ("debug", "info") in debug mode. */
int ca_tr_log(TransportObj *t, const char *level, const char *fmt);

/* The closing state machine (see above).  close: stop reading, and
 * connection_lost once the queue is sent; force_close: drop the queue,
 * connection_lost(exc) now; fatal: asyncio's _fatal_error (report unless
 * quiet, then force_close); failed: the current exception came from a
 * protocol callback or a system call: KeyboardInterrupt and SystemExit
 * propagate (-1), anything else is fatal with `message`. */
int ca_tr_close(TransportObj *t);
int ca_tr_force_close(TransportObj *t, PyObject *exc);
int ca_tr_fatal(TransportObj *t, PyObject *exc, const char *message);
int ca_tr_failed(TransportObj *t, const char *message);
/* A write after the connection was lost (or a pipe's, once closing):
 * counted, warned about from the fifth on. */
int ca_tr_write_dropped(TransportObj *t);
/* _call_connection_lost(exc): protocol.connection_lost(exc) once, then
 * ops->release (even if connection_lost raised); 0, or -1 with an
 * exception (connection_lost's before release's). */
int ca_tr_connection_lost(TransportObj *t, PyObject *exc);

/* Flow control: pause_writing() once the queue passes the high mark,
 * resume_writing() once it is back to the low one; a failure of either
 * goes to the exception handler. */
int ca_tr_maybe_pause(TransportObj *t);
int ca_tr_maybe_resume(TransportObj *t);

/* The fd's reader (writer) slot fired: io.c's entry point. */
int ca_transport_ready(LoopObj *loop, PyObject *obj, int writer);

/* An unclosed transport's finalizer: ResourceWarning, queue dropped,
 * ops->release. */
void ca_tr_finalize(TransportObj *t);
int ca_tr_traverse(TransportObj *t, visitproc visit, void *arg);
void ca_tr_clear(TransportObj *t);
/* tp_dealloc: _begin runs the finalizer, untracks and clears the weak
 * references (0: the object was resurrected, stop); the kind then clears
 * and frees what it holds; _end frees the object. */
int ca_tr_dealloc_begin(TransportObj *t);
void ca_tr_dealloc_end(TransportObj *t);

/* Creates a transport type from spec over asyncio.transports.<base_name>,
 * whose __slots__ must fit in base_slots (exactly, if `exact`), and adds it
 * to the module.  Returns a new reference. */
PyTypeObject *ca_tr_type_new(PyObject *module, PyType_Spec *spec, const char *base_name,
                             int exact);

/* Entries of the method and member tables, shared by the transport types. */
PyObject *ca_tr_py_is_closing(PyObject *self, PyObject *unused);
PyObject *ca_tr_py_abort(PyObject *self, PyObject *unused);
PyObject *ca_tr_py_force_close(PyObject *self, PyObject *exc);
PyObject *ca_tr_py_close(PyObject *self, PyObject *unused);
PyObject *ca_tr_py_get_protocol(PyObject *self, PyObject *unused);
PyObject *ca_tr_py_get_write_buffer_size(PyObject *self, PyObject *unused);
PyObject *ca_tr_py_get_write_buffer_limits(PyObject *self, PyObject *unused);
PyObject *ca_tr_py_set_write_buffer_limits(PyObject *self, PyObject *args, PyObject *kwds);
PyObject *ca_tr_get_fd(PyObject *self, void *c);
PyObject *ca_tr_get_paused(PyObject *self, void *c);
PyObject *ca_tr_get_closing(PyObject *self, void *c);

#define CA_TR_WRITE_BUFFER_METHODS                                                      \
    {"get_write_buffer_size", ca_tr_py_get_write_buffer_size, METH_NOARGS,              \
     "get_write_buffer_size($self, /)\n--\n\nBytes queued, not yet sent."},             \
    {"get_write_buffer_limits", ca_tr_py_get_write_buffer_limits, METH_NOARGS,          \
     "get_write_buffer_limits($self, /)\n--\n\nThe (low, high) marks."},                \
    {"set_write_buffer_limits", (PyCFunction)(void (*)(void))ca_tr_py_set_write_buffer_limits, \
     METH_VARARGS | METH_KEYWORDS,                                                      \
     "set_write_buffer_limits($self, /, high=None, low=None)\n--\n\n"                  \
     "Set the marks at which pause_writing/resume_writing are called."},                \
    {"abort", ca_tr_py_abort, METH_NOARGS,                                              \
     "abort($self, /)\n--\n\nClose at once, dropping queued data."}

#define CA_TR_COMMON_METHODS                                                            \
    {"is_closing", ca_tr_py_is_closing, METH_NOARGS,                                    \
     "is_closing($self, /)\n--\n\nTrue once closing (or at a pipe's end of file)."},   \
    {"get_protocol", ca_tr_py_get_protocol, METH_NOARGS,                                \
     "get_protocol($self, /)\n--\n\nThe current protocol."},                           \
    {"_force_close", ca_tr_py_force_close, METH_O, NULL}

#define CA_TR_MEMBERS                                                                   \
    {"__weaklistoffset__", T_PYSSIZET, offsetof(TransportObj, weakreflist), READONLY, NULL}, \
    {"__dictoffset__", T_PYSSIZET, offsetof(TransportObj, dict), READONLY, NULL}

#endif
