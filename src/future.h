/* Future and Task objects, shared by future.c and task.c. */
#ifndef CA_FUTURE_H
#define CA_FUTURE_H

#include "loop.h"
#include "state.h"

typedef enum {
    CA_FUT_PENDING = 0,
    CA_FUT_CANCELLED,
    CA_FUT_FINISHED,
} ca_fut_state;

typedef enum {
    CA_CB_CALL = 0,  /* fn(future) in ctx */
    CA_CB_TASK,      /* wake the task fn; it runs in its own context */
} ca_cb_kind;

typedef struct {
    PyObject *fn;
    PyObject *ctx;   /* NULL for CA_CB_TASK */
    int kind;
} ca_callback;

typedef struct {
    PyObject_HEAD
    ca_state *state;
    PyObject *loop;
    LoopObj *cloop;           /* == loop when it is a casyncio loop */
    /* Done-callbacks in the order added.  Most futures have one waiter, so
     * the array starts as the one inline slot and grows on the heap. */
    ca_callback *cbs;
    Py_ssize_t ncbs;
    Py_ssize_t cbs_cap;
    ca_callback cb_inline;
    PyObject *result;
    PyObject *exception;
    PyObject *exception_tb;
    PyObject *source_tb;
    PyObject *cancel_msg;
    PyObject *cancelled_exc;  /* the CancelledError that cancelled a task */
    /* 3.14+'s call graph (asyncio.graph): what awaits this future, NULL, one
     * object, or a set once there are more (as _asyncio keeps it). */
    PyObject *awaited_by;
    PyObject *dict;
    PyObject *weakreflist;
    unsigned char fstate;     /* ca_fut_state */
    unsigned char log_tb;     /* report the exception if never retrieved */
    unsigned char blocking;   /* _asyncio_future_blocking */
} FutureObj;

typedef struct {
    FutureObj fut;
    PyObject *coro;
    PyObject *name;           /* NULL until asked: "Task-<name_id>" */
    PyObject *context;
    PyObject *fut_waiter;     /* the future the coroutine awaits */
    /* The TaskRef in asyncio's task registry while the task is pending. */
    PyObject *registry_ref;
    uint64_t name_id;
    int num_cancels;
    unsigned char must_cancel;
    unsigned char log_destroy_pending;
} TaskObj;

/* future.c (graph.c: the call graph) */
/* Sets up a freshly allocated Future (or Task) of module state st. */
void ca_future_prepare(FutureObj *fut, ca_state *st);
int ca_future_init(FutureObj *fut, PyObject *loop);
/* 3.15+: __init__ of a future (or task) already set up raises
 * RuntimeError, as asyncio's does; 0 before 3.15. */
int ca_future_check_uninitialized(FutureObj *fut);
/* ca_future_init for a future with no state yet (fresh from tp_alloc). */
int ca_future_setup(FutureObj *fut, PyObject *loop);
/* loop.create_future() for a casyncio loop. */
PyObject *ca_future_create(ca_state *st, PyObject *loop);
int ca_future_set_result(FutureObj *fut, PyObject *result);
int ca_future_set_exception(FutureObj *fut, PyObject *exc);
/* Future.cancel(): 1 if it was pending, 0 if already done. */
int ca_future_cancel(FutureObj *fut, PyObject *msg);
PyObject *ca_future_make_cancelled_error(FutureObj *fut);
/* Future.result(): the result (a new reference) or NULL with the
 * exception (or CancelledError) raised. */
PyObject *ca_future_result(FutureObj *fut);
/* Future.exception(): the exception or None (new references), marking it
 * retrieved; NULL with InvalidStateError or CancelledError raised. */
PyObject *ca_future_exception(FutureObj *fut);
/* The one optional argument `name` of method(x=None), positional or by
 * keyword, from a vectorcall; *out is borrowed (Py_None if absent). */
int ca_parse_optional(const char *method, const char *name, PyObject *const *args,
                      Py_ssize_t nargsf, PyObject *kwnames, PyObject **out);
/* What throw(exc) / throw(type[, value[, tb]]) of an awaitable raises;
 * always returns NULL with the exception set. */
PyObject *ca_raise_thrown(PyObject *const *args, Py_ssize_t nargs);
/* add_done_callback(fn, context=ctx) of an initialised future; ctx NULL
 * or None: a copy of the current context. */
int ca_future_add_callback(FutureObj *fut, PyObject *fn, PyObject *ctx);
/* Adds the wakeup of `task` as a done-callback (no allocation). */
int ca_future_add_task_waiter(FutureObj *fut, PyObject *task);
/* loop.call_soon(fn, arg, context=ctx) on any loop; no Handle on ours. */
int ca_call_soon(ca_state *st, PyObject *loop, LoopObj *cloop, PyObject *fn,
                 PyObject *arg, PyObject *ctx);
int ca_future_traverse(FutureObj *fut, visitproc visit, void *arg);
int ca_future_clear(FutureObj *fut);
void ca_future_finalize(FutureObj *fut);
#if PY_VERSION_HEX >= 0x030E0000
/* Records (or forgets) that `waiter` awaits `fut`, for the call graph. */
int ca_future_awaited_by_add(FutureObj *fut, PyObject *waiter);
int ca_future_awaited_by_discard(FutureObj *fut, PyObject *waiter);
/* _asyncio_awaited_by: a frozenset of the waiters, or None. */
PyObject *ca_future_get_awaited_by(FutureObj *fut, void *closure);
/* Records (add=1) or forgets that `waiter` awaits `fut`, whatever their
 * kinds, as asyncio.future_add_to_awaited_by and its twin do once
 * casyncio's hooks are in: casyncio's edge in casyncio's future, _asyncio's
 * through _asyncio's function; nothing for other objects. */
