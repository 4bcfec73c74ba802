/* The loop object: scheduling (call_soon/call_later/call_at), the timer
 * heap, the ready queue and one iteration of the loop.
 *
 * Owns: the ready queue entries, the timers in the heap, the reactor and
 * the watch table (io.c fills it), the wakeup fd (wakeup.c).
 * Does not own: run_forever's set-up (running-loop registration, asyncgen
 * hooks), close()'s executor shutdown, the exception handler and the task
 * factory: those are once-per-run glue in casyncio/_loop.py.
 *
 * One iteration, one named call per phase (docs/design.md says the same):
 *   1. loop_poll_timeout:    0 if anything is ready or the loop is stopping,
 *                            else until the earliest live timer (rounded up),
 *                            else no limit;
 *   2. loop_poll:            wait in the reactor (interest changes of
 *                            add_reader & co. are applied when made);
 *   3. ca_io_dispatch:       queue the handles of ready fds, drain the wakeup;
 *                            transports and sock_* operations run at once
 *                            unless phases 4 and 5 hold entries asyncio
 *                            would run first (then they are queued too);
 *   4. loop_collect_timers:  move due timers (when <= now, the clock read
 *                            after the poll) to the ready queue;
 *   5. loop_run_ready:       run exactly the entries queued before this phase
 *                            began: what they schedule runs next iteration.
 *   6. (transports finish closing through callbacks queued in phase 5.)
 */
#include "errors.h"
#include "executor.h"
#include "future.h"
#include "io.h"
#include "loop.h"
#include "recv.h"
#include "signals.h"
#include "sockets.h"
#include "server.h"
#include "stream.h"
#include "wakeup.h"

#include <math.h>
#include <time.h>

/* asyncio's limits: a poll sleeps at most a day; the heap is compacted when
 * more than half of more than 100 timers are cancelled. */
#define LOOP_MAX_POLL_SECONDS (24.0 * 3600.0)
#define LOOP_COMPACT_MIN_TIMERS 100

double
ca_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int
ca_loop_check_closed(LoopObj *loop)
{
    if (loop->closed) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return -1;
    }
    return 0;
}

static PyObject *loop_time(LoopObj *self, PyObject *unused);

/* Whether self.time is the loop's own method; looked up when the loop is
 * made, when it starts running and when "time" is set or deleted on it. */
static int
loop_refresh_clock(LoopObj *self)
{
    PyObject *m = PyObject_GetAttr((PyObject *)self, self->state->str_time);
    if (m == NULL) {
        return -1;
    }
    self->py_clock = !(PyCFunction_Check(m)
                       && PyCFunction_GET_FUNCTION(m) == (PyCFunction)loop_time
                       && PyCFunction_GET_SELF(m) == (PyObject *)self);
    Py_DECREF(m);
    return 0;
}

/* The loop's clock: time.monotonic(), or self.time() if that is not the
 * loop's own (a subclass's, or a test's virtual clock). */
