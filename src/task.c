/* Task: drives a coroutine step by step, API-compatible with asyncio.Task
 * of the running Python and usable on any loop.
 *
 * Owns: the coroutine, its Context (every step and wakeup runs in it), the
 * future it waits on (fut_waiter) and its name.
 * Does not own: the registries asyncio.all_tasks()/current_task() read
 * (they are asyncio's own; we add to them as _asyncio does: taskreg.h,
 * taskref.c).
 *
 * One step (task_step_impl): send None, or throw the pending exception,
 * into the coroutine; then, by what came out of it:
 *   returned -> set_result (or cancel, if a cancel came while it ran);
 *   raised   -> set_exception, or cancel for CancelledError;
 *               KeyboardInterrupt/SystemExit also propagate out of the loop;
 *   yielded  -> a casyncio future: wait on it with no allocation;
 *               None (bare yield): step again soon;
 *               another future (duck-typed): add_done_callback(wakeup);
 *               anything else: the error is thrown in at the next step.
 * On a casyncio loop the next step and the wakeup are ready-queue entries
 * pointing at the task; on other loops they go through loop.call_soon. */
#include "errors.h"
#include "future.h"
#include "taskreg.h"

/* TaskStep: the callable a foreign loop is given for a step, and what an
 * exception report names as the callback. */
typedef struct {
    PyObject_HEAD
    PyObject *task;
    PyObject *exc;
} TaskStepObj;

static int task_step(ca_state *st, TaskObj *task, PyObject *exc);

/* ---- scheduling the next step ---- */

static PyObject *
taskstep_new(ca_state *st, PyObject *task, PyObject *exc)
{
    TaskStepObj *s = PyObject_GC_New(TaskStepObj, st->TaskStepType);
    if (s == NULL) {
        return NULL;
    }
    s->task = Py_NewRef(task);
    s->exc = Py_XNewRef(exc);
    PyObject_GC_Track(s);
    return (PyObject *)s;
}

static int
task_schedule_step(ca_state *st, TaskObj *task, PyObject *exc)
{
    LoopObj *cloop = task->fut.cloop;
    if (cloop != NULL) {
        if (ca_loop_check_call_soon(cloop) < 0) {
            return -1;
        }
        return ca_loop_schedule(cloop, CA_READY_TASK_STEP, (PyObject *)task, exc, NULL);
    }
    PyObject *step = taskstep_new(st, (PyObject *)task, exc);
    if (step == NULL) {
        return -1;
    }
    int rc = ca_call_soon(st, task->fut.loop, NULL, step, NULL, task->context);
    Py_DECREF(step);
    return rc;
}

/* Delivers RuntimeError(message) to the coroutine at its next step, as
 * asyncio does for a bad yield. */
static int
task_error_soon(ca_state *st, TaskObj *task, PyObject *message)
{
    if (message == NULL) {
        return -1;
    }
    PyObject *exc = PyObject_CallOneArg(PyExc_RuntimeError, message);
    Py_DECREF(message);
    if (exc == NULL) {
        return -1;
    }
    int rc = task_schedule_step(st, task, exc);
    Py_DECREF(exc);
    return rc;
}

/* ---- one step ---- */

/* Sends None (exc NULL) or throws exc into the coroutine. */
static PySendResult
task_send(ca_state *st, TaskObj *task, PyObject *exc, PyObject **result)
{
    PyObject *coro = Py_NewRef(task->coro);
    PySendResult status;
    if (exc == NULL) {
        status = PyIter_Send(coro, Py_None, result);
    }
    else {
        *result = PyObject_CallMethodOneArg(coro, st->str_throw, exc);
        if (*result != NULL) {
            status = PYGEN_NEXT;
        }
        else if (!PyErr_ExceptionMatches(PyExc_StopIteration)) {
            status = PYGEN_ERROR;
        }
        else {
            PyObject *stop = ca_err_fetch();
            *result = PyObject_GetAttrString(stop, "value");
            Py_DECREF(stop);
            status = *result ? PYGEN_RETURN : PYGEN_ERROR;
        }
    }
    Py_DECREF(coro);
    return status;
}

/* The coroutine returned `result`. */
static int
task_on_return(TaskObj *task, PyObject *result)
{
    if (task->must_cancel) {
        /* Cancelled right before the coroutine returned. */
        task->must_cancel = 0;
        return ca_future_cancel(&task->fut, task->fut.cancel_msg) < 0 ? -1 : 0;
    }
    return ca_future_set_result(&task->fut, result);
}

/* The coroutine raised the current exception. */
static int
task_on_error(ca_state *st, TaskObj *task)
{
    PyObject *exc = ca_err_fetch();
    if (PyErr_GivenExceptionMatches(exc, st->CancelledError)) {
        /* Kept so that result() re-raises this very exception. */
        Py_XSETREF(task->fut.cancelled_exc, exc);
        return ca_future_cancel(&task->fut, NULL) < 0 ? -1 : 0;
    }
    int rc = ca_future_set_exception(&task->fut, exc);
    if (rc == 0 && ca_err_is_fatal(exc)) {
        ca_err_restore(exc);  /* the loop must stop: propagate */
        return -1;
    }
    Py_DECREF(exc);
    return rc;
}

