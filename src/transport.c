/* The transport base: scheduling, watching, reporting, the closing state
 * machine and flow control of every transport (see transport.h).
 *
 * Owns: nothing of its own; it works on the TransportObj at the start of
 * each transport object: its references to the loop, file, protocol and
 * contexts.  Does not own: the write queue (the kind's: wbuf.c for byte
 * streams, dgram.c's ring of datagrams), the watch table (io.c), what a
 * readable or writable fd means (the kind's ops). */
#include "transport.h"
#include "errors.h"
#include "io.h"

void
ca_tr_init(TransportObj *t, const ca_transport_ops *ops, LoopObj *loop, PyObject *sock,
           int fd, PyObject *protocol, PyObject *context)
{
    t->ops = ops;
    t->loop = (LoopObj *)Py_NewRef((PyObject *)loop);
    t->sock = Py_NewRef(sock);
    t->fd = fd;
    t->protocol = Py_XNewRef(protocol);
    t->high = CA_TR_HIGH_WATER;
    t->low = CA_TR_HIGH_WATER / 4;
    if (context != NULL && context != Py_None) {
        t->ctx_fixed = 1;
        t->read_ctx = Py_NewRef(context);
        t->write_ctx = Py_NewRef(context);
    }
}

/* ---- scheduling and watching ---- */

int
ca_tr_call_soon(TransportObj *t, PyObject *cb, PyObject *const *args, Py_ssize_t nargs)
{
    if (ca_loop_check_closed(t->loop) < 0) {
        return -1;
    }
    ca_state *st = ca_tr_state(t);
    HandleObj *h = ca_handle_new(st, st->HandleType, (PyObject *)t->loop, cb, args, nargs,
                                 t->ctx_fixed ? t->read_ctx : NULL, 1);
    if (h == NULL) {
        return -1;
    }
    int rc = ca_loop_schedule(t->loop, CA_READY_HANDLE, (PyObject *)h, NULL, NULL);
    Py_DECREF(h);
    return rc;
}

int
ca_tr_call_soon_method(TransportObj *t, const char *name, PyObject *arg)
{
    PyObject *cb = PyObject_GetAttrString((PyObject *)t, name);
    if (cb == NULL) {
        return -1;
    }
    int rc = ca_tr_call_soon(t, cb, &arg, arg ? 1 : 0);
    Py_DECREF(cb);
    return rc;
}

int
ca_tr_schedule_start(TransportObj *t, PyObject *waiter, int start_reading)
{
    PyObject *made = PyObject_GetAttrString(t->protocol, "connection_made");
    if (made == NULL) {
        return -1;
    }
    PyObject *arg = (PyObject *)t;
    int rc = ca_tr_call_soon(t, made, &arg, 1);
    Py_DECREF(made);
    if (rc < 0 || (start_reading && ca_tr_call_soon_method(t, "_start_reading", NULL) < 0)) {
        return -1;
    }
    if (waiter == NULL || waiter == Py_None) {
        return 0;
    }
    PyObject *args[2] = {waiter, Py_None};
    return ca_tr_call_soon(t, ca_tr_state(t)->set_result_unless_cancelled, args, 2);
}

int
ca_tr_watch(TransportObj *t, int writer)
{
    if (ca_loop_check_closed(t->loop) < 0) {
        return -1;
    }
    return ca_io_watch_op(t->loop, t->fd, writer, (PyObject *)t, CA_WATCHER_TRANSPORT);
}

int
ca_tr_watch_here(TransportObj *t, int writer)
{
    if (t->ctx_fixed) {
        return ca_tr_watch(t, writer);
    }
    PyObject *ctx = PyContext_CopyCurrent();
    if (ctx == NULL) {
        return -1;
    }
    Py_XSETREF(*(writer ? &t->write_ctx : &t->read_ctx), ctx);
    return ca_tr_watch(t, writer);
}

void
ca_tr_unwatch(TransportObj *t, int writer)
{
    ca_io_unwatch_op(t->loop, t->fd, writer, (PyObject *)t);
}

int
ca_tr_set_slot(TransportObj *t, const char *name, PyObject *value)
{
    return PyObject_SetAttrString((PyObject *)t, name, value);
}

int
ca_tr_set_slot_ssize(TransportObj *t, const char *name, Py_ssize_t v)
{
    PyObject *o = PyLong_FromSsize_t(v);
    if (o == NULL) {
        return -1;
    }
    int rc = ca_tr_set_slot(t, name, o);
    Py_DECREF(o);
    return rc;
}