static inline int
loop_now(LoopObj *self, double *now)
{
    if (!self->py_clock) {
        *now = ca_time_now();
        return 0;
    }
    PyObject *t = PyObject_CallMethodNoArgs((PyObject *)self, self->state->str_time);
    if (t == NULL) {
        return -1;
    }
    *now = PyFloat_AsDouble(t);
    Py_DECREF(t);
    return *now == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* ca_loop_schedule's body, inlined where call_soon uses it. */
static inline int
loop_push(LoopObj *loop, int kind, PyObject *obj, PyObject *arg, PyObject *ctx)
{
    int err = ca_readyq_push(&loop->ready, kind, obj, arg, ctx);
    if (err < 0) {
        ca_err_from_errno(err);
        return -1;
    }
    Py_INCREF(obj);
    Py_XINCREF(arg);
    Py_XINCREF(ctx);
    return 0;
}

int
ca_loop_schedule(LoopObj *loop, int kind, PyObject *obj, PyObject *arg,
                 PyObject *ctx)
{
    return loop_push(loop, kind, obj, arg, ctx);
}

void
ca_loop_timer_cancelled(LoopObj *loop, HandleObj *timer)
{
    if (timer->scheduled) {
        loop->timer_cancelled++;
    }
}

/* ---- timers ---- */

/* Removes timer node i's timer reference (the node itself is the caller's). */
static void
loop_release_timer(LoopObj *self, HandleObj *t)
{
    t->scheduled = 0;
    if (t->cancelled) {
        self->timer_cancelled--;
    }
    ca_handle_unqueue((PyObject *)t);
    Py_DECREF(t);
}

/* Drops cancelled timers: all of them when they are the majority of a large
 * heap, otherwise only those at the top (the rest go when they surface). */
static void
loop_drop_cancelled_timers(LoopObj *self)
{
    ca_timerheap *h = &self->timers;
    if (h->len > LOOP_COMPACT_MIN_TIMERS
        && (size_t)self->timer_cancelled * 2 > h->len) {
        /* Beware: releasing a timer can run arbitrary Python code (a
         * finalizer) that schedules more timers, so filter first and
         * release after the heap is consistent again. */
        size_t n = h->len, kept = 0;
        ca_timer_node *dropped = PyMem_Malloc(n * sizeof(*dropped));
        if (dropped == NULL) {
            return;  /* compaction is an optimisation: skip it */
        }
        size_t ndropped = 0;
        for (size_t i = 0; i < n; i++) {
            if (((HandleObj *)h->nodes[i].timer)->cancelled) {
                dropped[ndropped++] = h->nodes[i];
            }
            else {
                h->nodes[kept++] = h->nodes[i];
            }
        }
        h->len = kept;
        ca_timerheap_heapify(h);
        for (size_t i = 0; i < ndropped; i++) {
            loop_release_timer(self, (HandleObj *)dropped[i].timer);
        }
        PyMem_Free(dropped);
        return;
    }
    ca_timer_node *top;
    while ((top = ca_timerheap_top(h)) != NULL
           && ((HandleObj *)top->timer)->cancelled) {
        ca_timer_node node;
        ca_timerheap_pop(h, &node);
        loop_release_timer(self, (HandleObj *)node.timer);
    }
}

/* Whether a timer is due at `now` (a cancelled one counts: it only makes
 * phase 3 queue what it could have run at once). */
static int
loop_timer_due(LoopObj *self, double now)
{
    ca_timer_node *top = ca_timerheap_top(&self->timers);
    return top != NULL && (top->when <= now || isnan(top->when));
}

/* Phase 4: due timers go to the ready queue, in (when, seq) order. */
static int
loop_collect_timers(LoopObj *self, double now)
{
    ca_timer_node *top;
    while ((top = ca_timerheap_top(&self->timers)) != NULL
           && (top->when <= now || isnan(top->when))) {
        ca_timer_node node;
        ca_timerheap_pop(&self->timers, &node);
        HandleObj *t = node.timer;
        if (t->cancelled) {
            loop_release_timer(self, t);
            continue;
        }
        t->scheduled = 0;
        /* The heap's reference moves to the ready queue. */
        int err = ca_readyq_push(&self->ready, CA_READY_HANDLE, (PyObject *)t,
                                 NULL, NULL);
        if (err < 0) {
            ca_handle_unqueue((PyObject *)t);
            Py_DECREF(t);
            ca_err_from_errno(err);
            return -1;
        }
    }
    return 0;
}

/* ---- one iteration ---- */

/* Phase 1: *timeout_ms, the milliseconds the reactor may sleep, or -1 for
 * no limit.  -1 with an exception if a Python clock failed. */
static int
loop_poll_timeout(LoopObj *self, int *timeout_ms)
{
    loop_drop_cancelled_timers(self);
    ca_timer_node *top = ca_timerheap_top(&self->timers);
    *timeout_ms = 0;
    if (self->ready.len > 0 || self->stopping) {
        return 0;
    }
    if (top == NULL) {
        *timeout_ms = -1;
        return 0;
    }
    double now;
    if (loop_now(self, &now) < 0) {
        return -1;
    }
    double delay = top->when - now;
    if (!(delay > 0.0)) {  /* also NaN */
        return 0;
    }
    if (delay > LOOP_MAX_POLL_SECONDS) {
        delay = LOOP_MAX_POLL_SECONDS;
    }
    /* Round up: waking early would only cost another iteration, but a timer
     * is never run before its deadline (phase 4 checks the clock). */
    *timeout_ms = (int)ceil(delay * 1000.0);
    return 0;
}

/* Phase 2: returns the number of reactor events, or -1 with an exception
 * (a signal handler raised, typically KeyboardInterrupt). */
static int
loop_poll(LoopObj *self, int timeout_ms)
{
    int n;
    if (timeout_ms == 0) {
        n = ca_reactor_poll(self->reactor, 0);
    }
    else {
        /* A signal that arrived while we ran C code has not had its Python
         * handler run yet; run it now rather than sleep through it. */
        if (PyErr_CheckSignals() < 0) {
            return -1;
        }
        Py_BEGIN_ALLOW_THREADS
        n = ca_reactor_poll(self->reactor, timeout_ms);
        Py_END_ALLOW_THREADS
    }
    if (n == -EINTR) {
        return PyErr_CheckSignals() < 0 ? -1 : 0;
    }
    if (n < 0) {
        ca_err_from_errno(n);
        return -1;
    }
    return n;
}

/* Runs a future's done-callback entry: fn(future) in its context. */
static int
loop_run_callback(LoopObj *self, ca_ready_entry *e)
{
    PyObject *const *args = e->arg ? &e->arg : NULL;
    Py_ssize_t nargs = e->arg ? 1 : 0;
    if (ca_context_call(e->ctx, e->obj, args, nargs) == 0) {
        return 0;
    }
    return ca_callback_settle(self->state, (PyObject *)self, e->obj, args, nargs,
                              e->ctx, NULL);
}

static int
loop_dispatch_entry(LoopObj *self, ca_ready_entry *e)
{
    switch (e->kind) {
    case CA_READY_HANDLE:
        return ca_handle_run(self->state, (HandleObj *)e->obj);
    case CA_READY_CALLBACK:
        return loop_run_callback(self, e);
    case CA_READY_TASK_STEP:
    case CA_READY_TASK_WAKEUP:
        return ca_task_run_entry(self->state, self, e);
    case CA_READY_SOCKOP:
        return ca_sockop_run(self, e->obj);
    case CA_READY_EXEC_RESULT:
    case CA_READY_EXEC_ERROR:
        return ca_executor_settle(self, e);
    case CA_READY_WATCH_READ:
    case CA_READY_WATCH_WRITE:
        return ca_io_run_queued(self, e);
    }
    return 0;
}

/* What a slow-callback warning names: the handle as asyncio formats it, or
 * the task for a step or wakeup. */
static PyObject *
loop_describe_entry(LoopObj *self, ca_ready_entry *e)
{
    ca_state *st = self->state;
    switch (e->kind) {
    case CA_READY_HANDLE:
        return PyObject_CallOneArg(st->format_handle, e->obj);
    case CA_READY_CALLBACK: {
        PyObject *h = (PyObject *)ca_handle_new(st, st->HandleType, (PyObject *)self,
                                                e->obj, &e->arg, e->arg ? 1 : 0,
                                                e->ctx, 0);
        PyObject *what = h ? PyObject_Str(h) : NULL;
        Py_XDECREF(h);
        return what;
    }
    default:
        return PyObject_Repr(e->obj);
    }
}

/* Runs one entry in debug mode: timed, its handle recorded as current, and
 * reported if slower than slow_callback_duration. */
static int
loop_dispatch_entry_debug(LoopObj *self, ca_ready_entry *e)
{
    if (e->kind == CA_READY_HANDLE) {
        Py_XSETREF(self->current_handle, Py_NewRef(e->obj));
    }
    double t0 = ca_time_now();
    int rc = loop_dispatch_entry(self, e);
    double dt = ca_time_now() - t0;
    Py_CLEAR(self->current_handle);
    if (rc < 0 || dt < self->slow_callback_duration) {
        return rc;
    }
    PyObject *what = loop_describe_entry(self, e);
    if (what == NULL) {
        return -1;
    }
    PyObject *res = PyObject_CallMethod(self->state->logger, "warning", "sOd",
                                        "Executing %s took %.3f seconds", what, dt);
    Py_DECREF(what);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

/* Runs one entry and releases its references. */
static int
loop_run_entry(LoopObj *self, ca_ready_entry *e)
{
    int rc = 0;
    if (e->kind == CA_READY_HANDLE) {
        /* The most common entry skips loop_dispatch_entry's switch; its
         * `arg` and `ctx` are NULL. */
        HandleObj *h = (HandleObj *)e->obj;
        if (!h->cancelled) {
            rc = self->debug ? loop_dispatch_entry_debug(self, e)
                             : ca_handle_run(self->state, h);
        }
        ca_handle_unqueue((PyObject *)h);
        Py_DECREF(h);
        return rc;
    }
    rc = self->debug ? loop_dispatch_entry_debug(self, e) : loop_dispatch_entry(self, e);
    Py_DECREF(e->obj);
    Py_XDECREF(e->arg);
    ca_context_release(e->ctx);
    return rc;
}

/* Phase 5.  On error (KeyboardInterrupt, SystemExit) the entries not yet
 * run stay queued, as in asyncio, and run when the loop runs again. */
static int
loop_run_ready(LoopObj *self)
{
    Py_ssize_t ntodo = self->ready.len;
    while (ntodo-- > 0 && self->ready.len > 0) {
        ca_ready_entry e = ca_readyq_pop(&self->ready);
        if (loop_run_entry(self, &e) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
loop_run_once(LoopObj *self)
{
    int timeout_ms;
    if (loop_poll_timeout(self, &timeout_ms) < 0) {
        return -1;
    }
    int nevents = loop_poll(self, timeout_ms);
    if (nevents < 0) {
        return -1;
    }
    /* One clock reading, as asyncio's end_time: the timers due at the poll
     * run after its I/O events, before anything those schedule. */
    double now;
    if (loop_now(self, &now) < 0) {
        return -1;
    }
    int behind = self->ready.len > 0 || loop_timer_due(self, now);
    if (ca_io_dispatch(self, nevents, behind) < 0) {
        return -1;
    }
    if (loop_collect_timers(self, now) < 0) {
        return -1;
    }
    return loop_run_ready(self);
}

/* ---- scheduling ---- */

static int
loop_check_thread(LoopObj *self)
{
    if (self->running && PyThread_get_thread_ident() != self->thread_id) {
        PyErr_SetString(PyExc_RuntimeError,
                        "Non-thread-safe operation invoked on an event loop "
                        "other than the current one");
        return -1;
    }
    return 0;
}

int
ca_loop_check_call_soon(LoopObj *loop)
{
    if (ca_loop_check_closed(loop) < 0) {
        return -1;
    }
    return loop->debug ? loop_check_thread(loop) : 0;
}

/* Debug-mode argument check of asyncio's BaseEventLoop._check_callback. */
static int
loop_check_callback(LoopObj *self, PyObject *cb, const char *method)
{
    ca_state *st = self->state;
    PyObject *r = PyObject_CallOneArg(st->iscoroutine, cb);
    int bad = r ? PyObject_IsTrue(r) : -1;
    Py_XDECREF(r);
    if (bad == 0) {
        r = PyObject_CallOneArg(st->iscoroutinefunction, cb);
        bad = r ? PyObject_IsTrue(r) : -1;
        Py_XDECREF(r);
    }
    if (bad < 0) {
        return -1;
    }
    if (bad) {
        PyErr_Format(PyExc_TypeError, "coroutines cannot be used with %s()", method);
        return -1;
    }
    if (!PyCallable_Check(cb)) {
        PyErr_Format(PyExc_TypeError,
                     "a callable object was expected by %s(), got %R", method, cb);
        return -1;
    }
    return 0;
}

static int
loop_check_schedule_slow(LoopObj *self, PyObject *cb, const char *method,
                         int any_thread)
{
    if (ca_loop_check_closed(self) < 0) {
        return -1;
    }
    if (self->debug) {
        if (!any_thread && loop_check_thread(self) < 0) {
            return -1;
        }
        return loop_check_callback(self, cb, method);
    }
    return 0;
}

/* The checks of call_soon() and the like; inline for the common case, an
 * open loop outside debug mode, which has nothing to check. */
static inline int
loop_check_schedule(LoopObj *self, PyObject *cb, const char *method, int any_thread)
{
    if (!self->closed && !self->debug) {
        return 0;
    }
    return loop_check_schedule_slow(self, cb, method, any_thread);
}

static int
loop_parse_schedule_args_slow(const char *method, PyObject *const *args,
                              Py_ssize_t nargs, PyObject *kwnames,
                              Py_ssize_t nfixed, const char *fixed_names,
                              PyObject **context)
{
    if (nargs < nfixed + 1) {
        PyErr_Format(PyExc_TypeError,
                     "%s() missing required positional argument: '%s'", method,
                     nargs < nfixed ? fixed_names : "callback");
        return -1;
    }
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(name, "context") != 0) {
            PyErr_Format(PyExc_TypeError,
                         "%s() got an unexpected keyword argument '%U'", method, name);
            return -1;
        }
        *context = args[nargs + i];
    }
    return 0;
}

/* Splits (callback, *args, context=None); `nfixed` leading positionals
 * (call_later's delay, call_at's when) come before the callback.  Inline
 * for the common case, no keyword and the callback given. */
static inline int
loop_parse_schedule_args(const char *method, PyObject *const *args,
                         Py_ssize_t nargs, PyObject *kwnames, Py_ssize_t nfixed,
                         const char *fixed_names, PyObject **context)
{
    *context = Py_None;
    if (kwnames == NULL && nargs > nfixed) {
        return 0;
    }
    return loop_parse_schedule_args_slow(method, args, nargs, kwnames, nfixed,
                                         fixed_names, context);
}

/* Queues a new handle (NULL: its making failed) and returns it. */
static inline PyObject *
loop_queue_new_handle(LoopObj *self, HandleObj *h)
{
    if (h == NULL) {
        return NULL;
    }
    if (loop_push(self, CA_READY_HANDLE, (PyObject *)h, NULL, NULL) < 0) {
        Py_DECREF(h);
        return NULL;
    }
    return (PyObject *)h;
}

static PyObject *
loop_schedule_soon(LoopObj *self, PyObject *cb, PyObject *const *args,
                   Py_ssize_t nargs, PyObject *context)
{
    return loop_queue_new_handle(
        self, ca_handle_new_soon(self->state, (PyObject *)self, self->debug, cb, args,
                                 nargs, context));
}

static PyObject *
loop_call_soon(LoopObj *self, PyObject *const *args, Py_ssize_t nargsf,
               PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *context;
    if (loop_parse_schedule_args("call_soon", args, nargs, kwnames, 0, NULL,
                                 &context) < 0
        || loop_check_schedule(self, args[0], "call_soon", 0) < 0) {
        return NULL;
    }
    return loop_schedule_soon(self, args[0], args + 1, nargs - 1, context);
}

static PyObject *
loop_call_soon_threadsafe(LoopObj *self, PyObject *const *args,
                          Py_ssize_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *context;
    if (loop_parse_schedule_args("call_soon_threadsafe", args, nargs, kwnames,
                                 0, NULL, &context) < 0
        || loop_check_schedule(self, args[0], "call_soon_threadsafe", 1) < 0) {
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030E0000
    PyObject *h = loop_queue_new_handle(
        self, ca_threadsafe_handle_new(self->state, (PyObject *)self, args[0],
                                       args + 1, nargs - 1, context));
#else
    PyObject *h = loop_schedule_soon(self, args[0], args + 1, nargs - 1, context);
#endif
    if (h != NULL) {
        ca_wakeup_signal(self);
    }
    return h;
}

static PyObject *
loop_schedule_at(LoopObj *self, double when, int when_int,
                 PyObject *const *args, Py_ssize_t nargs, PyObject *context)
{
    if (loop_check_schedule(self, args[0], "call_at", 0) < 0) {
        return NULL;
    }
    HandleObj *t = ca_handle_new(self->state, self->state->TimerHandleType,
                                 (PyObject *)self, args[0], args + 1, nargs - 1,
                                 context, 1);
    if (t == NULL) {
        return NULL;
    }
    t->when = when;
    t->when_int = when_int;
    int err = ca_timerheap_push(&self->timers, when, self->timer_seq++, t);
    if (err < 0) {
        Py_DECREF(t);
        ca_err_from_errno(err);
        return NULL;
    }
    t->scheduled = 1;
    return Py_NewRef(t);  /* one reference for the heap, one returned */
}

/* A deadline from a number; `base` is added first (call_later's now).
 * Non-float numbers go through the number protocol, so the errors are the
 * ones `loop.time() + delay` gives in asyncio. */
static int
loop_deadline(PyObject *v, double base, double *out)
{
    if (PyFloat_CheckExact(v)) {
        *out = base + PyFloat_AS_DOUBLE(v);
        return 0;
    }
    if (PyLong_CheckExact(v)) {
        double d = PyLong_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred()) {
            return -1;
        }
        *out = base + d;
        return 0;
    }
    PyObject *b = PyFloat_FromDouble(base);
    PyObject *sum = b ? PyNumber_Add(b, v) : NULL;
    Py_XDECREF(b);
    if (sum == NULL) {
        return -1;
    }
    *out = PyFloat_AsDouble(sum);
    Py_DECREF(sum);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static PyObject *
loop_call_later(LoopObj *self, PyObject *const *args, Py_ssize_t nargsf,
                PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *context;
    double when;
    if (loop_parse_schedule_args("call_later", args, nargs, kwnames, 1, "delay",
                                 &context) < 0) {
        return NULL;
    }
    if (args[0] == Py_None) {
        PyErr_SetString(PyExc_TypeError, "delay must not be None");
        return NULL;
    }
    double now;
    if (loop_now(self, &now) < 0 || loop_deadline(args[0], now, &when) < 0) {
        return NULL;
    }
    return loop_schedule_at(self, when, 0, args + 1, nargs - 1, context);
}

static PyObject *
loop_call_at(LoopObj *self, PyObject *const *args, Py_ssize_t nargsf,
             PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *context;
    double when;
    if (loop_parse_schedule_args("call_at", args, nargs, kwnames, 1, "when",
                                 &context) < 0) {
        return NULL;
    }
    if (args[0] == Py_None) {
        PyErr_SetString(PyExc_TypeError, "when cannot be None");
        return NULL;
    }
    if (loop_deadline(args[0], 0.0, &when) < 0) {
        /* asyncio takes it and fails later, at each loop iteration, when
         * its heap compares it; refused here, saying what is wrong. */
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Format(PyExc_TypeError, "when must be a real number, not '%s'",
                         Py_TYPE(args[0])->tp_name);
        }
        return NULL;
    }
    return loop_schedule_at(self, when, PyLong_CheckExact(args[0]), args + 1,
                            nargs - 1, context);
}

/* ---- run, stop, close ---- */

static PyObject *
loop_run_forever_core(LoopObj *self, PyObject *unused)
{
    int rc;
    if (loop_refresh_clock(self) < 0) {
        return NULL;
    }
    do {
        rc = loop_run_once(self);
    } while (rc == 0 && !self->stopping);
    self->stopping = 0;
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
loop_stop(LoopObj *self, PyObject *unused)
{
    self->stopping = 1;
    Py_RETURN_NONE;
}

static PyObject *
loop_time(LoopObj *self, PyObject *unused)
{
    return PyFloat_FromDouble(ca_time_now());
}

static PyObject *
loop_get_debug(LoopObj *self, PyObject *unused)
{
    return PyBool_FromLong(self->debug);
}

static PyObject *
loop_is_running(LoopObj *self, PyObject *unused)
{
    return PyBool_FromLong(self->running);
}

static PyObject *
loop_is_closed(LoopObj *self, PyObject *unused)
{
    return PyBool_FromLong(self->closed);
}

/* Empties the ready queue and the timer heap, releasing what they hold. */
static void
loop_clear_queues(LoopObj *self)
{
    /* Beware: releasing an entry can run Python code (finalizers) that
     * schedules again, so take the containers out first. */
    ca_readyq ready = self->ready;
    ca_timerheap timers = self->timers;
    self->ready = (ca_readyq){0};
    self->timers = (ca_timerheap){0};
    self->timer_cancelled = 0;
    while (ready.len > 0) {
        ca_ready_entry e = ca_readyq_pop(&ready);
        if (e.kind == CA_READY_HANDLE) {
            ca_handle_unqueue(e.obj);
        }
        Py_DECREF(e.obj);
        Py_XDECREF(e.arg);
        ca_context_release(e.ctx);
    }
    ca_readyq_free(&ready);
    for (size_t i = 0; i < timers.len; i++) {
        HandleObj *t = timers.nodes[i].timer;
        t->scheduled = 0;
        ca_handle_unqueue((PyObject *)t);
        Py_DECREF(t);
    }
    ca_timerheap_free(&timers);
}

static void
loop_release_native(LoopObj *self)
{
    ca_io_clear(self);
    ca_recv_release(self);
    ca_wakeup_close(self);
    ca_signals_close(self);
    ca_reactor_close(self->reactor);
    self->reactor = NULL;
}

/* The C half of close(): the Python half has checked that the loop is not
 * running and shut the executor down. */
static PyObject *
loop_close_core(LoopObj *self, PyObject *unused)
{
    if (self->closed) {
        Py_RETURN_NONE;
    }
    self->closed = 1;
    loop_clear_queues(self);
    loop_release_native(self);
    Py_RETURN_NONE;
}

static PyObject *
loop_timer_handle_cancelled(LoopObj *self, PyObject *timer)
{
    if (PyObject_TypeCheck(timer, self->state->TimerHandleType)) {
        ca_loop_timer_cancelled(self, (HandleObj *)timer);
    }
    Py_RETURN_NONE;
}

/* ---- futures and tasks ---- */

/* asyncio's loop makes futures with futures.Future and tasks with
 * tasks.Task, looked up when called, so that a program (or a test) that
 * puts a class of its own there gets it.  casyncio's does too: while the
 * name is what asyncio put there, it makes its own Future or Task; else it
 * calls the class found there.  That class (borrowed), or NULL for ours.
 * Beware: a dict lookup costs ~150 instructions (3.13), so from 3.12 on it
 * is made only once a dict watcher saw one of the names change
 * (ca_asyncio_names_changed, module.c). */
static PyObject *
loop_class_in_place(PyObject *module_dict, PyObject *name, PyObject *original)
{
    if (!ca_asyncio_names_changed()) {
        return NULL;
    }
    PyObject *cls = PyDict_GetItemWithError(module_dict, name);
    if (cls == NULL) {
        PyErr_Clear();  /* deleted: ours */
    }
    return cls == original ? NULL : cls;
}

static PyObject *
loop_create_future(LoopObj *self, PyObject *unused)
{
    ca_state *st = self->state;
    PyObject *cls = loop_class_in_place(st->futures_dict, st->str_Future,
                                        st->AsyncioFuture);
    if (cls != NULL) {
        PyObject *loop = (PyObject *)self;
        return PyObject_Vectorcall(cls, &loop, 0, st->kwnames_loop);
    }
    return ca_future_create(st, (PyObject *)self);
}

/* tasks.Task(coro, loop=self, **kw) for a class put in place of asyncio's
 * (see loop_class_in_place), as asyncio's create_task makes it, dropping
 * the create_task frame from a debug-mode creation traceback as it does. */
static PyObject *
loop_make_task_of(LoopObj *self, PyObject *cls, PyObject *coro, PyObject *kw)
{
    if (PyDict_SetItem(kw, self->state->str_loop, (PyObject *)self) < 0) {
        return NULL;
    }
    PyObject *args = PyTuple_Pack(1, coro);
    PyObject *task = args ? PyObject_Call(cls, args, kw) : NULL;
    Py_XDECREF(args);
    PyObject *tb = task ? PyObject_GetAttrString(task, "_source_traceback") : NULL;
    if (tb == NULL) {
        PyErr_Clear();
    }
    else if (PyList_Check(tb) && PyList_GET_SIZE(tb) > 0
             && PyList_SetSlice(tb, PyList_GET_SIZE(tb) - 1, PyList_GET_SIZE(tb),
                                NULL) < 0) {
        Py_CLEAR(task);
    }
    Py_XDECREF(tb);
    return task;
}

#if PY_VERSION_HEX >= 0x030E0000
/* A dict of the keywords of a vectorcall. */
static PyObject *
loop_kwargs_dict(PyObject *const *kwvalues, PyObject *kwnames)
{
    PyObject *kw = PyDict_New();
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; kw != NULL && i < nkw; i++) {
        if (PyDict_SetItem(kw, PyTuple_GET_ITEM(kwnames, i), kwvalues[i]) < 0) {
            Py_CLEAR(kw);
        }
    }
    return kw;
}

/* create_task(coro, **kwargs), as 3.14's: the task factory gets the
 * keywords as given; without one, a casyncio Task takes name=, context= and
 * eager_start=. */
static PyObject *
loop_create_task_factory(LoopObj *self, PyObject *const *args, PyObject *kwnames)
{
    /* factory(loop, coro, **kwargs): the arguments again, behind the loop. */
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject *small[8];
    PyObject **fargs = nkw + 2 <= 8 ? small : PyMem_Malloc((nkw + 2) * sizeof(PyObject *));
    if (fargs == NULL) {
        return PyErr_NoMemory();
    }
    fargs[0] = (PyObject *)self;
    memcpy(fargs + 1, args, (nkw + 1) * sizeof(PyObject *));
    PyObject *task = PyObject_Vectorcall(self->task_factory, fargs, 2, kwnames);
    if (fargs != small) {
        PyMem_Free(fargs);
    }
    return task;
}

static PyObject *
loop_create_task(LoopObj *self, PyObject *const *args, Py_ssize_t nargsf,
                 PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *name = Py_None, *context = Py_None, *eager = Py_False;
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError,
                     nargs == 0 ? "create_task() missing 1 required positional "
                                  "argument: 'coro'"
                                : "create_task() takes 2 positional arguments but "
                                  "%zd were given",
                     nargs + 1);
        return NULL;
    }
    if (ca_loop_check_closed(self) < 0) {
        return NULL;
    }
    if (self->task_factory != NULL) {
        return loop_create_task_factory(self, args, kwnames);
    }
    PyObject *cls = loop_class_in_place(self->state->tasks_dict, self->state->str_Task,
                                        self->state->AsyncioTask);
    if (cls != NULL) {
        PyObject *kw = loop_kwargs_dict(args + 1, kwnames);
        PyObject *task = kw ? loop_make_task_of(self, cls, args[0], kw) : NULL;
        Py_XDECREF(kw);
        return task;
    }
    if (ca_task_parse_kw("Task", args + 1, kwnames, &name, &context, &eager) < 0) {
        return NULL;
    }
    int is_eager = PyObject_IsTrue(eager);
    if (is_eager < 0) {
        return NULL;
    }
    return ca_task_create(self->state, args[0], (PyObject *)self, name, context,
                          is_eager);
}
#define CA_CREATE_TASK_SIG "create_task($self, coro, /, **kwargs)"
#else
/* create_task(coro, *, name=None, context=None): a casyncio Task, or what
 * the task factory makes (it gets context= only when one was given, and
 * the name is set afterwards, as asyncio does). */
static PyObject *
loop_create_task(LoopObj *self, PyObject *const *args, Py_ssize_t nargsf,
                 PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *name = Py_None, *context = Py_None;
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError,
                     "create_task() takes exactly 1 positional argument (%zd given)",
                     nargs);
        return NULL;
    }
    if (ca_task_parse_kw("create_task", args + 1, kwnames, &name, &context, NULL) < 0
        || ca_loop_check_closed(self) < 0) {
        return NULL;
    }
    if (self->task_factory == NULL) {
        PyObject *cls = loop_class_in_place(self->state->tasks_dict,
                                            self->state->str_Task,
                                            self->state->AsyncioTask);
        if (cls == NULL) {
            return ca_task_create(self->state, args[0], (PyObject *)self, name,
                                  context, 0);
        }
        PyObject *kw = Py_BuildValue("{O:O,O:O}", self->state->str_name, name,
                                     self->state->str_context, context);
        PyObject *task = kw ? loop_make_task_of(self, cls, args[0], kw) : NULL;
        Py_XDECREF(kw);
        return task;
    }
    PyObject *fargs[3] = {(PyObject *)self, args[0], context};
    PyObject *task = PyObject_Vectorcall(self->task_factory, fargs, 2,
                                         context == Py_None ? NULL
                                                            : self->state->kwnames_context);
    if (task != NULL && name != Py_None) {
        PyObject *r = PyObject_CallMethodOneArg(task, self->state->str_set_name, name);
        if (r == NULL) {
            Py_CLEAR(task);
        }
        Py_XDECREF(r);
    }
    return task;
}
#define CA_CREATE_TASK_SIG "create_task($self, coro, /, *, name=None, context=None)"
#endif