/* waiter.cancel(msg): in C for our own exact types, else the method
 * (called with msg positionally, as _asyncio does).  1 if it was taken. */
static int
task_cancel_waiter(ca_state *st, PyObject *waiter, PyObject *msg)
{
    if (Py_IS_TYPE(waiter, st->TaskType)) {
        return ca_task_cancel((TaskObj *)waiter, msg);
    }
    if (Py_IS_TYPE(waiter, st->FutureType)) {
        return ca_future_cancel((FutureObj *)waiter, msg);
    }
    PyObject *res = PyObject_CallMethodOneArg(waiter, st->str_cancel, msg);
    int r = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    return r;
}

/* After the task started waiting on `waiter`: a cancel() that came while
 * the coroutine ran is passed on to it. */
static int
task_pass_cancel(ca_state *st, TaskObj *task, PyObject *waiter)
{
    if (!task->must_cancel) {
        return 0;
    }
    int r = task_cancel_waiter(
        st, waiter, task->fut.cancel_msg ? task->fut.cancel_msg : Py_None);
    if (r < 0) {
        return -1;
    }
    if (r) {
        task->must_cancel = 0;
    }
    return 0;
}

/* Yielded one of our own futures: wait on it, allocating nothing. */
static int
task_await_own(ca_state *st, TaskObj *task, FutureObj *fut)
{
    if (fut->loop != task->fut.loop) {
        return task_error_soon(st, task, PyUnicode_FromFormat(
            "Task %R got Future %R attached to a different loop", task, fut));
    }
    if (!fut->blocking) {
        return task_error_soon(st, task, PyUnicode_FromFormat(
            "yield was used instead of yield from in task %R with %R", task, fut));
    }
    if ((PyObject *)fut == (PyObject *)task) {
        return task_error_soon(st, task, PyUnicode_FromFormat(
            "Task cannot await on itself: %R", task));
    }
    fut->blocking = 0;
    if (ca_future_add_task_waiter(fut, (PyObject *)task) < 0) {
        return -1;
    }
#if PY_VERSION_HEX >= 0x030E0000
    if (ca_future_awaited_by_add(fut, (PyObject *)task) < 0) {
        return -1;
    }
#endif
    Py_XSETREF(task->fut_waiter, Py_NewRef(fut));
    return task_pass_cancel(st, task, (PyObject *)fut);
}

PyObject *
ca_future_loop_of(ca_state *st, PyObject *fut)
{
    PyObject *meth = PyObject_GetAttr(fut, st->str_get_loop);
    if (meth != NULL) {
        PyObject *loop = PyObject_CallNoArgs(meth);
        Py_DECREF(meth);
        return loop;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
        return NULL;
    }
    PyErr_Clear();
    return PyObject_GetAttr(fut, st->str_loop_attr);
}

/* Looks up result._asyncio_future_blocking: 1 found, 0 absent, -1 error. */
static int
task_get_blocking(ca_state *st, PyObject *result, PyObject **blocking)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttr(result, st->str_blocking, blocking);
#else
    *blocking = PyObject_GetAttr(result, st->str_blocking);
    if (*blocking != NULL) {
        return 1;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
        return -1;
    }
    PyErr_Clear();
    return 0;
#endif
}

/* Yielded an object that is not one of our futures: a duck-typed future
 * (asyncio's, gather's, a third party's) or a bad yield. */
static int
task_await_other(ca_state *st, TaskObj *task, PyObject *result)
{
    PyObject *blocking = NULL;
    if (task_get_blocking(st, result, &blocking) < 0) {
        return -1;
    }
    if (blocking == NULL || blocking == Py_None) {
        Py_XDECREF(blocking);
        if (PyGen_Check(result)) {
            return task_error_soon(st, task, PyUnicode_FromFormat(
                "yield was used instead of yield from for generator in task %R "
                "with %R", task, result));
        }
        return task_error_soon(st, task, PyUnicode_FromFormat(
            "Task got bad yield: %R", result));
    }
    int truth = PyObject_IsTrue(blocking);
    Py_DECREF(blocking);
    PyObject *loop = truth < 0 ? NULL : ca_future_loop_of(st, result);
    if (loop == NULL) {
        return -1;
    }
    Py_DECREF(loop);
    if (loop != task->fut.loop) {
        return task_error_soon(st, task, PyUnicode_FromFormat(
            "Task %R got Future %R attached to a different loop", task, result));
    }
    if (!truth) {
        return task_error_soon(st, task, PyUnicode_FromFormat(
            "yield was used instead of yield from in task %R with %R", task, result));
    }
    if (result == (PyObject *)task) {
        return task_error_soon(st, task, PyUnicode_FromFormat(
            "Task cannot await on itself: %R", task));
    }
    if (PyObject_SetAttr(result, st->str_blocking, Py_False) < 0) {
        return -1;
    }
    PyObject *wakeup = ca_task_wakeup_callable((PyObject *)task);
    if (wakeup == NULL) {
        return -1;
    }
    /* The context= keyword is required: the wakeup runs in the task's. */
    ca_context_expose(task->context);  /* the foreign future keeps it */
    PyObject *args[3] = {result, wakeup, task->context};
    PyObject *res = PyObject_VectorcallMethod(
        st->str_add_done_callback, args, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET,
        st->kwnames_context);
    Py_DECREF(wakeup);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    Py_XSETREF(task->fut_waiter, Py_NewRef(result));
    return task_pass_cancel(st, task, result);
}

