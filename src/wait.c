/* asyncio.wait() in C (accelerate()).
 *
 * Stock asyncio's wait() and _wait() of the running Python are the
 * specification (the same from 3.11 to 3.15 but for 3.14's call-graph
 * edges): its checks of the arguments, made at the first step as the
 * coroutine's are; a future of the running loop the futures' shared
 * done-callback settles (the first completion, the first failure, or the
 * last one, as return_when says), or the timeout (a TimerHandle running
 * asyncio.tasks._release_waiter, as asyncio's does); the callbacks taken
 * off again however the wait ends; then the sets (done, pending).
 *
 * The awaitable is a WaitOp (waitop.c) whose `self` is the shared
 * callback, `_wait.<locals>._on_completion` as asyncio's closure is named.
 * Owns (the callback): the set of futures, the waiter, the timeout handle,
 * 3.14+ the calling task. */
#include "errors.h"
#include "future.h"
#include "prims.h"

enum { WT_FIRST_COMPLETED, WT_FIRST_EXCEPTION, WT_ALL_COMPLETED };

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    ca_state *state;
    PyObject *fs;             /* the argument, then set(fs) */
    PyObject *timeout;        /* None or the number of seconds */
    PyObject *return_when;
    PyObject *waiter;         /* NULL until started */
    PyObject *handle;         /* the timeout's TimerHandle, or NULL */
    PyObject *cur_task;       /* 3.14+: current_task(), NULL for None */
    Py_ssize_t counter;
    int when;                 /* WT_* */
} WaitCbObj;

static const char wait_cb_qualname[] = "_wait.<locals>._on_completion";

/* handle.cancel() of the timeout, if any */
static int
wait_cancel_handle(WaitCbObj *cb)
{
    if (cb->handle == NULL) {
        return 0;
    }
    PyObject *res = PyObject_CallMethodNoArgs(cb->handle, cb->state->str_cancel);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* _on_completion(f) */
static int
wait_on_completion(WaitCbObj *cb, PyObject *f)
{
    ca_state *st = cb->state;
    cb->counter--;
    int wake = cb->counter <= 0 || cb->when == WT_FIRST_COMPLETED;
    if (!wake && cb->when == WT_FIRST_EXCEPTION) {
        int cancelled = ca_fut_test(st, f, 1);
        if (cancelled < 0) {
            return -1;
        }
        if (!cancelled) {
            PyObject *exc = ca_future_is_own(st, f)
                                ? ca_future_exception((FutureObj *)f)
                                : PyObject_CallMethodNoArgs(f, st->str_exception);
            if (exc == NULL) {
                return -1;
            }
            wake = exc != Py_None;
            Py_DECREF(exc);
        }
    }
    if (wake) {
        if (wait_cancel_handle(cb) < 0) {
            return -1;
        }
        int done = ca_fut_test(st, cb->waiter, 0);
        if (done < 0 || (!done && ca_fut_set(st, cb->waiter, Py_None) < 0)) {
            return -1;
        }
    }
#if PY_VERSION_HEX >= 0x030E0000
    return ca_awaited_by_edge(st, f, cb->cur_task ? cb->cur_task : Py_None, 0);
#else
    return 0;
#endif
}

static PyObject *
waitcb_vectorcall(WaitCbObj *cb, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0)) {
        PyErr_Format(PyExc_TypeError, "_on_completion() takes exactly one argument (%zd given)",
                     nargs);
        return NULL;
    }
    if (cb->waiter == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "wait() has not started");
        return NULL;
    }
    Py_INCREF(cb);
    int rc = wait_on_completion(cb, args[0]);
    Py_DECREF(cb);
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}

static int
waitcb_traverse(WaitCbObj *cb, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(cb));
    Py_VISIT(cb->fs);
    Py_VISIT(cb->timeout);
    Py_VISIT(cb->return_when);
    Py_VISIT(cb->waiter);
    Py_VISIT(cb->handle);
    Py_VISIT(cb->cur_task);
    return 0;
}

