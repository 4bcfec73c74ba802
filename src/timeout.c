/* asyncio.timeout(), asyncio.timeout_at() and the Timeout they return, in
 * C (accelerate()).
 *
 * asyncio.timeouts of the running Python is the specification, step for
 * step: the states and their messages, when the deadline is armed
 * (call_soon if already past, else call_at), the cancel() of the task at
 * the deadline, and at exit the uncancel() compared with the count taken
 * at entry; 3.13+ also marks a timeout in the __context__ chain of an
 * exception other than CancelledError.  It works on any loop and with any
 * task: both are reached through their methods.  The type reports
 * asyncio.Timeout as its __class__ (asyncio.Timeout itself stays
 * asyncio's).
 *
 * Owns: the deadline handle while armed (cancelled at exit and at a new
 * deadline), the task it was entered in.
 * Does not own: the task's cancellation, which the task carries out. */
#include "errors.h"
#include "prims.h"

typedef enum {
    TO_CREATED = 0,
    TO_ENTERED,
    TO_EXPIRING,
    TO_EXPIRED,
    TO_EXITED,
} to_state;

/* asyncio.timeouts._State: the members' values (repr, messages) and
 * names. */
static const char *const to_values[] = {"created", "active", "expiring", "expired",
                                        "finished"};
static const char *const to_names[] = {"CREATED", "ENTERED", "EXPIRING", "EXPIRED",
                                       "EXITED"};

typedef struct {
    PyObject_HEAD
    ca_state *state;
    PyObject *when;           /* the deadline as given, or None */
    PyObject *handler;        /* the loop's handle of _on_timeout, or NULL */
    PyObject *task;           /* the task entered in, NULL before */
    PyObject *cancelling;     /* its cancelling() at entry, NULL before */
    PyObject *weakreflist;
    int tstate;               /* to_state */
} TimeoutObj;

/* ---- arguments ---- */

/* The one argument `name` of function `fname` (positional or keyword) in
 * *out, borrowed, with Python's messages for a wrong call. */
static int
one_arg(const char *fname, const char *name, PyObject *const *args, Py_ssize_t nargs,
        PyObject *kwnames, PyObject **out)
{
    *out = nargs > 0 ? args[0] : NULL;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError,
                     "%s() takes 1 positional argument but %zd were given", fname,
                     nargs);
        return -1;
    }
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(kw, name) != 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                         fname, kw);
            return -1;
        }
        if (*out != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                         fname, name);
            return -1;
        }
        *out = args[nargs + i];
    }
    if (*out == NULL) {
        PyErr_Format(PyExc_TypeError,
                     "%s() missing 1 required positional argument: '%s'", fname, name);
        return -1;
    }
    return 0;
}

/* events.get_running_loop(): a new reference, or RuntimeError. */
static PyObject *
running_loop(ca_state *st)
{
    PyObject *loop = PyObject_CallNoArgs(st->get_running_loop);
    if (loop == Py_None) {
        Py_DECREF(loop);
        PyErr_SetString(PyExc_RuntimeError, "no running event loop");
        return NULL;
    }
    return loop;
}

