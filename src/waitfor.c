/* asyncio.wait_for() in C, 3.12+ (accelerate()).
 *
 * From 3.12 on asyncio's wait_for is `async with timeouts.timeout(timeout):
 * return await fut`, with a path of its own for a timeout <= 0.  Here the
 * `async with` and the `await` are a WaitOp's steps, each awaitable
 * delegated to as a coroutine's `await` delegates (waitop.c): the
 * timeout's __aenter__, then fut (a coroutine runs in the calling task, as
 * asyncio's does), then __aexit__ with the outcome, whose true result
 * swallows the exception as `async with` does.  timeouts.timeout is looked
 * up at each call, as asyncio's module lookup does (it is casyncio's C
 * timeout once accelerated).  A timeout <= 0 is rare and subtle (the future
 * is cancelled and waited for): it is asyncio's own wait_for, awaited in
 * the same way.  3.11's wait_for is another design and stays asyncio's.
 *
 * Owns (the op): fut and timeout until started; then the context manager
 * (keep[0]) and the outcome of the await (keep[1]). */
#include "errors.h"
#include "future.h"
#include "prims.h"

#if PY_VERSION_HEX >= 0x030C0000

enum { WF_ENTERING = 1, WF_AWAITING, WF_EXITING_WITH_ERROR, WF_EXITING };

/* cm.<__aenter__/__aexit__>(*args) as `async with` calls it (for anything
 * but the C Timeout, whose work is done at once): the awaitable. */
static PyObject *
wf_call_special(ca_state *st, PyObject *cm, PyObject *name, PyObject *const *args,
                Py_ssize_t nargs)
{
    PyObject *argv[4] = {cm, NULL, NULL, NULL};
    for (Py_ssize_t i = 0; i < nargs; i++) {
        argv[1 + i] = args[i];
    }
    size_t nargsf = (size_t)(1 + nargs) | PY_VECTORCALL_ARGUMENTS_OFFSET;
    PyObject *res = PyObject_VectorcallMethod(name, argv, nargsf, NULL);
    if (res == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError,
                     "'%.200s' object does not support the asynchronous context manager "
                     "protocol", Py_TYPE(cm)->tp_name);
    }
    return res;
}

/* An exception raised by __aexit__ while exc (stolen) was on its way out:
 * it takes exc as its __context__, as it would in Python. */
static PySendResult
wf_raise_over(PyObject *exc)
{
    PyObject *newer = ca_err_fetch();
    if (newer != NULL && exc != NULL && newer != exc) {
        PyObject *ctx = PyException_GetContext(newer);
        if (ctx == NULL) {
            PyException_SetContext(newer, exc);
            exc = NULL;
        }
        Py_XDECREF(ctx);
    }
    Py_XDECREF(exc);
    ca_err_restore(newer);
    return PYGEN_ERROR;
}

/* What __aexit__ gave: its exception (exit_exc, stolen) or its value
 * (stolen); the end of wait_for. */
static PySendResult
wf_exited(WaitOpObj *op, PyObject *exit_exc, PyObject *exit_value, PyObject **result)
{
    PyObject *outcome = op->keep[1];
    op->keep[1] = NULL;
    if (op->step == WF_EXITING_WITH_ERROR) {
        if (exit_exc != NULL) {
            ca_err_restore(exit_exc);
            return wf_raise_over(outcome);
        }
        int swallow = PyObject_IsTrue(exit_value);
        Py_DECREF(exit_value);
        if (swallow != 0) {
            Py_DECREF(outcome);
            if (swallow < 0) {
                return PYGEN_ERROR;
            }
            *result = Py_NewRef(Py_None);
            return PYGEN_RETURN;
        }
        ca_err_restore(outcome);
        return PYGEN_ERROR;
    }
    if (exit_exc != NULL) {
        Py_XDECREF(outcome);
        ca_err_restore(exit_exc);
        return PYGEN_ERROR;
    }
    Py_DECREF(exit_value);
    *result = outcome ? outcome : Py_NewRef(Py_None);
    return PYGEN_RETURN;
}

/* The await of fut is over with exc (stolen; NULL: its value in
 * op->value): `await cm.__aexit__(...)`. */
