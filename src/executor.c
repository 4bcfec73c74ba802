/* The default executor: a C thread pool behind run_in_executor(None, ...)
 * and asyncio.to_thread, used while the loop has no executor of the user's
 * (set_default_executor keeps the Python path, casyncio/_loop.py).
 *
 * Owns: the work queue (a mutex-protected linked list of work items), the
 * condition variable idle workers wait on, and the list of worker threads.
 * Does not own: delivering an outcome, which is a ready-queue entry of the
 * loop (CA_READY_EXEC_RESULT/ERROR, run by ca_executor_settle below), and
 * the atexit/shutdown orchestration, which is once-per-loop Python glue.
 *
 * Why C: ThreadPoolExecutor plus wrap_future cost ~70% of the CPU of a
 * to_thread round trip in Python code (a _WorkItem, a concurrent Future with
 * its Condition, a Semaphore, closures and a Handle per completion).  Here a
 * round trip is one malloc'd item, one condvar signal and one ready entry.
 *
 * Locking: the mutex guards the queue, `idle` and `shutdown`.  A thread
 * holding the mutex never waits for the GIL, so taking the mutex with the
 * GIL held (submit) cannot deadlock with a worker that holds it without.
 * Everything else (the items' objects, nthreads, threads) is GIL-guarded.
 *
 * Workers are threading.Thread objects (names, enumerate(), join() work as
 * with ThreadPoolExecutor); their target is pool._worker, which holds a
 * reference to the pool, so a pool with a thread is never collected. */
#include "errors.h"
#include "executor.h"
#include "future.h"
#include "loop.h"
#include "wakeup.h"

#include <pthread.h>
#include <stdlib.h>
#include <errno.h>

/* fn(*args) for dest, a casyncio Future of loop.  The item owns a reference
 * to each, so the outcome can be delivered (or dropped) whatever happened
 * to the loop meanwhile. */
typedef struct ca_work {
    struct ca_work *next;
    PyObject *fn;
    PyObject *args;       /* a tuple */
    FutureObj *dest;
    LoopObj *loop;
} ca_work;

typedef struct {
    PyObject_HEAD
    ca_state *state;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ca_work *head;        /* mu: queued items, oldest first */
    ca_work *tail;        /* mu */
    Py_ssize_t nqueued;   /* mu */
    int idle;             /* mu: workers waiting on cv */
    int shutdown;         /* mu: no new work; workers exit once it is done */
    int nthreads;         /* workers started by this process */
    int max_workers;
    unsigned long forks;  /* ca_forks when nthreads was last right */
    PyObject *threads;    /* list of threading.Thread */
    /* asyncio.futures._convert_future_exc: what wrap_future does to an
     * exception (concurrent's CancelledError becomes asyncio's). */
    PyObject *convert_exc;
    PyObject *weakreflist;
} PoolObj;

/* ---- work items ---- */

static ca_work *
work_new(PyObject *fn, PyObject *args, FutureObj *dest, LoopObj *loop)
{
    ca_work *w = PyMem_Malloc(sizeof(*w));
    if (w == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    w->next = NULL;
    w->fn = Py_NewRef(fn);
    w->args = Py_NewRef(args);
    w->dest = (FutureObj *)Py_NewRef(dest);
    w->loop = (LoopObj *)Py_NewRef(loop);
    CA_LIVE_ADD(loop->state, CA_LIVE_WORK, 1);
    return w;
}

/* With the GIL: releasing the references may run finalizers. */
static void
work_free(ca_work *w)
{
    CA_LIVE_ADD(w->loop->state, CA_LIVE_WORK, -1);
    Py_DECREF(w->fn);
    Py_DECREF(w->args);
    Py_DECREF(w->dest);
    Py_DECREF(w->loop);
    PyMem_Free(w);
}

/* ---- the queue (mu held) ---- */

static void
pool_push_locked(PoolObj *self, ca_work *w)
{
    if (self->tail != NULL) {
        self->tail->next = w;
    }
    else {
        self->head = w;
    }
    self->tail = w;
    self->nqueued++;
}

static ca_work *
pool_pop_locked(PoolObj *self)
{
    ca_work *w = self->head;
    if (w != NULL) {
        self->head = w->next;
        if (self->head == NULL) {
            self->tail = NULL;
        }
        self->nqueued--;
        w->next = NULL;
    }
    return w;
}

/* Removes every queued item and returns the list (for clear and fork). */
static ca_work *
pool_steal_locked(PoolObj *self)
{
    ca_work *list = self->head;
    self->head = self->tail = NULL;
    self->nqueued = 0;
    return list;
}

static void
pool_free_list(ca_work *list)
{
    while (list != NULL) {
        ca_work *next = list->next;
        work_free(list);
        list = next;
    }
}

/* ---- workers ---- */

/* The next item, or NULL once the pool is shut down and drained.  Waits
 * without the GIL; an item already queued is taken without letting the
 * GIL go, which saves a hand-off per item when work is waiting. */
static ca_work *
pool_take(PoolObj *self)
{
    pthread_mutex_lock(&self->mu);
    ca_work *w = pool_pop_locked(self);
    int done = w == NULL && self->shutdown;
    pthread_mutex_unlock(&self->mu);
    if (w != NULL || done) {
        return w;
    }
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&self->mu);
    while (self->head == NULL && !self->shutdown) {
        self->idle++;
        pthread_cond_wait(&self->cv, &self->mu);
        self->idle--;
    }
    w = pool_pop_locked(self);
    pthread_mutex_unlock(&self->mu);
    Py_END_ALLOW_THREADS
    return w;
}

