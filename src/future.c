/* Future: a result that will exist later, API-compatible with asyncio.Future
 * of the running Python and usable on any loop.
 *
 * Owns: its result or exception, its done-callbacks (fn, context) and its
 * __dict__.  On completion it hands the callbacks to its loop: on a
 * casyncio loop as ready-queue entries (a Task waiting here is woken
 * without allocating anything), on any other loop through
 * loop.call_soon(fn, future, context=ctx), as _asyncio does.  Callbacks
 * are never called inline.
 *
 * Also here: FutureIter, the object `await future` drives (am_send). */
#include "errors.h"
#include "future.h"

/* What `await future` drives (defined with its methods further down). */
typedef struct {
    PyObject_HEAD
    FutureObj *future;
    ca_state *state;
} FutureIterObj;

/* ---- callbacks ---- */

static void
future_cbs_reset(FutureObj *fut)
{
    fut->cbs = &fut->cb_inline;
    fut->ncbs = 0;
    fut->cbs_cap = 1;
}

void
ca_future_prepare(FutureObj *fut, ca_state *st)
{
    fut->state = st;
    CA_LIVE_ADD(st, PyObject_TypeCheck(fut, st->TaskType) ? CA_LIVE_TASK : CA_LIVE_FUTURE, 1);
    future_cbs_reset(fut);
}