static int
waitcb_clear(WaitCbObj *cb)
{
    Py_CLEAR(cb->fs);
    Py_CLEAR(cb->timeout);
    Py_CLEAR(cb->return_when);
    Py_CLEAR(cb->waiter);
    Py_CLEAR(cb->handle);
    Py_CLEAR(cb->cur_task);
    return 0;
}

static void
waitcb_dealloc(WaitCbObj *cb)
{
    PyTypeObject *tp = Py_TYPE(cb);
    PyObject_GC_UnTrack(cb);
    (void)waitcb_clear(cb);
    tp->tp_free(cb);
    Py_DECREF(tp);
}

static PyObject *
waitcb_get_name(WaitCbObj *cb, void *closure)
{
    return PyUnicode_FromString(closure ? "_on_completion" : wait_cb_qualname);
}

static PyGetSetDef waitcb_getset[] = {
    {"__qualname__", (getter)waitcb_get_name, NULL, NULL, NULL},
    {"__name__", (getter)waitcb_get_name, NULL, NULL, (void *)1},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef waitcb_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(WaitCbObj, vectorcall), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot waitcb_slots[] = {
    {Py_tp_doc, "The done-callback wait() gives its futures."},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_traverse, waitcb_traverse},
    {Py_tp_clear, waitcb_clear},
    {Py_tp_dealloc, waitcb_dealloc},
    {Py_tp_getset, waitcb_getset},
    {Py_tp_members, waitcb_members},
    {0, NULL},
};

