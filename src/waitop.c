/* The awaitable of a C version of an asyncio `async def` method that waits
 * for one future at a time (Lock.acquire, Event.wait, Semaphore.acquire).
 *
 * It runs as the coroutine it stands for: nothing until awaited; then the
 * kind's start(), which finishes at once or yields a pending future exactly
 * as `await fut` does (with _asyncio_future_blocking set, so any Task
 * waits for it); once resumed (the future done, or an exception thrown in
 * at the await: a cancellation, or GeneratorExit from close() or from the
 * garbage collector), the kind's resume().  That is where the method's
 * `finally` and `except CancelledError` clauses live.
 *
 * Owns: the primitive, the method's argument and the future waited for,
 * until finished. */
#include "errors.h"
#include "future.h"
#include "prims.h"

PyObject *
ca_waitop_new(ca_state *st, const ca_waitop_kind *kind, PyObject *self, PyObject *arg)
{
    WaitOpObj *op = PyObject_GC_New(WaitOpObj, st->WaitOpType);
    if (op == NULL) {
        return NULL;
    }
    op->kind = kind;
    op->state = st;
    op->self = Py_NewRef(self);
    op->fut = NULL;
    op->arg = Py_XNewRef(arg);
    op->sub = op->value = NULL;
    op->keep[0] = op->keep[1] = NULL;
    op->step = 0;
    op->phase = CA_WAITOP_NEW;
    PyObject_GC_Track(op);
    return (PyObject *)op;
}

static void
waitop_drop(WaitOpObj *op)
{
    Py_CLEAR(op->self);
    Py_CLEAR(op->fut);
    Py_CLEAR(op->arg);
    Py_CLEAR(op->sub);
    Py_CLEAR(op->value);
    Py_CLEAR(op->keep[0]);
    Py_CLEAR(op->keep[1]);
}

PyObject *
ca_waitop_fut_result(WaitOpObj *op)
{
    if (ca_future_is_own(op->state, op->fut)) {
        return ca_future_result((FutureObj *)op->fut);
    }
    return PyObject_CallMethodNoArgs(op->fut, op->state->str_result);
}

/* fut.done() of the future waited for: 1, 0, or -1. */
static int
waitop_fut_done(WaitOpObj *op)
{
    if (ca_future_is_own(op->state, op->fut)) {
        return ((FutureObj *)op->fut)->fstate != CA_FUT_PENDING;
    }
    PyObject *res = PyObject_CallMethodNoArgs(op->fut, op->state->str_done);
    int r = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    return r;
}

PySendResult
ca_waitop_delegate(WaitOpObj *op, PyObject *awaitable)
{
    PyObject *it = NULL;
    int iterable_coroutine = 0;
    if (PyGen_CheckExact(awaitable)) {
        /* a generator-based coroutine (types.coroutine) */
        PyObject *code = PyObject_GetAttrString(awaitable, "gi_code");
        if (code == NULL) {
            return PYGEN_ERROR;
        }
        iterable_coroutine = PyCode_Check(code)
                             && (((PyCodeObject *)code)->co_flags & CO_ITERABLE_COROUTINE);
        Py_DECREF(code);
    }
    if (PyCoro_CheckExact(awaitable) || iterable_coroutine) {
        it = Py_NewRef(awaitable);
    }
    else {
        unaryfunc getter = Py_TYPE(awaitable)->tp_as_async
                               ? Py_TYPE(awaitable)->tp_as_async->am_await : NULL;
        if (getter == NULL) {
            /* the messages of the running Python's `await` */
#if PY_VERSION_HEX >= 0x030E0000
            PyErr_Format(PyExc_TypeError, "'%.100s' object can't be awaited",
                         Py_TYPE(awaitable)->tp_name);
#else
            PyErr_Format(PyExc_TypeError, "object %.100s can't be used in 'await' expression",
                         Py_TYPE(awaitable)->tp_name);
#endif
            return PYGEN_ERROR;
        }
        it = getter(awaitable);
        if (it == NULL) {
            return PYGEN_ERROR;
        }
        if (PyCoro_CheckExact(it)) {
            PyErr_SetString(PyExc_TypeError, "__await__() returned a coroutine");
            Py_DECREF(it);
            return PYGEN_ERROR;
        }
        if (!PyIter_Check(it)) {
            PyErr_Format(PyExc_TypeError, "__await__() returned non-iterator of type '%.100s'",
                         Py_TYPE(it)->tp_name);
            Py_DECREF(it);
            return PYGEN_ERROR;
        }
    }
    Py_XSETREF(op->sub, it);
    Py_CLEAR(op->fut);
    return PYGEN_NEXT;
}