/* Hands fn's outcome to the loop thread as a ready entry; dropped if the
 * loop is closed, as asyncio drops it when dest's loop is closed. */
static void
pool_deliver(ca_work *w, PyObject *result, PyObject *exc)
{
    LoopObj *loop = w->loop;
    if (loop->closed) {
        return;
    }
    int kind = exc != NULL ? CA_READY_EXEC_ERROR : CA_READY_EXEC_RESULT;
    PyObject *outcome = exc != NULL ? exc : result;
    if (ca_loop_schedule(loop, kind, (PyObject *)w->dest, outcome, NULL) < 0) {
        PyErr_WriteUnraisable((PyObject *)w->dest);
        return;
    }
    ca_wakeup_signal(loop);
}

/* Runs one item in a worker, with the GIL.  fn does not run if dest was
 * cancelled (or otherwise completed) while the item was queued; any
 * exception, BaseException included, is the outcome, as in
 * ThreadPoolExecutor's _WorkItem.run. */
static void
pool_run(PoolObj *self, ca_work *w)
{
    if (w->dest->fstate == CA_FUT_PENDING) {
        PyObject *result = PyObject_Call(w->fn, w->args, NULL);
        PyObject *exc = NULL;
        if (result == NULL) {
            PyObject *raised = ca_err_fetch();
            exc = PyObject_CallOneArg(self->convert_exc, raised);
            if (exc == NULL) {
                PyErr_WriteUnraisable(self->convert_exc);
                exc = Py_NewRef(raised);
            }
            Py_DECREF(raised);
        }
        pool_deliver(w, result, exc);
        Py_XDECREF(result);
        Py_XDECREF(exc);
    }
    work_free(w);
}

/* ---- spawning, shutdown and fork ---- */

/* How many fork()s this process is from the one that loaded the module:
 * a pthread_atfork child handler counts them, so a pool notices it is in
 * a child with an integer compare instead of a getpid() system call on
 * every submit. */
static unsigned long ca_forks;

static void
executor_forked_child(void)
{
    ca_forks++;
}

/* A new threading.Thread named like ThreadPoolExecutor(thread_name_prefix=
 * "asyncio") names its workers, running pool._worker. */
static int
pool_spawn(PoolObj *self)
{
    PyObject *thread_type = NULL, *target = NULL, *name = NULL, *thread = NULL;
    PyObject *r = NULL;
    /* Counted before start(), which lets the GIL go: a submit from another
     * thread meanwhile must not start one worker too many. */
    int n = self->nthreads++;
    thread_type = ca_import_attr("threading", "Thread");
    target = thread_type ? PyObject_GetAttrString((PyObject *)self, "_worker") : NULL;
    name = target ? PyUnicode_FromFormat("asyncio_%d", n) : NULL;
    thread = name ? PyObject_CallFunction(thread_type, "OOO", Py_None, target, name)
                  : NULL;
    r = thread ? PyObject_CallMethod(thread, "start", NULL) : NULL;
    int rc = r != NULL && PyList_Append(self->threads, thread) == 0 ? 0 : -1;
    if (rc < 0 && r == NULL) {
        self->nthreads--;  /* not started (if start() worked, it runs) */
    }
    Py_XDECREF(r);
    Py_XDECREF(thread);
    Py_XDECREF(name);
    Py_XDECREF(target);
    Py_XDECREF(thread_type);
    return rc;
}

/* In a child of fork(): the workers are not there, and the mutex may have
 * been held by one of them when the parent forked (and the condvar may
 * count the parent's waiters, which glibc's destroy would wait for), so
 * both are made anew.  Queued items stay and run on the child's own
 * workers.  The parent's Thread objects stay in `threads`: threading marks
 * them stopped in the child, so joining them returns at once.  No Python
 * code runs here, so the GC's traverse and clear may call it. */
static void
pool_check_fork(PoolObj *self)
{
    if (self->forks == ca_forks) {
        return;
    }
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cv, NULL);
    self->idle = 0;
    self->nthreads = 0;
    self->forks = ca_forks;
}

