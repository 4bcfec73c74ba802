/* Handle and TimerHandle: a callback, its arguments and the Context it runs
 * in.  Owns those references.  Does not own its place in a queue or heap:
 * the loop holds one reference per place. */
#include "errors.h"
#include "handle.h"
#include "loop.h"

#include <math.h>

static int
handle_loop_debug(ca_state *st, PyObject *loop, int queued)
{
    if (queued || PyObject_TypeCheck(loop, st->LoopType)) {
        return ((LoopObj *)loop)->debug;
    }
    PyObject *res = PyObject_CallMethodNoArgs(loop, st->str_get_debug);
    if (res == NULL) {
        return -1;
    }
    int debug = PyObject_IsTrue(res);
    Py_DECREF(res);
    return debug;
}

static PyObject *
handle_args_tuple(ca_state *st, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 0) {
        return Py_NewRef(st->empty_tuple);
    }
    PyObject *tup = PyTuple_New(nargs);
    if (tup == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyTuple_SET_ITEM(tup, i, Py_NewRef(args[i]));
    }
    return tup;
}

HandleObj *
ca_handle_new(ca_state *st, PyTypeObject *tp, PyObject *loop,
              PyObject *callback, PyObject *const *args, Py_ssize_t nargs,
              PyObject *context, int queued)
{
    HandleObj *h;
#if CA_FREELISTS
    if (st->handle_nfree > 0 && (tp == st->HandleType || tp == st->TimerHandleType)) {
        h = (HandleObj *)st->handle_free[--st->handle_nfree];
        (void)PyObject_Init((PyObject *)h, tp);
    }
    else
#endif
    {
        h = PyObject_GC_New(HandleObj, tp);
        if (h == NULL) {
            return NULL;
        }
    }
    h->state = st;
    CA_LIVE_ADD(st, tp == st->TimerHandleType ? CA_LIVE_TIMER : CA_LIVE_HANDLE, 1);
    h->callback = Py_NewRef(callback);
    h->args = NULL;
    h->nargv = 0;
    h->context = NULL;
    h->loop = Py_NewRef(loop);
    h->source_traceback = NULL;
    h->repr = NULL;
    h->weakreflist = NULL;
    h->when = 0.0;
    h->when_int = 0;
    h->cancelled = 0;
    h->scheduled = 0;
    h->ctx_maybe_untracked = 0;
    if (!queued) {
        PyObject_GC_Track(h);
    }

    if (nargs <= CA_HANDLE_ARGV) {
        for (Py_ssize_t i = 0; i < nargs; i++) {
            h->argv[i] = Py_NewRef(args[i]);
        }
        h->nargv = (char)nargs;
    }
    else if ((h->args = handle_args_tuple(st, args, nargs)) == NULL) {
        goto error;
    }
    if (context == NULL || context == Py_None) {
        /* A pending timer's empty copy is kept out of the collector (see
         * handle.h): a heap of 100k timers would be walked by every
         * collection.  A call_soon() handle's runs in the next iteration,
         * and untracking it, then tracking it again after the callback,
         * cost more than the collector saves: callgrind, 3.15,
         * call_soon_batch 1,888 -> 1,821 instructions a callback, while
         * call_later lost 130 a timer with its copies tracked. */
        h->ctx_maybe_untracked = queued && tp == st->TimerHandleType;
        h->context = h->ctx_maybe_untracked ? ca_context_copy() : PyContext_CopyCurrent();
        if (h->context == NULL) {
            goto error;
        }
    }
    else {
        ca_context_expose(context);
        h->context = Py_NewRef(context);
    }
    int debug = handle_loop_debug(st, loop, queued);
    if (debug < 0) {
        goto error;
    }
    if (debug) {
        /* extract_stack() starts at the Python frame that called us, so the
         * traceback ends at the caller of call_soon() as asyncio's does. */
        h->source_traceback = PyObject_CallNoArgs(st->extract_stack);
        if (h->source_traceback == NULL) {
            goto error;
        }
    }
    return h;
error:
    Py_DECREF(h);
    return NULL;
}

#if CA_HANDLE_ARGV != 2
#error "handle_clear_args() is written for CA_HANDLE_ARGV == 2"
#endif