/* obj.name() with no arguments, its result dropped. */
static int
call_method_drop(PyObject *obj, PyObject *name)
{
    PyObject *res = PyObject_CallMethodNoArgs(obj, name);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

/* ---- the deadline ---- */

/* Cancels the armed handle, if any; NULL once cancelled (as asyncio sets
 * _timeout_handler only after its cancel() returned). */
static int
timeout_disarm(TimeoutObj *t)
{
    if (t->handler == NULL) {
        return 0;
    }
    if (call_method_drop(t->handler, t->state->str_cancel) < 0) {
        return -1;
    }
    Py_CLEAR(t->handler);
    return 0;
}

/* reschedule(when): the state checked, the old handle cancelled, the new
 * one made (call_soon when the deadline is not in the future). */
static int
timeout_reschedule(TimeoutObj *t, PyObject *when)
{
    ca_state *st = t->state;
    if (t->tstate != TO_ENTERED) {
        if (t->tstate == TO_CREATED) {
            PyErr_SetString(PyExc_RuntimeError, "Timeout has not been entered");
        }
        else {
            PyErr_Format(PyExc_RuntimeError, "Cannot change state of %s Timeout",
                         to_values[t->tstate]);
        }
        return -1;
    }
    Py_SETREF(t->when, Py_NewRef(when));
    if (t->handler != NULL && call_method_drop(t->handler, st->str_cancel) < 0) {
        return -1;
    }
    if (when == Py_None) {
        Py_CLEAR(t->handler);
        return 0;
    }
    PyObject *loop = running_loop(st);
    if (loop == NULL) {
        return -1;
    }
    PyObject *handler = NULL;
    PyObject *now = PyObject_CallMethodNoArgs(loop, st->str_time);
    int past = now ? PyObject_RichCompareBool(when, now, Py_LE) : -1;
    Py_XDECREF(now);
    PyObject *cb = past < 0 ? NULL : PyObject_GetAttr((PyObject *)t, st->str_on_timeout);
    if (cb != NULL) {
        if (past) {
            PyObject *args[2] = {loop, cb};
            handler = PyObject_VectorcallMethod(st->str_call_soon, args,
                                                2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        }
        else {
            PyObject *args[3] = {loop, when, cb};
            handler = PyObject_VectorcallMethod(st->str_call_at, args,
                                                3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        }
        Py_DECREF(cb);
    }
    Py_DECREF(loop);
    if (handler == NULL) {
        return -1;
    }
    Py_XSETREF(t->handler, handler);
    return 0;
}

static PyObject *
timeout_reschedule_meth(TimeoutObj *t, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames)
{
    PyObject *when;
    if (one_arg("reschedule", "when", args, nargs, kwnames, &when) < 0
        || timeout_reschedule(t, when) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The deadline's callback: cancel the task. */
static PyObject *
timeout_on_timeout(TimeoutObj *t, PyObject *unused)
{
    if (t->tstate != TO_ENTERED) {
        PyErr_SetNone(PyExc_AssertionError);
        return NULL;
    }
    if (call_method_drop(t->task, t->state->str_cancel) < 0) {
        return NULL;
    }
    t->tstate = TO_EXPIRING;
    Py_CLEAR(t->handler);  /* the loop holds it no longer */
    Py_RETURN_NONE;
}

/* ---- entry and exit ---- */

static PyObject *
timeout_enter(PyObject *self, PyObject *const *unused)
{
    TimeoutObj *t = (TimeoutObj *)self;
    ca_state *st = t->state;
    if (t->tstate != TO_CREATED) {
        PyErr_SetString(PyExc_RuntimeError, "Timeout has already been entered");
        return NULL;
    }
    PyObject *current = PyDict_GetItemWithError(st->tasks_dict, st->str_current_task);
    if (current == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_AttributeError,
                            "module 'asyncio.tasks' has no attribute 'current_task'");
        }
        return NULL;
    }
    Py_INCREF(current);
    PyObject *task = PyObject_CallNoArgs(current);
    Py_DECREF(current);
    if (task == NULL) {
        return NULL;
    }
    if (task == Py_None) {
        Py_DECREF(task);
        PyErr_SetString(PyExc_RuntimeError, "Timeout should be used inside a task");
        return NULL;
    }
    t->tstate = TO_ENTERED;
    Py_XSETREF(t->task, task);
    PyObject *cancelling = PyObject_CallMethodNoArgs(task, st->str_cancelling);
    if (cancelling == NULL) {
        return NULL;
    }
    Py_XSETREF(t->cancelling, cancelling);
    int r;
    if (Py_IS_TYPE(self, st->TimeoutType)) {
        r = timeout_reschedule(t, t->when);
    }
    else {  /* a subclass may override reschedule() */
        PyObject *res = PyObject_CallMethodOneArg(self, st->str_reschedule, t->when);
        r = res ? 0 : -1;
        Py_XDECREF(res);
    }
    return r < 0 ? NULL : Py_NewRef(self);
}

#if PY_VERSION_HEX >= 0x030D0000
/* 3.13+: a TimeoutError put before the first CancelledError in the
 * __context__ chain of exc (what Timeout._insert_timeout_error does). */
static int
timeout_insert_error(ca_state *st, PyObject *exc)
{
    static const char context_name[] = "__context__";
    Py_INCREF(exc);
    for (;;) {
        PyObject *ctx = PyObject_GetAttrString(exc, context_name);
        if (ctx == NULL) {
            Py_DECREF(exc);
            return -1;
        }
        if (ctx == Py_None) {
            Py_DECREF(ctx);
            Py_DECREF(exc);
            return 0;
        }
        int r = PyObject_IsInstance(ctx, st->CancelledError);
        if (r != 0) {
            PyObject *te = r > 0 ? PyObject_CallNoArgs(PyExc_TimeoutError) : NULL;
            r = te == NULL || PyObject_SetAttrString(te, context_name, ctx) < 0
                        || PyObject_SetAttrString(te, "__cause__", ctx) < 0
                        || PyObject_SetAttrString(exc, context_name, te) < 0
                    ? -1
                    : 0;
            Py_XDECREF(te);
            Py_DECREF(ctx);
            Py_DECREF(exc);
            return r;
        }
        Py_SETREF(exc, ctx);
    }
}

/* An exception other than CancelledError left the expired scope. */
static int
timeout_mark_exception(ca_state *st, PyObject *exc_val)
{
    if (exc_val == Py_None) {
        return 0;
    }
    if (timeout_insert_error(st, exc_val) < 0) {
        return -1;
    }
    PyObject *group_type = PyDict_GetItemString(PyEval_GetBuiltins(), "ExceptionGroup");
    int r = group_type ? PyObject_IsInstance(exc_val, group_type) : 0;
    if (r <= 0) {
        return r;
    }
    PyObject *excs = PyObject_GetAttrString(exc_val, "exceptions");
    PyObject *it = excs ? PyObject_GetIter(excs) : NULL;
    Py_XDECREF(excs);
    if (it == NULL) {
        return -1;
    }
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        r = timeout_insert_error(st, item);
        Py_DECREF(item);
        if (r < 0) {
            break;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}
#endif

/* raise TimeoutError from exc_val (its context is the exception being
 * handled, exc_val, as for a raise in __aexit__). */
static void
timeout_raise(PyObject *exc_val)
{
    PyObject *te = PyObject_CallNoArgs(PyExc_TimeoutError);
    if (te == NULL) {
        return;
    }
    if (PyObject_SetAttrString(te, "__cause__", exc_val) == 0) {
        PyErr_SetObject(PyExc_TimeoutError, te);
    }
    Py_DECREF(te);
}

/* args: exc_type, exc_val, exc_tb */
static PyObject *
timeout_exit(PyObject *self, PyObject *const *args)
{
    TimeoutObj *t = (TimeoutObj *)self;
    ca_state *st = t->state;
    PyObject *exc_type = args[0], *exc_val = args[1];
    if (t->tstate != TO_ENTERED && t->tstate != TO_EXPIRING) {
        PyErr_SetNone(PyExc_AssertionError);
        return NULL;
    }
    if (timeout_disarm(t) < 0) {
        return NULL;
    }
    if (t->tstate == TO_ENTERED) {
        t->tstate = TO_EXITED;
        Py_RETURN_NONE;
    }
    t->tstate = TO_EXPIRED;
    PyObject *left = PyObject_CallMethodNoArgs(t->task, st->str_uncancel);
    if (left == NULL) {
        return NULL;
    }
    int ours = PyObject_RichCompareBool(left, t->cancelling, Py_LE);
    Py_DECREF(left);
    if (ours < 0) {
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030D0000
    if (ours && exc_type != Py_None) {
        int r = PyObject_IsSubclass(exc_type, st->CancelledError);
        if (r < 0) {
            return NULL;
        }
        if (r) {
            timeout_raise(exc_val);
            return NULL;
        }
        if (timeout_mark_exception(st, exc_val) < 0) {
            return NULL;
        }
    }
#else
    if (ours && exc_type == st->CancelledError) {
        timeout_raise(exc_val);
        return NULL;
    }
#endif
    Py_RETURN_NONE;
}

PyObject *
ca_timeout_enter(PyObject *t)
{
    return timeout_enter(t, NULL);
}

PyObject *
ca_timeout_exit(PyObject *t, PyObject *const *args)
{
    return timeout_exit(t, args);
}

static PyObject *
timeout_aenter(TimeoutObj *t, PyObject *unused)
{
    return ca_oneshot_new(t->state, timeout_enter, "Timeout.__aenter__", (PyObject *)t,
                          NULL, 0);
}

static PyObject *
timeout_aexit(TimeoutObj *t, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "__aexit__ expected 3 arguments, got %zd", nargs);
        return NULL;
    }
    return ca_oneshot_new(t->state, timeout_exit, "Timeout.__aexit__", (PyObject *)t,
                          args, 3);
}

/* ---- construction ---- */

static TimeoutObj *
timeout_alloc(PyTypeObject *tp)
{
    ca_state *st = ca_state_from_type(tp);
    if (st == NULL) {
        return NULL;
    }
    TimeoutObj *t = (TimeoutObj *)tp->tp_alloc(tp, 0);
    if (t == NULL) {
        return NULL;
    }
    t->state = st;
    t->when = Py_NewRef(Py_None);
    t->tstate = TO_CREATED;
    return t;
}

static PyObject *
timeout_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    return (PyObject *)timeout_alloc(tp);
}

/* Timeout(when): as asyncio's __init__, also on a second call. */
static int
timeout_init(TimeoutObj *t, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"when", NULL};
    PyObject *when;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Timeout", kwlist, &when)) {
        return -1;
    }
    t->tstate = TO_CREATED;
    Py_CLEAR(t->handler);
    Py_CLEAR(t->task);
    Py_SETREF(t->when, Py_NewRef(when));
    return 0;
}