/* Stops taking work once the queue is empty and wakes the idle workers. */
static void
pool_stop(PoolObj *self)
{
    pthread_mutex_lock(&self->mu);
    self->shutdown = 1;
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

static int
pool_join(PoolObj *self)
{
    /* Beware: join() lets other threads run, and a submit meanwhile may
     * start a worker (append to the list), so walk a copy. */
    PyObject *threads = PyList_GetSlice(self->threads, 0, PY_SSIZE_T_MAX);
    if (threads == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(threads); i++) {
        PyObject *r = PyObject_CallMethod(PyList_GET_ITEM(threads, i), "join", NULL);
        if (r == NULL) {
            Py_DECREF(threads);
            return -1;
        }
        Py_DECREF(r);
    }
    Py_DECREF(threads);
    return 0;
}

/* Queues fn(*args) for a new Future of loop and returns the Future. */
static PyObject *
pool_submit_core(PoolObj *self, LoopObj *loop, PyObject *fn, PyObject *args)
{
    pool_check_fork(self);
    PyObject *dest = ca_future_create(self->state, (PyObject *)loop);
    if (dest == NULL) {
        return NULL;
    }
    ca_work *w = work_new(fn, args, (FutureObj *)dest, loop);
    if (w == NULL) {
        Py_DECREF(dest);
        return NULL;
    }
    pthread_mutex_lock(&self->mu);
    int shutdown = self->shutdown;
    if (!shutdown) {
        pool_push_locked(self, w);
    }
    int wake = self->idle > 0;
    /* One waiting worker takes one item: more items than idle workers
     * need another worker, as ThreadPoolExecutor's idle semaphore says. */
    int spawn = self->nqueued > self->idle && self->nthreads < self->max_workers;
    pthread_mutex_unlock(&self->mu);
    if (wake && !shutdown) {
        /* After unlocking: a waiter woken with the mutex still held would
         * only block on it again (one more context switch per item). */
        pthread_cond_signal(&self->cv);
    }
    if (shutdown) {
        work_free(w);
        Py_DECREF(dest);
        PyErr_SetString(PyExc_RuntimeError, "cannot schedule new futures after shutdown");
        return NULL;
    }
    if (spawn && pool_spawn(self) < 0) {
        if (self->nthreads == 0) {
            /* The item stays queued for a later worker, as with
             * ThreadPoolExecutor when starting a thread fails. */
            Py_DECREF(dest);
            return NULL;
        }
        PyErr_Clear();  /* the running workers will take it */
    }
    return dest;
}

/* ---- the loop side ---- */

int
ca_executor_settle(LoopObj *loop, ca_ready_entry *e)
{
    FutureObj *dest = (FutureObj *)e->obj;
    if (dest->fstate != CA_FUT_PENDING) {
        return 0;  /* cancelled while fn ran: the outcome is dropped */
    }
    int rc = e->kind == CA_READY_EXEC_RESULT ? ca_future_set_result(dest, e->arg)
                                             : ca_future_set_exception(dest, e->arg);
    if (rc == 0) {
        return 0;
    }
    /* set_exception() refuses StopIteration on 3.11/3.12: reported as
     * asyncio reports the failing callback that copies the state. */
    PyObject *exc = ca_err_fetch();
    PyObject *msg = PyUnicode_FromString("Exception in the default executor's "
                                         "delivery of a result");
    rc = msg ? ca_report_exception(loop->state, (PyObject *)loop, msg, exc,
                                   loop->state->str_future, e->obj, NULL)
             : -1;
    Py_XDECREF(msg);
    Py_XDECREF(exc);
    return rc;
}

/* ---- Python-facing wrappers ---- */

static PyObject *
pool_submit(PoolObj *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 2) {
        PyErr_SetString(PyExc_TypeError, "submit() needs a loop and a callable");
        return NULL;
    }
    if (!PyObject_TypeCheck(args[0], self->state->LoopType)) {
        PyErr_SetString(PyExc_TypeError, "submit(): the loop must be a casyncio loop");
        return NULL;
    }
    PyObject *fargs = PyTuple_New(nargs - 2);
    if (fargs == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 2; i < nargs; i++) {
        PyTuple_SET_ITEM(fargs, i - 2, Py_NewRef(args[i]));
    }
    PyObject *dest = pool_submit_core(self, (LoopObj *)args[0], args[1], fargs);
    Py_DECREF(fargs);
    return dest;
}

static PyObject *
pool_worker(PoolObj *self, PyObject *unused)
{
    ca_work *w;
    while ((w = pool_take(self)) != NULL) {
        pool_run(self, w);
    }
    Py_RETURN_NONE;
}