static int
future_cbs_append(FutureObj *fut, PyObject *fn, PyObject *ctx, int kind)
{
    if (fut->ncbs == fut->cbs_cap) {
        Py_ssize_t ncap = fut->cbs_cap < 4 ? 4 : fut->cbs_cap * 2;
        ca_callback *arr = PyMem_Malloc((size_t)ncap * sizeof(*arr));
        if (arr == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(arr, fut->cbs, (size_t)fut->ncbs * sizeof(*arr));
        if (fut->cbs != &fut->cb_inline) {
            PyMem_Free(fut->cbs);
        }
        fut->cbs = arr;
        fut->cbs_cap = ncap;
    }
    fut->cbs[fut->ncbs++] = (ca_callback){Py_NewRef(fn), Py_XNewRef(ctx), kind};
    return 0;
}

/* Moves the callbacks out of the future into *out (a heap array the caller
 * frees with PyMem_Free), leaving the future with none.
 * Beware: do this before calling any Python code that may look at or add
 * to the future's callbacks. */
static Py_ssize_t
future_cbs_take(FutureObj *fut, ca_callback **out)
{
    Py_ssize_t n = fut->ncbs;
    *out = NULL;
    if (n == 0) {
        return 0;
    }
    if (fut->cbs == &fut->cb_inline) {
        ca_callback *arr = PyMem_Malloc(sizeof(*arr));
        if (arr == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        arr[0] = fut->cb_inline;
        *out = arr;
    }
    else {
        *out = fut->cbs;
    }
    future_cbs_reset(fut);
    return n;
}

static void
future_cbs_release(ca_callback *arr, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_DECREF(arr[i].fn);
        ca_context_release(arr[i].ctx);
    }
    PyMem_Free(arr);
}

PyObject *
ca_callback_callable(ca_callback *cb)
{
    if (cb->kind == CA_CB_TASK) {
        return ca_task_wakeup_callable(cb->fn);
    }
    return Py_NewRef(cb->fn);
}

int
ca_call_soon(ca_state *st, PyObject *loop, LoopObj *cloop, PyObject *fn,
             PyObject *arg, PyObject *ctx)
{
    if (ctx == Py_None) {
        ctx = NULL;
    }
    if (cloop != NULL) {
        if (ca_loop_check_call_soon(cloop) < 0) {
            return -1;
        }
        PyObject *copy = ctx ? NULL : PyContext_CopyCurrent();
        if (ctx == NULL && copy == NULL) {
            return -1;
        }
        int rc = ca_loop_schedule(cloop, CA_READY_CALLBACK, fn, arg, ctx ? ctx : copy);
        Py_XDECREF(copy);
        return rc;
    }
    ca_context_expose(ctx);  /* the foreign loop's Handle shows it */
    PyObject *args[4] = {loop, fn, arg, ctx};
    size_t nargs = 3;
    if (arg == NULL) {  /* fn() rather than fn(arg) */
        args[2] = ctx;
        nargs = 2;
    }
    PyObject *res = PyObject_VectorcallMethod(
        st->str_call_soon, args, nargs | PY_VECTORCALL_ARGUMENTS_OFFSET,
        ctx ? st->kwnames_context : NULL);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

static int
future_schedule_one(FutureObj *fut, ca_callback *cb)
{
    ca_state *st = fut->state;
    if (cb->kind == CA_CB_TASK) {
        if (fut->cloop != NULL) {
            if (ca_loop_check_call_soon(fut->cloop) < 0) {
                return -1;
            }
            return ca_loop_schedule(fut->cloop, CA_READY_TASK_WAKEUP, cb->fn,
                                    (PyObject *)fut, NULL);
        }
        PyObject *wakeup = ca_task_wakeup_callable(cb->fn);
        if (wakeup == NULL) {
            return -1;
        }
        int rc = ca_call_soon(st, fut->loop, NULL, wakeup, (PyObject *)fut,
                              ((TaskObj *)cb->fn)->context);
        Py_DECREF(wakeup);
        return rc;
    }
    return ca_call_soon(st, fut->loop, fut->cloop, cb->fn, (PyObject *)fut, cb->ctx);
}

static int
future_schedule_callbacks(FutureObj *fut)
{
    Py_ssize_t n = fut->ncbs;
    if (n == 0) {
        return 0;
    }
    /* Beware: scheduling may run Python code (a foreign loop's call_soon)
     * that adds callbacks, so the array is detached first.  The common
     * single callback is moved to the stack rather than to the heap. */
    ca_callback one = fut->cb_inline;
    ca_callback *arr = fut->cbs == &fut->cb_inline ? &one : fut->cbs;
    future_cbs_reset(fut);
    int rc = 0;
    for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
        rc = future_schedule_one(fut, &arr[i]);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_DECREF(arr[i].fn);
        ca_context_release(arr[i].ctx);
    }
    if (arr != &one) {
        PyMem_Free(arr);
    }
    return rc;
}

int
ca_future_add_task_waiter(FutureObj *fut, PyObject *task)
{
    if (fut->fstate != CA_FUT_PENDING) {
        ca_callback now = {task, NULL, CA_CB_TASK};
        return future_schedule_one(fut, &now);
    }
    return future_cbs_append(fut, task, NULL, CA_CB_TASK);
}

static void future_reset(FutureObj *fut);

/* ---- core ---- */

static int
future_check_alive(FutureObj *fut)
{
    if (fut->loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Future object is not initialized.");
        return -1;
    }
    return 0;
}

static const char *
future_state_name(FutureObj *fut)
{
    switch (fut->fstate) {
    case CA_FUT_CANCELLED: return "CANCELLED";
    case CA_FUT_FINISHED: return "FINISHED";
    default: return "PENDING";
    }
}

/* set_result()/set_exception() of a done future: _asyncio's words. */
static int
future_check_pending(FutureObj *fut)
{
    if (fut->fstate != CA_FUT_PENDING) {
        PyErr_SetString(fut->state->InvalidStateError, "invalid state");
        return -1;
    }
    return 0;
}

/* result()/exception() of a future that is not done, or not set up
 * (_asyncio's words; its pure-Python Future says "Result is not ready."). */
static int
future_check_done(FutureObj *fut, const char *what)
{
    if (fut->loop == NULL) {
        PyErr_SetString(fut->state->InvalidStateError,
                        "Future object is not initialized.");
        return -1;
    }
    if (fut->fstate == CA_FUT_PENDING) {
        PyErr_Format(fut->state->InvalidStateError, "%s is not set.", what);
        return -1;
    }
    return 0;
}

static int
future_loop_debug(ca_state *st, FutureObj *fut)
{
    if (fut->cloop != NULL) {
        return fut->cloop->debug;
    }
    PyObject *r = PyObject_CallMethodNoArgs(fut->loop, st->str_get_debug);
    if (r == NULL) {
        return -1;
    }
    int debug = PyObject_IsTrue(r);
    Py_DECREF(r);
    return debug;
}

int
ca_future_setup(FutureObj *fut, PyObject *loop)
{
    ca_state *st = fut->state;
    if (loop == NULL || loop == Py_None) {
        loop = PyObject_CallNoArgs(st->get_event_loop);
        if (loop == NULL) {
            return -1;
        }
    }
    else {
        Py_INCREF(loop);
    }
    fut->loop = loop;
    fut->cloop = PyObject_TypeCheck(loop, st->LoopType) ? (LoopObj *)loop : NULL;
    fut->fstate = CA_FUT_PENDING;
    fut->log_tb = 0;
    fut->blocking = 0;
    int debug = future_loop_debug(st, fut);
    if (debug < 0) {
        return -1;
    }
    if (debug) {
        fut->source_tb = PyObject_CallNoArgs(st->extract_stack);
        if (fut->source_tb == NULL) {
            return -1;
        }
    }
    return 0;
}

int
ca_future_check_uninitialized(FutureObj *fut)
{
#if PY_VERSION_HEX >= 0x030F0000
    if (fut->loop != NULL) {
        PyErr_Format(PyExc_RuntimeError, "%T object is already initialized", fut);
        return -1;
    }
#endif
    return 0;
}

int
ca_future_init(FutureObj *fut, PyObject *loop)
{
    future_reset(fut);  /* __init__ may be called again */
    return ca_future_setup(fut, loop);
}

int
ca_future_set_result(FutureObj *fut, PyObject *result)
{
    if (future_check_alive(fut) < 0 || future_check_pending(fut) < 0) {
        return -1;
    }
    Py_XSETREF(fut->result, Py_NewRef(result));
    fut->fstate = CA_FUT_FINISHED;
    return future_schedule_callbacks(fut);
}

/* The exception instance set_exception() stores for `exc`: an instance
 * for a class, and StopIteration refused (3.11/3.12) or wrapped in a
 * RuntimeError (3.13+), as asyncio's futures do on each version. */
static PyObject *
future_exception_value(PyObject *exc)
{
    PyObject *val = PyExceptionClass_Check(exc) ? PyObject_CallNoArgs(exc)
                                                : Py_NewRef(exc);
    if (val == NULL) {
        return NULL;
    }
    if (!PyExceptionInstance_Check(val)) {
        Py_DECREF(val);
        PyErr_SetString(PyExc_TypeError, "invalid exception object");
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030D0000
    if (PyErr_GivenExceptionMatches(val, PyExc_StopIteration)) {
        PyObject *wrapped = PyObject_CallFunction(
            PyExc_RuntimeError, "s",
            "StopIteration interacts badly with generators and cannot be "
            "raised into a Future");
        if (wrapped != NULL) {
            PyException_SetCause(wrapped, Py_NewRef(val));
            PyException_SetContext(wrapped, Py_NewRef(val));
        }
        Py_DECREF(val);
        return wrapped;
    }
#else
    if (Py_IS_TYPE(val, (PyTypeObject *)PyExc_StopIteration)) {
        Py_DECREF(val);
        PyErr_SetString(PyExc_TypeError,
                        "StopIteration interacts badly with generators and "
                        "cannot be raised into a Future");
        return NULL;
    }
#endif
    return val;
}

int
ca_future_set_exception(FutureObj *fut, PyObject *exc)
{
    if (future_check_alive(fut) < 0 || future_check_pending(fut) < 0) {
        return -1;
    }
    PyObject *val = future_exception_value(exc);
    if (val == NULL) {
        return -1;
    }
    Py_XSETREF(fut->exception, val);
    Py_XSETREF(fut->exception_tb, PyException_GetTraceback(val));
    fut->fstate = CA_FUT_FINISHED;
    if (future_schedule_callbacks(fut) < 0) {
        return -1;
    }
    fut->log_tb = 1;
    return 0;
}

int
ca_future_cancel(FutureObj *fut, PyObject *msg)
{
    fut->log_tb = 0;
    if (fut->fstate != CA_FUT_PENDING) {
        return 0;
    }
    fut->fstate = CA_FUT_CANCELLED;
    Py_XSETREF(fut->cancel_msg, Py_XNewRef(msg == Py_None ? NULL : msg));
    return future_schedule_callbacks(fut) < 0 ? -1 : 1;
}

PyObject *
ca_future_make_cancelled_error(FutureObj *fut)
{
    if (fut->cancelled_exc != NULL) {
        PyObject *exc = fut->cancelled_exc;
        fut->cancelled_exc = NULL;
        return exc;
    }
    if (fut->cancel_msg == NULL) {
        return PyObject_CallNoArgs(fut->state->CancelledError);
    }
    return PyObject_CallOneArg(fut->state->CancelledError, fut->cancel_msg);
}

/* Raises `exc` (a new reference, or NULL after an error). */
static void
future_raise(PyObject *exc)
{
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}

/* Future.result() */
static PyObject *
future_result(FutureObj *fut, PyObject *unused)
{
    if (fut->fstate == CA_FUT_CANCELLED) {
        future_raise(ca_future_make_cancelled_error(fut));
        return NULL;
    }
    if (future_check_done(fut, "Result") < 0) {
        return NULL;
    }
    fut->log_tb = 0;
    if (fut->exception != NULL) {
        PyException_SetTraceback(fut->exception,
                                 fut->exception_tb ? fut->exception_tb : Py_None);
        future_raise(Py_NewRef(fut->exception));
        return NULL;
    }
    return Py_NewRef(fut->result);
}

PyObject *
ca_future_result(FutureObj *fut)
{
    return future_result(fut, NULL);
}

static PyObject *future_exception(FutureObj *fut, PyObject *unused);

PyObject *
ca_future_exception(FutureObj *fut)
{
    return future_exception(fut, NULL);
}

static PyObject *
future_exception(FutureObj *fut, PyObject *unused)
{
    if (fut->fstate == CA_FUT_CANCELLED) {
        future_raise(ca_future_make_cancelled_error(fut));
        return NULL;
    }
    if (future_check_done(fut, "Exception") < 0) {
        return NULL;
    }
    fut->log_tb = 0;
    return Py_NewRef(fut->exception ? fut->exception : Py_None);
}

/* ---- Python-facing methods ---- */

static PyObject *
future_set_result_meth(FutureObj *fut, PyObject *result)
{
    if (ca_future_set_result(fut, result) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
future_set_exception_meth(FutureObj *fut, PyObject *exc)
{
    if (ca_future_set_exception(fut, exc) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Parses the one optional argument `name` of methods like cancel(msg=None),
 * given positionally or by keyword. */
int
ca_parse_optional(const char *method, const char *name, PyObject *const *args,
                  Py_ssize_t nargsf, PyObject *kwnames, PyObject **out)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    *out = Py_None;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)",
                     method, nargs + nkw);
        return -1;
    }
    if (nargs == 1) {
        *out = args[0];
    }
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, i);
        if (nargs == 1 || PyUnicode_CompareWithASCIIString(kw, name) != 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                         method, kw);
            return -1;
        }
        *out = args[nargs + i];
    }
    return 0;
}