/* ---- reporting ---- */

int
ca_tr_report(TransportObj *t, const char *message, PyObject *exc)
{
    return ca_report_transport_error(ca_tr_state(t), (PyObject *)t->loop, message, exc,
                                     (PyObject *)t, t->protocol);
}

int
ca_tr_callback_failed(TransportObj *t, const char *method)
{
    PyObject *exc = ca_err_fetch_handled();
    if (exc == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    /* The report's handle gets a copy of the current context (the side's,
     * entered now: the handler, run in it from 3.12 on, could not enter it
     * again). */
    PyObject *cb = PyObject_GetAttrString((PyObject *)t, method);
    int rc = cb ? ca_report_callback_error(ca_tr_state(t), (PyObject *)t->loop, cb, NULL, 0,
                                           NULL, NULL, exc)
                : -1;
    Py_XDECREF(cb);
    Py_DECREF(exc);
    return rc;
}

int
ca_tr_log(TransportObj *t, const char *level, const char *fmt)
{
    if (!t->loop->debug) {
        return 0;
    }
    PyObject *r = PyObject_CallMethod(ca_tr_state(t)->logger, level, "sO", fmt, (PyObject *)t);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* ---- closing ---- */

static int
tr_schedule_lost(TransportObj *t, PyObject *exc)
{
    t->conn_lost++;
    return ca_tr_call_soon_method(t, "_call_connection_lost", exc ? exc : Py_None);
}

int
ca_tr_close(TransportObj *t)
{
    if (t->closing || t->lost) {
        return 0;
    }
    t->closing = 1;
    ca_io_release_fd(t->loop, t->fd, (PyObject *)t);
    ca_tr_unwatch(t, 0);
    if (t->ops->queue_len(t) == 0) {
        ca_tr_unwatch(t, 1);
        return tr_schedule_lost(t, NULL);
    }
    return 0;
}

int
ca_tr_force_close(TransportObj *t, PyObject *exc)
{
    if (t->conn_lost || t->lost) {
        return 0;
    }
    if (t->ops->queue_len(t) > 0) {
        t->ops->queue_clear(t);
        ca_tr_unwatch(t, 1);
    }
    if (!t->closing) {
        t->closing = 1;
        ca_io_release_fd(t->loop, t->fd, (PyObject *)t);
        ca_tr_unwatch(t, 0);
    }
    return tr_schedule_lost(t, exc);
}

int
ca_tr_fatal(TransportObj *t, PyObject *exc, const char *message)
{
    int quiet = t->ops->error_is_quiet
                    ? t->ops->error_is_quiet(t, exc)
                    : PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_OSError);
    if (quiet < 0) {
        return -1;
    }
    if (quiet) {
        if (t->loop->debug) {
            PyObject *kw = Py_BuildValue("{s:O}", "exc_info", exc);
            PyObject *debug = PyObject_GetAttrString(ca_tr_state(t)->logger, "debug");
            PyObject *args = Py_BuildValue("(sOs)", "%r: %s", (PyObject *)t, message);
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
    else if (ca_tr_report(t, message, exc) < 0) {
        return -1;
    }
    return ca_tr_force_close(t, exc);
}

int
ca_tr_failed(TransportObj *t, const char *message)
{
    PyObject *exc = ca_err_fetch_handled();
    if (exc == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int rc = ca_tr_fatal(t, exc, message);
    Py_DECREF(exc);
    return rc;
}

int
ca_tr_write_dropped(TransportObj *t)
{
    if (t->conn_lost + t->dropped >= CA_TR_CONNLOST_LOG) {
        PyObject *r = PyObject_CallMethod(ca_tr_state(t)->logger, "warning", "s",
                                          t->ops->dropped_warning);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
    }
    if (t->conn_lost) {
        t->conn_lost++;
    }
    else {
        t->dropped++;
    }
    return 0;
}

int
ca_tr_connection_lost(TransportObj *t, PyObject *exc)
{
    if (t->lost) {
        return 0;
    }
    t->lost = 1;
    int rc = 0;
    if (t->protocol != NULL) {
        PyObject *proto = Py_NewRef(t->protocol);
        PyObject *r = PyObject_CallMethod(proto, "connection_lost", "O", exc);
        Py_DECREF(proto);
        Py_XDECREF(r);
        rc = r ? 0 : -1;
    }
    /* The file is closed even if connection_lost raised, whose exception
     * is the one that propagates. */
    PyObject *err = rc < 0 ? ca_err_fetch() : NULL;
    if (t->ops->release(t) < 0) {
        rc = -1;
    }
    if (err != NULL) {
        PyErr_Clear();
        ca_err_restore(err);
    }
    return rc;
}

/* ---- flow control ---- */

static int
tr_call_flow(TransportObj *t, int paused, const char *method, const char *message)
{
    t->protocol_paused = (char)paused;
    if (t->ops->flow_slots
        && ca_tr_set_slot(t, "_protocol_paused", paused ? Py_True : Py_False) < 0) {
        return -1;
    }
    PyObject *proto = Py_NewRef(t->protocol);
    PyObject *r = PyObject_CallMethod(proto, method, NULL);
    Py_DECREF(proto);
    if (r != NULL) {
        Py_DECREF(r);
        return 0;
    }
    PyObject *exc = ca_err_fetch_handled();
    if (exc == NULL) {
        return -1;
    }
    int rc = ca_tr_report(t, message, exc);
    Py_DECREF(exc);
    return rc;
}

int
ca_tr_maybe_pause(TransportObj *t)
{
    if (t->protocol_paused || t->ops->queue_size(t) <= t->high) {
        return 0;
    }
    return tr_call_flow(t, 1, "pause_writing", "protocol.pause_writing() failed");
}

int
ca_tr_maybe_resume(TransportObj *t)
{
    if (!t->protocol_paused || t->ops->queue_size(t) > t->low) {
        return 0;
    }
    return tr_call_flow(t, 0, "resume_writing", "protocol.resume_writing() failed");
}

/* asyncio's _set_write_buffer_limits: high defaults to 64 KiB, or 4 * low;
 * low to high // 4. */
static int
tr_parse_limits(PyObject *high_o, PyObject *low_o, Py_ssize_t *high, Py_ssize_t *low)
{
    if (high_o == Py_None) {
        *high = CA_TR_HIGH_WATER;
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

/* ---- the event ---- */

int
ca_transport_ready(LoopObj *loop, PyObject *obj, int writer)
{
    TransportObj *t = (TransportObj *)Py_NewRef(obj);
    /* Kept: a callback may replace the transport's context (resume_reading). */
    PyObject *ctx = Py_XNewRef(writer ? t->write_ctx : t->read_ctx);
    if (ctx != NULL && PyContext_Enter(ctx) < 0) {
        Py_DECREF(ctx);
        Py_DECREF(t);
        return -1;
    }
    int rc = writer ? t->ops->write_ready(t) : t->ops->read_ready(t);
    if (ctx != NULL) {
        if (PyContext_Exit(ctx) < 0) {
            rc = -1;
        }
        Py_DECREF(ctx);
    }
    Py_DECREF(t);
    return rc;
}

/* ---- slots ---- */

void
ca_tr_finalize(TransportObj *t)
{
    if (t->sock == NULL || t->loop == NULL) {
        return;
    }
    PyObject *exc = ca_err_fetch();
    if (PyErr_ResourceWarning((PyObject *)t, 1, "unclosed transport %R", (PyObject *)t) < 0) {
        PyErr_WriteUnraisable((PyObject *)t);
    }
    t->ops->queue_clear(t);
    if (t->ops->release(t) < 0) {
        PyErr_WriteUnraisable((PyObject *)t);
    }
    if (exc != NULL) {
        ca_err_restore(exc);
    }
}

int
ca_tr_traverse(TransportObj *t, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(t));
    for (int i = 0; i < CA_TR_BASE_SLOTS; i++) {
        Py_VISIT(t->base_slots[i]);
    }
    Py_VISIT(t->dict);
    Py_VISIT((PyObject *)t->loop);
    Py_VISIT(t->sock);
    Py_VISIT(t->protocol);
    Py_VISIT(t->read_ctx);
    Py_VISIT(t->write_ctx);
    return 0;
}

void
ca_tr_clear(TransportObj *t)
{
    if (t->loop != NULL) {
        ca_io_release_fd(t->loop, t->fd, (PyObject *)t);
    }
    for (int i = 0; i < CA_TR_BASE_SLOTS; i++) {
        Py_CLEAR(t->base_slots[i]);
    }
    t->ops->queue_clear(t);
    Py_CLEAR(t->dict);
    Py_CLEAR(t->sock);
    Py_CLEAR(t->protocol);
    Py_CLEAR(t->read_ctx);
    Py_CLEAR(t->write_ctx);
    Py_CLEAR(t->loop);
}

int
ca_tr_dealloc_begin(TransportObj *t)
{
    if (PyObject_CallFinalizerFromDealloc((PyObject *)t) < 0) {
        return 0;  /* resurrected */
    }
    PyObject_GC_UnTrack(t);
    if (t->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)t);
    }
    return 1;
}

void
ca_tr_dealloc_end(TransportObj *t)
{
    PyTypeObject *tp = Py_TYPE(t);
    CA_LIVE_ADD_TYPE(tp, CA_LIVE_TRANSPORT, -1);
    tp->tp_free(t);
    Py_DECREF(tp);
}

PyTypeObject *
ca_tr_type_new(PyObject *module, PyType_Spec *spec, const char *base_name, int exact)
{
    PyObject *base = ca_import_attr("asyncio.transports", base_name);
    if (base == NULL) {
        return NULL;
    }
    PyTypeObject *b = (PyTypeObject *)base;
    Py_ssize_t end = (Py_ssize_t)offsetof(TransportObj, weakreflist);
    if ((exact ? b->tp_basicsize != end
               : b->tp_basicsize < (Py_ssize_t)offsetof(TransportObj, base_slots[1])
                     || b->tp_basicsize > end)
        || b->tp_dictoffset != 0 || b->tp_weaklistoffset != 0) {
        PyErr_Format(PyExc_ImportError, "asyncio.transports.%s has an unexpected layout",
                     base_name);
        Py_DECREF(base);
        return NULL;
    }
    PyObject *tp = PyType_FromModuleAndSpec(module, spec, base);
    Py_DECREF(base);
    if (tp == NULL || PyModule_AddType(module, (PyTypeObject *)tp) < 0) {
        Py_XDECREF(tp);
        return NULL;
    }
    return (PyTypeObject *)tp;
}

/* ---- Python-facing methods ---- */

#define TR(o) ((TransportObj *)(o))

PyObject *
ca_tr_py_is_closing(PyObject *self, PyObject *unused)
{
    return PyBool_FromLong(TR(self)->closing);
}

PyObject *
ca_tr_py_abort(PyObject *self, PyObject *unused)
{
    if (ca_tr_force_close(TR(self), NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
ca_tr_py_force_close(PyObject *self, PyObject *exc)
{
    if (ca_tr_force_close(TR(self), exc == Py_None ? NULL : exc) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
ca_tr_py_close(PyObject *self, PyObject *unused)
{
    if (ca_tr_close(TR(self)) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
ca_tr_py_get_protocol(PyObject *self, PyObject *unused)
{
    return Py_NewRef(TR(self)->protocol ? TR(self)->protocol : Py_None);
}

PyObject *
ca_tr_py_get_write_buffer_size(PyObject *self, PyObject *unused)
{
    return PyLong_FromSsize_t(TR(self)->ops->queue_size(TR(self)));
}

PyObject *
ca_tr_py_get_write_buffer_limits(PyObject *self, PyObject *unused)
{
    return Py_BuildValue("(nn)", TR(self)->low, TR(self)->high);
}

PyObject *
ca_tr_py_set_write_buffer_limits(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"high", "low", NULL};
    TransportObj *t = TR(self);
    PyObject *high_o = Py_None, *low_o = Py_None;
    Py_ssize_t high, low;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:set_write_buffer_limits", kwlist,
                                     &high_o, &low_o)
        || tr_parse_limits(high_o, low_o, &high, &low) < 0) {
        return NULL;
    }
    t->high = high;
    t->low = low;
    if (t->ops->flow_slots
        && (ca_tr_set_slot_ssize(t, "_high_water", high) < 0
            || ca_tr_set_slot_ssize(t, "_low_water", low) < 0)) {
        return NULL;
    }
    if (ca_tr_maybe_pause(t) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
ca_tr_get_fd(PyObject *self, void *c)
{
    return PyLong_FromLong(TR(self)->fd);
}

/* _paused: reading paused by pause_reading(), as asyncio's transports
 * have it (3.15's test_server_context reads it). */
PyObject *
ca_tr_get_paused(PyObject *self, void *c)
{
    return PyBool_FromLong(TR(self)->paused);
}

PyObject *
ca_tr_get_closing(PyObject *self, void *c)
{
    return PyBool_FromLong(TR(self)->closing);
}