/* Drops the arguments, wherever they are.  The slots are emptied before
 * anything is released (a release may run code that looks at the handle);
 * unrolled for CA_HANDLE_ARGV == 2: the loop was ~50 instructions a
 * call_soon(cb, a, b) (callgrind, 3.15). */
static inline void
handle_clear_args(HandleObj *h)
{
    Py_CLEAR(h->args);
    int n = h->nargv;
    if (n == 0) {
        return;
    }
    PyObject *a0 = h->argv[0];
    PyObject *a1 = n > 1 ? h->argv[1] : NULL;
    h->nargv = 0;
    h->argv[0] = NULL;
    h->argv[1] = NULL;
    Py_DECREF(a0);
    Py_XDECREF(a1);
}

/* Moves the arguments into a tuple, `args`, unless they are there already
 * or the handle is cancelled.  -1 with an exception on failure. */
static int
handle_pack_args(HandleObj *h)
{
    if (h->args != NULL || h->callback == NULL) {
        return 0;
    }
    int n = h->nargv;
    PyObject *tup = PyTuple_New(n);
    if (tup == NULL) {
        return -1;
    }
    for (int i = 0; i < n; i++) {
        PyTuple_SET_ITEM(tup, i, h->argv[i]);
        h->argv[i] = NULL;
    }
    h->nargv = 0;
    h->args = tup;
    return 0;
}

void
ca_handle_mark_cancelled(HandleObj *h)
{
    h->cancelled = 1;
    Py_CLEAR(h->callback);
    handle_clear_args(h);
}

int
ca_report_callback_error(ca_state *st, PyObject *loop, PyObject *cb,
                         PyObject *const *args, Py_ssize_t nargs,
                         PyObject *ctx, HandleObj *h, PyObject *exc)
{
    int rc = -1;
    PyObject *argtuple = NULL, *src = NULL, *msg = NULL;
    if (h == NULL) {
        /* Entries queued without a Handle get one now, for the report's
         * 'handle' key: only on this error path. */
        h = ca_handle_new(st, st->HandleType, loop, cb, args, nargs, ctx, 0);
        if (h == NULL) {
            return -1;
        }
    }
    else {
        Py_INCREF(h);
    }
    argtuple = handle_args_tuple(st, args, nargs);
    if (argtuple != NULL) {
        src = PyObject_CallFunctionObjArgs(st->format_callback_source, cb,
                                           argtuple, NULL);
    }
    if (src != NULL) {
        msg = PyUnicode_FromFormat("Exception in callback %U", src);
    }
    if (msg != NULL) {
        rc = ca_report_exception(st, loop, msg, exc, st->str_handle,
                                 (PyObject *)h, h->source_traceback);
    }
    Py_XDECREF(argtuple);
    Py_XDECREF(src);
    Py_XDECREF(msg);
    Py_DECREF(h);
    return rc;
}

int
ca_callback_settle(ca_state *st, PyObject *loop, PyObject *cb,
                   PyObject *const *args, Py_ssize_t nargs, PyObject *ctx,
                   HandleObj *h)
{
    PyObject *exc = ca_err_fetch();
    if (ca_err_is_fatal(exc)) {
        ca_err_restore(exc);
        return -1;
    }
    int rc = ca_report_callback_error(st, loop, cb, args, nargs, ctx, h, exc);
    Py_DECREF(exc);
    return rc;
}

/* What PyObject_Vectorcall's check of a C callable's result raises. */
static PyObject *
call_bad_result(PyObject *cb, PyObject *res)
{
    if (res == NULL) {
        PyErr_Format(PyExc_SystemError,
                     "%R returned NULL without setting an exception", cb);
        return NULL;
    }
    Py_DECREF(res);
    PyObject *cause = ca_err_fetch();
    PyErr_Format(PyExc_SystemError,
                 "%R returned a result with an exception set", cb);
    PyObject *exc = ca_err_fetch();
    PyException_SetCause(exc, Py_NewRef(cause));
    PyException_SetContext(exc, cause);
    ca_err_restore(exc);
    return NULL;
}

/* PyObject_Vectorcall, calling the callable's vectorcall function itself:
 * that saves a thread-state lookup and ~50 instructions a callback (3.13).
 * The result is checked as PyObject_Vectorcall checks it, except for what
 * cannot get it wrong: a Python function (its frame returns NULL exactly
 * when it raised) and a bound method (it makes a checked call itself). */