static PyObject *
future_add_done_callback(FutureObj *fut, PyObject *const *args, Py_ssize_t nargsf,
                         PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *ctx;
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError,
                     "add_done_callback() takes exactly 1 positional argument "
                     "(%zd given)", nargs);
        return NULL;
    }
    if (ca_parse_optional("add_done_callback", "context", args + 1, 0, kwnames,
                          &ctx) < 0) {
        return NULL;
    }
    if (fut->loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "uninitialized Future object");
        return NULL;
    }
    if (ca_future_add_callback(fut, args[0], ctx) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

int
ca_future_add_callback(FutureObj *fut, PyObject *fn, PyObject *ctx)
{
    if (fut->fstate != CA_FUT_PENDING) {
        return ca_call_soon(fut->state, fut->loop, fut->cloop, fn, (PyObject *)fut, ctx);
    }
    PyObject *copy = NULL;
    if (ctx == NULL || ctx == Py_None) {
        ctx = copy = ca_context_copy();
        if (ctx == NULL) {
            return -1;
        }
    }
    int rc = future_cbs_append(fut, fn, ctx, CA_CB_CALL);
    ca_context_release(copy);
    return rc;
}

static int
future_cb_matches(ca_callback *cb, PyObject *fn)
{
    if (cb->kind == CA_CB_TASK) {
        return ca_task_is_wakeup_of(fn, cb->fn);
    }
    return PyObject_RichCompareBool(cb->fn, fn, Py_EQ);
}

/* remove_done_callback(fn): removes every callback equal to fn. */
static PyObject *
future_remove_done_callback(FutureObj *fut, PyObject *fn)
{
    if (future_check_alive(fut) < 0) {
        return NULL;
    }
    /* Beware: comparing calls __eq__, which may add or remove callbacks;
     * filter a copy taken out of the future, then put back what stays
     * followed by whatever was added meanwhile. */
    ca_callback *old;
    Py_ssize_t n = future_cbs_take(fut, &old);
    if (n <= 0) {
        return n < 0 ? NULL : PyLong_FromLong(0);
    }
    Py_ssize_t kept = 0, removed = 0, i;
    for (i = 0; i < n; i++) {
        int eq = future_cb_matches(&old[i], fn);
        if (eq < 0) {
            break;
        }
        if (eq) {
            Py_DECREF(old[i].fn);
            ca_context_release(old[i].ctx);
            removed++;
        }
        else {
            old[kept++] = old[i];
        }
    }
    for (; i < n; i++) {  /* after an error, keep the rest unexamined */
        old[kept++] = old[i];
    }
    ca_callback *added;
    Py_ssize_t nadded = future_cbs_take(fut, &added);
    int rc = 0;
    for (Py_ssize_t j = 0; j < kept && rc == 0; j++) {
        rc = future_cbs_append(fut, old[j].fn, old[j].ctx, old[j].kind);
    }
    for (Py_ssize_t j = 0; j < nadded && rc == 0; j++) {
        rc = future_cbs_append(fut, added[j].fn, added[j].ctx, added[j].kind);
    }
    future_cbs_release(old, kept);
    if (nadded > 0) {
        future_cbs_release(added, nadded);
    }
    if (rc < 0 || PyErr_Occurred()) {
        return NULL;
    }
    return PyLong_FromSsize_t(removed);
}

static PyObject *
future_cancel_meth(FutureObj *fut, PyObject *const *args, Py_ssize_t nargsf,
                   PyObject *kwnames)
{
    PyObject *msg;
    if (ca_parse_optional("cancel", "msg", args, nargsf, kwnames, &msg) < 0
        || future_check_alive(fut) < 0) {
        return NULL;
    }
    int r = ca_future_cancel(fut, msg);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *
future_cancelled(FutureObj *fut, PyObject *unused)
{
    return PyBool_FromLong(fut->fstate == CA_FUT_CANCELLED);
}

static PyObject *
future_done(FutureObj *fut, PyObject *unused)
{
    return PyBool_FromLong(fut->fstate != CA_FUT_PENDING);
}

static PyObject *
future_get_loop(FutureObj *fut, PyObject *unused)
{
    if (future_check_alive(fut) < 0) {
        return NULL;
    }
    return Py_NewRef(fut->loop);
}

static PyObject *
future_make_cancelled_error_meth(FutureObj *fut, PyObject *unused)
{
    return ca_future_make_cancelled_error(fut);
}

static PyObject *
future_await(FutureObj *fut)
{
    if (future_check_alive(fut) < 0) {
        return NULL;
    }
    ca_state *st = fut->state;
    FutureIterObj *it;
#if CA_FREELISTS
    if (st->fi_nfree > 0) {
        /* One per await: reused rather than allocated (see state.h). */
        it = (FutureIterObj *)st->fi_free[--st->fi_nfree];
        (void)PyObject_Init((PyObject *)it, st->FutureIterType);
        it->future = (FutureObj *)Py_NewRef(fut);
        it->state = st;
        PyObject_GC_Track(it);
        return (PyObject *)it;
    }
#endif
    it = (FutureIterObj *)PyType_GenericAlloc(st->FutureIterType, 0);
    if (it != NULL) {
        it->future = (FutureObj *)Py_NewRef(fut);
        it->state = st;
    }
    return (PyObject *)it;
}

static PyObject *
future_repr(FutureObj *fut)
{
    if (future_check_alive(fut) < 0) {
        return NULL;
    }
    return PyObject_CallOneArg(fut->state->future_repr, (PyObject *)fut);
}

/* Reports an exception never retrieved, as asyncio.Future.__del__ does. */
void
ca_future_finalize(FutureObj *fut)
{
    if (!fut->log_tb || fut->loop == NULL) {
        return;
    }
    fut->log_tb = 0;
    ca_state *st = fut->state;
    PyObject *saved = ca_err_fetch();
    PyObject *name = PyType_GetName(Py_TYPE(fut));
    PyObject *msg = name ? PyUnicode_FromFormat("%U exception was never retrieved",
                                                name)
                         : NULL;
    if (msg == NULL
        || ca_report_exception(st, fut->loop, msg, fut->exception, st->str_future,
                               (PyObject *)fut, fut->source_tb) < 0) {
        PyErr_WriteUnraisable((PyObject *)fut);
    }
    Py_XDECREF(name);
    Py_XDECREF(msg);
    if (saved != NULL) {
        ca_err_restore(saved);
    }
}

static PyObject *
future_del_meth(FutureObj *fut, PyObject *unused)
{
    ca_future_finalize(fut);
    Py_RETURN_NONE;
}

/* ---- getters and setters ---- */

static PyObject *
future_get_or_none(PyObject *v)
{
    return Py_NewRef(v ? v : Py_None);
}

static PyObject *
future_get_blocking(FutureObj *fut, void *c)
{
    return PyBool_FromLong(fut->blocking);
}

int
ca_attr_deleted(const char *owner, const char *attr)
{
#if PY_VERSION_HEX >= 0x030E0000
    PyErr_Format(PyExc_AttributeError, "attribute '%s' of '%s' objects cannot be deleted",
                 attr, owner);
#else
    (void)owner;
    (void)attr;
    PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
#endif
    return -1;
}

int
ca_attr_bool(PyObject *v, const char *owner, const char *attr)
{
    if (v == NULL) {
        return ca_attr_deleted(owner, attr);
    }
    return PyObject_IsTrue(v);
}

static int
future_set_blocking(FutureObj *fut, PyObject *v, void *c)
{
    int b = ca_attr_bool(v, "casyncio.Future", "_asyncio_future_blocking");
    if (b < 0) {
        return -1;
    }
    fut->blocking = (unsigned char)b;
    return 0;
}

static PyObject *
future_get_log_traceback(FutureObj *fut, void *c)
{
    return PyBool_FromLong(fut->log_tb);
}

static int
future_set_log_traceback(FutureObj *fut, PyObject *v, void *c)
{
    int b = ca_attr_bool(v, "casyncio.Future", "_log_traceback");
    if (b < 0) {
        return -1;
    }
    if (b) {
        PyErr_SetString(PyExc_ValueError, "_log_traceback can only be set to False");
        return -1;
    }
    fut->log_tb = 0;
    return 0;
}

static PyObject *
future_get_loop_attr(FutureObj *fut, void *c)
{
    return future_get_or_none(fut->loop);
}

static PyObject *
future_get_state(FutureObj *fut, void *c)
{
    return PyUnicode_FromString(future_state_name(fut));
}

/* __class__: asyncio.Future for a casyncio.Future, asyncio.Task for a
 * casyncio.Task, the real type for a subclass (see ca_get_class in
 * state.h).  Libraries check isinstance(x, asyncio.Future): anyio trusts a
 * task's _fut_waiter.cancelled() only then, and lost memory-stream items
 * without it. */
static PyObject *
future_get_class(FutureObj *fut, void *c)
{
    return ca_get_class((PyObject *)fut, fut->state);
}

static int
future_set_class(FutureObj *fut, PyObject *value, void *c)
{
    return ca_set_class((PyObject *)fut, value);
}

static PyObject *
future_get_result_attr(FutureObj *fut, void *c)
{
    return future_get_or_none(fut->result);
}

static PyObject *
future_get_exception_attr(FutureObj *fut, void *c)
{
    return future_get_or_none(fut->exception);
}

static PyObject *
future_get_source_tb(FutureObj *fut, void *c)
{
    return future_get_or_none(fut->source_tb);
}

static PyObject *
future_get_cancel_message(FutureObj *fut, void *c)
{
    return future_get_or_none(fut->cancel_msg);
}

static int
future_set_cancel_message(FutureObj *fut, PyObject *v, void *c)
{
    if (v == NULL) {
        return ca_attr_deleted("casyncio.Future", "_cancel_message");
    }
    Py_XSETREF(fut->cancel_msg, Py_XNewRef(v == Py_None ? NULL : v));
    return 0;
}

/* _callbacks: a list of (callback, context), or None when there is none. */
static PyObject *
future_get_callbacks(FutureObj *fut, void *c)
{
    if (fut->ncbs == 0) {
        Py_RETURN_NONE;
    }
    PyObject *list = PyList_New(fut->ncbs);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < fut->ncbs && i < PyList_GET_SIZE(list); i++) {
        ca_callback *cb = &fut->cbs[i];
        PyObject *fn = ca_callback_callable(cb);
        PyObject *ctx = cb->kind == CA_CB_TASK ? ((TaskObj *)cb->fn)->context : cb->ctx;
        ca_context_expose(ctx);
        PyObject *pair = fn ? PyTuple_Pack(2, fn, ctx ? ctx : Py_None) : NULL;
        Py_XDECREF(fn);
        if (pair == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, pair);
    }
    return list;
}

/* ---- slots ---- */

static PyObject *
future_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    ca_state *st = ca_state_from_type(tp);
    if (st == NULL) {
        return NULL;
    }
    FutureObj *fut = (FutureObj *)tp->tp_alloc(tp, 0);
    if (fut != NULL) {
        ca_future_prepare(fut, st);
    }
    return (PyObject *)fut;
}

