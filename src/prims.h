/* asyncio's synchronisation and scoping primitives in C (accelerate()):
 * what their units share with module.c. */
#ifndef CA_PRIMS_H
#define CA_PRIMS_H

#include "state.h"

/* ---- waitop.c: what the awaitables share ---- */

/* The outcome of an am_send step in the iterator protocol (send(),
 * __next__): the yielded value, or NULL with StopIteration(value) raised
 * (made by hand: a tuple must not become its arguments) or the error.
 * `quiet`: a None value ends with no exception set, which tp_iternext's
 * callers (3.12+'s SEND, next(), for) read as StopIteration(None) without
 * making one.  Takes the reference to result. */
PyObject *ca_send_as_iter(PySendResult r, PyObject *result, int quiet);
/* The arguments of a vectorcall to `fname` (its __qualname__: "wait",
 * "TaskGroup.create_task"), a Python function whose parameters are
 * names[0..nall), the first npos positional-or-keyword, the rest
 * keyword-only, the first nrequired required; `method`: fname is a
 * method, whose counts of positional arguments include self.  vals[i] is
 * the argument of names[i] (borrowed), NULL if not given.  -1 with the
 * TypeError a Python function raises. */
int ca_parse_args(const char *fname, int method, const char *const *names, int npos,
                  int nall, int nrequired, PyObject *const *args, Py_ssize_t nargsf,
                  PyObject *kwnames, PyObject **vals);
/* __name__ of a coroutine whose __qualname__ is `qualname`. */
PyObject *ca_name_of(const char *qualname);

/* ---- oneshot.c ---- */

/* The work of an `async def` method that never suspends: called once, at
 * the first send() (the first step of an await), with the arguments the
 * method was given.  Returns the await's value (a new reference) or NULL
 * with an exception set. */
typedef PyObject *(*ca_oneshot_fn)(PyObject *self, PyObject *const *args);

#define CA_ONESHOT_ARGS 3

/* An awaitable that runs fn(self, args) at its first step and finishes
 * with its result: what a method such as Timeout.__aenter__ returns in
 * place of a coroutine.  Holds self and the nargs (at most
 * CA_ONESHOT_ARGS) arguments until then.  `qualname` names it, as a
 * coroutine's __qualname__ ("Timeout.__aenter__"): a static string. */
PyObject *ca_oneshot_new(ca_state *st, ca_oneshot_fn fn, const char *qualname,
                         PyObject *self, PyObject *const *args, Py_ssize_t nargs);

extern PyType_Spec ca_oneshot_spec;

/* ---- waitop.c ---- */

/* The awaitable of an `async def` method that may wait for one future at
 * a time (Lock.acquire, Event.wait, ...): a small state machine driven by
 * send/throw/close like the coroutine it stands for.  `start` runs at the
 * first step; to wait, it sets op->fut to a pending future and returns
 * PYGEN_NEXT (the op yields the future, as `await fut` does).  `resume`
 * runs once that future is done (exc NULL: read it) or when an exception
 * is thrown in at the await (exc, a reference `resume` takes over;
 * GeneratorExit from close() too); it returns PYGEN_RETURN with *result,
 * PYGEN_NEXT after setting a new op->fut, or PYGEN_ERROR.  `resume` runs
 * with op->fut still set; the op drops it afterwards. */
typedef struct WaitOpObj WaitOpObj;
typedef struct {
    const char *qualname;
    PySendResult (*start)(WaitOpObj *op, PyObject **result);
    PySendResult (*resume)(WaitOpObj *op, PyObject *exc, PyObject **result);
} ca_waitop_kind;

struct WaitOpObj {
    PyObject_HEAD
    const ca_waitop_kind *kind;
    ca_state *state;
    PyObject *self;           /* the primitive; NULL once finished */
    PyObject *fut;            /* the future waited for, or NULL */
    PyObject *arg;            /* the method's argument, or NULL */
    PyObject *sub;            /* the awaitable's iterator delegated to, or NULL */
    PyObject *value;          /* what the last one delegated to returned, or NULL */
    PyObject *keep[2];        /* the kind's own references (NULL at first) */
    int step;                 /* the kind's own step (0 at first) */
    int phase;                /* CA_WAITOP_* */
};

enum {
    CA_WAITOP_NEW = 0, CA_WAITOP_RUNNING, CA_WAITOP_WAITING, CA_WAITOP_DELEGATING,
    CA_WAITOP_DONE
};