static inline PyObject *
ca_call_vector(PyObject *cb, PyObject *const *args, Py_ssize_t nargs)
{
    vectorcallfunc f = PyVectorcall_Function(cb);
    if (f == NULL) {
        return PyObject_Vectorcall(cb, args, nargs, NULL);
    }
    PyObject *res = f(cb, args, (size_t)nargs, NULL);
    if (!PyFunction_Check(cb) && !PyMethod_Check(cb)
        && (res == NULL) != (PyErr_Occurred() != NULL)) {
        return call_bad_result(cb, res);
    }
    return res;
}

/* ctx.run(cb, *args) for a context= that is not a Context: what asyncio's
 * Handle does with it (an AttributeError for most objects). */
static int
handle_call_in_other(PyObject *ctx, PyObject *cb, PyObject *const *args,
                     Py_ssize_t nargs)
{
    PyObject *small[8];
    PyObject **stack = nargs + 2 <= 8 ? small
                                      : PyMem_Malloc((size_t)(nargs + 2) * sizeof(PyObject *));
    if (stack == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    stack[0] = ctx;
    stack[1] = cb;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        stack[i + 2] = args[i];
    }
    PyObject *name = PyUnicode_FromString("run");
    PyObject *res = name ? PyObject_VectorcallMethod(
                               name, stack, (size_t)(nargs + 2) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                               NULL)
                         : NULL;
    Py_XDECREF(name);
    if (stack != small) {
        PyMem_Free(stack);
    }
    Py_XDECREF(res);
    return res == NULL ? -1 : 0;
}

/* ca_context_call(); `maybe_untracked` 0 when ctx is known to be tracked
 * (or not a Context), which saves the check.  Either way ctx is tracked
 * when this returns. */
static inline int
context_call(PyObject *ctx, PyObject *cb, PyObject *const *args,
             Py_ssize_t nargs, int maybe_untracked)
{
    if (!PyContext_CheckExact(ctx)) {
        return handle_call_in_other(ctx, cb, args, nargs);
    }
    if (maybe_untracked) {
        /* Code runs in it now: the collector must see it from here on. */
        ca_context_expose(ctx);
    }
    if (PyContext_Enter(ctx) < 0) {
        return -1;
    }
    PyObject *res = ca_call_vector(cb, args, nargs);
    Py_XDECREF(res);
    int exited = PyContext_Exit(ctx);
    if (exited < 0) {
        if (res == NULL) {
            /* Keep the callback's exception; this one can only be a bug. */
            PyErr_WriteUnraisable(ctx);
        }
        else {
            return -1;
        }
    }
    return res == NULL ? -1 : 0;
}

int
ca_context_call(PyObject *ctx, PyObject *cb, PyObject *const *args,
                Py_ssize_t nargs)
{
    return context_call(ctx, cb, args, nargs, 1);
}

#if PY_VERSION_HEX >= 0x030E0000
/* ThreadSafeHandle (3.14+): what call_soon_threadsafe() returns, as
 * asyncio's events._ThreadSafeHandle.  Its lock is held while it runs and
 * by cancel()/cancelled(), so a cancel() from another thread waits for a
 * running callback to finish and a cancel() that comes first stops the run;
 * the callback itself may cancel its handle (the lock is re-entrant for the
 * thread holding it).  PyMutex_Lock lets go of the GIL while it waits. */
typedef struct {
    HandleObj base;
    PyMutex mutex;
    int depth;              /* how many times the owner holds it */
    unsigned long owner;    /* thread holding it; read under the GIL */
} ThreadSafeHandleObj;

static void
tshandle_lock(HandleObj *h)
{
    ThreadSafeHandleObj *t = (ThreadSafeHandleObj *)h;
    unsigned long me = PyThread_get_thread_ident();
    if (t->depth > 0 && t->owner == me) {
        t->depth++;
        return;
    }
    PyMutex_Lock(&t->mutex);
    t->owner = me;
    t->depth = 1;
}

static void
tshandle_unlock(HandleObj *h)
{
    ThreadSafeHandleObj *t = (ThreadSafeHandleObj *)h;
    if (--t->depth == 0) {
        t->owner = 0;
        PyMutex_Unlock(&t->mutex);
    }
}

#endif