PyObject *
ca_future_create(ca_state *st, PyObject *loop)
{
    /* The state is known and the object fresh: no module lookup, no reset. */
    FutureObj *fut = (FutureObj *)st->FutureType->tp_alloc(st->FutureType, 0);
    if (fut == NULL) {
        return NULL;
    }
    ca_future_prepare(fut, st);
    if (ca_future_setup(fut, loop) < 0) {
        Py_DECREF(fut);
        return NULL;
    }
    return (PyObject *)fut;
}

static int
future_tp_init(FutureObj *fut, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"loop", NULL};
    PyObject *loop = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$O:Future", kwlist, &loop)
        || ca_future_check_uninitialized(fut) < 0) {
        return -1;
    }
    return ca_future_init(fut, loop);
}

int
ca_future_traverse(FutureObj *fut, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(fut));
    Py_VISIT(fut->loop);
    for (Py_ssize_t i = 0; i < fut->ncbs; i++) {
        Py_VISIT(fut->cbs[i].fn);
        CA_VISIT_CONTEXT(fut->cbs[i].ctx);
    }
    Py_VISIT(fut->result);
    Py_VISIT(fut->exception);
    Py_VISIT(fut->exception_tb);
    Py_VISIT(fut->source_tb);
    Py_VISIT(fut->cancel_msg);
    Py_VISIT(fut->cancelled_exc);
    Py_VISIT(fut->awaited_by);
    Py_VISIT(fut->dict);
    return 0;
}