static PyObject *
timeout_make(ca_state *st, PyObject *when)
{
    TimeoutObj *t = timeout_alloc(st->TimeoutType);
    if (t != NULL) {
        Py_SETREF(t->when, Py_NewRef(when));
    }
    return (PyObject *)t;
}

PyObject *
ca_timeout(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    ca_state *st = PyModule_GetState(module);
    PyObject *delay;
    if (one_arg("timeout", "delay", args, nargs, kwnames, &delay) < 0) {
        return NULL;
    }
    PyObject *loop = running_loop(st);
    if (loop == NULL) {
        return NULL;
    }
    if (delay == Py_None) {
        Py_DECREF(loop);
        return timeout_make(st, Py_None);
    }
    PyObject *now = PyObject_CallMethodNoArgs(loop, st->str_time);
    Py_DECREF(loop);
    PyObject *when = now ? PyNumber_Add(now, delay) : NULL;
    Py_XDECREF(now);
    if (when == NULL) {
        return NULL;
    }
    PyObject *t = timeout_make(st, when);
    Py_DECREF(when);
    return t;
}

PyObject *
ca_timeout_at(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
              PyObject *kwnames)
{
    PyObject *when;
    if (one_arg("timeout_at", "when", args, nargs, kwnames, &when) < 0) {
        return NULL;
    }
    return timeout_make(PyModule_GetState(module), when);
}