static int
task_on_yield(ca_state *st, TaskObj *task, PyObject *result)
{
    if (ca_future_is_own(st, result)) {
        return task_await_own(st, task, (FutureObj *)result);
    }
    if (result == Py_None) {
        return task_schedule_step(st, task, NULL);  /* a bare yield */
    }
    return task_await_other(st, task, result);
}

static int
task_step_impl(ca_state *st, TaskObj *task, PyObject *exc)
{
    PyObject *owned = NULL;
    if (task->fut.fstate != CA_FUT_PENDING) {
        PyErr_Format(st->InvalidStateError, "_step(): already done: %R, %R",
                     task, exc ? exc : Py_None);
        return -1;
    }
    if (task->must_cancel) {
        if (exc == NULL || !PyErr_GivenExceptionMatches(exc, st->CancelledError)) {
            exc = owned = ca_future_make_cancelled_error(&task->fut);
            if (exc == NULL) {
                return -1;
            }
        }
        task->must_cancel = 0;
    }
    Py_CLEAR(task->fut_waiter);
    if (task->coro == NULL) {
        Py_XDECREF(owned);
        PyErr_SetString(PyExc_RuntimeError, "Task has no coroutine");
        return -1;
    }
    PyObject *result = NULL;
    PySendResult status = task_send(st, task, exc, &result);
    Py_XDECREF(owned);
    int rc;
    switch (status) {
    case PYGEN_RETURN:
        rc = task_on_return(task, result);
        Py_DECREF(result);
        break;
    case PYGEN_NEXT:
        rc = task_on_yield(st, task, result);
        Py_DECREF(result);
        break;
    default:
        rc = task_on_error(st, task);
        break;
    }
    if (task->fut.fstate != CA_FUT_PENDING) {
        ca_task_unregister(st, task);
    }
    return rc;
}

/* A step with the task registered as the loop's current task. */
static int
task_step(ca_state *st, TaskObj *task, PyObject *exc)
{
    PyObject *loop = Py_NewRef(task->fut.loop);
    int rc = ca_task_enter(st, loop, (PyObject *)task);
    if (rc == 0) {
        rc = task_step_impl(st, task, exc);
        if (rc < 0) {
            PyObject *err = ca_err_fetch();
            if (ca_task_leave(st, loop, (PyObject *)task) < 0) {
                PyObject *leave_err = ca_err_fetch();
                PyException_SetContext(leave_err, err);
                ca_err_restore(leave_err);
            }
            else {
                ca_err_restore(err);
            }
        }
        else {
            rc = ca_task_leave(st, loop, (PyObject *)task);
        }
    }
    Py_DECREF(loop);
    return rc;
}

/* The future the task waited on is done: step with its outcome. */
static int
task_wakeup(ca_state *st, TaskObj *task, PyObject *fut)
{
    PyObject *exc = NULL;
    if (ca_future_is_own(st, fut)) {
        FutureObj *f = (FutureObj *)fut;
#if PY_VERSION_HEX >= 0x030E0000
        if (ca_future_awaited_by_discard(f, (PyObject *)task) < 0) {
            return -1;
        }
#endif
        if (f->fstate == CA_FUT_CANCELLED) {
            exc = ca_future_make_cancelled_error(f);
            if (exc == NULL) {
                return -1;
            }
        }
        else if (f->exception != NULL) {
            f->log_tb = 0;
            exc = Py_NewRef(f->exception);
            PyException_SetTraceback(exc, f->exception_tb ? f->exception_tb : Py_None);
        }
    }
    else {
        PyObject *res = PyObject_CallMethodNoArgs(fut, st->str_result);
        if (res == NULL) {
            exc = ca_err_fetch();
        }
        Py_XDECREF(res);
    }
    int rc = task_step(st, task, exc);
    Py_XDECREF(exc);
    return rc;
}

int
ca_task_run_entry(ca_state *st, LoopObj *loop, ca_ready_entry *e)
{
    TaskObj *task = (TaskObj *)e->obj;
    if (task->context == NULL) {
        return 0;  /* cleared by the garbage collector */
    }
    PyObject *ctx = Py_NewRef(task->context);
    int rc = PyContext_Enter(ctx);
    if (rc == 0) {
        rc = e->kind == CA_READY_TASK_STEP ? task_step(st, task, e->arg)
                                           : task_wakeup(st, task, e->arg);
        if (PyContext_Exit(ctx) < 0 && rc == 0) {
            rc = -1;
        }
        ca_context_settle(ctx, 2);  /* ctx and task->context */
    }
    if (rc < 0) {
        /* Reported as asyncio reports a failing step callback. */
        PyObject *exc = ca_err_fetch();
        if (ca_err_is_fatal(exc)) {
            ca_err_restore(exc);
        }
        else {
            int wake = e->kind == CA_READY_TASK_WAKEUP;
            PyObject *cb = wake ? ca_task_wakeup_callable(e->obj)
                                : taskstep_new(st, e->obj, e->arg);
            rc = cb ? ca_report_callback_error(st, (PyObject *)loop, cb, &e->arg,
                                               wake, ctx, NULL, exc)
                    : -1;
            Py_XDECREF(cb);
            Py_DECREF(exc);
        }
    }
    ca_context_release(ctx);
    return rc;
}