/* Drops the future's state, keeping its __dict__ (for __init__ again). */
static void
future_reset(FutureObj *fut)
{
    /* Beware: releasing a callback can run Python code that looks at the
     * future, so detach the callbacks first; no allocation here, as this
     * also runs in dealloc with an exception possibly set. */
    ca_callback one = fut->cb_inline;
    ca_callback *arr = fut->cbs == &fut->cb_inline ? &one : fut->cbs;
    Py_ssize_t n = fut->ncbs;
    future_cbs_reset(fut);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_DECREF(arr[i].fn);
        ca_context_release(arr[i].ctx);
    }
    if (arr != &one) {
        PyMem_Free(arr);
    }
    fut->cloop = NULL;
    Py_CLEAR(fut->loop);
    Py_CLEAR(fut->result);
    Py_CLEAR(fut->exception);
    Py_CLEAR(fut->exception_tb);
    Py_CLEAR(fut->source_tb);
    Py_CLEAR(fut->cancel_msg);
    Py_CLEAR(fut->cancelled_exc);
    Py_CLEAR(fut->awaited_by);
}

int
ca_future_clear(FutureObj *fut)
{
    future_reset(fut);
    Py_CLEAR(fut->dict);
    return 0;
}

static int
future_tp_traverse(FutureObj *fut, visitproc visit, void *arg)
{
    return ca_future_traverse(fut, visit, arg);
}