static PyObject *
loop_set_task_factory(LoopObj *self, PyObject *factory)
{
    if (factory != Py_None && !PyCallable_Check(factory)) {
        PyErr_SetString(PyExc_TypeError, "task factory must be a callable or None");
        return NULL;
    }
    Py_XSETREF(self->task_factory, factory == Py_None ? NULL : Py_NewRef(factory));
    Py_RETURN_NONE;
}

static PyObject *
loop_get_task_factory(LoopObj *self, PyObject *unused)
{
    return Py_NewRef(self->task_factory ? self->task_factory : Py_None);
}

/* ---- getters and setters ---- */

static PyObject *
loop_get_debug_attr(LoopObj *self, void *c)
{
    return PyBool_FromLong(self->debug);
}

static int
loop_set_debug_attr(LoopObj *self, PyObject *v, void *c)
{
    int b = v ? PyObject_IsTrue(v) : 0;
    if (b < 0) {
        return -1;
    }
    self->debug = (char)b;
    return 0;
}

static PyObject *
loop_get_thread_id(LoopObj *self, void *c)
{
    if (!self->running) {
        Py_RETURN_NONE;
    }
    return PyLong_FromUnsignedLong(self->thread_id);
}

/* run_forever's glue sets the running thread (an int) or None. */
static int
loop_set_thread_id(LoopObj *self, PyObject *v, void *c)
{
    if (v == NULL || v == Py_None) {
        self->running = 0;
        self->thread_id = 0;
        return 0;
    }
    unsigned long tid = PyLong_AsUnsignedLong(v);
    if (tid == (unsigned long)-1 && PyErr_Occurred()) {
        return -1;
    }
    self->thread_id = tid;
    self->running = 1;
    return 0;
}

