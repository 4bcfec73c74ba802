/* asyncio.Lock, Event, Semaphore and BoundedSemaphore in C (accelerate()).
 *
 * asyncio.locks of the running Python (3.11.7+, 3.12.1+: the same code to
 * 3.15) is the specification, step for step: the fair hand-over (a waiter
 * that is already woken keeps its turn; a cancelled one passes it on),
 * what a cancellation at each await does to the state, the order waiters
 * wake in, the messages, the reprs (`<... object at 0x... [locked,
 * waiters:2]>`) and the loop binding of asyncio's _LoopBoundMixin (bound at
 * the first wait; RuntimeError from another loop).  The waiters are
 * futures of the running loop in a collections.deque, `_waiters`, as in
 * asyncio: its tests and some libraries look at it.  Works on any loop.
 *
 * One object layout serves the four types; `value` is the Lock's locked
 * flag, the Event's flag, or the Semaphore's counter.
 *
 * Owns: the deque of waiters and the loop it is bound to.
 * Does not own: the waiters' futures' outcomes (each waiting acquire()
 * removes its own future, as asyncio's does). */
#include "errors.h"
#include "future.h"
#include "prims.h"

typedef struct {
    PyObject_HEAD
    ca_state *state;
    PyObject *loop;           /* _loop: the loop bound to, NULL for None */
    PyObject *waiters;        /* _waiters: a deque (or what was assigned), NULL for None */
    Py_ssize_t value;
    Py_ssize_t bound;         /* BoundedSemaphore's _bound_value */
    PyObject *lock;           /* Condition's _lock, or NULL */
    PyObject *dict;
    PyObject *weakreflist;
} PrimObj;

#define PRIM(o) ((PrimObj *)(o))

/* ---- futures of any kind ---- */

int
ca_fut_test(ca_state *st, PyObject *fut, int what)
{
    if (ca_future_is_own(st, fut)) {
        int fs = ((FutureObj *)fut)->fstate;
        return what ? fs == CA_FUT_CANCELLED : fs != CA_FUT_PENDING;
    }
    PyObject *res = PyObject_CallMethodNoArgs(fut, what ? st->str_cancelled : st->str_done);
    int r = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    return r;
}