/* Whether nothing but the caller's reference can reach `h`: one
 * reference, no weak reference, and untracked by the collector (a queued
 * handle is; gc.get_objects() and get_referrers() cannot find it).  Then
 * the callback cannot cancel the handle or otherwise touch its slots, and
 * they need no references of their own while it runs.  In debug mode the
 * loop's _current_handle holds a second reference. */
static inline int
handle_is_owned(HandleObj *h)
{
    return Py_REFCNT(h) == 1 && h->weakreflist == NULL && !PyObject_GC_IsTracked((PyObject *)h);
}

/* handle_run_callback() for a handle that something else may hold too. */
static Py_NO_INLINE int
handle_run_shared(ca_state *st, HandleObj *h)
{
    /* Beware: the callback may cancel its own handle, which drops these. */
    int maybe_untracked = h->ctx_maybe_untracked;
    PyObject *cb = Py_NewRef(h->callback);
    PyObject *ctx = Py_NewRef(h->context);
    PyObject *args = Py_XNewRef(h->args);
    PyObject *argv[CA_HANDLE_ARGV];
    PyObject *const *items = argv;
    Py_ssize_t n;
    if (args != NULL) {
        items = &PyTuple_GET_ITEM(args, 0);
        n = PyTuple_GET_SIZE(args);
    }
    else {
        n = h->nargv;
        for (Py_ssize_t i = 0; i < n; i++) {
            argv[i] = Py_NewRef(h->argv[i]);
        }
    }
    int rc = context_call(ctx, cb, items, n, maybe_untracked);
    if (maybe_untracked && h->context == ctx) {
        h->ctx_maybe_untracked = 0;  /* context_call() exposed it */
    }
    if (rc < 0) {
        rc = ca_callback_settle(st, h->loop, cb, items, n, ctx, h);
    }
    Py_DECREF(cb);
    Py_DECREF(ctx);
    if (args != NULL) {
        Py_DECREF(args);
    }
    else {
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_DECREF(argv[i]);
        }
    }
    return rc;
}

/* Runs the callback in its context (the handle's lock not taken). */
static inline int
handle_run_callback(ca_state *st, HandleObj *h)
{
    if (h->callback == NULL) {
        return 0;
    }
    if (!handle_is_owned(h)) {
        return handle_run_shared(st, h);
    }
    /* The common case, a handle the loop alone holds: its slots stay as
     * they are until the caller lets go of it. */
    PyObject *const *items = h->args ? &PyTuple_GET_ITEM(h->args, 0) : h->argv;
    Py_ssize_t n = h->args ? PyTuple_GET_SIZE(h->args) : h->nargv;
    int rc = context_call(h->context, h->callback, items, n, h->ctx_maybe_untracked);
    h->ctx_maybe_untracked = 0;  /* context_call() exposed it */
    return rc < 0 ? ca_callback_settle(st, h->loop, h->callback, items, n, h->context, h)
                  : 0;
}

int
ca_handle_run(ca_state *st, HandleObj *h)
{
#if PY_VERSION_HEX >= 0x030E0000
    if (Py_IS_TYPE(h, st->ThreadSafeHandleType)) {
        /* Beware: it may have been cancelled since the loop looked. */
        tshandle_lock(h);
        int rc = h->cancelled ? 0 : handle_run_callback(st, h);
        tshandle_unlock(h);
        return rc;
    }
#endif
    return handle_run_callback(st, h);
}

/* ---- Python-facing methods ---- */

static int
handle_is_timer(ca_state *st, HandleObj *h)
{
    return PyObject_TypeCheck((PyObject *)h, st->TimerHandleType);
}

static PyObject *handle_cancel_unlocked(HandleObj *self, ca_state *st);

static PyObject *
handle_cancel(HandleObj *self, PyObject *unused)
{
    if (self->cancelled) {
        Py_RETURN_NONE;
    }
    ca_state *st = ca_state_from_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030E0000
    if (Py_IS_TYPE(self, st->ThreadSafeHandleType)) {
        tshandle_lock(self);
        PyObject *r = self->cancelled ? Py_NewRef(Py_None)
                                      : handle_cancel_unlocked(self, st);
        tshandle_unlock(self);
        return r;
    }
#endif
    return handle_cancel_unlocked(self, st);
}