/* ---- cancellation ---- */

int
ca_task_cancel(TaskObj *task, PyObject *msg)
{
    task->fut.log_tb = 0;
    if (task->fut.fstate != CA_FUT_PENDING) {
        return 0;
    }
    task->num_cancels++;
    if (task->fut_waiter != NULL) {
        PyObject *waiter = Py_NewRef(task->fut_waiter);
        int r = task_cancel_waiter(task->fut.state, waiter, msg);
        Py_DECREF(waiter);
        if (r != 0) {
            /* Taken by the waiter (or an error).  The waiter stays: it may
             * be a task that ignores the request, to be cancelled again. */
            return r;
        }
    }
    task->must_cancel = 1;
    Py_XSETREF(task->fut.cancel_msg, Py_XNewRef(msg == Py_None ? NULL : msg));
    return 1;
}

/* ---- wakeup callable ---- */

static PyObject *
task_wakeup_meth(PyObject *task, PyObject *fut)
{
    TaskObj *t = (TaskObj *)task;
    if (task_wakeup(t->fut.state, t, fut) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef task_wakeup_def = {
    "task_wakeup", (PyCFunction)task_wakeup_meth, METH_O, NULL,
};

PyObject *
ca_task_wakeup_callable(PyObject *task)
{
    return PyCFunction_New(&task_wakeup_def, task);
}

int
ca_task_is_wakeup_of(PyObject *fn, PyObject *task)
{
    return PyCFunction_Check(fn)
           && PyCFunction_GET_FUNCTION(fn) == (PyCFunction)task_wakeup_meth
           && PyCFunction_GET_SELF(fn) == task;
}

/* ---- creation ---- */

/* asyncio.iscoroutine(coro), remembering the types it accepted. */
static int
task_is_coroutine(ca_state *st, PyObject *coro)
{
    if (PyCoro_CheckExact(coro)) {
        return 1;
    }
    int r = PySet_Contains(st->coroutine_types, (PyObject *)Py_TYPE(coro));
    if (r != 0) {
        return r;
    }
    PyObject *res = PyObject_CallOneArg(st->iscoroutine, coro);
    r = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    if (r == 1 && PySet_GET_SIZE(st->coroutine_types) < 100
        && PySet_Add(st->coroutine_types, (PyObject *)Py_TYPE(coro)) < 0) {
        return -1;
    }
    return r;
}

static void
task_clear_own(TaskObj *task)
{
    Py_CLEAR(task->coro);
    Py_CLEAR(task->name);
    PyObject *ctx = task->context;
    task->context = NULL;
    ca_context_release(ctx);
    Py_CLEAR(task->fut_waiter);
    ca_task_unregister(task->fut.state, task);
}

static int
task_set_name_value(TaskObj *task, PyObject *name)
{
    PyObject *s = PyUnicode_CheckExact(name) ? Py_NewRef(name) : PyObject_Str(name);
    if (s == NULL) {
        return -1;
    }
    Py_XSETREF(task->name, s);
    return 0;
}

#if PY_VERSION_HEX >= 0x030C0000
static int
task_loop_is_running(ca_state *st, TaskObj *task)
{
    if (task->fut.cloop != NULL) {
        return task->fut.cloop->running;
    }
    PyObject *r = PyObject_CallMethodNoArgs(task->fut.loop, st->str_is_running);
    int running = r ? PyObject_IsTrue(r) : -1;
    Py_XDECREF(r);
    return running;
}

/* The eager step itself, in the task's context. */
static int
task_eager_step(ca_state *st, TaskObj *task)
{
    PyObject *ctx = Py_NewRef(task->context);
    int rc = PyContext_Enter(ctx);
    if (rc == 0) {
        rc = task_step_impl(st, task, NULL);
        if (PyContext_Exit(ctx) < 0) {
            rc = -1;
        }
        ca_context_settle(ctx, 2);  /* ctx and task->context */
    }
    ca_context_release(ctx);
    return rc;
}

/* The eager step as a registered task: 3.14+ registers the task first, as
 * _asyncio does, and a task that finishes in its first step leaves the
 * registry again (task_step_impl); before, it is in asyncio's set of eager
 * tasks during the step and is registered afterwards if still pending. */
static int
task_eager_step_registered(ca_state *st, TaskObj *task)
{
#if PY_VERSION_HEX >= 0x030E0000
    if (ca_task_register(st, task) < 0) {
        return -1;
    }
    return task_eager_step(st, task);
#else
    if (PySet_Add(st->eager_tasks, (PyObject *)task) < 0) {
        return -1;
    }
    int rc = task_eager_step(st, task);
    PyObject *err = rc < 0 ? ca_err_fetch() : NULL;
    if (PySet_Discard(st->eager_tasks, (PyObject *)task) < 0) {
        PyErr_WriteUnraisable((PyObject *)task);
    }
    if (err != NULL) {
        ca_err_restore(err);
    }
    if (rc == 0 && task->fut.fstate == CA_FUT_PENDING) {
        rc = ca_task_register(st, task);
    }
    return rc;
#endif
}

/* Runs the first step inside create_task (3.12+ eager tasks): the task is
 * swapped in as current without the "another task is running" check (its
 * parent usually is), and everything is put back on every path. */
static int
task_eager_start(ca_state *st, TaskObj *task)
{
    PyObject *loop = Py_NewRef(task->fut.loop);
    PyObject *prev = ca_task_swap_current(st, loop, (PyObject *)task);
    int rc = -1;
    if (prev != NULL) {
        rc = task_eager_step_registered(st, task);
        PyObject *err = ca_err_fetch();
        PyObject *cur = ca_task_swap_current(st, loop, prev);
        if (cur == NULL) {
            PyErr_WriteUnraisable((PyObject *)task);
        }
        Py_XDECREF(cur);
        Py_DECREF(prev);
        if (err != NULL) {
            ca_err_restore(err);
        }
    }
    Py_DECREF(loop);
    if (task->fut.fstate != CA_FUT_PENDING) {
        Py_CLEAR(task->coro);
    }
    return rc;
}
#endif

/* `fresh`: the task comes straight from tp_alloc, with nothing to reset. */
static int
task_init_impl(TaskObj *task, PyObject *coro, PyObject *loop, PyObject *name,
               PyObject *context, int eager_start, int fresh)
{
    ca_state *st = task->fut.state;
    if (!fresh) {
        task_clear_own(task);
    }
    if ((fresh ? ca_future_setup(&task->fut, loop)
               : ca_future_init(&task->fut, loop)) < 0) {
        return -1;
    }
    int is_coro = task_is_coroutine(st, coro);
    if (is_coro <= 0) {
        /* No "destroyed but pending" report for a task that never was. */
        task->log_destroy_pending = 0;
        if (is_coro == 0) {
            PyErr_Format(PyExc_TypeError, "a coroutine was expected, got %R", coro);
        }
        return -1;
    }
    if (name == NULL || name == Py_None) {
        task->name_id = ++st->task_name_counter;
    }
    else if (task_set_name_value(task, name) < 0) {
        return -1;
    }
#if PY_VERSION_HEX >= 0x030F0000
    if (context != NULL && context != Py_None && !PyContext_CheckExact(context)) {
        task->log_destroy_pending = 0;
        PyErr_Format(PyExc_TypeError, "a contextvars.Context was expected, got %s",
                     Py_TYPE(context)->tp_name);
        return -1;
    }
#endif
    task->context = (context == NULL || context == Py_None) ? ca_context_copy()
                                                            : Py_NewRef(context);
    if (task->context == NULL) {
        return -1;
    }
    task->coro = Py_NewRef(coro);
    task->must_cancel = 0;
    task->num_cancels = 0;
    task->log_destroy_pending = 1;
#if PY_VERSION_HEX >= 0x030C0000
    if (eager_start) {
        int running = task_loop_is_running(st, task);
        if (running < 0) {
            return -1;
        }
        if (running) {
            return task_eager_start(st, task);
        }
    }
#endif
    if (task_schedule_step(st, task, NULL) < 0) {
        return -1;
    }
    return ca_task_register(st, task);
}

static PyObject *
task_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    ca_state *st = ca_state_from_type(tp);
    if (st == NULL) {
        return NULL;
    }
    TaskObj *task = (TaskObj *)tp->tp_alloc(tp, 0);
    if (task != NULL) {
        ca_future_prepare(&task->fut, st);
    }
    return (PyObject *)task;
}

PyObject *
ca_task_create(ca_state *st, PyObject *coro, PyObject *loop, PyObject *name,
               PyObject *context, int eager_start)
{
    /* The state is known: no module lookup as in tp_new. */
    TaskObj *task = (TaskObj *)st->TaskType->tp_alloc(st->TaskType, 0);
    if (task == NULL) {
        return NULL;
    }
    ca_future_prepare(&task->fut, st);
    if (task_init_impl(task, coro, loop, name, context, eager_start, 1) < 0) {
        Py_DECREF(task);
        return NULL;
    }
    return (PyObject *)task;
}

/* One keyword of ca_task_parse_kw. */
static int
task_parse_one_kw(const char *fname, PyObject *kw, PyObject *value, PyObject **name,
                  PyObject **context, PyObject **eager_start)
{
    if (PyUnicode_CompareWithASCIIString(kw, "name") == 0) {
        *name = value;
    }
    else if (PyUnicode_CompareWithASCIIString(kw, "context") == 0) {
        *context = value;
    }
    else if (eager_start != NULL
             && PyUnicode_CompareWithASCIIString(kw, "eager_start") == 0) {
        *eager_start = value;
    }
    else if (eager_start != NULL && PyUnicode_CompareWithASCIIString(kw, "loop") == 0) {
        PyErr_Format(PyExc_TypeError,
                     "%s() got multiple values for keyword argument 'loop'", fname);
        return -1;
    }
    else {
        PyErr_Format(PyExc_TypeError,
                     "%s() got an unexpected keyword argument '%U'", fname, kw);
        return -1;
    }
    return 0;
}

int
ca_task_parse_kw(const char *fname, PyObject *const *kwvalues, PyObject *kwnames,
                 PyObject **name, PyObject **context, PyObject **eager_start)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        if (task_parse_one_kw(fname, PyTuple_GET_ITEM(kwnames, i), kwvalues[i], name,
                              context, eager_start) < 0) {
            return -1;
        }
    }
    return 0;
}

