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

/* After start() or resume(): yield the new future, or finish. */
static PySendResult
waitop_after(WaitOpObj *op, PySendResult r, PyObject **result)
{
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
    if (op->phase != CA_WAITOP_WAITING) {
        op->phase = CA_WAITOP_DONE;
        waitop_drop(op);
        return 1;
    }
    return 0;
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
    PySendResult r = waitop_resume(op, exc, &result);
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
    PySendResult r = waitop_resume(op, exc, &result);
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
    if (op->phase != CA_WAITOP_WAITING) {
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

static PyGetSetDef waitop_getset[] = {
    {"__qualname__", (getter)waitop_get_qualname, NULL, NULL, NULL},
    {"__name__", (getter)waitop_get_name, NULL, NULL, NULL},
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