static PyObject *
handle_cancel_unlocked(HandleObj *self, ca_state *st)
{
    if (handle_is_timer(st, self)) {
        if (PyObject_TypeCheck(self->loop, st->LoopType)) {
            ca_loop_timer_cancelled((LoopObj *)self->loop, self);
        }
        else {
            PyObject *r = PyObject_CallMethodOneArg(
                self->loop, st->str_timer_handle_cancelled, (PyObject *)self);
            if (r == NULL) {
                return NULL;
            }
            Py_DECREF(r);
        }
    }
    int debug = handle_loop_debug(st, self->loop, 0);
    if (debug < 0) {
        return NULL;
    }
    if (debug) {
        /* Keep the repr: it names the callback, which cancel() drops. */
        PyObject *repr = PyObject_Repr((PyObject *)self);
        if (repr == NULL) {
            return NULL;
        }
        Py_XSETREF(self->repr, repr);
    }
    ca_handle_mark_cancelled(self);
    Py_RETURN_NONE;
}

static PyObject *
handle_cancelled(HandleObj *self, PyObject *unused)
{
#if PY_VERSION_HEX >= 0x030E0000
    if (Py_IS_TYPE(self, self->state->ThreadSafeHandleType)) {
        tshandle_lock(self);
        int cancelled = self->cancelled;
        tshandle_unlock(self);
        return PyBool_FromLong(cancelled);
    }
#endif
    return PyBool_FromLong(self->cancelled);
}

static PyObject *
handle_get_context(HandleObj *self, PyObject *unused)
{
    ca_context_expose(self->context);
    return Py_NewRef(self->context);
}

/* The deadline as asyncio's TimerHandle holds it: the int call_at() or
 * the constructor was given, else a float. */
static PyObject *
handle_when_object(HandleObj *self)
{
    if (self->when_int) {
        return PyLong_FromDouble(self->when);
    }
    return PyFloat_FromDouble(self->when);
}

static PyObject *
handle_when(HandleObj *self, PyObject *unused)
{
    return handle_when_object(self);
}