#if PY_VERSION_HEX >= 0x030C0000
/* A C function rather than a Python one calling Task(..., eager_start=True):
 * that call parsed its keywords through a dict, hashing a new string per
 * keyword per task (callgrind, gather tree depth 6 with eager tasks: 20% more
 * instructions than without them).  loop= and coro= may come by keyword,
 * as Python's factory takes them; the other keywords are the Task's (from
 * 3.14 on eager_start= too, True by default). */
PyObject *
ca_task_eager_factory(PyObject *module, PyObject *const *args, Py_ssize_t nargsf,
                      PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *name = Py_None, *context = Py_None, *eager = Py_True;
#if PY_VERSION_HEX >= 0x030E0000
    PyObject **eager_slot = &eager;
#else
    PyObject **eager_slot = NULL;
#endif
    if (nargs > 2) {
        PyErr_Format(PyExc_TypeError, "eager_task_factory() takes 2 positional "
                     "arguments but %zd were given", nargs);
        return NULL;
    }
    static const char *const names[2] = {"loop", "coro"};
    PyObject *bound[2] = {nargs > 0 ? args[0] : NULL, nargs > 1 ? args[1] : NULL};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, i);
        PyObject **slot = ca_kw_slot(kw, names, bound, 2);
        if (slot != NULL && *slot != NULL) {
            PyErr_Format(PyExc_TypeError, "eager_task_factory() got multiple "
                         "values for argument '%U'", kw);
            return NULL;
        }
        if (slot != NULL) {
            *slot = args[nargs + i];
        }
        else if (task_parse_one_kw("Task", kw, args[nargs + i], &name, &context,
                                   eager_slot) < 0) {
            return NULL;
        }
    }
    PyObject *loop = bound[0], *coro = bound[1];
    if (loop == NULL || coro == NULL) {
        PyErr_Format(PyExc_TypeError, "eager_task_factory() missing required "
                     "argument '%s'", loop == NULL ? "loop" : "coro");
        return NULL;
    }
    int is_eager = PyObject_IsTrue(eager);
    if (is_eager < 0) {
        return NULL;
    }
    ca_state *st = (ca_state *)PyModule_GetState(module);
    return ca_task_create(st, coro, loop, name, context, is_eager);
}
#endif