static int
future_tp_clear(FutureObj *fut)
{
    return ca_future_clear(fut);
}

static void
future_tp_finalize(FutureObj *fut)
{
    ca_future_finalize(fut);
}

static void
future_tp_dealloc(FutureObj *fut)
{
    PyTypeObject *tp = Py_TYPE(fut);
    if (PyObject_CallFinalizerFromDealloc((PyObject *)fut) < 0) {
        return;  /* resurrected */
    }
    PyObject_GC_UnTrack(fut);
    if (fut->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)fut);
    }
    (void)ca_future_clear(fut);
    if (fut->state != NULL) {
        CA_LIVE_ADD(fut->state, CA_LIVE_FUTURE, -1);
    }
    tp->tp_free(fut);
    Py_DECREF(tp);
}

/* ---- FutureIter ---- */

/* await future: yield the future itself once (telling the Task what to
 * wait for), then return its result or raise its exception. */
static PySendResult
futureiter_am_send(FutureIterObj *it, PyObject *unused, PyObject **result)
{
    FutureObj *fut = it->future;
    *result = NULL;
    if (fut == NULL) {
        return PYGEN_ERROR;
    }
    if (fut->fstate == CA_FUT_PENDING) {
        if (!fut->blocking) {
            fut->blocking = 1;
            *result = Py_NewRef(fut);
            return PYGEN_NEXT;
        }
        PyErr_SetString(PyExc_RuntimeError, "await wasn't used with future");
        return PYGEN_ERROR;
    }
    it->future = NULL;
    PyObject *res = future_result(fut, NULL);
    Py_DECREF(fut);
    if (res == NULL) {
        return PYGEN_ERROR;
    }
    *result = res;
    return PYGEN_RETURN;
}

