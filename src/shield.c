/* asyncio.shield() in C (accelerate()).
 *
 * Stock asyncio's shield of the running Python is the specification: the
 * inner future made by ensure_future, returned as it is when already done;
 * else an outer future of its loop that takes the inner one's outcome,
 * whose cancellation does not reach the inner one.  3.11-3.13 mark a
 * failed inner future's exception retrieved once the outer one is
 * cancelled; 3.14+ record the call-graph edge from the calling task to the
 * inner future while it runs.  Works with any futures and loops.
 *
 * The three closures of asyncio's shield are objects of one callback type
 * here, told apart by their role; each has asyncio's __qualname__, which
 * is what a future's repr shows of its callbacks.
 * Owns: each callback's references (the other future, the sibling
 * callbacks the outer one removes, the calling task). */
#include "errors.h"
#include "future.h"
#include "prims.h"

enum { SH_INNER_DONE, SH_OUTER_DONE, SH_CLEAR_EDGE };

static const char *const sh_qualnames[] = {
    "shield.<locals>._inner_done_callback",
    "shield.<locals>._outer_done_callback",
    "shield.<locals>._clear_awaited_by_callback",
};

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    ca_state *state;
    int role;                 /* SH_* */
    PyObject *other;          /* INNER_DONE: the outer future; OUTER_DONE: the inner one */
    PyObject *inner_cb;       /* OUTER_DONE: the INNER_DONE callback */
    PyObject *clear_cb;       /* OUTER_DONE, 3.14+: the CLEAR_EDGE callback, or NULL */
    PyObject *cur_task;       /* OUTER_DONE, CLEAR_EDGE (3.14+): the calling task, or NULL */
} ShieldCbObj;

/* fut.exception() of any future: a new reference (None too). */
static PyObject *
sh_exception(ca_state *st, PyObject *fut)
{
    if (ca_future_is_own(st, fut)) {
        return ca_future_exception((FutureObj *)fut);
    }
    return PyObject_CallMethodNoArgs(fut, st->str_exception);
}

/* fut.<name>(arg) of any future: 0 or -1. */
static int
sh_call(PyObject *fut, PyObject *name, PyObject *arg)
{
    PyObject *res = arg ? PyObject_CallMethodOneArg(fut, name, arg)
                        : PyObject_CallMethodNoArgs(fut, name);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* _inner_done_callback(inner): the outer future takes inner's outcome,
 * unless it was cancelled meanwhile. */
static int
sh_inner_done(ShieldCbObj *cb, PyObject *inner)
{
    ca_state *st = cb->state;
    PyObject *outer = cb->other;
    int cancelled = ca_fut_test(st, outer, 1);
    if (cancelled != 0) {
#if PY_VERSION_HEX < 0x030E0000
        /* mark inner's exception retrieved: nobody else will */
        if (cancelled > 0) {
            int inner_cancelled = ca_fut_test(st, inner, 1);
            if (inner_cancelled != 0) {
                return inner_cancelled < 0 ? -1 : 0;
            }
            PyObject *exc = sh_exception(st, inner);
            Py_XDECREF(exc);
            return exc ? 0 : -1;
        }
#endif
        return cancelled < 0 ? -1 : 0;
    }
    cancelled = ca_fut_test(st, inner, 1);
    if (cancelled != 0) {
        return cancelled < 0 ? -1 : ca_fut_cancel(st, outer);
    }
    PyObject *exc = sh_exception(st, inner);
    if (exc == NULL) {
        return -1;
    }
    int rc;
    if (exc != Py_None) {
        rc = ca_future_is_own(st, outer) && !Py_IS_TYPE(outer, st->GatheringFutureType)
                 ? ca_future_set_exception((FutureObj *)outer, exc)
                 : sh_call(outer, st->str_set_exception, exc);
    }
    else {
        PyObject *res = ca_future_is_own(st, inner)
                            ? ca_future_result((FutureObj *)inner)
                            : PyObject_CallMethodNoArgs(inner, st->str_result);
        rc = res ? ca_fut_set(st, outer, res) : -1;
        Py_XDECREF(res);
    }
    Py_DECREF(exc);
    return rc;
}

/* _outer_done_callback(outer): a cancelled (or otherwise done) outer
 * future stops listening to a pending inner one. */
static int
sh_outer_done(ShieldCbObj *cb)
{
    ca_state *st = cb->state;
    PyObject *inner = cb->other;
    int done = ca_fut_test(st, inner, 0);
    if (done != 0) {
        return done < 0 ? -1 : 0;
    }
    if (sh_call(inner, st->str_remove_done_callback, cb->inner_cb) < 0) {
        return -1;
    }
#if PY_VERSION_HEX >= 0x030E0000
    if (cb->cur_task != NULL
        && (sh_call(inner, st->str_remove_done_callback, cb->clear_cb) < 0
            || ca_awaited_by_edge(st, inner, cb->cur_task, 0) < 0)) {
        return -1;
    }
#endif
    return 0;
}

static PyObject *
shieldcb_vectorcall(ShieldCbObj *cb, PyObject *const *args, size_t nargsf,
                    PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0)) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly one argument (%zd given)",
                     sh_qualnames[cb->role] + sizeof("shield.<locals>.") - 1, nargs);
        return NULL;
    }
    /* the future's callbacks may hold the last reference to cb */
    Py_INCREF(cb);
    int rc;
    switch (cb->role) {
    case SH_INNER_DONE:
        rc = sh_inner_done(cb, args[0]);
        break;
    case SH_OUTER_DONE:
        rc = sh_outer_done(cb);
        break;
    default:
#if PY_VERSION_HEX >= 0x030E0000
        rc = ca_awaited_by_edge(cb->state, args[0], cb->cur_task, 0);
#else
        rc = 0;
#endif
        break;
    }
    Py_DECREF(cb);
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}