int
ca_fut_set(ca_state *st, PyObject *fut, PyObject *value)
{
    if (ca_future_is_own(st, fut)) {
        return ca_future_set_result((FutureObj *)fut, value);
    }
    PyObject *res = PyObject_CallMethodOneArg(fut, st->str_set_result, value);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

int
ca_fut_cancel(ca_state *st, PyObject *fut)
{
    if (ca_future_is_own(st, fut) && !Py_IS_TYPE(fut, st->GatheringFutureType)) {
        return ca_future_cancel((FutureObj *)fut, NULL) < 0 ? -1 : 0;
    }
    PyObject *res = PyObject_CallMethodNoArgs(fut, st->str_cancel);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

static int
fut_set_true(ca_state *st, PyObject *fut)
{
    return ca_fut_set(st, fut, Py_True);
}

/* ---- the waiters ---- */

static PyObject *
waiters_or_none(PrimObj *p)
{
    return Py_NewRef(p->waiters ? p->waiters : Py_None);
}

/* `if self._waiters:` */
static int
waiters_truth(PrimObj *p)
{
    return p->waiters ? PyObject_IsTrue(p->waiters) : 0;
}

/* self._waiters.append(fut) / .remove(fut) */
static int
waiters_call(PrimObj *p, PyObject *method, PyObject *fut)
{
    PyObject *w = waiters_or_none(p);
    PyObject *res = PyObject_CallMethodOneArg(w, method, fut);
    Py_DECREF(w);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* The first waiter for which test(fut) (done: 0, cancelled: 1) is
 * `want`, or NULL (*found 0); -1 on error.  An iteration over the deque,
 * as asyncio's `for fut in self._waiters`. */
static int
waiters_find(PrimObj *p, int test, int want, PyObject **found)
{
    *found = NULL;
    if (p->waiters == NULL) {
        return 0;
    }
    PyObject *it = PyObject_GetIter(p->waiters);
    if (it == NULL) {
        return -1;
    }
    PyObject *fut;
    while ((fut = PyIter_Next(it)) != NULL) {
        int r = ca_fut_test(p->state, fut, test);
        if (r < 0) {
            Py_DECREF(fut);
            Py_DECREF(it);
            return -1;
        }
        if (r == want) {
            *found = fut;
            break;
        }
        Py_DECREF(fut);
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static int
waiters_ensure(PrimObj *p)
{
    if (p->waiters == NULL) {
        p->waiters = PyObject_CallNoArgs(p->state->deque_type);
        if (p->waiters == NULL) {
            return -1;
        }
    }
    return 0;
}

PyObject *
ca_bound_loop(PyObject *owner, PyObject **slot, ca_state *st)
{
    PyObject *loop = PyObject_CallNoArgs(st->get_running_loop);
    if (loop == NULL) {
        return NULL;
    }
    if (*slot == NULL && loop != Py_None) {
        *slot = Py_NewRef(loop);
    }
    if (loop != (*slot ? *slot : Py_None)) {
        Py_DECREF(loop);
        PyErr_Format(PyExc_RuntimeError, "%R is bound to a different event loop", owner);
        return NULL;
    }
    return loop;
}

static PyObject *
prim_get_loop(PrimObj *p)
{
    return ca_bound_loop((PyObject *)p, &p->loop, p->state);
}

/* A new future of the bound loop, appended to the waiters as op->fut. */
static PySendResult
prim_wait_new(PrimObj *p, WaitOpObj *op)
{
    PyObject *loop = prim_get_loop(p);
    if (loop == NULL) {
        return PYGEN_ERROR;
    }
    PyObject *fut = PyObject_CallMethodNoArgs(loop, p->state->str_create_future);
    Py_DECREF(loop);
    if (fut == NULL) {
        return PYGEN_ERROR;
    }
    if (waiters_call(p, p->state->str_append, fut) < 0) {
        Py_DECREF(fut);
        return PYGEN_ERROR;
    }
    Py_XSETREF(op->fut, fut);
    return PYGEN_NEXT;
}

/* An exception raised while `exc` (stolen, may be NULL) was on its way
 * out replaces it, with exc as its __context__, as in a `finally`. */
PyObject *
ca_chain_over(PyObject *exc)
{
    PyObject *newer = ca_err_fetch();
    if (exc != NULL && newer != NULL && newer != exc) {
        PyException_SetContext(newer, exc);
    }
    else {
        Py_XDECREF(exc);
    }
    return newer;
}

/* The await of the future: NULL when it has a result, else the
 * exception (exc if one was thrown in; the future's otherwise). */
PyObject *
ca_waitop_outcome(WaitOpObj *op, PyObject *exc)
{
    if (exc != NULL) {
        return exc;
    }
    PyObject *res = ca_waitop_fut_result(op);
    if (res != NULL) {
        Py_DECREF(res);
        return NULL;
    }
    return ca_err_fetch();
}

/* `finally: self._waiters.remove(fut)` */
static PyObject *
wait_remove(PrimObj *p, WaitOpObj *op, PyObject *exc)
{
    if (waiters_call(p, p->state->str_remove, op->fut) < 0) {
        exc = ca_chain_over(exc);
    }
    return exc;
}

static PySendResult
wait_finish(PyObject *exc, PyObject *value, PyObject **result)
{
    if (exc != NULL) {
        ca_err_restore(exc);
        return PYGEN_ERROR;
    }
    *result = Py_NewRef(value);
    return PYGEN_RETURN;
}

static int
is_cancelled_error(ca_state *st, PyObject *exc)
{
    return exc != NULL && PyErr_GivenExceptionMatches(exc, st->CancelledError);
}

/* `<{object.__repr__(self)[1:-1]} [{extra}, waiters:{n}]>` */
static PyObject *
prim_repr(PrimObj *p, PyObject *extra)
{
    if (extra == NULL) {
        return NULL;
    }
    PyObject *base = PyBaseObject_Type.tp_repr((PyObject *)p);
    PyObject *res = NULL;
    int has = base ? waiters_truth(p) : -1;
    if (has > 0) {
        Py_ssize_t n = PyObject_Size(p->waiters);
        if (n >= 0) {
            Py_SETREF(extra, PyUnicode_FromFormat("%U, waiters:%zd", extra, n));
        }
        else {
            has = -1;
        }
    }
    if (has >= 0 && extra != NULL) {
        PyObject *inner = PyUnicode_Substring(base, 1, PyUnicode_GET_LENGTH(base) - 1);
        if (inner != NULL) {
            res = PyUnicode_FromFormat("<%U [%U]>", inner, extra);
            Py_DECREF(inner);
        }
    }
    Py_XDECREF(base);
    Py_XDECREF(extra);
    return res;
}

/* ---- Lock ---- */

/* Lock._wake_up_first() */
static int
lock_wake_up_first(PrimObj *p)
{
    int has = waiters_truth(p);
    if (has <= 0) {
        return has;
    }
    PyObject *it = PyObject_GetIter(p->waiters);
    if (it == NULL) {
        return -1;
    }
    PyObject *fut = PyIter_Next(it);
    Py_DECREF(it);
    if (fut == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int done = ca_fut_test(p->state, fut, 0);
    int r = done < 0 ? -1 : done ? 0 : fut_set_true(p->state, fut);
    Py_DECREF(fut);
    return r;
}

static PySendResult
lock_acquire_start(WaitOpObj *op, PyObject **result)
{
    PrimObj *p = PRIM(op->self);
    if (!p->value) {
        /* Fair: take it only if no live waiter is queued. */
        PyObject *live;
        if (waiters_find(p, 1, 0, &live) < 0) {
            return PYGEN_ERROR;
        }
        if (live == NULL) {
            p->value = 1;
            *result = Py_NewRef(Py_True);
            return PYGEN_RETURN;
        }
        Py_DECREF(live);
    }
    if (waiters_ensure(p) < 0) {
        return PYGEN_ERROR;
    }
    return prim_wait_new(p, op);
}

static PySendResult
lock_acquire_resume(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    PrimObj *p = PRIM(op->self);
    exc = wait_remove(p, op, ca_waitop_outcome(op, exc));
    if (is_cancelled_error(p->state, exc) && !p->value && lock_wake_up_first(p) < 0) {
        exc = ca_chain_over(exc);
    }
    if (exc == NULL) {
        p->value = 1;
    }
    return wait_finish(exc, Py_True, result);
}

static const ca_waitop_kind lock_acquire_kind = {
    "Lock.acquire", lock_acquire_start, lock_acquire_resume};

static PyObject *
lock_acquire(PrimObj *p, PyObject *unused)
{
    return ca_waitop_new(p->state, &lock_acquire_kind, (PyObject *)p, NULL);
}

static PyObject *
lock_release(PrimObj *p, PyObject *unused)
{
    if (!p->value) {
        PyErr_SetString(PyExc_RuntimeError, "Lock is not acquired.");
        return NULL;
    }
    p->value = 0;
    return lock_wake_up_first(p) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *
lock_wake_up_first_meth(PrimObj *p, PyObject *unused)
{
    return lock_wake_up_first(p) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *
lock_locked(PrimObj *p, PyObject *unused)
{
    return PyBool_FromLong(p->value);
}

static PyObject *
lock_repr(PrimObj *p)
{
    return prim_repr(p, PyUnicode_FromString(p->value ? "locked" : "unlocked"));
}

/* ---- Semaphore and BoundedSemaphore ---- */

/* Semaphore.locked(): no unit left, or a live waiter queued first. */
static int
sem_locked(PrimObj *p)
{
    if (p->value == 0) {
        return 1;
    }
    PyObject *live;
    if (waiters_find(p, 1, 0, &live) < 0) {
        return -1;
    }
    Py_XDECREF(live);
    return live != NULL;
}

/* self.locked(), overridable by a subclass */
static int
sem_locked_call(PrimObj *p)
{
    if (Py_IS_TYPE(p, p->state->SemaphoreType)
        || Py_IS_TYPE(p, p->state->BoundedSemaphoreType)) {
        return sem_locked(p);
    }
    PyObject *res = PyObject_CallMethodNoArgs((PyObject *)p, p->state->str_locked);
    int r = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    return r;
}

/* Semaphore._wake_up_next(): 1 if a waiter was woken. */
static int
sem_wake_up_next(PrimObj *p)
{
    int has = waiters_truth(p);
    if (has <= 0) {
        return has;
    }
    PyObject *fut;
    if (waiters_find(p, 0, 0, &fut) < 0) {
        return -1;
    }
    if (fut == NULL) {
        return 0;
    }
    p->value--;
    int r = fut_set_true(p->state, fut);
    Py_DECREF(fut);
    return r < 0 ? -1 : 1;
}

static PySendResult
sem_acquire_start(WaitOpObj *op, PyObject **result)
{
    PrimObj *p = PRIM(op->self);
    int locked = sem_locked_call(p);
    if (locked < 0) {
        return PYGEN_ERROR;
    }
    if (!locked) {
        p->value--;
        *result = Py_NewRef(Py_True);
        return PYGEN_RETURN;
    }
    if (waiters_ensure(p) < 0) {
        return PYGEN_ERROR;
    }
    return prim_wait_new(p, op);
}

static PySendResult
sem_acquire_resume(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    PrimObj *p = PRIM(op->self);
    ca_state *st = p->state;
    exc = wait_remove(p, op, ca_waitop_outcome(op, exc));
    if (is_cancelled_error(st, exc)) {
        /* woken (our future holds True) but not acquiring: give it back */
        int done = ca_fut_test(st, op->fut, 0);
        int cancelled = done > 0 ? ca_fut_test(st, op->fut, 1) : 0;
        if (done < 0 || cancelled < 0) {
            exc = ca_chain_over(exc);
        }
        else if (done && !cancelled) {
            p->value++;
        }
    }
    /* finally: wake as many as the units allow (FIFO made them wait) */
    while (p->value > 0) {
        int r = sem_wake_up_next(p);
        if (r < 0) {
            exc = ca_chain_over(exc);
            break;
        }
        if (r == 0) {
            break;
        }
    }
    return wait_finish(exc, Py_True, result);
}

static const ca_waitop_kind sem_acquire_kind = {
    "Semaphore.acquire", sem_acquire_start, sem_acquire_resume};

static PyObject *
sem_acquire(PrimObj *p, PyObject *unused)
{
    return ca_waitop_new(p->state, &sem_acquire_kind, (PyObject *)p, NULL);
}

static PyObject *
sem_release(PrimObj *p, PyObject *unused)
{
    p->value++;
    return sem_wake_up_next(p) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *
bsem_release(PrimObj *p, PyObject *unused)
{
    if (p->value >= p->bound) {
        PyErr_SetString(PyExc_ValueError, "BoundedSemaphore released too many times");
        return NULL;
    }
    return sem_release(p, NULL);
}

static PyObject *
sem_locked_meth(PrimObj *p, PyObject *unused)
{
    int r = sem_locked(p);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *
sem_repr(PrimObj *p)
{
    int locked = sem_locked_call(p);
    if (locked < 0) {
        return NULL;
    }
    return prim_repr(p, locked ? PyUnicode_FromString("locked")
                               : PyUnicode_FromFormat("unlocked, value:%zd", p->value));
}

/* ---- Event ---- */

static PyObject *
event_set(PrimObj *p, PyObject *unused)
{
    if (p->value) {
        Py_RETURN_NONE;
    }
    p->value = 1;
    if (p->waiters == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *it = PyObject_GetIter(p->waiters);
    if (it == NULL) {
        return NULL;
    }
    PyObject *fut;
    while ((fut = PyIter_Next(it)) != NULL) {
        int done = ca_fut_test(p->state, fut, 0);
        int r = done < 0 ? -1 : done ? 0 : fut_set_true(p->state, fut);
        Py_DECREF(fut);
        if (r < 0) {
            break;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
}

static PyObject *
event_clear(PrimObj *p, PyObject *unused)
{
    p->value = 0;
    Py_RETURN_NONE;
}

int
ca_event_set(PyObject *event)
{
    PyObject *res = event_set(PRIM(event), NULL);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

int
ca_event_clear(PyObject *event)
{
    PRIM(event)->value = 0;
    return 0;
}

static PyObject *
event_is_set(PrimObj *p, PyObject *unused)
{
    return PyBool_FromLong(p->value);
}

static PySendResult
event_wait_start(WaitOpObj *op, PyObject **result)
{
    PrimObj *p = PRIM(op->self);
    if (p->value) {
        *result = Py_NewRef(Py_True);
        return PYGEN_RETURN;
    }
    return prim_wait_new(p, op);
}

static PySendResult
event_wait_resume(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    PrimObj *p = PRIM(op->self);
    exc = wait_remove(p, op, ca_waitop_outcome(op, exc));
    return wait_finish(exc, Py_True, result);
}

static const ca_waitop_kind event_wait_kind = {
    "Event.wait", event_wait_start, event_wait_resume};

static PyObject *
event_wait(PrimObj *p, PyObject *unused)
{
    return ca_waitop_new(p->state, &event_wait_kind, (PyObject *)p, NULL);
}

static PyObject *
event_repr(PrimObj *p)
{
    return prim_repr(p, PyUnicode_FromString(p->value ? "set" : "unset"));
}

/* ---- Condition ---- */

static PyObject *cm_aexit(PrimObj *p, PyObject *const *args, Py_ssize_t nargs);
static int init_optional(const char *name, const char *argname, PyObject *args,
                         PyObject *kwargs, PyObject **v);

/* asyncio's Condition keeps its lock's locked, acquire and release as
 * instance attributes (`self.acquire = lock.acquire`); they are called the
 * same way here: self.<name>(). */
static PyObject *
cond_call(PrimObj *p, PyObject *name)
{
    return PyObject_CallMethodNoArgs((PyObject *)p, name);
}

/* `if not self.locked(): raise RuntimeError(...)`: 0 or -1. */
static int
cond_check_locked(PrimObj *p, const char *msg)
{
    PyObject *res = cond_call(p, p->state->str_locked);
    int r = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    if (r == 0) {
        PyErr_SetString(PyExc_RuntimeError, msg);
    }
    return r > 0 ? 0 : -1;
}

/* asyncio's Condition._notify(n): the first n waiters not done get False. */
static int
cond_notify_n(PrimObj *p, PyObject *n)
{
    if (p->waiters == NULL) {
        return 0;
    }
    PyObject *it = PyObject_GetIter(p->waiters);
    if (it == NULL) {
        return -1;
    }
    Py_ssize_t idx = 0;
    PyObject *fut;
    int rc = 0;
    while ((fut = PyIter_Next(it)) != NULL) {
        PyObject *i = PyLong_FromSsize_t(idx);
        int enough = i ? PyObject_RichCompareBool(i, n, Py_GE) : -1;
        Py_XDECREF(i);
        int done = enough == 0 ? ca_fut_test(p->state, fut, 0) : 0;
        if (enough == 0 && done == 0) {
            idx++;
            if (ca_fut_set(p->state, fut, Py_False) < 0) {
                done = -1;
            }
        }
        Py_DECREF(fut);
        if (enough != 0 || done < 0) {
            rc = enough < 0 || done < 0 ? -1 : 0;
            break;
        }
    }
    Py_DECREF(it);
    return rc < 0 || PyErr_Occurred() ? -1 : 0;
}

/* self._notify(n) as asyncio's wait() and notify() call it: a subclass's
 * own _notify, or ours. */
static int
cond_notify_call(PrimObj *p, PyObject *n)
{
    if (Py_IS_TYPE(p, p->state->ConditionType)) {
        return cond_notify_n(p, n);
    }
    PyObject *res = PyObject_CallMethod((PyObject *)p, "_notify", "O", n);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* Condition.wait() (3.11.7, 3.12.1: asyncio's older wait, without
 * _notify; else the one with it).  Steps: 1 waiting for the future,
 * 2 re-acquiring the lock.  keep[0]: the outcome of the wait (NULL for
 * True, else its exception); keep[1]: the last CancelledError of the
 * re-acquiring. */
enum { CW_WAITING = 1, CW_REACQUIRING };

/* The re-acquiring: `await self.acquire()` next. */
static PySendResult
cond_reacquire(WaitOpObj *op)
{
    PrimObj *p = PRIM(op->self);
    op->step = CW_REACQUIRING;
    Py_CLEAR(op->fut);
    return ca_waitop_delegate_new(op, cond_call(p, p->state->str_acquire));
}

/* The end of wait() with `exc` (stolen; NULL: return True): with asyncio's
 * newer wait, a failing one notifies another waiter in its place. */
static PySendResult
cond_wait_end(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    PrimObj *p = PRIM(op->self);
    if (exc != NULL && p->state->cond_notify) {
        PyObject *one = PyLong_FromLong(1);
        if (one == NULL || cond_notify_call(p, one) < 0) {
            exc = ca_chain_over(exc);
        }
        Py_XDECREF(one);
    }
    return wait_finish(exc, Py_True, result);
}

/* An error raised in the `finally` that re-acquires: it replaces the
 * outcome of the wait, which becomes its __context__. */
static PySendResult
cond_finally_failed(WaitOpObj *op, PyObject **result)
{
    PyObject *outcome = op->keep[0];
    op->keep[0] = NULL;
    return cond_wait_end(op, ca_chain_over(outcome), result);
}

static PySendResult
cond_wait_start(WaitOpObj *op, PyObject **result)
{
    PrimObj *p = PRIM(op->self);
    ca_state *st = p->state;
    int newer = st->cond_notify;
    if (cond_check_locked(p, "cannot wait on un-acquired lock") < 0) {
        return PYGEN_ERROR;
    }
    PyObject *fut = NULL;
    if (newer) {
        PyObject *loop = prim_get_loop(p);
        fut = loop ? PyObject_CallMethodNoArgs(loop, st->str_create_future) : NULL;
        Py_XDECREF(loop);
        if (fut == NULL) {
            return PYGEN_ERROR;
        }
    }
    PyObject *res = cond_call(p, st->str_release);
    if (res == NULL) {
        Py_XDECREF(fut);
        return PYGEN_ERROR;
    }
    Py_DECREF(res);
    /* try: (the re-acquiring `finally` from here on) */
    if (fut == NULL) {
        PyObject *loop = prim_get_loop(p);
        fut = loop ? PyObject_CallMethodNoArgs(loop, st->str_create_future) : NULL;
        Py_XDECREF(loop);
    }
    if (fut == NULL || waiters_call(p, st->str_append, fut) < 0) {
        Py_XDECREF(fut);
        op->keep[0] = ca_err_fetch();
        return cond_reacquire(op);
    }
    op->step = CW_WAITING;
    Py_XSETREF(op->fut, fut);
    return PYGEN_NEXT;
}

static PySendResult
cond_wait_resume(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    PrimObj *p = PRIM(op->self);
    ca_state *st = p->state;
    if (op->step == CW_WAITING) {
        /* `await fut; return True` and `finally: self._waiters.remove(fut)` */
        exc = wait_remove(p, op, ca_waitop_outcome(op, exc));
        op->keep[0] = exc;
        if (cond_reacquire(op) == PYGEN_ERROR) {
            return cond_finally_failed(op, result);
        }
        return PYGEN_NEXT;
    }
    /* CW_REACQUIRING: `await self.acquire()` is over */
    if (exc != NULL) {
        if (!is_cancelled_error(st, exc)) {
            ca_err_restore(exc);
            return cond_finally_failed(op, result);
        }
        Py_XSETREF(op->keep[1], exc);  /* err = e; and again */
        if (cond_reacquire(op) == PYGEN_ERROR) {
            return cond_finally_failed(op, result);
        }
        return PYGEN_NEXT;
    }
    Py_CLEAR(op->value);
    PyObject *outcome = op->keep[0], *err = op->keep[1];
    op->keep[0] = op->keep[1] = NULL;
    if (err != NULL) {
        if (!st->cond_notify) {
            /* the older wait raises a new CancelledError */
            Py_SETREF(err, PyObject_CallNoArgs(st->CancelledError));
            if (err == NULL) {
                return cond_wait_end(op, ca_chain_over(outcome), result);
            }
        }
        /* `raise err` in the `finally`: over the outcome of the wait */
        if (outcome != NULL && outcome != err) {
            PyException_SetContext(err, outcome);
        }
        else {
            Py_XDECREF(outcome);
        }
        return cond_wait_end(op, err, result);
    }
    return cond_wait_end(op, outcome, result);
}

static const ca_waitop_kind cond_wait_kind = {"Condition.wait", cond_wait_start,
                                              cond_wait_resume};

static PyObject *
cond_wait(PrimObj *p, PyObject *unused)
{
    return ca_waitop_new(p->state, &cond_wait_kind, (PyObject *)p, NULL);
}

/* wait_for(predicate): `result = predicate(); while not result: await
 * self.wait(); result = predicate(); return result`. */
static PySendResult
cond_wait_for_step(WaitOpObj *op, PyObject **result)
{
    PyObject *res = PyObject_CallNoArgs(op->arg);
    int truth = res ? PyObject_IsTrue(res) : -1;
    if (truth != 0) {
        if (truth < 0) {
            Py_XDECREF(res);
            return PYGEN_ERROR;
        }
        *result = res;
        return PYGEN_RETURN;
    }
    Py_DECREF(res);
    return ca_waitop_delegate_new(op, PyObject_CallMethod(op->self, "wait", NULL));
}

static PySendResult
cond_wait_for_resume(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    if (exc != NULL) {
        ca_err_restore(exc);
        return PYGEN_ERROR;
    }
    Py_CLEAR(op->value);
    return cond_wait_for_step(op, result);
}

static const ca_waitop_kind cond_wait_for_kind = {"Condition.wait_for", cond_wait_for_step,
                                                  cond_wait_for_resume};

static PyObject *
cond_wait_for(PrimObj *p, PyObject *predicate)
{
    return ca_waitop_new(p->state, &cond_wait_for_kind, (PyObject *)p, predicate);
}

static PyObject *
cond_notify(PrimObj *p, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *n;
    if (ca_parse_optional("notify", "n", args, nargs, kwnames, &n) < 0) {
        return NULL;
    }
    PyObject *one = NULL;
    if (n == Py_None && (nargs == 0 && (kwnames == NULL || PyTuple_GET_SIZE(kwnames) == 0))) {
        n = one = PyLong_FromLong(1);
        if (one == NULL) {
            return NULL;
        }
    }
    int rc = cond_check_locked(p, "cannot notify on un-acquired lock");
    if (rc == 0) {
        rc = p->state->cond_notify ? cond_notify_call(p, n) : cond_notify_n(p, n);
    }
    Py_XDECREF(one);
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *
cond_notify_meth(PrimObj *p, PyObject *n)
{
    return cond_notify_n(p, n) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *
cond_notify_all(PrimObj *p, PyObject *unused)
{
    Py_ssize_t len = p->waiters ? PyObject_Size(p->waiters) : 0;
    if (len < 0) {
        return NULL;
    }
    return PyObject_CallMethod((PyObject *)p, "notify", "n", len);
}

/* __aenter__: `await self.acquire()`, None. */
static PySendResult
cond_enter_start(WaitOpObj *op, PyObject **result)
{
    PrimObj *p = PRIM(op->self);
    return ca_waitop_delegate_new(op, cond_call(p, p->state->str_acquire));
}

static PySendResult
cond_enter_resume(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    Py_CLEAR(op->value);
    return wait_finish(exc, Py_None, result);
}

static const ca_waitop_kind cond_enter_kind = {"_ContextManagerMixin.__aenter__",
                                               cond_enter_start, cond_enter_resume};

static PyObject *
cond_aenter(PrimObj *p, PyObject *unused)
{
    return ca_waitop_new(p->state, &cond_enter_kind, (PyObject *)p, NULL);
}

static PyObject *
cond_repr(PrimObj *p)
{
    PyObject *res = cond_call(p, p->state->str_locked);
    int locked = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    if (locked < 0) {
        return NULL;
    }
    return prim_repr(p, PyUnicode_FromString(locked ? "locked" : "unlocked"));
}

/* __init__(self, lock=None) */
static int
cond_init(PrimObj *p, PyObject *args, PyObject *kwargs)
{
    PyObject *lock;
    if (init_optional("Condition", "lock", args, kwargs, &lock) < 0) {
        return -1;
    }
    if (lock == NULL) {
        lock = Py_None;
    }
    ca_state *st = p->state;
    if (lock == Py_None) {
        /* `Lock()`: asyncio.locks' Lock, whichever is bound now */
        PyObject *locks = PyImport_ImportModule("asyncio.locks");
        PyObject *cls = locks ? PyObject_GetAttrString(locks, "Lock") : NULL;
        Py_XDECREF(locks);
        lock = cls ? PyObject_CallNoArgs(cls) : NULL;
        Py_XDECREF(cls);
    }
    else {
        Py_INCREF(lock);
    }
    if (lock == NULL) {
        return -1;
    }
    Py_XSETREF(p->lock, lock);
    PyObject *names[3] = {st->str_locked, st->str_acquire, st->str_release};
    for (int i = 0; i < 3; i++) {
        PyObject *meth = PyObject_GetAttr(lock, names[i]);
        int rc = meth ? PyObject_GenericSetAttr((PyObject *)p, names[i], meth) : -1;
        Py_XDECREF(meth);
        if (rc < 0) {
            return -1;
        }
    }
    PyObject *dq = PyObject_CallNoArgs(st->deque_type);
    if (dq == NULL) {
        return -1;
    }
    Py_XSETREF(p->waiters, dq);
    return 0;
}

static PyObject *
cond_get_lock(PrimObj *p, void *c)
{
    if (p->lock == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_lock");
        return NULL;
    }
    return Py_NewRef(p->lock);
}

static int
cond_set_lock(PrimObj *p, PyObject *v, void *c)
{
    if (v == NULL) {
        return ca_attr_deleted(Py_TYPE(p)->tp_name, "_lock");
    }
    Py_XSETREF(p->lock, Py_NewRef(v));
    return 0;
}

/* ---- async with (Lock, Semaphore) ---- */

static const ca_waitop_kind *
cm_acquire_kind(PrimObj *p)
{
    return PyObject_TypeCheck(p, p->state->LockType) ? &lock_acquire_kind
                                                      : &sem_acquire_kind;
}

/* __aenter__: `await self.acquire(); return None`.  Our own acquire()
 * runs in C; a subclass's acquire() is awaited through it, its value
 * replaced by None. */
static PySendResult
cm_enter_start(WaitOpObj *op, PyObject **result)
{
    PrimObj *p = PRIM(op->self);
    const ca_waitop_kind *acquire = cm_acquire_kind(p);
    PySendResult r = acquire->start(op, result);
    if (r == PYGEN_RETURN) {
        Py_SETREF(*result, Py_NewRef(Py_None));
    }
    return r;
}

static PySendResult
cm_enter_resume(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    PrimObj *p = PRIM(op->self);
    const ca_waitop_kind *acquire = cm_acquire_kind(p);
    PySendResult r = acquire->resume(op, exc, result);
    if (r == PYGEN_RETURN) {
        Py_SETREF(*result, Py_NewRef(Py_None));
    }
    return r;
}

static const ca_waitop_kind cm_enter_kind = {
    "_ContextManagerMixin.__aenter__", cm_enter_start, cm_enter_resume};

static PyObject *
cm_aenter(PrimObj *p, PyObject *unused)
{
    ca_state *st = p->state;
    int own = Py_IS_TYPE(p, st->LockType) || Py_IS_TYPE(p, st->SemaphoreType)
              || Py_IS_TYPE(p, st->BoundedSemaphoreType);
    if (!own) {
        /* A subclass: ours unless it overrides acquire(). */
        PyTypeObject *base = PyObject_TypeCheck(p, st->LockType) ? st->LockType
                                                                 : st->SemaphoreType;
        PyObject *mine = PyObject_GetAttr((PyObject *)Py_TYPE(p), st->str_acquire);
        PyObject *ours = mine ? PyObject_GetAttr((PyObject *)base, st->str_acquire) : NULL;
        own = ours != NULL && mine == ours;
        Py_XDECREF(mine);
        Py_XDECREF(ours);
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    if (own) {
        return ca_waitop_new(st, &cm_enter_kind, (PyObject *)p, NULL);
    }
    /* Its own acquire(), awaited by `async def _cm_aenter(self): await
     * self.acquire()` (casyncio._accel gives it at import). */
    return ca_call_helper(st, CA_HELPER_CM_AENTER, (PyObject *)p);
}

static PyObject *
cm_exit_work(PyObject *self, PyObject *const *unused)
{
    ca_state *st = PRIM(self)->state;
    PyObject *res;
    if (Py_IS_TYPE(self, st->LockType)) {
        res = lock_release(PRIM(self), NULL);
    }
    else if (Py_IS_TYPE(self, st->SemaphoreType)) {
        res = sem_release(PRIM(self), NULL);
    }
    else {  /* BoundedSemaphore's, a subclass's, or Condition's lock's */
        res = PyObject_CallMethodNoArgs(self, st->str_release);
    }
    if (res == NULL) {
        return NULL;
    }
    Py_DECREF(res);
    Py_RETURN_NONE;
}

static PyObject *
cm_aexit(PrimObj *p, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "__aexit__ expected 3 arguments, got %zd", nargs);
        return NULL;
    }
    return ca_oneshot_new(p->state, cm_exit_work, "_ContextManagerMixin.__aexit__",
                          (PyObject *)p, NULL, 0);
}

static const char *const helper_names[CA_HELPERS] = {"cm_aenter", "queue_join", "wait_for"};

PyObject *
ca_call_helper(ca_state *st, int which, PyObject *arg)
{
    if (st->helpers[which] == NULL) {
        PyErr_Format(PyExc_RuntimeError,
                     "casyncio._accel has not given _core its %s helper",
                     helper_names[which]);
        return NULL;
    }
    return PyObject_CallOneArg(st->helpers[which], arg);
}

PyObject *
ca_set_helper(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_set_helper(name: str, fn, /)");
        return NULL;
    }
    ca_state *st = PyModule_GetState(module);
    for (int i = 0; i < CA_HELPERS; i++) {
        if (PyUnicode_CompareWithASCIIString(args[0], helper_names[i]) == 0) {
            Py_XSETREF(st->helpers[i], Py_NewRef(args[1]));
            Py_RETURN_NONE;
        }
    }
    PyErr_Format(PyExc_ValueError, "no helper named %R", args[0]);
    return NULL;
}

/* ---- construction, attributes, GC ---- */

static PyObject *
prim_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    ca_state *st = ca_state_from_type(tp);
    if (st == NULL) {
        return NULL;
    }
    PrimObj *p = (PrimObj *)tp->tp_alloc(tp, 0);
    if (p != NULL) {
        p->state = st;
    }
    return (PyObject *)p;
}

/* __init__(self): Python's messages for arguments given anyway. */
static int
no_args(const char *name, PyObject *args, PyObject *kwargs)
{
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        (void)PyDict_Next(kwargs, &pos, &key, &value);
        PyErr_Format(PyExc_TypeError,
                     "%s.__init__() got an unexpected keyword argument '%S'", name, key);
        return -1;
    }
    if (PyTuple_GET_SIZE(args) != 0) {
        PyErr_Format(PyExc_TypeError,
                     "%s.__init__() takes 1 positional argument but %zd were given", name,
                     PyTuple_GET_SIZE(args) + 1);
        return -1;
    }
    return 0;
}

static int
lock_init(PrimObj *p, PyObject *args, PyObject *kwargs)
{
    if (no_args("Lock", args, kwargs) < 0) {
        return -1;
    }
    Py_CLEAR(p->waiters);
    p->value = 0;
    return 0;
}

static int
event_init(PrimObj *p, PyObject *args, PyObject *kwargs)
{
    if (no_args("Event", args, kwargs) < 0) {
        return -1;
    }
    PyObject *dq = PyObject_CallNoArgs(p->state->deque_type);
    if (dq == NULL) {
        return -1;
    }
    Py_XSETREF(p->waiters, dq);
    p->value = 0;
    return 0;
}

/* __init__(self, <argname>=...) of class `name`, with Python's messages on
 * every version: *v is the argument (borrowed), NULL if not given. */
static int
init_optional(const char *name, const char *argname, PyObject *args, PyObject *kwargs,
              PyObject **v)
{
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    *v = nargs > 0 ? PyTuple_GET_ITEM(args, 0) : NULL;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError,
                     "%s.__init__() takes from 1 to 2 positional arguments but %zd "
                     "were given", name, nargs + 1);
        return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *item;
    while (kwargs != NULL && PyDict_Next(kwargs, &pos, &key, &item)) {
        if (!PyUnicode_Check(key) || PyUnicode_CompareWithASCIIString(key, argname) != 0) {
            PyErr_Format(PyExc_TypeError,
                         "%s.__init__() got an unexpected keyword argument '%S'", name,
                         key);
            return -1;
        }
        if (*v != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "%s.__init__() got multiple values for argument '%s'", name,
                         argname);
            return -1;
        }
        *v = item;
    }
    return 0;
}

/* __init__(self, value=1) */
static int
sem_parse(PyObject *args, PyObject *kwargs, Py_ssize_t *value, int bounded)
{
    PyObject *v;
    if (init_optional(bounded ? "BoundedSemaphore" : "Semaphore", "value", args, kwargs,
                      &v) < 0) {
        return -1;
    }
    *value = 1;
    if (v != NULL) {
        *value = PyNumber_AsSsize_t(v, PyExc_OverflowError);
        if (*value == -1 && PyErr_Occurred()) {
            return -1;
        }
    }
    if (*value < 0) {
        PyErr_SetString(PyExc_ValueError, "Semaphore initial value must be >= 0");
        return -1;
    }
    return 0;
}

static int
sem_init(PrimObj *p, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t value;
    if (sem_parse(args, kwargs, &value, 0) < 0) {
        return -1;
    }
    Py_CLEAR(p->waiters);
    p->value = value;
    return 0;
}

static int
bsem_init(PrimObj *p, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t value;
    if (sem_parse(args, kwargs, &value, 1) < 0) {
        return -1;
    }
    p->bound = value;
    Py_CLEAR(p->waiters);
    p->value = value;
    return 0;
}

static PyObject *
prim_get_loop_attr(PrimObj *p, void *c)
{
    return Py_NewRef(p->loop ? p->loop : Py_None);
}

static int
prim_set_loop_attr(PrimObj *p, PyObject *v, void *c)
{
    if (v == NULL) {
        return ca_attr_deleted(Py_TYPE(p)->tp_name, "_loop");
    }
    Py_XSETREF(p->loop, v == Py_None ? NULL : Py_NewRef(v));
    return 0;
}

static PyObject *
prim_get_waiters(PrimObj *p, void *c)
{
    return waiters_or_none(p);
}

static int
prim_set_waiters(PrimObj *p, PyObject *v, void *c)
{
    if (v == NULL) {
        return ca_attr_deleted(Py_TYPE(p)->tp_name, "_waiters");
    }
    Py_XSETREF(p->waiters, v == Py_None ? NULL : Py_NewRef(v));
    return 0;
}

/* _locked (Lock) and _value (Event): booleans */
static PyObject *
prim_get_flag(PrimObj *p, void *c)
{
    return PyBool_FromLong(p->value);
}

static int
prim_set_flag(PrimObj *p, PyObject *v, void *c)
{
    int r = ca_attr_bool(v, Py_TYPE(p)->tp_name, (const char *)c);
    if (r < 0) {
        return -1;
    }
    p->value = r;
    return 0;
}

/* _value (Semaphore) and _bound_value: integers */
static PyObject *
prim_get_count(PrimObj *p, void *c)
{
    return PyLong_FromSsize_t(c ? p->bound : p->value);
}

static int
prim_set_count(PrimObj *p, PyObject *v, void *c)
{
    if (v == NULL) {
        return ca_attr_deleted(Py_TYPE(p)->tp_name, c ? "_bound_value" : "_value");
    }
    Py_ssize_t n = PyNumber_AsSsize_t(v, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred()) {
        return -1;
    }
    *(c ? &p->bound : &p->value) = n;
    return 0;
}

static PyObject *
prim_get_loop_meth(PrimObj *p, PyObject *unused)
{
    return prim_get_loop(p);
}

static int
prim_traverse(PrimObj *p, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(p));
    Py_VISIT(p->loop);
    Py_VISIT(p->waiters);
    Py_VISIT(p->lock);
    Py_VISIT(p->dict);
    return 0;
}

static int
prim_clear(PrimObj *p)
{
    Py_CLEAR(p->loop);
    Py_CLEAR(p->waiters);
    Py_CLEAR(p->lock);
    Py_CLEAR(p->dict);
    return 0;
}

static void
prim_dealloc(PrimObj *p)
{
    PyTypeObject *tp = Py_TYPE(p);
    PyObject_GC_UnTrack(p);
    if (p->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)p);
    }
    (void)prim_clear(p);
    tp->tp_free(p);
    Py_DECREF(tp);
}

#define PRIM_COMMON_METHODS                                                          \
    {"_get_loop", (PyCFunction)prim_get_loop_meth, METH_NOARGS, NULL},

#define PRIM_CM_METHODS                                                              \
    {"__aenter__", (PyCFunction)cm_aenter, METH_NOARGS, NULL},                       \
        {"__aexit__", (PyCFunction)(void (*)(void))cm_aexit, METH_FASTCALL, NULL},

#define PRIM_COMMON_GETSET                                                           \
    {"_loop", (getter)prim_get_loop_attr, (setter)prim_set_loop_attr, NULL, NULL},   \
        {"_waiters", (getter)prim_get_waiters, (setter)prim_set_waiters, NULL, NULL},

static PyMemberDef prim_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(PrimObj, dict), READONLY, NULL},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(PrimObj, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

#define PRIM_SPEC(cname, pyname, doc, init, repr)                                    \
    static PyType_Slot cname##_slots[] = {                                           \
        {Py_tp_doc, doc},                                                            \
        {Py_tp_new, prim_new},                                                       \
        {Py_tp_init, init},                                                          \
        {Py_tp_repr, repr},                                                          \
        {Py_tp_traverse, prim_traverse},                                             \
        {Py_tp_clear, prim_clear},                                                   \
        {Py_tp_dealloc, prim_dealloc},                                               \
        {Py_tp_methods, cname##_methods},                                            \
        {Py_tp_getset, cname##_getset},                                              \
        {Py_tp_members, prim_members},                                               \
        {0, NULL},                                                                   \
    };                                                                               \
    PyType_Spec ca_##cname##_spec = {                                                \
        .name = "casyncio._core." pyname,                                            \
        .basicsize = sizeof(PrimObj),                                                \
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,      \
        .slots = cname##_slots,                                                      \
    };

static PyMethodDef lock_methods[] = {
    {"acquire", (PyCFunction)lock_acquire, METH_NOARGS,
     "acquire($self, /)\n--\n\nAcquire the lock (await it): True once held."},
    {"release", (PyCFunction)lock_release, METH_NOARGS,
     "release($self, /)\n--\n\nRelease the lock; the first waiter may proceed."},
    {"locked", (PyCFunction)lock_locked, METH_NOARGS,
     "locked($self, /)\n--\n\nReturn True if lock is acquired."},
    {"_wake_up_first", (PyCFunction)lock_wake_up_first_meth, METH_NOARGS, NULL},
    PRIM_CM_METHODS PRIM_COMMON_METHODS{NULL, NULL, 0, NULL},
};

static PyGetSetDef lock_getset[] = {
    PRIM_COMMON_GETSET{"_locked", (getter)prim_get_flag, (setter)prim_set_flag, NULL,
                       "_locked"},
    {NULL, NULL, NULL, NULL, NULL},
};

PRIM_SPEC(lock, "Lock", "asyncio.Lock in C: primitive lock objects.", lock_init,
          lock_repr)

static PyMethodDef event_methods[] = {
    {"wait", (PyCFunction)event_wait, METH_NOARGS,
     "wait($self, /)\n--\n\nBlock until the internal flag is true (await it)."},
    {"set", (PyCFunction)event_set, METH_NOARGS,
     "set($self, /)\n--\n\nSet the internal flag to true; wake every waiter."},
    {"clear", (PyCFunction)event_clear, METH_NOARGS,
     "clear($self, /)\n--\n\nReset the internal flag to false."},
    {"is_set", (PyCFunction)event_is_set, METH_NOARGS,
     "is_set($self, /)\n--\n\nReturn True if and only if the internal flag is true."},
    PRIM_COMMON_METHODS{NULL, NULL, 0, NULL},
};

static PyGetSetDef event_getset[] = {
    PRIM_COMMON_GETSET{"_value", (getter)prim_get_flag, (setter)prim_set_flag, NULL,
                       "_value"},
    {NULL, NULL, NULL, NULL, NULL},
};

PRIM_SPEC(event, "Event", "asyncio.Event in C: an event flag tasks can wait for.",
          event_init, event_repr)

static PyMethodDef semaphore_methods[] = {
    {"acquire", (PyCFunction)sem_acquire, METH_NOARGS,
     "acquire($self, /)\n--\n\nAcquire a unit (await it): True once taken."},
    {"release", (PyCFunction)sem_release, METH_NOARGS,
     "release($self, /)\n--\n\nRelease a unit; the first waiter may proceed."},
    {"locked", (PyCFunction)sem_locked_meth, METH_NOARGS,
     "locked($self, /)\n--\n\nReturns True if semaphore cannot be acquired immediately."},
    PRIM_CM_METHODS PRIM_COMMON_METHODS{NULL, NULL, 0, NULL},
};

static PyGetSetDef semaphore_getset[] = {
    PRIM_COMMON_GETSET{"_value", (getter)prim_get_count, (setter)prim_set_count, NULL,
                       NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PRIM_SPEC(semaphore, "Semaphore", "asyncio.Semaphore in C: a counting semaphore.",
          sem_init, sem_repr)

static PyMethodDef boundedsemaphore_methods[] = {
    {"release", (PyCFunction)bsem_release, METH_NOARGS,
     "release($self, /)\n--\n\nRelease a unit; ValueError past the initial value."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef boundedsemaphore_getset[] = {
    {"_bound_value", (getter)prim_get_count, (setter)prim_set_count, NULL, "bound"},
    {NULL, NULL, NULL, NULL, NULL},
};

PRIM_SPEC(boundedsemaphore, "BoundedSemaphore",
          "asyncio.BoundedSemaphore in C: release() past the initial value is an error.",
          bsem_init, sem_repr)

static PyMethodDef condition_methods[] = {
    {"wait", (PyCFunction)cond_wait, METH_NOARGS,
     "wait($self, /)\n--\n\nWait until notified (await it): True, the lock held again."},
    {"wait_for", (PyCFunction)cond_wait_for, METH_O,
     "wait_for($self, predicate, /)\n--\n\nWait until predicate() is true (await it)."},
    {"notify", (PyCFunction)(void (*)(void))cond_notify, METH_FASTCALL | METH_KEYWORDS,
     "notify($self, /, n=1)\n--\n\nWake up to n tasks waiting on this condition."},
    {"notify_all", (PyCFunction)cond_notify_all, METH_NOARGS,
     "notify_all($self, /)\n--\n\nWake up every task waiting on this condition."},
    {"_notify", (PyCFunction)cond_notify_meth, METH_O, NULL},
    {"__aenter__", (PyCFunction)cond_aenter, METH_NOARGS, NULL},
    {"__aexit__", (PyCFunction)(void (*)(void))cm_aexit, METH_FASTCALL, NULL},
    PRIM_COMMON_METHODS{NULL, NULL, 0, NULL},
};

static PyGetSetDef condition_getset[] = {
    PRIM_COMMON_GETSET{"_lock", (getter)cond_get_lock, (setter)cond_set_lock, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PRIM_SPEC(condition, "Condition",
          "asyncio.Condition in C: tasks wait until notified, around a lock.", cond_init,
          cond_repr)