static PyObject *
handle_run_method(HandleObj *self, PyObject *unused)
{
    ca_state *st = ca_state_from_type(Py_TYPE(self));
    if (st == NULL || ca_handle_run(st, self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Appends `item` (a new reference, or NULL after an error) to `list`. */
static int
handle_append_new(PyObject *list, PyObject *item)
{
    if (item == NULL) {
        return -1;
    }
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

/* The words of the repr, as asyncio's Handle._repr_info gives them:
 * class name, 'cancelled', 'when=...' (timers), the callback, and where
 * the handle was created (debug mode). */
static PyObject *
handle_repr_info(ca_state *st, HandleObj *self)
{
    PyObject *info = PyList_New(0);
    if (info == NULL) {
        return NULL;
    }
    if (handle_append_new(info, PyType_GetName(Py_TYPE(self))) < 0) {
        goto error;
    }
    if (self->cancelled
        && handle_append_new(info, PyUnicode_FromString("cancelled")) < 0) {
        goto error;
    }
    if (handle_is_timer(st, self)) {
        PyObject *when = handle_when_object(self);
        if (when == NULL) {
            goto error;
        }
        PyObject *word = PyUnicode_FromFormat("when=%R", when);
        Py_DECREF(when);
        if (handle_append_new(info, word) < 0) {
            goto error;
        }
    }
    if (self->callback != NULL
        && (handle_pack_args(self) < 0
            || handle_append_new(info, PyObject_CallFunctionObjArgs(
                   st->format_callback_source, self->callback, self->args,
                   NULL)) < 0)) {
        goto error;
    }
    if (self->source_traceback != NULL && PyList_Check(self->source_traceback)
        && PyList_GET_SIZE(self->source_traceback) > 0) {
        PyObject *frame = PyList_GET_ITEM(
            self->source_traceback, PyList_GET_SIZE(self->source_traceback) - 1);
        PyObject *file = PySequence_GetItem(frame, 0);
        PyObject *line = file ? PySequence_GetItem(frame, 1) : NULL;
        PyObject *word = line ? PyUnicode_FromFormat("created at %S:%S", file, line)
                              : NULL;
        Py_XDECREF(file);
        Py_XDECREF(line);
        if (handle_append_new(info, word) < 0) {
            goto error;
        }
    }
    return info;
error:
    Py_DECREF(info);
    return NULL;
}

static PyObject *
handle_repr(HandleObj *self)
{
    if (self->repr != NULL) {
        return Py_NewRef(self->repr);
    }
    ca_state *st = ca_state_from_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    PyObject *info = handle_repr_info(st, self);
    if (info == NULL) {
        return NULL;
    }
    PyObject *res = NULL;
    PyObject *sep = PyUnicode_FromString(" ");
    PyObject *joined = sep ? PyUnicode_Join(sep, info) : NULL;
    if (joined != NULL) {
        res = PyUnicode_FromFormat("<%U>", joined);
    }
    Py_XDECREF(sep);
    Py_XDECREF(joined);
    Py_DECREF(info);
    return res;
}

/* TimerHandles compare by deadline, and are equal when deadline, callback,
 * arguments and cancelled state are, as asyncio's do. */
static PyObject *
timerhandle_richcompare(HandleObj *self, PyObject *other, int op)
{
    ca_state *st = ca_state_from_type(Py_TYPE(self));
    if (st == NULL) {
        return NULL;
    }
    if (!PyObject_TypeCheck(other, st->TimerHandleType)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    HandleObj *o = (HandleObj *)other;
    int eq = self->when == o->when && self->cancelled == o->cancelled;
    if (eq && (PyObject *)self != other) {
        if (handle_pack_args(self) < 0 || handle_pack_args(o) < 0) {
            return NULL;
        }
        PyObject *a = PyTuple_Pack(2, self->callback ? self->callback : Py_None,
                                   self->args ? self->args : Py_None);
        PyObject *b = a ? PyTuple_Pack(2, o->callback ? o->callback : Py_None,
                                       o->args ? o->args : Py_None)
                        : NULL;
        eq = b ? PyObject_RichCompareBool(a, b, Py_EQ) : -1;
        Py_XDECREF(a);
        Py_XDECREF(b);
        if (eq < 0) {
            return NULL;
        }
    }
    switch (op) {
    case Py_EQ: return PyBool_FromLong(eq);
    case Py_NE: return PyBool_FromLong(!eq);
    case Py_LT: return PyBool_FromLong(self->when < o->when);
    case Py_GT: return PyBool_FromLong(self->when > o->when);
    case Py_LE: return PyBool_FromLong(self->when < o->when || eq);
    case Py_GE: return PyBool_FromLong(self->when > o->when || eq);
    }
    Py_RETURN_NOTIMPLEMENTED;
}

static Py_hash_t
timerhandle_hash(HandleObj *self)
{
    PyObject *when = handle_when_object(self);
    if (when == NULL) {
        return -1;
    }
    Py_hash_t h = PyObject_Hash(when);
    Py_DECREF(when);
    return h;
}

/* Handle(callback, args, loop, context=None) */
static PyObject *
handle_new_common(PyTypeObject *tp, PyObject *when, PyObject *cb,
                  PyObject *args, PyObject *loop, PyObject *context)
{
    ca_state *st = ca_state_from_type(tp);
    if (st == NULL) {
        return NULL;
    }
    PyObject *tup = PySequence_Tuple(args);
    if (tup == NULL) {
        return NULL;
    }
    double w = 0.0;
    if (when != NULL && (w = PyFloat_AsDouble(when)) == -1.0 && PyErr_Occurred()) {
        Py_DECREF(tup);
        return NULL;
    }
    HandleObj *h = ca_handle_new(st, tp, loop, cb, &PyTuple_GET_ITEM(tup, 0),
                                 PyTuple_GET_SIZE(tup), context, 0);
    Py_DECREF(tup);
    if (h != NULL) {
        h->when = w;
        h->when_int = when != NULL && PyLong_CheckExact(when);
    }
    return (PyObject *)h;
}

static PyObject *
handle_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"callback", "args", "loop", "context", NULL};
    PyObject *cb, *cbargs, *loop, *context = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|O:Handle", kwlist, &cb,
                                     &cbargs, &loop, &context)) {
        return NULL;
    }
    return handle_new_common(tp, NULL, cb, cbargs, loop, context);
}

/* TimerHandle(when, callback, args, loop, context=None) */
static PyObject *
timerhandle_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"when", "callback", "args", "loop", "context", NULL};
    PyObject *when, *cb, *cbargs, *loop, *context = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOO|O:TimerHandle", kwlist,
                                     &when, &cb, &cbargs, &loop, &context)) {
        return NULL;
    }
    if (when == Py_None) {
        PyErr_SetString(PyExc_TypeError, "when cannot be None");
        return NULL;
    }
    return handle_new_common(tp, when, cb, cbargs, loop, context);
}