static int
task_tp_init(TaskObj *task, PyObject *args, PyObject *kwds)
{
    PyObject *coro, *loop = Py_None, *name = Py_None, *context = Py_None;
    int eager_start = 0;
    if (PyTuple_GET_SIZE(args) > 1) {
        PyErr_Format(PyExc_TypeError,
                     "Task() takes exactly 1 positional argument (%zd given)",
                     PyTuple_GET_SIZE(args));
        return -1;
    }
#if PY_VERSION_HEX >= 0x030C0000
    static char *kwlist[] = {"coro", "loop", "name", "context", "eager_start", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOOp:Task", kwlist, &coro, &loop,
                                     &name, &context, &eager_start)) {
        return -1;
    }
#else
    static char *kwlist[] = {"coro", "loop", "name", "context", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOO:Task", kwlist, &coro, &loop,
                                     &name, &context)) {
        return -1;
    }
#endif
    if (ca_future_check_uninitialized(&task->fut) < 0) {
        return -1;
    }
    return task_init_impl(task, coro, loop, name, context, eager_start, 0);
}

/* ---- Python-facing methods ---- */

static PyObject *
task_cancel_meth(TaskObj *task, PyObject *const *args, Py_ssize_t nargsf,
                 PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *msg = nargs > 0 ? args[0] : Py_None;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > 1) {
        PyErr_Format(PyExc_TypeError, "cancel() takes at most 1 argument (%zd given)",
                     nargs + nkw);
        return NULL;
    }
    if (nkw == 1) {
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "msg") != 0) {
            PyErr_Format(PyExc_TypeError, "cancel() got an unexpected keyword argument '%U'",
                         PyTuple_GET_ITEM(kwnames, 0));
            return NULL;
        }
        msg = args[0];
    }
    int r = ca_task_cancel(task, msg);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *
task_cancelling(TaskObj *task, PyObject *unused)
{
    return PyLong_FromLong(task->num_cancels);
}

static PyObject *
task_uncancel(TaskObj *task, PyObject *unused)
{
    if (task->num_cancels > 0) {
        task->num_cancels--;
#if PY_VERSION_HEX >= 0x030D0000
        if (task->num_cancels == 0) {
            task->must_cancel = 0;
        }
#endif
    }
    return PyLong_FromLong(task->num_cancels);
}

static PyObject *
task_get_coro(TaskObj *task, PyObject *unused)
{
    return Py_NewRef(task->coro ? task->coro : Py_None);
}

static PyObject *
task_get_context(TaskObj *task, PyObject *unused)
{
    ca_context_expose(task->context);
    return Py_NewRef(task->context ? task->context : Py_None);
}