PySendResult
ca_waitop_delegate_new(WaitOpObj *op, PyObject *aw)
{
    if (aw == NULL) {
        return PYGEN_ERROR;
    }
    PySendResult r = ca_waitop_delegate(op, aw);
    Py_DECREF(aw);
    return r;
}

PyObject *
ca_waitop_take_value(WaitOpObj *op)
{
    PyObject *v = op->value ? op->value : Py_NewRef(Py_None);
    op->value = NULL;
    return v;
}

static PySendResult waitop_resume(WaitOpObj *op, PyObject *exc, PyObject **result);

/* sub.throw(exc) (exc stolen) or, for GeneratorExit, sub.close() and the
 * GeneratorExit raised on: the outcome as from PyIter_Send. */
static PySendResult
waitop_sub_throw(WaitOpObj *op, PyObject *exc, PyObject **out)
{
    PyObject *sub = op->sub;
    *out = NULL;
    if (PyErr_GivenExceptionMatches(exc, PyExc_GeneratorExit)) {
        PyObject *res = PyObject_CallMethod(sub, "close", NULL);
        if (res == NULL) {
            if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
                PyErr_Clear();
            }
            else {
                exc = ca_chain_over(exc);
            }
        }
        Py_XDECREF(res);
        ca_err_restore(exc);
        return PYGEN_ERROR;
    }
    PyObject *meth = PyObject_GetAttrString(sub, "throw");
    if (meth == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            exc = ca_chain_over(exc);
        }
        else {
            PyErr_Clear();
        }
        ca_err_restore(exc);
        return PYGEN_ERROR;
    }
    *out = PyObject_CallOneArg(meth, exc);
    Py_DECREF(meth);
    Py_DECREF(exc);
    if (*out != NULL) {
        return PYGEN_NEXT;
    }
    if (!PyErr_ExceptionMatches(PyExc_StopIteration)) {
        return PYGEN_ERROR;
    }
    PyObject *stop = ca_err_fetch();
    *out = PyObject_GetAttrString(stop, "value");
    Py_DECREF(stop);
    return *out ? PYGEN_RETURN : PYGEN_ERROR;
}

/* One step of the awaitable delegated to: send `arg`, or throw `exc`
 * (stolen; NULL to send).  It yields (so does the op), or it is over and
 * resume() runs. */
static PySendResult
waitop_sub_feed(WaitOpObj *op, PyObject *arg, PyObject *exc, PyObject **result)
{
    PyObject *out = NULL;
    op->phase = CA_WAITOP_RUNNING;
    PySendResult r = exc ? waitop_sub_throw(op, exc, &out) : PyIter_Send(op->sub, arg, &out);
    if (r == PYGEN_NEXT) {
        op->phase = CA_WAITOP_DELEGATING;
        *result = out;
        return r;
    }
    Py_CLEAR(op->sub);
    if (r == PYGEN_RETURN) {
        Py_XSETREF(op->value, out);
        return waitop_resume(op, NULL, result);
    }
    return waitop_resume(op, ca_err_fetch(), result);
}

/* After start() or resume(): yield the new future, start the awaitable
 * delegated to, or finish. */