static PyObject *
futureiter_iternext(FutureIterObj *it)
{
    PyObject *result;
    switch (futureiter_am_send(it, Py_None, &result)) {
    case PYGEN_NEXT:
        return result;
    case PYGEN_RETURN:
        if (result == Py_None) {
            /* NULL with no exception set is the end of an iterator, which
             * every caller of tp_iternext reads as StopIteration(None):
             * 3.12+'s SEND (`await` goes through tp_iternext there, not
             * am_send), next(), for loops, the __next__ wrapper.  Not
             * building the exception saves ~700 instructions per await of
             * a future whose result is None on 3.12 (Queue, Lock, Event). */
            Py_DECREF(result);
            return NULL;
        }
        else {
            PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, result);
            if (stop != NULL) {
#if PY_VERSION_HEX >= 0x030C0000
                PyErr_SetRaisedException(stop);
#else
                PyErr_SetObject(PyExc_StopIteration, stop);
                Py_DECREF(stop);
#endif
            }
        }
        Py_DECREF(result);
        return NULL;
    default:
        return NULL;
    }
}

static PyObject *
futureiter_send(FutureIterObj *it, PyObject *value)
{
    /* Like a generator that has not started, only None may be sent. */
    PyObject *res = futureiter_iternext(it);
    if (res == NULL && !PyErr_Occurred()) {
        PyErr_SetNone(PyExc_StopIteration);  /* see futureiter_iternext */
    }
    return res;
}

PyObject *
ca_raise_thrown(PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "throw expected 1 to 3 arguments, got %zd", nargs);
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030C0000
    if (nargs > 1 && PyErr_WarnEx(PyExc_DeprecationWarning,
                                  "the (type, exc, tb) signature of throw() is "
                                  "deprecated, use the single-arg signature instead.",
                                  1) < 0) {
        return NULL;
    }
#endif
    PyObject *type = args[0];
    PyObject *val = nargs > 1 ? args[1] : Py_None;
    PyObject *tb = nargs > 2 ? args[2] : Py_None;
    if (tb != Py_None && !PyTraceBack_Check(tb)) {
        PyErr_SetString(PyExc_TypeError, "throw() third argument must be a traceback");
        return NULL;
    }
    PyObject *exc;
    if (PyExceptionInstance_Check(type)) {
        if (val != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "instance exception may not have a separate value");
            return NULL;
        }
        exc = Py_NewRef(type);
    }
    else if (PyExceptionClass_Check(type)) {
        exc = val == Py_None ? PyObject_CallNoArgs(type)
              : PyObject_IsInstance(val, type) == 1 ? Py_NewRef(val)
                                                     : PyObject_CallOneArg(type, val);
        if (exc == NULL) {
            return NULL;
        }
    }
    else {
        PyErr_Format(PyExc_TypeError,
                     "exceptions must be classes deriving BaseException or "
                     "instances of such a class, not %s", Py_TYPE(type)->tp_name);
        return NULL;
    }
    if (tb != Py_None) {
        PyException_SetTraceback(exc, tb);
    }
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

/* throw(exc) / throw(type[, value[, tb]]): raise it at the await. */
static PyObject *
futureiter_throw(FutureIterObj *it, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs >= 1 && nargs <= 3) {
        Py_CLEAR(it->future);
    }
    return ca_raise_thrown(args, nargs);
}

static PyObject *
futureiter_close(FutureIterObj *it, PyObject *unused)
{
    Py_CLEAR(it->future);
    Py_RETURN_NONE;
}

static int
futureiter_traverse(FutureIterObj *it, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->future);
    return 0;
}

static int
futureiter_clear(FutureIterObj *it)
{
    Py_CLEAR(it->future);
    return 0;
}

static void
futureiter_dealloc(FutureIterObj *it)
{
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    Py_CLEAR(it->future);
#if CA_FREELISTS
    /* The type has no finalizer, so the memory can be reused as is; once
     * the module is cleared FutureIterType is NULL and nothing is kept. */
    ca_state *st = it->state;
    if (st != NULL && tp == st->FutureIterType && st->fi_nfree < CA_FI_FREELIST_MAX) {
        st->fi_free[st->fi_nfree++] = (PyObject *)it;
        Py_DECREF(tp);
        return;
    }
#endif
    tp->tp_free(it);
    Py_DECREF(tp);
}

/* ---- tables ---- */