static PyObject *
task_get_name(TaskObj *task, PyObject *unused)
{
    if (task->name == NULL && task->name_id == 0) {
        Py_RETURN_NONE;  /* never initialised */
    }
    if (task->name == NULL) {
        /* Formatted on demand: most task names are never looked at. */
        task->name = PyUnicode_FromFormat("Task-%llu",
                                          (unsigned long long)task->name_id);
    }
    return Py_XNewRef(task->name);
}

static PyObject *
task_set_name(TaskObj *task, PyObject *value)
{
    if (task_set_name_value(task, value) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
task_get_stack(TaskObj *task, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"limit", NULL};
    PyObject *limit = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$O:get_stack", kwlist, &limit)) {
        return NULL;
    }
    return PyObject_CallFunctionObjArgs(task->fut.state->task_get_stack,
                                        (PyObject *)task, limit, NULL);
}

static PyObject *
task_print_stack(TaskObj *task, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"limit", "file", NULL};
    PyObject *limit = Py_None, *file = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$OO:print_stack", kwlist, &limit,
                                     &file)) {
        return NULL;
    }
    return PyObject_CallFunctionObjArgs(task->fut.state->task_print_stack,
                                        (PyObject *)task, limit, file, NULL);
}

static PyObject *
task_set_result(TaskObj *task, PyObject *unused)
{
    PyErr_SetString(PyExc_RuntimeError, "Task does not support set_result operation");
    return NULL;
}

static PyObject *
task_set_exception(TaskObj *task, PyObject *unused)
{
    PyErr_SetString(PyExc_RuntimeError,
                    "Task does not support set_exception operation");
    return NULL;
}

static PyObject *
task_repr(TaskObj *task)
{
    if (task->fut.loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Future object is not initialized.");
        return NULL;
    }
    return PyObject_CallOneArg(task->fut.state->task_repr, (PyObject *)task);
}

/* "Task was destroyed but it is pending!", then Future's report. */
static void
task_finalize_impl(TaskObj *task)
{
    ca_state *st = task->fut.state;
    if (task->fut.loop != NULL && task->fut.fstate == CA_FUT_PENDING
        && task->log_destroy_pending) {
        PyObject *saved = ca_err_fetch();
        PyObject *msg = PyUnicode_FromString("Task was destroyed but it is pending!");
        if (msg == NULL
            || ca_report_exception(st, task->fut.loop, msg, NULL, st->str_task,
                                   (PyObject *)task, task->fut.source_tb) < 0) {
            PyErr_WriteUnraisable((PyObject *)task);
        }
        Py_XDECREF(msg);
        if (saved != NULL) {
            ca_err_restore(saved);
        }
    }
    ca_future_finalize(&task->fut);
}

static PyObject *
task_del_meth(TaskObj *task, PyObject *unused)
{
    task_finalize_impl(task);
    Py_RETURN_NONE;
}

/* ---- getters and setters ---- */

static PyObject *
task_get_or_none(PyObject *v)
{
    return Py_NewRef(v ? v : Py_None);
}

static PyObject *
task_get_coro_attr(TaskObj *task, void *c)
{
    return task_get_or_none(task->coro);
}

static PyObject *
task_get_fut_waiter(TaskObj *task, void *c)
{
    return task_get_or_none(task->fut_waiter);
}

static PyObject *
task_get_must_cancel(TaskObj *task, void *c)
{
    return PyBool_FromLong(task->must_cancel);
}

static PyObject *
task_get_log_destroy_pending(TaskObj *task, void *c)
{
    return PyBool_FromLong(task->log_destroy_pending);
}

static int
task_set_log_destroy_pending(TaskObj *task, PyObject *v, void *c)
{
    int b = ca_attr_bool(v, "casyncio.Task", "_log_destroy_pending");
    if (b < 0) {
        return -1;
    }
    task->log_destroy_pending = (unsigned char)b;
    return 0;
}

static PyObject *
task_get_num_cancels(TaskObj *task, void *c)
{
    return PyLong_FromLong(task->num_cancels);
}

/* ---- slots ---- */

static int
task_tp_traverse(TaskObj *task, visitproc visit, void *arg)
{
    Py_VISIT(task->coro);
    Py_VISIT(task->name);
    CA_VISIT_CONTEXT(task->context);
    Py_VISIT(task->fut_waiter);
    return ca_future_traverse(&task->fut, visit, arg);
}

static int
task_tp_clear(TaskObj *task)
{
    task_clear_own(task);
    return ca_future_clear(&task->fut);
}

static void
task_tp_finalize(TaskObj *task)
{
    /* The task is garbage: leave the registry first, as a weakref entry
     * would be cleared by the collector before any finalizer runs, so that
     * an exception handler that keeps the task (a resurrection) does not
     * keep it in all_tasks(). */
    ca_task_unregister(task->fut.state, task);
    task_finalize_impl(task);
}

static void
task_tp_dealloc(TaskObj *task)
{
    PyTypeObject *tp = Py_TYPE(task);
    if (PyObject_CallFinalizerFromDealloc((PyObject *)task) < 0) {
        return;  /* resurrected */
    }
    PyObject_GC_UnTrack(task);
    if (task->fut.weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)task);
    }
    (void)task_tp_clear(task);
    if (task->fut.state != NULL) {
        CA_LIVE_ADD(task->fut.state, CA_LIVE_TASK, -1);
    }
    tp->tp_free(task);
    Py_DECREF(tp);
}