int ca_graph_edge(ca_state *st, PyObject *fut, PyObject *waiter, int add);
/* asyncio.future_add_to_awaited_by(fut, waiter) and its discard twin for
 * any futures: casyncio's record in casyncio's future, _asyncio's in
 * _asyncio's (asyncio's own functions); module functions. */
PyObject *ca_future_add_to_awaited_by(PyObject *module, PyObject *const *args,
                                      Py_ssize_t nargs);
PyObject *ca_future_discard_from_awaited_by(PyObject *module, PyObject *const *args,
                                            Py_ssize_t nargs);
#endif
/* The truth of a value assigned to a boolean attribute `attr` of type
 * `owner`; deleting one is an AttributeError (ca_attr_deleted, in the
 * running Python's words).  -1 on error. */
int ca_attr_bool(PyObject *v, const char *owner, const char *attr);
int ca_attr_deleted(const char *owner, const char *attr);
/* The object to show for a callback entry: fn, or the task's wakeup. */
PyObject *ca_callback_callable(ca_callback *cb);

/* One of casyncio's own exact future types, whose state C may read and
 * whose methods C may skip (but cancel(): gather's future overrides it). */
static inline int
ca_future_is_own(ca_state *st, PyObject *o)
{
    return Py_IS_TYPE(o, st->FutureType) || Py_IS_TYPE(o, st->TaskType)
           || Py_IS_TYPE(o, st->GatheringFutureType);
}

/* task.c */
/* Task(coro, loop=loop, name=name, context=context[, eager_start=True]),
 * as create_task and the eager task factory need. */
PyObject *ca_task_create(ca_state *st, PyObject *coro, PyObject *loop,
                         PyObject *name, PyObject *context, int eager_start);
/* The keywords name=, context= and (if eager_start is not NULL)
 * eager_start= of create_task and the task factories, from a vectorcall's
 * keyword values and names; unset ones stay as they are.  -1 with
 * TypeError on any other keyword (loop= too: the caller passes the loop). */
int ca_task_parse_kw(const char *fname, PyObject *const *kwvalues,
                     PyObject *kwnames, PyObject **name, PyObject **context,
                     PyObject **eager_start);
#if PY_VERSION_HEX >= 0x030C0000
/* casyncio.eager_task_factory(loop, coro, *, name=None, context=None),
 * (3.14+: also eager_start=True) a module function. */
PyObject *ca_task_eager_factory(PyObject *module, PyObject *const *args,
                                Py_ssize_t nargsf, PyObject *kwnames);
#if PY_VERSION_HEX >= 0x030E0000
#define CA_EAGER_TASK_FACTORY_SIG \
    "eager_task_factory(loop, coro, *, eager_start=True, name=None, context=None)"
#else
#define CA_EAGER_TASK_FACTORY_SIG \
    "eager_task_factory(loop, coro, *, name=None, context=None)"
#endif
#define CA_EAGER_TASK_FACTORY_DOC                                          \
    CA_EAGER_TASK_FACTORY_SIG "\n--\n\n"                                   \
    "A task factory (for loop.set_task_factory) that starts each task\n"  \
    "eagerly: its first step runs inside create_task()."
#endif
/* Runs a ready entry of kind CA_READY_TASK_STEP or CA_READY_TASK_WAKEUP. */
int ca_task_run_entry(ca_state *st, LoopObj *loop, ca_ready_entry *e);
/* futures._get_loop(fut) of any future: fut.get_loop(), or fut._loop. */
PyObject *ca_future_loop_of(ca_state *st, PyObject *fut);
/* Task.cancel(msg); 1 if the request was taken. */
int ca_task_cancel(TaskObj *task, PyObject *msg);
/* The task's wakeup as a Python callable (for foreign loops and futures). */
PyObject *ca_task_wakeup_callable(PyObject *task);
int ca_task_is_wakeup_of(PyObject *fn, PyObject *task);

/* gather.c */
/* asyncio.gather(*coros_or_futures, return_exceptions=False), a module
 * function. */
PyObject *ca_gather(PyObject *module, PyObject *const *args, Py_ssize_t nargsf,
                    PyObject *kwnames);
/* shield.c: asyncio.shield(arg), a module function; its callbacks' type. */
PyObject *ca_shield(PyObject *module, PyObject *const *args, Py_ssize_t nargsf,
                    PyObject *kwnames);
extern PyType_Spec ca_shieldcb_spec;
#if PY_VERSION_HEX >= 0x030E0000
/* futures.future_add_to_awaited_by(fut, waiter) (add) or its discard twin,
 * looked up in asyncio.futures at each call as asyncio does; in C when it
 * is casyncio's own. */
int ca_awaited_by_edge(ca_state *st, PyObject *fut, PyObject *waiter, int add);
#endif
/* asyncio.ensure_future(arg, loop=loop) (loop NULL: none given), in C for
 * casyncio's own futures and for exact coroutines when the loop is known. */
PyObject *ca_ensure_future(ca_state *st, PyObject *arg, PyObject *loop);
/* Makes _GatheringFuture (on Future) and gather's callback type. */
int ca_gather_types_init(PyObject *mod, ca_state *st);

extern PyType_Spec ca_future_spec;
extern PyType_Spec ca_futureiter_spec;
extern PyType_Spec ca_task_spec;
extern PyType_Spec ca_taskstep_spec;

/* taskref.c */
/* A new entry for asyncio's task registry, pointing at `task`. */
PyObject *ca_taskref_new(ca_state *st, PyObject *task);
/* Makes the entry point at nothing (its task is finishing or dying). */
void ca_taskref_detach(PyObject *ref);
extern PyType_Spec ca_taskref_spec;

#endif