static PyObject *
loop_get_slow(LoopObj *self, void *c)
{
    return PyFloat_FromDouble(self->slow_callback_duration);
}

static int
loop_set_slow(LoopObj *self, PyObject *v, void *c)
{
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete slow_callback_duration");
        return -1;
    }
    double d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    self->slow_callback_duration = d;
    return 0;
}

static PyObject *
loop_get_stopping(LoopObj *self, void *c)
{
    return PyBool_FromLong(self->stopping);
}

static PyObject *
loop_get_closed(LoopObj *self, void *c)
{
    return PyBool_FromLong(self->closed);
}

static PyObject *
loop_get_current_handle(LoopObj *self, void *c)
{
    return Py_NewRef(self->current_handle ? self->current_handle : Py_None);
}

static PyObject *
loop_get_timer_cancelled(LoopObj *self, void *c)
{
    return PyLong_FromSsize_t(self->timer_cancelled);
}

/* ---- Python-facing wrappers for io.c ---- */

static PyObject *
loop_add_reader(LoopObj *self, PyObject *const *args, Py_ssize_t nargs)
{
    return ca_loop_add_reader(self, args, nargs);
}

static PyObject *
loop_add_writer(LoopObj *self, PyObject *const *args, Py_ssize_t nargs)
{
    return ca_loop_add_writer(self, args, nargs);
}