static PySendResult
waitop_after(WaitOpObj *op, PySendResult r, PyObject **result)
{
    if (r == PYGEN_NEXT && op->sub != NULL) {
        return waitop_sub_feed(op, Py_None, NULL, result);
    }
    if (r == PYGEN_NEXT) {
        assert(op->fut != NULL);
        if (ca_future_is_own(op->state, op->fut)) {
            ((FutureObj *)op->fut)->blocking = 1;
        }
        else if (PyObject_SetAttr(op->fut, op->state->str_blocking, Py_True) < 0) {
            r = PYGEN_ERROR;
        }
        if (r == PYGEN_NEXT) {
            op->phase = CA_WAITOP_WAITING;
            *result = Py_NewRef(op->fut);
            return r;
        }
    }
    op->phase = CA_WAITOP_DONE;
    waitop_drop(op);
    return r;
}

/* Resume with `exc` (stolen) or, if NULL, the future's outcome. */
static PySendResult
waitop_resume(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    *result = NULL;
    op->phase = CA_WAITOP_RUNNING;
    Py_INCREF(op);  /* resume() may drop the last other reference */
    PySendResult r = waitop_after(op, op->kind->resume(op, exc, result), result);
    Py_DECREF(op);
    return r;
}

static PySendResult
waitop_am_send(WaitOpObj *op, PyObject *arg, PyObject **result)
{
    *result = NULL;
    switch (op->phase) {
    case CA_WAITOP_NEW: {
        if (arg != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "can't send non-None value to a just-started coroutine");
            return PYGEN_ERROR;
        }
        op->phase = CA_WAITOP_RUNNING;
        Py_INCREF(op);
        PySendResult r = waitop_after(op, op->kind->start(op, result), result);
        Py_DECREF(op);
        return r;
    }
    case CA_WAITOP_WAITING: {
        /* As `await fut` checks on its resumption. */
        int done = waitop_fut_done(op);
        PyObject *exc = NULL;
        if (done <= 0) {
            if (done == 0) {
                PyErr_SetString(PyExc_RuntimeError, "await wasn't used with future");
            }
            exc = ca_err_fetch();
        }
        return waitop_resume(op, exc, result);
    }
    case CA_WAITOP_DELEGATING: {
        Py_INCREF(op);
        PySendResult r = waitop_sub_feed(op, arg, NULL, result);
        Py_DECREF(op);
        return r;
    }
    case CA_WAITOP_RUNNING:
        PyErr_SetString(PyExc_ValueError, "coroutine already executing");
        return PYGEN_ERROR;
    default:
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
        return PYGEN_ERROR;
    }
}

PyObject *
ca_send_as_iter(PySendResult r, PyObject *result, int quiet)
{
    if (r == PYGEN_NEXT) {
        return result;
    }
    if (r != PYGEN_RETURN) {
        return NULL;
    }
    if (result == Py_None) {
        if (!quiet) {
            PyErr_SetNone(PyExc_StopIteration);
        }
    }
    else {
        PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, result);
        if (stop != NULL) {
            PyErr_SetObject(PyExc_StopIteration, stop);
            Py_DECREF(stop);
        }
    }
    Py_DECREF(result);
    return NULL;
}

int
ca_parse_args(const char *fname, int method, const char *const *names, int npos, int nall,
              int nrequired, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames,
              PyObject **vals)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > npos) {
        PyErr_Format(PyExc_TypeError, "%s() takes %d positional argument%s but %zd %s given",
                     fname, npos + method, npos + method == 1 ? "" : "s", nargs + method,
                     nargs + method == 1 ? "was" : "were");
        return -1;
    }
    for (int i = 0; i < nall; i++) {
        vals[i] = i < nargs ? args[i] : NULL;
    }
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, k);
        int i = 0;
        while (i < nall && PyUnicode_CompareWithASCIIString(kw, names[i]) != 0) {
            i++;
        }
        if (i == nall || vals[i] != NULL) {
            PyErr_Format(PyExc_TypeError,
                         i == nall ? "%s() got an unexpected keyword argument '%U'"
                                   : "%s() got multiple values for argument '%U'",
                         fname, kw);
            return -1;
        }
        vals[i] = args[nargs + k];
    }
    int missing = 0;
    for (int i = 0; i < nrequired; i++) {
        missing += vals[i] == NULL;
    }
    if (missing > 0) {
        /* "missing 2 required positional arguments: 'a' and 'b'" */
        PyObject *list = PyUnicode_FromString("");
        int seen = 0;
        for (int i = 0; i < nrequired && list != NULL; i++) {
            if (vals[i] == NULL) {
                seen++;
                const char *sep = seen == 1         ? ""
                                  : seen < missing  ? ", "
                                  : missing > 2     ? ", and "
                                                    : " and ";
                Py_SETREF(list, PyUnicode_FromFormat("%U%s'%s'", list, sep, names[i]));
            }
        }
        if (list != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing %d required %s argument%s: %U", fname,
                         missing, nrequired > npos ? "keyword-only" : "positional",
                         missing == 1 ? "" : "s", list);
            Py_DECREF(list);
        }
        return -1;
    }
    return 0;
}