static int
shieldcb_traverse(ShieldCbObj *cb, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(cb));
    Py_VISIT(cb->other);
    Py_VISIT(cb->inner_cb);
    Py_VISIT(cb->clear_cb);
    Py_VISIT(cb->cur_task);
    return 0;
}

static int
shieldcb_clear(ShieldCbObj *cb)
{
    Py_CLEAR(cb->other);
    Py_CLEAR(cb->inner_cb);
    Py_CLEAR(cb->clear_cb);
    Py_CLEAR(cb->cur_task);
    return 0;
}

static void
shieldcb_dealloc(ShieldCbObj *cb)
{
    PyTypeObject *tp = Py_TYPE(cb);
    PyObject_GC_UnTrack(cb);
    (void)shieldcb_clear(cb);
    tp->tp_free(cb);
    Py_DECREF(tp);
}

static PyObject *
shieldcb_get_qualname(ShieldCbObj *cb, void *closure)
{
    const char *q = sh_qualnames[cb->role];
    return PyUnicode_FromString(closure ? q + sizeof("shield.<locals>.") - 1 : q);
}

static PyGetSetDef shieldcb_getset[] = {
    {"__qualname__", (getter)shieldcb_get_qualname, NULL, NULL, NULL},
    {"__name__", (getter)shieldcb_get_qualname, NULL, NULL, (void *)1},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef shieldcb_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(ShieldCbObj, vectorcall), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot shieldcb_slots[] = {
    {Py_tp_doc, "A done-callback of shield()'s futures."},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_traverse, shieldcb_traverse},
    {Py_tp_clear, shieldcb_clear},
    {Py_tp_dealloc, shieldcb_dealloc},
    {Py_tp_getset, shieldcb_getset},
    {Py_tp_members, shieldcb_members},
    {0, NULL},
};