static PySendResult
wf_exit(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    ca_state *st = op->state;
    PyObject *cm = op->keep[0];
    PyObject *args[3] = {Py_None, Py_None, Py_None};
    PyObject *tb = NULL;
    if (exc != NULL) {
        tb = PyException_GetTraceback(exc);
        args[0] = (PyObject *)Py_TYPE(exc);
        args[1] = exc;
        args[2] = tb ? tb : Py_None;
        Py_XSETREF(op->keep[1], exc);
        op->step = WF_EXITING_WITH_ERROR;
    }
    else {
        Py_XSETREF(op->keep[1], ca_waitop_take_value(op));
        op->step = WF_EXITING;
    }
    PyObject *res = Py_IS_TYPE(cm, st->TimeoutType)
                        ? ca_timeout_exit(cm, args)
                        : wf_call_special(st, cm, st->str_aexit, args, 3);
    Py_XDECREF(tb);
    if (res == NULL) {
        return wf_exited(op, ca_err_fetch(), NULL, result);
    }
    if (Py_IS_TYPE(cm, st->TimeoutType)) {
        return wf_exited(op, NULL, res, result);
    }
    PySendResult r = ca_waitop_delegate(op, res);
    Py_DECREF(res);
    if (r == PYGEN_ERROR) {
        return wf_exited(op, ca_err_fetch(), NULL, result);
    }
    return r;
}

/* Inside the `async with`: `return await fut`. */
static PySendResult
wf_await(WaitOpObj *op, PyObject **result)
{
    op->step = WF_AWAITING;
    if (ca_waitop_delegate(op, op->self) == PYGEN_NEXT) {
        return PYGEN_NEXT;
    }
    return wf_exit(op, ca_err_fetch(), result);  /* fut is not awaitable */
}

static PySendResult
wf_start(WaitOpObj *op, PyObject **result)
{
    ca_state *st = op->state;
    PyObject *fut = op->self, *timeout = op->arg;
    if (timeout != Py_None) {
        PyObject *zero = PyLong_FromLong(0);
        int now = zero ? PyObject_RichCompareBool(timeout, zero, Py_LE) : -1;
        Py_XDECREF(zero);
        if (now < 0) {
            return PYGEN_ERROR;
        }
        if (now) {
            /* asyncio's own wait_for, for its timeout <= 0 path */
            if (st->helpers[CA_HELPER_WAIT_FOR] == NULL) {
                (void)ca_call_helper(st, CA_HELPER_WAIT_FOR, NULL);  /* its error */
                return PYGEN_ERROR;
            }
            PyObject *args[2] = {fut, timeout};
            op->step = WF_EXITING;  /* keep[0] NULL: its value is the result */
            return ca_waitop_delegate_new(
                op, PyObject_Vectorcall(st->helpers[CA_HELPER_WAIT_FOR], args, 2, NULL));
        }
    }
    PyObject *make = PyDict_GetItemWithError(st->timeouts_dict, st->str_timeout);
    if (make == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_AttributeError,
                            "module 'asyncio.timeouts' has no attribute 'timeout'");
        }
        return PYGEN_ERROR;
    }
    PyObject *cm = PyObject_CallOneArg(make, timeout);
    if (cm == NULL) {
        return PYGEN_ERROR;
    }
    op->keep[0] = cm;
    if (Py_IS_TYPE(cm, st->TimeoutType)) {
        PyObject *res = ca_timeout_enter(cm);
        if (res == NULL) {
            return PYGEN_ERROR;
        }
        Py_DECREF(res);
        return wf_await(op, result);
    }
    op->step = WF_ENTERING;
    return ca_waitop_delegate_new(op, wf_call_special(st, cm, st->str_aenter, NULL, 0));
}

static PySendResult
wf_resume(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    switch (op->step) {
    case WF_ENTERING:
        if (exc != NULL) {
            ca_err_restore(exc);
            return PYGEN_ERROR;
        }
        Py_CLEAR(op->value);
        return wf_await(op, result);
    case WF_AWAITING:
        return wf_exit(op, exc, result);
    default:
        if (op->keep[0] == NULL) {
            /* the timeout <= 0 path: asyncio's wait_for is over */
            if (exc != NULL) {
                ca_err_restore(exc);
                return PYGEN_ERROR;
            }
            *result = ca_waitop_take_value(op);
            return PYGEN_RETURN;
        }
        return wf_exited(op, exc, exc ? NULL : ca_waitop_take_value(op), result);
    }
}

static const ca_waitop_kind wait_for_kind = {"wait_for", wf_start, wf_resume};

/* wait_for(fut, timeout), a module function returning the awaitable. */
PyObject *
ca_wait_for(PyObject *module, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    ca_state *st = PyModule_GetState(module);
    static const char *const names[] = {"fut", "timeout"};
    PyObject *vals[2];
    if (ca_parse_args("wait_for", 0, names, 2, 2, 2, args, nargsf, kwnames, vals) < 0) {
        return NULL;
    }
    return ca_waitop_new(st, &wait_for_kind, vals[0], vals[1]);
}

#endif