/* ---- slots ---- */

static PyObject *
loop_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    PyObject *mod = PyType_GetModuleByDef(tp, &ca_module_def);
    if (mod == NULL) {
        return NULL;
    }
    LoopObj *self = (LoopObj *)tp->tp_alloc(tp, 0);
    if (self == NULL) {
        return NULL;
    }
    self->state = PyModule_GetState(mod);
    CA_LIVE_ADD(self->state, CA_LIVE_LOOP, 1);
    ca_gc_loop_link(self);
    if (ca_gc_install_hook(mod) < 0) {
        goto error;
    }
    self->wakeup_fd = -1;
    self->signal_rfd = -1;
    self->signal_wfd = -1;
    self->slow_callback_duration = 0.1;
    int err = ca_reactor_open(&self->reactor);
    if (err < 0) {
        ca_err_from_errno(err);
        goto error;
    }
    if (ca_wakeup_open(self) < 0) {
        goto error;
    }
    PyObject *debug = PyObject_CallNoArgs(self->state->is_debug_mode);
    if (debug == NULL || loop_set_debug_attr(self, debug, NULL) < 0) {
        Py_XDECREF(debug);
        goto error;
    }
    Py_DECREF(debug);
    if (loop_refresh_clock(self) < 0) {
        goto error;
    }
    return (PyObject *)self;