/* ---- getters ---- */

static PyObject *
handle_get_or_none(PyObject *v)
{
    return Py_NewRef(v != NULL ? v : Py_None);
}

static PyObject *
handle_get_callback(HandleObj *self, void *c)
{
    return handle_get_or_none(self->callback);
}

static PyObject *
handle_get_args(HandleObj *self, void *c)
{
    if (handle_pack_args(self) < 0) {
        return NULL;
    }
    return handle_get_or_none(self->args);
}

static PyObject *
handle_get_loop(HandleObj *self, void *c)
{
    return Py_NewRef(self->loop);
}

static PyObject *
handle_get_context_attr(HandleObj *self, void *c)
{
    ca_context_expose(self->context);
    return Py_NewRef(self->context);
}

static PyObject *
handle_get_cancelled_attr(HandleObj *self, void *c)
{
    return PyBool_FromLong(self->cancelled);
}

static PyObject *
handle_get_source_traceback(HandleObj *self, void *c)
{
    return handle_get_or_none(self->source_traceback);
}

static PyObject *
handle_get_repr_attr(HandleObj *self, void *c)
{
    return handle_get_or_none(self->repr);
}

static PyObject *
handle_get_when_attr(HandleObj *self, void *c)
{
    return handle_when_object(self);
}

static PyObject *
handle_get_scheduled(HandleObj *self, void *c)
{
    return PyBool_FromLong(self->scheduled);
}

/* ---- slots ---- */

static int
handle_traverse(HandleObj *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->callback);
    Py_VISIT(self->args);
    for (int i = 0; i < self->nargv; i++) {
        Py_VISIT(self->argv[i]);
    }
    CA_VISIT_CONTEXT(self->context);
    Py_VISIT(self->loop);
    Py_VISIT(self->source_traceback);
    Py_VISIT(self->repr);
    return 0;
}

static Py_ALWAYS_INLINE inline int
handle_clear(HandleObj *self)
{
    Py_CLEAR(self->callback);
    handle_clear_args(self);
    PyObject *ctx = self->context;
    self->context = NULL;
    if (self->ctx_maybe_untracked) {
        self->ctx_maybe_untracked = 0;
        ca_context_release(ctx);
    }
    else {
        Py_XDECREF(ctx);
    }
    Py_CLEAR(self->loop);
    Py_CLEAR(self->source_traceback);
    Py_CLEAR(self->repr);
    return 0;
}