PyType_Spec ca_waitcb_spec = {
    .name = "casyncio._core._WaitCallback",
    .basicsize = sizeof(WaitCbObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL
             | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = waitcb_slots,
};

/* fn(cb, f) for each f of the set cb->fs, in the set's order; stops at
 * the first error (-1). */
static int
wait_each(WaitCbObj *cb, int (*fn)(WaitCbObj *, PyObject *, void *), void *arg)
{
    PyObject *it = PyObject_GetIter(cb->fs);
    if (it == NULL) {
        return -1;
    }
    PyObject *f;
    int rc = 0;
    while (rc == 0 && (f = PyIter_Next(it)) != NULL) {
        rc = fn(cb, f, arg);
        Py_DECREF(f);
    }
    Py_DECREF(it);
    return rc < 0 || PyErr_Occurred() ? -1 : 0;
}

#if PY_VERSION_HEX >= 0x030E0000
/* asyncio's module-level `name` (from the dict `dict` of `module`), called
 * with `arg`: a new reference. */
static PyObject *
wait_call_global(PyObject *dict, const char *module, const char *name, PyObject *arg)
{
    PyObject *fn = PyDict_GetItemString(dict, name);
    if (fn == NULL) {
        PyErr_Format(PyExc_AttributeError, "module '%s' has no attribute '%s'", module, name);
        return NULL;
    }
    Py_INCREF(fn);
    PyObject *res = arg ? PyObject_CallOneArg(fn, arg) : PyObject_CallNoArgs(fn);
    Py_DECREF(fn);
    return res;
}
#endif

/* The truth of asyncio's predicate `name` (futures.isfuture,
 * coroutines.iscoroutine) for `obj`. */
static int
wait_is(ca_state *st, PyObject *obj, int coroutine)
{
    if (ca_future_is_own(st, obj)) {
        return !coroutine;
    }
    if (PyCoro_CheckExact(obj)) {
        return coroutine;
    }
    PyObject *res = coroutine ? PyObject_CallOneArg(st->iscoroutine, obj)
                              : PyObject_CallOneArg(st->isfuture, obj);
    int r = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    return r;
}

static int
wait_no_coroutine(WaitCbObj *cb, PyObject *f, void *unused)
{
    int r = wait_is(cb->state, f, 1);
    if (r > 0) {
        PyErr_SetString(PyExc_TypeError, "Passing coroutines is forbidden, use tasks explicitly.");
    }
    return r ? -1 : 0;
}

/* f.add_done_callback(cb) (and 3.14+ the edge from the calling task) */
static int
wait_watch(WaitCbObj *cb, PyObject *f, void *unused)
{
    ca_state *st = cb->state;
    int rc;
    if (ca_future_is_own(st, f)) {
        rc = ca_future_add_callback((FutureObj *)f, (PyObject *)cb, NULL);
    }
    else {
        PyObject *res = PyObject_CallMethodOneArg(f, st->str_add_done_callback, (PyObject *)cb);
        rc = res ? 0 : -1;
        Py_XDECREF(res);
    }
#if PY_VERSION_HEX >= 0x030E0000
    if (rc == 0) {
        rc = ca_awaited_by_edge(st, f, cb->cur_task ? cb->cur_task : Py_None, 1);
    }
#endif
    return rc;
}

/* f.remove_done_callback(cb) (and 3.14+ the edge's removal) */
static int
wait_unwatch(WaitCbObj *cb, PyObject *f, void *unused)
{
    ca_state *st = cb->state;
    PyObject *res = PyObject_CallMethodOneArg(f, st->str_remove_done_callback, (PyObject *)cb);
    Py_XDECREF(res);
#if PY_VERSION_HEX >= 0x030E0000
    if (res != NULL) {
        return ca_awaited_by_edge(st, f, cb->cur_task ? cb->cur_task : Py_None, 0);
    }
#endif
    return res ? 0 : -1;
}

/* f into done (arg[0]) or pending (arg[1]) */
static int
wait_sort(WaitCbObj *cb, PyObject *f, void *arg)
{
    PyObject **sets = arg;
    int r = ca_fut_test(cb->state, f, 0);
    return r < 0 ? -1 : PySet_Add(sets[r ? 0 : 1], f);
}

/* wait()'s checks of its arguments; then cb->fs is set(fs) and cb->when
 * known. */
static int
wait_check(WaitCbObj *cb)
{
    ca_state *st = cb->state;
    int r = wait_is(st, cb->fs, 0);
    if (r == 0) {
        r = wait_is(st, cb->fs, 1);
    }
    if (r != 0) {
        PyObject *name = r > 0 ? PyType_GetName(Py_TYPE(cb->fs)) : NULL;
        if (name != NULL) {
            PyErr_Format(PyExc_TypeError, "expect a list of futures, not %U", name);
            Py_DECREF(name);
        }
        return -1;
    }
    r = PyObject_IsTrue(cb->fs);
    if (r <= 0) {
        if (r == 0) {
            PyErr_SetString(PyExc_ValueError, "Set of Tasks/Futures is empty.");
        }
        return -1;
    }
    static const char *const whens[] = {"FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"};
    cb->when = -1;
    for (int i = 0; i < 3 && cb->when < 0; i++) {
        PyObject *constant = PyDict_GetItemString(st->tasks_dict, whens[i]);
        if (constant == NULL) {
            PyErr_Format(PyExc_AttributeError, "module 'asyncio.tasks' has no attribute '%s'",
                         whens[i]);
            return -1;
        }
        r = PyObject_RichCompareBool(cb->return_when, constant, Py_EQ);
        if (r < 0) {
            return -1;
        }
        if (r) {
            cb->when = i;
        }
    }
    if (cb->when < 0) {
        PyErr_Format(PyExc_ValueError, "Invalid return_when value: %S", cb->return_when);
        return -1;
    }
    PyObject *fs = PySet_New(cb->fs);
    if (fs == NULL) {
        return -1;
    }
    Py_SETREF(cb->fs, fs);
    return wait_each(cb, wait_no_coroutine, NULL);
}

static PySendResult
wait_start(WaitOpObj *op, PyObject **result)
{
    WaitCbObj *cb = (WaitCbObj *)op->self;
    ca_state *st = cb->state;
    if (wait_check(cb) < 0) {
        return PYGEN_ERROR;
    }
    PyObject *loop = PyObject_CallNoArgs(st->get_running_loop);
    if (loop == Py_None) {
        Py_CLEAR(loop);
        PyErr_SetString(PyExc_RuntimeError, "no running event loop");
    }
    if (loop == NULL) {
        return PYGEN_ERROR;
    }
    cb->waiter = PyObject_CallMethodNoArgs(loop, st->str_create_future);
    if (cb->waiter == NULL) {
        Py_DECREF(loop);
        return PYGEN_ERROR;
    }
    if (cb->timeout != Py_None) {
        PyObject *release = PyDict_GetItemString(st->tasks_dict, "_release_waiter");
        if (release == NULL) {
            PyErr_SetString(PyExc_AttributeError,
                            "module 'asyncio.tasks' has no attribute '_release_waiter'");
            Py_DECREF(loop);
            return PYGEN_ERROR;
        }
        cb->handle = PyObject_CallMethod(loop, "call_later", "OOO", cb->timeout, release,
                                         cb->waiter);
        if (cb->handle == NULL) {
            Py_DECREF(loop);
            return PYGEN_ERROR;
        }
    }
    Py_DECREF(loop);
    cb->counter = PySet_GET_SIZE(cb->fs);
#if PY_VERSION_HEX >= 0x030E0000
    cb->cur_task = wait_call_global(st->tasks_dict, "asyncio.tasks", "current_task", NULL);
    if (cb->cur_task == NULL) {
        return PYGEN_ERROR;
    }
    if (cb->cur_task == Py_None) {
        Py_CLEAR(cb->cur_task);
    }
#endif
    if (wait_each(cb, wait_watch, NULL) < 0) {
        return PYGEN_ERROR;
    }
    Py_XSETREF(op->fut, Py_NewRef(cb->waiter));
    return PYGEN_NEXT;
}

static PySendResult
wait_resume(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    WaitCbObj *cb = (WaitCbObj *)op->self;
    exc = ca_waitop_outcome(op, exc);
    /* finally: */
    if (wait_cancel_handle(cb) < 0) {
        exc = ca_chain_over(exc);
    }
    if (wait_each(cb, wait_unwatch, NULL) < 0) {
        exc = ca_chain_over(exc);
    }
    if (exc != NULL) {
        ca_err_restore(exc);
        return PYGEN_ERROR;
    }
    PyObject *done = PySet_New(NULL), *pending = PySet_New(NULL);
    if (done == NULL || pending == NULL) {
        goto fail;
    }
    PyObject *sets[2] = {done, pending};
    if (wait_each(cb, wait_sort, sets) < 0) {
        goto fail;
    }
    *result = PyTuple_Pack(2, done, pending);
    Py_DECREF(done);
    Py_DECREF(pending);
    return *result ? PYGEN_RETURN : PYGEN_ERROR;

fail:
    Py_XDECREF(done);
    Py_XDECREF(pending);
    return PYGEN_ERROR;
}

static const ca_waitop_kind wait_kind = {"wait", wait_start, wait_resume};

/* wait(fs, *, timeout=None, return_when=ALL_COMPLETED), a module function
 * returning the awaitable. */
PyObject *
ca_wait(PyObject *module, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    ca_state *st = PyModule_GetState(module);
    static const char *const names[] = {"fs", "timeout", "return_when"};
    PyObject *vals[3];
    if (ca_parse_args("wait", 0, names, 1, 3, 1, args, nargsf, kwnames, vals) < 0) {
        return NULL;
    }
    PyObject *fs = vals[0], *timeout = vals[1] ? vals[1] : Py_None, *return_when = vals[2];
    if (return_when == NULL) {
        /* the default, ALL_COMPLETED, as asyncio.tasks defines it */
        return_when = PyDict_GetItemString(st->tasks_dict, "ALL_COMPLETED");
        if (return_when == NULL) {
            PyErr_SetString(PyExc_AttributeError,
                            "module 'asyncio.tasks' has no attribute 'ALL_COMPLETED'");
            return NULL;
        }
    }
    WaitCbObj *cb = PyObject_GC_New(WaitCbObj, st->WaitCallbackType);
    if (cb == NULL) {
        return NULL;
    }
    cb->vectorcall = (vectorcallfunc)waitcb_vectorcall;
    cb->state = st;
    cb->fs = Py_NewRef(fs);
    cb->timeout = Py_NewRef(timeout);
    cb->return_when = Py_NewRef(return_when);
    cb->waiter = cb->handle = cb->cur_task = NULL;
    cb->counter = 0;
    cb->when = WT_ALL_COMPLETED;
    PyObject_GC_Track(cb);
    PyObject *op = ca_waitop_new(st, &wait_kind, (PyObject *)cb, NULL);
    Py_DECREF(cb);
    return op;
}