error:
    Py_DECREF(self);
    return NULL;
}

/* Setting or deleting "time" on the loop (mock.patch.object(loop, "time"))
 * changes the clock it reads. */
static int
loop_setattro(LoopObj *self, PyObject *name, PyObject *value)
{
    if (PyObject_GenericSetAttr((PyObject *)self, name, value) < 0) {
        return -1;
    }
    if (PyUnicode_Check(name) && PyUnicode_Compare(name, self->state->str_time) == 0) {
        return loop_refresh_clock(self);
    }
    return 0;
}

static int
loop_traverse(LoopObj *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    for (Py_ssize_t i = 0; i < self->ready.len; i++) {
        ca_ready_entry *e = ca_readyq_at(&self->ready, i);
        if (e->kind == CA_READY_HANDLE) {
            int vret = ca_gc_visit_queued(e->obj, visit, arg);
            if (vret) {
                return vret;
            }
        }
        else {
            Py_VISIT(e->obj);
        }
        Py_VISIT(e->arg);
        CA_VISIT_CONTEXT(e->ctx);
    }
    for (size_t i = 0; i < self->timers.len; i++) {
        int vret = ca_gc_visit_queued((PyObject *)self->timers.nodes[i].timer,
                                     visit, arg);
        if (vret) {
            return vret;
        }
    }
    Py_VISIT(self->current_handle);
    Py_VISIT(self->task_factory);
    Py_VISIT(self->signal_handlers);
    return ca_io_traverse(self, visit, arg);
}