static void
handle_dealloc(HandleObj *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    (void)handle_clear(self);
#ifdef CA_DEBUG
    /* Beware: a deallocator may run with an exception set; keep it. */
    PyObject *exc = ca_err_fetch();
    ca_state *st = ca_state_from_type(tp);
    if (st != NULL) {
        CA_LIVE_ADD(st, tp == st->TimerHandleType ? CA_LIVE_TIMER : CA_LIVE_HANDLE, -1);
    }
    else {
        PyErr_Clear();
    }
    ca_err_restore(exc);
#endif
#if CA_FREELISTS
    /* The types have no finalizer, so the memory can be reused as is; once
     * the module is cleared the types are NULL and nothing is kept. */
    ca_state *fst = self->state;
    if ((tp == fst->HandleType || tp == fst->TimerHandleType)
        && fst->handle_nfree < CA_HANDLE_FREELIST_MAX) {
        fst->handle_free[fst->handle_nfree++] = (PyObject *)self;
        Py_DECREF(tp);
        return;
    }
#endif
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* ---- tables ---- */

static PyMethodDef handle_methods[] = {
    {"cancel", (PyCFunction)handle_cancel, METH_NOARGS,
     "cancel($self, /)\n--\n\nCancel the call; a no-op if already cancelled."},
    {"cancelled", (PyCFunction)handle_cancelled, METH_NOARGS,
     "cancelled($self, /)\n--\n\nReturn True if the call was cancelled."},
    {"get_context", (PyCFunction)handle_get_context, METH_NOARGS,
     "get_context($self, /)\n--\n\nReturn the Context the callback runs in."},
    {"_run", (PyCFunction)handle_run_method, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef timerhandle_methods[] = {
    {"when", (PyCFunction)handle_when, METH_NOARGS,
     "when($self, /)\n--\n\nReturn the scheduled time, on the loop's clock."},
    {NULL, NULL, 0, NULL},
};

/* __class__: asyncio.Handle / asyncio.TimerHandle (see ca_get_class). */
static PyObject *
handle_get_class(HandleObj *h, void *c)
{
    return ca_get_class((PyObject *)h, h->state);
}

static int
handle_set_class(HandleObj *h, PyObject *value, void *c)
{
    return ca_set_class((PyObject *)h, value);
}

static PyGetSetDef handle_getset[] = {
    {"_callback", (getter)handle_get_callback, NULL, NULL, NULL},
    {"_args", (getter)handle_get_args, NULL, NULL, NULL},
    {"_loop", (getter)handle_get_loop, NULL, NULL, NULL},
    {"_context", (getter)handle_get_context_attr, NULL, NULL, NULL},
    {"_cancelled", (getter)handle_get_cancelled_attr, NULL, NULL, NULL},
    {"_source_traceback", (getter)handle_get_source_traceback, NULL, NULL, NULL},
    {"_repr", (getter)handle_get_repr_attr, NULL, NULL, NULL},
    {"__class__", (getter)handle_get_class, (setter)handle_set_class, NULL,
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyGetSetDef timerhandle_getset[] = {
    {"_when", (getter)handle_get_when_attr, NULL, NULL, NULL},
    {"_scheduled", (getter)handle_get_scheduled, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef handle_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(HandleObj, weakreflist),
     READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot handle_slots[] = {
    {Py_tp_doc, "Handle(callback, args, loop, context=None)\n--\n\n"
                "A callback scheduled on a loop, returned by call_soon()."},
    {Py_tp_new, handle_tp_new},
    {Py_tp_repr, handle_repr},
    {Py_tp_traverse, handle_traverse},
    {Py_tp_clear, handle_clear},
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_methods, handle_methods},
    {Py_tp_getset, handle_getset},
    {Py_tp_members, handle_members},
    {0, NULL},
};

PyType_Spec ca_handle_spec = {
    .name = "casyncio.Handle",
    .basicsize = sizeof(HandleObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = handle_slots,
};

static PyType_Slot timerhandle_slots[] = {
    {Py_tp_doc, "TimerHandle(when, callback, args, loop, context=None)\n--\n\n"
                "A callback scheduled at a time, returned by call_later()."},
    {Py_tp_new, timerhandle_tp_new},
    {Py_tp_traverse, handle_traverse},
    {Py_tp_clear, handle_clear},
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_richcompare, timerhandle_richcompare},
    {Py_tp_hash, timerhandle_hash},
    {Py_tp_methods, timerhandle_methods},
    {Py_tp_getset, timerhandle_getset},
    {0, NULL},
};

PyType_Spec ca_timerhandle_spec = {
    .name = "casyncio.TimerHandle",
    .basicsize = sizeof(HandleObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = timerhandle_slots,
};

#if PY_VERSION_HEX >= 0x030E0000
HandleObj *
ca_threadsafe_handle_new(ca_state *st, PyObject *loop, PyObject *callback,
                         PyObject *const *args, Py_ssize_t nargs, PyObject *context)
{
    HandleObj *h = ca_handle_new(st, st->ThreadSafeHandleType, loop, callback, args,
                                 nargs, context, 1);
    if (h != NULL) {
        ThreadSafeHandleObj *t = (ThreadSafeHandleObj *)h;
        memset(&t->mutex, 0, sizeof(t->mutex));
        t->depth = 0;
        t->owner = 0;
    }
    return h;
}

static PyType_Slot threadsafehandle_slots[] = {
    {Py_tp_doc, "A callback scheduled by call_soon_threadsafe(); cancel() from\n"
                "another thread waits for the callback if it is running."},
    {Py_tp_traverse, handle_traverse},
    {Py_tp_clear, handle_clear},
    {Py_tp_dealloc, handle_dealloc},
    {0, NULL},
};

PyType_Spec ca_threadsafehandle_spec = {
    .name = "casyncio._core.ThreadSafeHandle",
    .basicsize = sizeof(ThreadSafeHandleObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = threadsafehandle_slots,
};
#endif