PyType_Spec ca_shieldcb_spec = {
    .name = "casyncio._core._ShieldCallback",
    .basicsize = sizeof(ShieldCbObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL
             | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = shieldcb_slots,
};

static ShieldCbObj *
shieldcb_new(ca_state *st, int role, PyObject *other, PyObject *cur_task)
{
    ShieldCbObj *cb = PyObject_GC_New(ShieldCbObj, st->ShieldCallbackType);
    if (cb == NULL) {
        return NULL;
    }
    cb->vectorcall = (vectorcallfunc)shieldcb_vectorcall;
    cb->state = st;
    cb->role = role;
    cb->other = Py_XNewRef(other);
    cb->inner_cb = cb->clear_cb = NULL;
    cb->cur_task = Py_XNewRef(cur_task);
    PyObject_GC_Track(cb);
    return cb;
}

/* fut.add_done_callback(cb) of any future: 0 or -1. */
static int
sh_watch(ca_state *st, PyObject *fut, ShieldCbObj *cb)
{
    if (ca_future_is_own(st, fut)) {
        return ca_future_add_callback((FutureObj *)fut, (PyObject *)cb, NULL);
    }
    return sh_call(fut, st->str_add_done_callback, (PyObject *)cb);
}

#if PY_VERSION_HEX >= 0x030E0000
/* current_task(loop), asyncio.tasks' as it is now: a new reference, NULL
 * for None (and on error, with the exception set). */
static PyObject *
sh_current_task(ca_state *st, PyObject *loop)
{
    PyObject *fn = PyDict_GetItemWithError(st->tasks_dict, st->str_current_task);
    if (fn == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_AttributeError,
                            "module 'asyncio.tasks' has no attribute 'current_task'");
        }
        return NULL;
    }
    Py_INCREF(fn);
    PyObject *task = PyObject_CallOneArg(fn, loop);
    Py_DECREF(fn);
    if (task == Py_None) {
        Py_CLEAR(task);
    }
    return task;
}
#endif

/* shield(arg) once the inner future is known and pending. */
static PyObject *
sh_start(ca_state *st, PyObject *inner)
{
    PyObject *loop = ca_future_is_own(st, inner) ? Py_NewRef(((FutureObj *)inner)->loop)
                                                 : ca_future_loop_of(st, inner);
    if (loop == NULL) {
        return NULL;
    }
    PyObject *outer = PyObject_CallMethodNoArgs(loop, st->str_create_future);
    PyObject *cur_task = NULL;
    ShieldCbObj *inner_cb = NULL, *outer_cb = NULL, *clear_cb = NULL;
    if (outer == NULL) {
        goto fail;
    }
#if PY_VERSION_HEX >= 0x030E0000
    if (loop != Py_None) {
        cur_task = sh_current_task(st, loop);
        if (cur_task == NULL && PyErr_Occurred()) {
            goto fail;
        }
        if (cur_task != NULL && ca_awaited_by_edge(st, inner, cur_task, 1) < 0) {
            goto fail;
        }
    }
#endif
    inner_cb = shieldcb_new(st, SH_INNER_DONE, outer, NULL);
    outer_cb = shieldcb_new(st, SH_OUTER_DONE, inner, cur_task);
    if (inner_cb == NULL || outer_cb == NULL) {
        goto fail;
    }
    outer_cb->inner_cb = Py_NewRef(inner_cb);
    if (cur_task != NULL) {
        clear_cb = shieldcb_new(st, SH_CLEAR_EDGE, NULL, cur_task);
        if (clear_cb == NULL || sh_watch(st, inner, clear_cb) < 0) {
            goto fail;
        }
        outer_cb->clear_cb = Py_NewRef(clear_cb);
    }
    if (sh_watch(st, inner, inner_cb) < 0 || sh_watch(st, outer, outer_cb) < 0) {
        goto fail;
    }
    Py_DECREF(loop);
    Py_XDECREF(cur_task);
    Py_DECREF(inner_cb);
    Py_DECREF(outer_cb);
    Py_XDECREF(clear_cb);
    return outer;

fail:
    Py_DECREF(loop);
    Py_XDECREF(outer);
    Py_XDECREF(cur_task);
    Py_XDECREF(inner_cb);
    Py_XDECREF(outer_cb);
    Py_XDECREF(clear_cb);
    return NULL;
}

/* shield(arg), a module function */
PyObject *
ca_shield(PyObject *module, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    ca_state *st = PyModule_GetState(module);
    static const char *const names[] = {"arg"};
    PyObject *arg;
    if (ca_parse_args("shield", 0, names, 1, 1, 1, args, nargsf, kwnames, &arg) < 0) {
        return NULL;
    }
    PyObject *inner = ca_ensure_future(st, arg, NULL);
    if (inner == NULL) {
        return NULL;
    }
    int done = ca_fut_test(st, inner, 0);
    if (done != 0) {
        if (done < 0) {
            Py_CLEAR(inner);
        }
        return inner;
    }
    PyObject *outer = sh_start(st, inner);
    Py_DECREF(inner);
    return outer;
}