static int
loop_clear(LoopObj *self)
{
    loop_clear_queues(self);
    ca_io_clear(self);
    Py_CLEAR(self->current_handle);
    Py_CLEAR(self->task_factory);
    Py_CLEAR(self->signal_handlers);
    return 0;
}

static void
loop_dealloc(LoopObj *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    ca_gc_loop_unlink(self);
    (void)loop_clear(self);
    loop_release_native(self);
    CA_LIVE_ADD(self->state, CA_LIVE_LOOP, -1);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* ---- tables ---- */

#define LOOP_SCHEDULE_FLAGS (METH_FASTCALL | METH_KEYWORDS)
#define LOOP_SOCK_FLAGS (METH_FASTCALL | METH_KEYWORDS)

static PyMethodDef loop_methods[] = {
    {"call_soon", (PyCFunction)(void (*)(void))loop_call_soon, LOOP_SCHEDULE_FLAGS,
     "call_soon($self, callback, /, *args, context=None)\n--\n\n"
     "Arrange for callback(*args) to be called soon, in FIFO order."},
    {"call_soon_threadsafe", (PyCFunction)(void (*)(void))loop_call_soon_threadsafe,
     LOOP_SCHEDULE_FLAGS,
     "call_soon_threadsafe($self, callback, /, *args, context=None)\n--\n\n"
     "Like call_soon(), but callable from any thread: wakes the loop."},
    {"call_later", (PyCFunction)(void (*)(void))loop_call_later, LOOP_SCHEDULE_FLAGS,
     "call_later($self, delay, callback, /, *args, context=None)\n--\n\n"
     "Arrange for callback(*args) to be called after delay seconds."},
    {"call_at", (PyCFunction)(void (*)(void))loop_call_at, LOOP_SCHEDULE_FLAGS,
     "call_at($self, when, callback, /, *args, context=None)\n--\n\n"
     "Arrange for callback(*args) to be called at loop time `when`."},
    {"time", (PyCFunction)loop_time, METH_NOARGS,
     "time($self, /)\n--\n\nThe loop's clock: time.monotonic()."},
    {"stop", (PyCFunction)loop_stop, METH_NOARGS,
     "stop($self, /)\n--\n\nStop running after the current iteration."},
    {"get_debug", (PyCFunction)loop_get_debug, METH_NOARGS,
     "get_debug($self, /)\n--\n\nWhether debug mode is on."},
    {"is_running", (PyCFunction)loop_is_running, METH_NOARGS,
     "is_running($self, /)\n--\n\nWhether the loop is running."},
    {"is_closed", (PyCFunction)loop_is_closed, METH_NOARGS,
     "is_closed($self, /)\n--\n\nWhether the loop was closed."},
    {"add_reader", (PyCFunction)(void (*)(void))loop_add_reader, METH_FASTCALL,
     "add_reader($self, fd, callback, /, *args)\n--\n\n"
     "Call callback(*args) whenever fd is readable."},
    {"add_writer", (PyCFunction)(void (*)(void))loop_add_writer, METH_FASTCALL,
     "add_writer($self, fd, callback, /, *args)\n--\n\n"
     "Call callback(*args) whenever fd is writable."},
    {"remove_reader", (PyCFunction)ca_loop_remove_reader, METH_O,
     "remove_reader($self, fd, /)\n--\n\nStop watching fd for reading; "
     "return whether a reader was registered."},
    {"remove_writer", (PyCFunction)ca_loop_remove_writer, METH_O,
     "remove_writer($self, fd, /)\n--\n\nStop watching fd for writing; "
     "return whether a writer was registered."},
    {"sock_recv", (PyCFunction)(void (*)(void))ca_loop_sock_recv, LOOP_SOCK_FLAGS,
     "sock_recv($self, /, sock, n)\n--\n\n"
     "Receive up to n bytes from the non-blocking socket (awaitable)."},
    {"sock_recv_into", (PyCFunction)(void (*)(void))ca_loop_sock_recv_into,
     LOOP_SOCK_FLAGS,
     "sock_recv_into($self, /, sock, buf)\n--\n\n"
     "Receive into the writable buffer buf; the number of bytes (awaitable)."},
    {"sock_recvfrom", (PyCFunction)(void (*)(void))ca_loop_sock_recvfrom,
     LOOP_SOCK_FLAGS,
     "sock_recvfrom($self, /, sock, bufsize)\n--\n\n"
     "Receive a datagram of up to bufsize bytes: (data, address) (awaitable)."},
    {"sock_recvfrom_into", (PyCFunction)(void (*)(void))ca_loop_sock_recvfrom_into,
     LOOP_SOCK_FLAGS,
     "sock_recvfrom_into($self, /, sock, buf, nbytes=0)\n--\n\n"
     "Receive a datagram into buf: (nbytes, address) (awaitable)."},
    {"sock_sendall", (PyCFunction)(void (*)(void))ca_loop_sock_sendall,
     LOOP_SOCK_FLAGS,
     "sock_sendall($self, /, sock, data)\n--\n\n"
     "Send all of data to the connected socket (awaitable)."},
    {"sock_sendto", (PyCFunction)(void (*)(void))ca_loop_sock_sendto, LOOP_SOCK_FLAGS,
     "sock_sendto($self, /, sock, data, address)\n--\n\n"
     "Send a datagram to address; the number of bytes sent (awaitable)."},
    {"sock_accept", (PyCFunction)(void (*)(void))ca_loop_sock_accept,
     LOOP_SOCK_FLAGS,
     "sock_accept($self, /, sock)\n--\n\n"
     "Accept a connection: (conn, address), conn non-blocking (awaitable)."},
    {"_sock_connect", (PyCFunction)(void (*)(void))ca_loop_sock_connect_op,
     METH_FASTCALL, NULL},
    {"_sock_sendfile_native_op", (PyCFunction)(void (*)(void))ca_loop_sock_sendfile_op,
     METH_FASTCALL, NULL},
    {"_make_socket_transport", (PyCFunction)(void (*)(void))ca_loop_make_socket_transport,
     METH_FASTCALL | METH_KEYWORDS, NULL},
    {"_start_accepting", (PyCFunction)(void (*)(void))ca_loop_start_accepting,
     METH_FASTCALL, NULL},
    {"_unlink_unix_socket", (PyCFunction)(void (*)(void))ca_loop_unlink_unix_socket,
     METH_FASTCALL, NULL},
    {"create_future", (PyCFunction)loop_create_future, METH_NOARGS,
     "create_future($self, /)\n--\n\nReturn a new casyncio.Future bound to the loop."},
    {"create_task", (PyCFunction)(void (*)(void))loop_create_task,
     METH_FASTCALL | METH_KEYWORDS,
     CA_CREATE_TASK_SIG "\n--\n\n"
     "Schedule the coroutine as a task (made by the task factory, if set)."},
    {"set_task_factory", (PyCFunction)loop_set_task_factory, METH_O,
     "set_task_factory($self, factory, /)\n--\n\n"
     "Use factory(loop, coro[, context=ctx]) to make tasks; None restores Task."},
    {"get_task_factory", (PyCFunction)loop_get_task_factory, METH_NOARGS,
     "get_task_factory($self, /)\n--\n\nReturn the task factory, or None."},
    {"_run_forever_core", (PyCFunction)loop_run_forever_core, METH_NOARGS, NULL},
    {"_close_core", (PyCFunction)loop_close_core, METH_NOARGS, NULL},
    {"_signal_wakeup_fd", (PyCFunction)ca_loop_signal_wakeup_fd, METH_NOARGS, NULL},
    {"_timer_handle_cancelled", (PyCFunction)loop_timer_handle_cancelled, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef loop_getset[] = {
    {"_debug", (getter)loop_get_debug_attr, (setter)loop_set_debug_attr, NULL, NULL},
    {"_thread_id", (getter)loop_get_thread_id, (setter)loop_set_thread_id, NULL, NULL},
    {"slow_callback_duration", (getter)loop_get_slow, (setter)loop_set_slow,
     "Callbacks slower than this many seconds are logged in debug mode.", NULL},
    {"_stopping", (getter)loop_get_stopping, NULL, NULL, NULL},
    {"_closed", (getter)loop_get_closed, NULL, NULL, NULL},
    {"_current_handle", (getter)loop_get_current_handle, NULL, NULL, NULL},
    {"_timer_cancelled_count", (getter)loop_get_timer_cancelled, NULL, NULL, NULL},
    {"_signal_handlers", (getter)ca_loop_get_signal_handlers, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot loop_slots[] = {
    {Py_tp_doc, "The C engine of casyncio.Loop."},
    {Py_tp_new, loop_tp_new},
    {Py_tp_setattro, loop_setattro},
    {Py_tp_traverse, loop_traverse},
    {Py_tp_clear, loop_clear},
    {Py_tp_dealloc, loop_dealloc},
    {Py_tp_methods, loop_methods},
    {Py_tp_getset, loop_getset},
    {0, NULL},
};

PyType_Spec ca_loop_spec = {
    .name = "casyncio._core.BaseLoop",
    .basicsize = sizeof(LoopObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = loop_slots,
};