/* ---- TaskStep ---- */

static PyObject *
taskstep_call(TaskStepObj *s, PyObject *args, PyObject *kwds)
{
    if ((kwds != NULL && PyDict_GET_SIZE(kwds) > 0)
        || PyTuple_GET_SIZE(args) > 0) {
        PyErr_SetString(PyExc_TypeError, "a task step takes no arguments");
        return NULL;
    }
    TaskObj *task = (TaskObj *)s->task;
    if (task_step(task->fut.state, task, s->exc) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
taskstep_get_self(TaskStepObj *s, void *c)
{
    return Py_NewRef(s->task);
}

static int
taskstep_traverse(TaskStepObj *s, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(s));
    Py_VISIT(s->task);
    Py_VISIT(s->exc);
    return 0;
}

static int
taskstep_clear(TaskStepObj *s)
{
    Py_CLEAR(s->task);
    Py_CLEAR(s->exc);
    return 0;
}

static void
taskstep_dealloc(TaskStepObj *s)
{
    PyTypeObject *tp = Py_TYPE(s);
    PyObject_GC_UnTrack(s);
    (void)taskstep_clear(s);
    tp->tp_free(s);
    Py_DECREF(tp);
}

/* ---- tables ---- */

static PyMethodDef task_methods[] = {
    {"cancel", (PyCFunction)(void (*)(void))task_cancel_meth,
     METH_FASTCALL | METH_KEYWORDS,
     "cancel($self, /, msg=None)\n--\n\nRequest that the task be cancelled: "
     "CancelledError is thrown into the coroutine at its next step."},
    {"cancelling", (PyCFunction)task_cancelling, METH_NOARGS,
     "cancelling($self, /)\n--\n\nThe number of pending cancellation requests."},
    {"uncancel", (PyCFunction)task_uncancel, METH_NOARGS,
     "uncancel($self, /)\n--\n\nDecrement the cancellation requests; return "
     "how many remain."},
    {"get_coro", (PyCFunction)task_get_coro, METH_NOARGS,
     "get_coro($self, /)\n--\n\nReturn the coroutine the task wraps."},
    {"get_context", (PyCFunction)task_get_context, METH_NOARGS,
     "get_context($self, /)\n--\n\nReturn the Context the task runs in."},
    {"get_name", (PyCFunction)task_get_name, METH_NOARGS,
     "get_name($self, /)\n--\n\nReturn the task's name."},
    {"set_name", (PyCFunction)task_set_name, METH_O,
     "set_name($self, value, /)\n--\n\nSet the task's name (str(value))."},
    {"get_stack", (PyCFunction)(void (*)(void))task_get_stack,
     METH_VARARGS | METH_KEYWORDS,
     "get_stack($self, /, *, limit=None)\n--\n\nReturn the coroutine's frames."},
    {"print_stack", (PyCFunction)(void (*)(void))task_print_stack,
     METH_VARARGS | METH_KEYWORDS,
     "print_stack($self, /, *, limit=None, file=None)\n--\n\n"
     "Print the coroutine's stack or traceback."},
    {"set_result", (PyCFunction)task_set_result, METH_O, NULL},
    {"set_exception", (PyCFunction)task_set_exception, METH_O, NULL},
    {"__del__", (PyCFunction)task_del_meth, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef task_getset[] = {
    {"_coro", (getter)task_get_coro_attr, NULL, NULL, NULL},
    {"_fut_waiter", (getter)task_get_fut_waiter, NULL, NULL, NULL},
    {"_must_cancel", (getter)task_get_must_cancel, NULL, NULL, NULL},
    {"_log_destroy_pending", (getter)task_get_log_destroy_pending,
     (setter)task_set_log_destroy_pending, NULL, NULL},
    {"_num_cancels_requested", (getter)task_get_num_cancels, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot task_slots[] = {
    {Py_tp_doc, "Task(coro, *, loop=None, name=None, context=None, "
                "eager_start=False)\n--\n\n"
                "A coroutine wrapped in a Future (asyncio.Task's API)."},
    {Py_tp_new, task_tp_new},
    {Py_tp_init, task_tp_init},
    {Py_tp_repr, task_repr},
    {Py_tp_traverse, task_tp_traverse},
    {Py_tp_clear, task_tp_clear},
    {Py_tp_finalize, task_tp_finalize},
    {Py_tp_dealloc, task_tp_dealloc},
    {Py_tp_methods, task_methods},
    {Py_tp_getset, task_getset},
    {0, NULL},
};

PyType_Spec ca_task_spec = {
    .name = "casyncio.Task",
    .basicsize = sizeof(TaskObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = task_slots,
};

static PyGetSetDef taskstep_getset[] = {
    {"__self__", (getter)taskstep_get_self, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot taskstep_slots[] = {
    {Py_tp_call, taskstep_call},
    {Py_tp_traverse, taskstep_traverse},
    {Py_tp_clear, taskstep_clear},
    {Py_tp_dealloc, taskstep_dealloc},
    {Py_tp_getset, taskstep_getset},
    {0, NULL},
};

PyType_Spec ca_taskstep_spec = {
    .name = "casyncio._core.TaskStep",
    .basicsize = sizeof(TaskStepObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = taskstep_slots,
};