static PyMethodDef future_methods[] = {
    {"result", (PyCFunction)future_result, METH_NOARGS,
     "result($self, /)\n--\n\nReturn the result, or raise the exception."},
    {"exception", (PyCFunction)future_exception, METH_NOARGS,
     "exception($self, /)\n--\n\nReturn the exception set, or None."},
    {"set_result", (PyCFunction)future_set_result_meth, METH_O,
     "set_result($self, result, /)\n--\n\nMark the future done with a result."},
    {"set_exception", (PyCFunction)future_set_exception_meth, METH_O,
     "set_exception($self, exception, /)\n--\n\nMark the future done with an "
     "exception."},
    {"add_done_callback", (PyCFunction)(void (*)(void))future_add_done_callback,
     METH_FASTCALL | METH_KEYWORDS,
     "add_done_callback($self, fn, /, *, context=None)\n--\n\n"
     "Call fn(future) through the loop once the future is done."},
    {"remove_done_callback", (PyCFunction)future_remove_done_callback, METH_O,
     "remove_done_callback($self, fn, /)\n--\n\n"
     "Remove every callback equal to fn; return how many were removed."},
    {"cancel", (PyCFunction)(void (*)(void))future_cancel_meth,
     METH_FASTCALL | METH_KEYWORDS,
     "cancel($self, /, msg=None)\n--\n\nCancel the future; return False if it "
     "was already done."},
    {"cancelled", (PyCFunction)future_cancelled, METH_NOARGS,
     "cancelled($self, /)\n--\n\nReturn True if the future was cancelled."},
    {"done", (PyCFunction)future_done, METH_NOARGS,
     "done($self, /)\n--\n\nReturn True if the future is done."},
    {"get_loop", (PyCFunction)future_get_loop, METH_NOARGS,
     "get_loop($self, /)\n--\n\nReturn the loop the future is bound to."},
    {"_make_cancelled_error", (PyCFunction)future_make_cancelled_error_meth,
     METH_NOARGS, NULL},
    {"__del__", (PyCFunction)future_del_meth, METH_NOARGS, NULL},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     "See PEP 585"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef future_getset[] = {
    {"_asyncio_future_blocking", (getter)future_get_blocking,
     (setter)future_set_blocking, NULL, NULL},
    {"_log_traceback", (getter)future_get_log_traceback,
     (setter)future_set_log_traceback, NULL, NULL},
    {"_loop", (getter)future_get_loop_attr, NULL, NULL, NULL},
    {"_state", (getter)future_get_state, NULL, NULL, NULL},
    {"_result", (getter)future_get_result_attr, NULL, NULL, NULL},
    {"_exception", (getter)future_get_exception_attr, NULL, NULL, NULL},
    {"_source_traceback", (getter)future_get_source_tb, NULL, NULL, NULL},
    {"_cancel_message", (getter)future_get_cancel_message,
     (setter)future_set_cancel_message, NULL, NULL},
    {"_callbacks", (getter)future_get_callbacks, NULL, NULL, NULL},
#if PY_VERSION_HEX >= 0x030E0000
    {"_asyncio_awaited_by", (getter)ca_future_get_awaited_by, NULL, NULL, NULL},
#endif
    {"__class__", (getter)future_get_class, (setter)future_set_class, NULL,
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef future_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(FutureObj, dict), READONLY, NULL},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(FutureObj, weakreflist), READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot future_slots[] = {
    {Py_tp_doc, "Future(*, loop=None)\n--\n\n"
                "A result that will be available later (asyncio.Future's API)."},
    {Py_tp_new, future_tp_new},
    {Py_tp_init, future_tp_init},
    {Py_tp_repr, future_repr},
    {Py_tp_iter, future_await},
    {Py_am_await, future_await},
    {Py_tp_traverse, future_tp_traverse},
    {Py_tp_clear, future_tp_clear},
    {Py_tp_finalize, future_tp_finalize},
    {Py_tp_dealloc, future_tp_dealloc},
    {Py_tp_methods, future_methods},
    {Py_tp_getset, future_getset},
    {Py_tp_members, future_members},
    {0, NULL},
};

PyType_Spec ca_future_spec = {
    .name = "casyncio.Future",
    .basicsize = sizeof(FutureObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = future_slots,
};

static PyMethodDef futureiter_methods[] = {
    {"send", (PyCFunction)futureiter_send, METH_O, NULL},
    {"throw", (PyCFunction)(void (*)(void))futureiter_throw, METH_FASTCALL, NULL},
    {"close", (PyCFunction)futureiter_close, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot futureiter_slots[] = {
    {Py_am_send, futureiter_am_send},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, futureiter_iternext},
    {Py_tp_traverse, futureiter_traverse},
    {Py_tp_clear, futureiter_clear},
    {Py_tp_dealloc, futureiter_dealloc},
    {Py_tp_methods, futureiter_methods},
    {0, NULL},
};

PyType_Spec ca_futureiter_spec = {
    .name = "casyncio._core.FutureIter",
    .basicsize = sizeof(FutureIterObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = futureiter_slots,
};