/* In start() or resume(): `await awaitable` next, as a coroutine's
 * `await` delegates (send, throw and close pass through to it, and
 * GeneratorExit closes it first).  Returns PYGEN_NEXT for start/resume to
 * return, or PYGEN_ERROR (TypeError: not awaitable).  Once it finishes,
 * resume() runs: with its exception, or (exc NULL) with op->fut NULL and
 * what it returned in op->value (ca_waitop_take_value). */
PySendResult ca_waitop_delegate(WaitOpObj *op, PyObject *awaitable);
/* ca_waitop_delegate() to `aw`, a new reference it drops (NULL: the error
 * of the call that was to make it). */
PySendResult ca_waitop_delegate_new(WaitOpObj *op, PyObject *aw);
/* The value the awaitable delegated to returned: a new reference. */
PyObject *ca_waitop_take_value(WaitOpObj *op);

PyObject *ca_waitop_new(ca_state *st, const ca_waitop_kind *kind, PyObject *self,
                        PyObject *arg);
/* fut.result() of the future waited for: the value, or NULL raised. */
PyObject *ca_waitop_fut_result(WaitOpObj *op);

extern PyType_Spec ca_waitop_spec;

/* ---- locks.c ---- */

/* fut.done() (what 0) or fut.cancelled() (what 1) of any future: 1, 0 or
 * -1; fut.set_result(value); fut.cancel().  In C for casyncio's own. */
int ca_fut_test(ca_state *st, PyObject *fut, int what);
int ca_fut_set(ca_state *st, PyObject *fut, PyObject *value);
int ca_fut_cancel(ca_state *st, PyObject *fut);
/* asyncio's _LoopBoundMixin._get_loop() for `owner`, whose bound loop is
 * *slot (NULL for None): the running loop (a new reference), bound from
 * the first call on; RuntimeError from another loop. */
PyObject *ca_bound_loop(PyObject *owner, PyObject **slot, ca_state *st);
/* An exception raised while `exc` (stolen, may be NULL) was on its way
 * out replaces it, with exc as its __context__, as in a `finally`: the
 * exception now to raise (NULL if none). */
PyObject *ca_chain_over(PyObject *exc);
/* In resume(): the outcome of the await of op->fut, NULL when it has a
 * result, else the exception (exc if one was thrown in, stolen; the
 * future's otherwise). */
PyObject *ca_waitop_outcome(WaitOpObj *op, PyObject *exc);
/* Event.set() and Event.clear() of the C Event. */
int ca_event_set(PyObject *event);
int ca_event_clear(PyObject *event);
/* The Python coroutine functions casyncio._accel gives _core
 * (_core._set_helper(name, fn)): helper(arg), or RuntimeError if not
 * given. */
PyObject *ca_call_helper(ca_state *st, int which, PyObject *arg);
PyObject *ca_set_helper(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

extern PyType_Spec ca_lock_spec;
extern PyType_Spec ca_event_spec;
extern PyType_Spec ca_semaphore_spec;
extern PyType_Spec ca_boundedsemaphore_spec;
extern PyType_Spec ca_condition_spec;

/* ---- queues.c ---- */

extern PyType_Spec ca_queue_spec;
extern PyType_Spec ca_lifoqueue_spec;
extern PyType_Spec ca_priorityqueue_spec;

/* ---- wait.c ---- */

/* asyncio.wait(fs, *, timeout=None, return_when=ALL_COMPLETED) */
PyObject *ca_wait(PyObject *module, PyObject *const *args, Py_ssize_t nargsf,
                  PyObject *kwnames);
extern PyType_Spec ca_waitcb_spec;

/* ---- waitfor.c ---- */

#if PY_VERSION_HEX >= 0x030C0000
/* asyncio.wait_for(fut, timeout), 3.12+ */
PyObject *ca_wait_for(PyObject *module, PyObject *const *args, Py_ssize_t nargsf,
                      PyObject *kwnames);
#endif

/* ---- taskgroup.c ---- */

/* The mixin with TaskGroup's per-task methods; its names interned. */
extern PyType_Spec ca_taskgroup_methods_spec;
int ca_taskgroup_init(ca_state *st);

/* ---- timeout.c ---- */

/* The work of the C Timeout's __aenter__() and __aexit__(exc_type,
 * exc_val, exc_tb) (args), done at once: the value, or NULL raised. */
PyObject *ca_timeout_enter(PyObject *t);
PyObject *ca_timeout_exit(PyObject *t, PyObject *const *args);

/* asyncio.timeout(delay) and asyncio.timeout_at(when): module functions. */
PyObject *ca_timeout(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames);
PyObject *ca_timeout_at(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames);

extern PyType_Spec ca_timeout_spec;

#endif