static PyObject *
pool_shutdown(PoolObj *self, PyObject *const *args, Py_ssize_t nargs,
              PyObject *kwnames)
{
    PyObject *wait = Py_True;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > 1) {
        PyErr_SetString(PyExc_TypeError, "shutdown() takes at most 1 argument");
        return NULL;
    }
    if (nkw == 1 && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0),
                                                     "wait") != 0) {
        PyErr_Format(PyExc_TypeError, "shutdown() got an unexpected keyword "
                     "argument '%U'", PyTuple_GET_ITEM(kwnames, 0));
        return NULL;
    }
    if (nargs + nkw == 1) {
        wait = args[0];
    }
    int w = PyObject_IsTrue(wait);
    if (w < 0) {
        return NULL;
    }
    pool_check_fork(self);
    pool_stop(self);
    if (w && pool_join(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- slots ---- */

static PyObject *
pool_tp_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    int max_workers;
    static char *kwlist[] = {"max_workers", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i:ThreadPool", kwlist, &max_workers)) {
        return NULL;
    }
    if (max_workers <= 0) {
        PyErr_SetString(PyExc_ValueError, "max_workers must be greater than 0");
        return NULL;
    }
    ca_state *st = ca_state_from_type(tp);
    if (st == NULL) {
        return NULL;
    }
    PoolObj *self = (PoolObj *)tp->tp_alloc(tp, 0);
    if (self == NULL) {
        return NULL;
    }
    self->state = st;
    self->max_workers = max_workers;
    self->forks = ca_forks;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cv, NULL);
    self->threads = PyList_New(0);
    self->convert_exc = ca_import_attr("asyncio.futures", "_convert_future_exc");
    if (self->threads == NULL || self->convert_exc == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
pool_traverse(PoolObj *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->threads);
    Py_VISIT(self->convert_exc);
    /* The mutex, because workers pop items without the GIL. */
    int rc = 0;
    pool_check_fork(self);
    pthread_mutex_lock(&self->mu);
    for (ca_work *w = self->head; w != NULL && rc == 0; w = w->next) {
        if ((rc = visit(w->fn, arg)) == 0 && (rc = visit(w->args, arg)) == 0
            && (rc = visit((PyObject *)w->dest, arg)) == 0) {
            rc = visit((PyObject *)w->loop, arg);
        }
    }
    pthread_mutex_unlock(&self->mu);
    return rc;
}

static int
pool_clear(PoolObj *self)
{
    /* Beware: freeing items can run Python code; take the list out first. */
    pool_check_fork(self);
    pthread_mutex_lock(&self->mu);
    ca_work *list = pool_steal_locked(self);
    pthread_mutex_unlock(&self->mu);
    pool_free_list(list);
    Py_CLEAR(self->threads);
    Py_CLEAR(self->convert_exc);
    return 0;
}

static void
pool_dealloc(PoolObj *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    (void)pool_clear(self);  /* checks for a fork first */
    /* No worker is left: each held a reference to the pool. */
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* ---- tables ---- */

static PyMethodDef pool_methods[] = {
    {"submit", (PyCFunction)(void (*)(void))pool_submit, METH_FASTCALL,
     "submit($self, loop, fn, /, *args)\n--\n\n"
     "Run fn(*args) in a worker; return a Future of loop for its outcome."},
    {"shutdown", (PyCFunction)(void (*)(void))pool_shutdown,
     METH_FASTCALL | METH_KEYWORDS,
     "shutdown($self, /, wait=True)\n--\n\n"
     "Take no more work; workers exit once the queue is empty.  With wait,\n"
     "join them."},
    {"_worker", (PyCFunction)pool_worker, METH_NOARGS,
     "_worker($self, /)\n--\n\nA worker thread's target: run items until shutdown."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef pool_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(PoolObj, weakreflist), READONLY},
    {NULL},
};

static PyType_Slot pool_slots[] = {
    {Py_tp_doc, "ThreadPool(max_workers)\n--\n\n"
                "The C default executor of casyncio loops."},
    {Py_tp_new, pool_tp_new},
    {Py_tp_traverse, pool_traverse},
    {Py_tp_clear, pool_clear},
    {Py_tp_dealloc, pool_dealloc},
    {Py_tp_methods, pool_methods},
    {Py_tp_members, pool_members},
    {0, NULL},
};

static PyType_Spec pool_spec = {
    .name = "casyncio._core.ThreadPool",
    .basicsize = sizeof(PoolObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = pool_slots,
};

int
ca_executor_init(PyObject *mod)
{
    static int atfork_registered;
    if (!atfork_registered) {
        int err = pthread_atfork(NULL, NULL, executor_forked_child);
        if (err != 0) {
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        atfork_registered = 1;
    }
    PyObject *tp = PyType_FromModuleAndSpec(mod, &pool_spec, NULL);
    if (tp == NULL) {
        return -1;
    }
    int rc = PyModule_AddType(mod, (PyTypeObject *)tp);
    Py_DECREF(tp);
    return rc;
}