/* ---- the rest of the interface ---- */

static PyObject *
timeout_when(TimeoutObj *t, PyObject *unused)
{
    return Py_NewRef(t->when);
}

static PyObject *
timeout_expired(TimeoutObj *t, PyObject *unused)
{
    return PyBool_FromLong(t->tstate == TO_EXPIRING || t->tstate == TO_EXPIRED);
}

static PyObject *
timeout_repr(TimeoutObj *t)
{
    if (t->tstate != TO_ENTERED) {
        return PyUnicode_FromFormat("<Timeout [%s]>", to_values[t->tstate]);
    }
    PyObject *when = Py_NewRef(t->when);
    if (when != Py_None) {  /* round(when, 3) */
        PyObject *round = PyDict_GetItemString(PyEval_GetBuiltins(), "round");
        Py_SETREF(when, round ? PyObject_CallFunction(round, "Oi", when, 3) : NULL);
        if (when == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_RuntimeError, "builtins.round is missing");
            }
            return NULL;
        }
    }
    PyObject *res = PyUnicode_FromFormat("<Timeout [%s] when=%S>", to_values[t->tstate],
                                         when);
    Py_DECREF(when);
    return res;
}

static PyObject *
timeout_get_or_none(PyObject *v)
{
    return Py_NewRef(v ? v : Py_None);
}

static PyObject *
timeout_get_when(TimeoutObj *t, void *c)
{
    return Py_NewRef(t->when);
}

static PyObject *
timeout_get_task(TimeoutObj *t, void *c)
{
    return timeout_get_or_none(t->task);
}