PyObject *
ca_name_of(const char *qualname)
{
    const char *dot = strrchr(qualname, '.');
    return PyUnicode_FromString(dot ? dot + 1 : qualname);
}

static PyObject *
waitop_iternext(WaitOpObj *op)
{
    PyObject *result;
    PySendResult r = waitop_am_send(op, Py_None, &result);
    return ca_send_as_iter(r, result, 1);
}

static PyObject *
waitop_send(WaitOpObj *op, PyObject *arg)
{
    PyObject *result;
    PySendResult r = waitop_am_send(op, arg, &result);
    return ca_send_as_iter(r, result, 0);
}

/* throw() and close() of an op not waiting: -1 (ValueError) if running,
 * else 1 and the op is finished without its work; 0 if it is waiting. */
static int
waitop_not_waiting(WaitOpObj *op)
{
    if (op->phase == CA_WAITOP_RUNNING) {
        PyErr_SetString(PyExc_ValueError, "coroutine already executing");
        return -1;
    }
    if (op->phase != CA_WAITOP_WAITING && op->phase != CA_WAITOP_DELEGATING) {
        op->phase = CA_WAITOP_DONE;
        waitop_drop(op);
        return 1;
    }
    return 0;
}

/* An exception (stolen) thrown in at the await of a waiting op. */
static PySendResult
waitop_thrown(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    if (op->phase == CA_WAITOP_DELEGATING) {
        Py_INCREF(op);
        PySendResult r = waitop_sub_feed(op, NULL, exc, result);
        Py_DECREF(op);
        return r;
    }
    return waitop_resume(op, exc, result);
}

static PyObject *
waitop_throw(WaitOpObj *op, PyObject *const *args, Py_ssize_t nargs)
{
    int not_waiting = waitop_not_waiting(op);
    if (not_waiting != 0) {
        return not_waiting < 0 ? NULL : ca_raise_thrown(args, nargs);
    }
    (void)ca_raise_thrown(args, nargs);
    PyObject *exc = ca_err_fetch();
    PyObject *result;
    PySendResult r = waitop_thrown(op, exc, &result);
    return ca_send_as_iter(r, result, 0);
}