static PyObject *
timeout_get_handler(TimeoutObj *t, void *c)
{
    return timeout_get_or_none(t->handler);
}

static PyObject *
timeout_get_cancelling(TimeoutObj *t, void *c)
{
    if (t->cancelling == NULL) {
        PyErr_SetString(PyExc_AttributeError,
                        "'Timeout' object has no attribute '_cancelling'");
        return NULL;
    }
    return Py_NewRef(t->cancelling);
}

/* _state: the member of asyncio.timeouts._State. */
static PyObject *
timeout_get_state(TimeoutObj *t, void *c)
{
    PyObject *states = ca_import_attr("asyncio.timeouts", "_State");
    if (states == NULL) {
        return NULL;
    }
    PyObject *member = PyObject_GetAttrString(states, to_names[t->tstate]);
    Py_DECREF(states);
    return member;
}

static PyObject *
timeout_get_class(TimeoutObj *t, void *c)
{
    return ca_get_class((PyObject *)t, t->state);
}

static int
timeout_set_class(TimeoutObj *t, PyObject *value, void *c)
{
    return ca_set_class((PyObject *)t, value);
}

static int
timeout_traverse(TimeoutObj *t, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(t));
    Py_VISIT(t->when);
    Py_VISIT(t->handler);
    Py_VISIT(t->task);
    Py_VISIT(t->cancelling);
    return 0;
}

static int
timeout_clear(TimeoutObj *t)
{
    Py_CLEAR(t->when);
    Py_CLEAR(t->handler);
    Py_CLEAR(t->task);
    Py_CLEAR(t->cancelling);
    return 0;
}

static void
timeout_dealloc(TimeoutObj *t)
{
    PyTypeObject *tp = Py_TYPE(t);
    PyObject_GC_UnTrack(t);
    if (t->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)t);
    }
    (void)timeout_clear(t);
    tp->tp_free(t);
    Py_DECREF(tp);
}

static PyMethodDef timeout_methods[] = {
    {"when", (PyCFunction)timeout_when, METH_NOARGS,
     "when($self, /)\n--\n\nReturn the current deadline."},
    {"reschedule", (PyCFunction)(void (*)(void))timeout_reschedule_meth,
     METH_FASTCALL | METH_KEYWORDS,
     "reschedule($self, /, when)\n--\n\nReschedule the timeout."},
    {"expired", (PyCFunction)timeout_expired, METH_NOARGS,
     "expired($self, /)\n--\n\nIs timeout expired during execution?"},
    {"__aenter__", (PyCFunction)timeout_aenter, METH_NOARGS, NULL},
    {"__aexit__", (PyCFunction)(void (*)(void))timeout_aexit, METH_FASTCALL, NULL},
    {"_on_timeout", (PyCFunction)timeout_on_timeout, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef timeout_getset[] = {
    {"_when", (getter)timeout_get_when, NULL, NULL, NULL},
    {"_task", (getter)timeout_get_task, NULL, NULL, NULL},
    {"_timeout_handler", (getter)timeout_get_handler, NULL, NULL, NULL},
    {"_cancelling", (getter)timeout_get_cancelling, NULL, NULL, NULL},
    {"_state", (getter)timeout_get_state, NULL, NULL, NULL},
    {"__class__", (getter)timeout_get_class, (setter)timeout_set_class, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef timeout_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(TimeoutObj, weakreflist), READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot timeout_slots[] = {
    {Py_tp_doc, "Asynchronous context manager for cancelling overdue coroutines.\n\n"
                "Use `timeout()` or `timeout_at()` rather than instantiating this "
                "class directly."},
    {Py_tp_new, timeout_tp_new},
    {Py_tp_init, timeout_init},
    {Py_tp_repr, timeout_repr},
    {Py_tp_traverse, timeout_traverse},
    {Py_tp_clear, timeout_clear},
    {Py_tp_dealloc, timeout_dealloc},
    {Py_tp_methods, timeout_methods},
    {Py_tp_getset, timeout_getset},
    {Py_tp_members, timeout_members},
    {0, NULL},
};

PyType_Spec ca_timeout_spec = {
    .name = "casyncio._core.Timeout",
    .basicsize = sizeof(TimeoutObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = timeout_slots,
};