/* close(): GeneratorExit at the await, so the method's cleanup runs. */
static PyObject *
waitop_close(WaitOpObj *op, PyObject *unused)
{
    int not_waiting = waitop_not_waiting(op);
    if (not_waiting != 0) {
        return not_waiting < 0 ? NULL : Py_NewRef(Py_None);
    }
    PyObject *exc = PyObject_CallNoArgs(PyExc_GeneratorExit);
    if (exc == NULL) {
        return NULL;
    }
    PyObject *result;
    PySendResult r = waitop_thrown(op, exc, &result);
    if (r == PYGEN_ERROR) {
        if (PyErr_ExceptionMatches(PyExc_GeneratorExit)
            || PyErr_ExceptionMatches(PyExc_StopIteration)) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        return NULL;
    }
    Py_DECREF(result);
    if (r == PYGEN_NEXT) {
        PyErr_SetString(PyExc_RuntimeError, "coroutine ignored GeneratorExit");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Dropped while waiting (its task destroyed): close(), as for a
 * coroutine, so the waiter leaves the primitive's queue. */
static void
waitop_finalize(WaitOpObj *op)
{
    if (op->phase != CA_WAITOP_WAITING && op->phase != CA_WAITOP_DELEGATING) {
        return;
    }
    PyObject *exc = ca_err_fetch();
    PyObject *res = waitop_close(op, NULL);
    if (res == NULL) {
        PyErr_WriteUnraisable((PyObject *)op);
    }
    Py_XDECREF(res);
    if (exc != NULL) {
        ca_err_restore(exc);
    }
}

static PyObject *
waitop_await(WaitOpObj *op)
{
    return Py_NewRef(op);
}

static PyObject *
waitop_get_qualname(WaitOpObj *op, void *c)
{
    return PyUnicode_FromString(op->kind->qualname);
}

static PyObject *
waitop_get_name(WaitOpObj *op, void *c)
{
    return ca_name_of(op->kind->qualname);
}

static PyObject *
waitop_repr(WaitOpObj *op)
{
    return PyUnicode_FromFormat("<casyncio awaitable %s at %p>", op->kind->qualname, op);
}

static int
waitop_traverse(WaitOpObj *op, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(op->self);
    Py_VISIT(op->fut);
    Py_VISIT(op->arg);
    Py_VISIT(op->sub);
    Py_VISIT(op->value);
    Py_VISIT(op->keep[0]);
    Py_VISIT(op->keep[1]);
    return 0;
}

static int
waitop_clear(WaitOpObj *op)
{
    /* Its finalizer has run (or the op never waited): nothing to resume. */
    op->phase = CA_WAITOP_DONE;
    waitop_drop(op);
    return 0;
}

static void
waitop_dealloc(WaitOpObj *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    if (PyObject_CallFinalizerFromDealloc((PyObject *)op) < 0) {
        return;  /* resurrected */
    }
    PyObject_GC_UnTrack(op);
    waitop_drop(op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef waitop_methods[] = {
    {"send", (PyCFunction)waitop_send, METH_O,
     "send($self, value, /)\n--\n\nStart, or resume after the awaited future."},
    {"throw", (PyCFunction)(void (*)(void))waitop_throw, METH_FASTCALL,
     "throw($self, typ, val=None, tb=None, /)\n--\n\n"
     "Raise the exception at the await."},
    {"close", (PyCFunction)waitop_close, METH_NOARGS,
     "close($self, /)\n--\n\nRaise GeneratorExit at the await."},
    {NULL, NULL, 0, NULL},
};

/* cr_await: what it awaits by delegation (a coroutine's cr_await), else
 * None; cr_frame: None, it has no Python frame.  asyncio.graph walks a
 * task's coroutines by these two, so the frames of a coroutine this op
 * delegates to (asyncio's own wait_for, a Python acquire()) are in the
 * stacks it captures. */
static PyObject *
waitop_get_cr_await(WaitOpObj *op, void *c)
{
    return Py_NewRef(op->phase == CA_WAITOP_DELEGATING && op->sub ? op->sub : Py_None);
}

static PyObject *
waitop_get_cr_frame(WaitOpObj *op, void *c)
{
    Py_RETURN_NONE;
}

static PyGetSetDef waitop_getset[] = {
    {"__qualname__", (getter)waitop_get_qualname, NULL, NULL, NULL},
    {"__name__", (getter)waitop_get_name, NULL, NULL, NULL},
    {"cr_await", (getter)waitop_get_cr_await, NULL, NULL, NULL},
    {"cr_frame", (getter)waitop_get_cr_frame, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot waitop_slots[] = {
    {Py_tp_doc, "What a C version of an asyncio async method returns: await it."},
    {Py_am_await, waitop_await},
    {Py_am_send, waitop_am_send},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, waitop_iternext},
    {Py_tp_repr, waitop_repr},
    {Py_tp_traverse, waitop_traverse},
    {Py_tp_clear, waitop_clear},
    {Py_tp_finalize, waitop_finalize},
    {Py_tp_dealloc, waitop_dealloc},
    {Py_tp_methods, waitop_methods},
    {Py_tp_getset, waitop_getset},
    {0, NULL},
};

PyType_Spec ca_waitop_spec = {
    .name = "casyncio._core.WaitOp",
    .basicsize = sizeof(WaitOpObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = waitop_slots,
};
