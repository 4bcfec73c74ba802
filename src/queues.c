/* asyncio.Queue, LifoQueue and PriorityQueue in C (accelerate()).
 *
 * asyncio.queues of the running Python is the specification, step for
 * step (3.11 and 3.12 alike; 3.13+ adds shutdown() and QueueShutDown): the
 * waiting loops of put() and get() (woken, a waiter checks again), what a
 * waiter does when anything is thrown in at its await (cancel its future,
 * leave the deque, pass a wake-up it cannot use to the next), the order of
 * wake-ups, the messages, repr and str, task_done()/join() through the
 * `_finished` Event asyncio.locks makes.  The three classes are C types;
 * for them the storage (`_queue`: a deque, a list, a heap list) is handled
 * in C.  A subclass goes through its methods where asyncio's code calls
 * methods (`_init`, `_get`, `_put`, `qsize`, `empty`, `full`), so
 * overriding them works as with asyncio's classes.
 *
 * Owns: the deques of waiting getters and putters (futures of the bound
 * loop), the storage, the `_finished` Event.
 * Does not own: the items' consumers. */
#include "errors.h"
#include "future.h"
#include "prims.h"

enum { Q_FIFO = 0, Q_LIFO, Q_HEAP, Q_SUBCLASS };

typedef struct {
    PyObject_HEAD
    ca_state *state;
    PyObject *loop;           /* _loop, NULL for None */
    PyObject *maxsize;        /* _maxsize as given */
    PyObject *getters;        /* _getters, _putters: deques of futures */
    PyObject *putters;
    PyObject *queue;          /* _queue */
    PyObject *finished;       /* _finished: an Event */
    Py_ssize_t unfinished;    /* _unfinished_tasks */
    int is_shutdown;          /* 3.13+ */
    int kind;                 /* Q_*: how the storage is reached */
    PyObject *dict;
    PyObject *weakreflist;
} QueueObj;

#define QUEUE(o) ((QueueObj *)(o))

static int
q_truth_of_call(PyObject *self, const char *name)
{
    PyObject *res = PyObject_CallMethod(self, name, NULL);
    int r = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    return r;
}

/* ---- the storage (asyncio's overridable methods) ---- */

static Py_ssize_t
q_qsize(QueueObj *q)
{
    if (q->kind != Q_SUBCLASS) {
        return q->queue ? PyObject_Size(q->queue) : (PyErr_SetString(PyExc_AttributeError,
                                                                     "_queue"), -1);
    }
    PyObject *res = PyObject_CallMethod((PyObject *)q, "qsize", NULL);
    Py_ssize_t n = res ? PyNumber_AsSsize_t(res, PyExc_OverflowError) : -1;
    Py_XDECREF(res);
    return n;
}

/* empty(): `not self._queue` */
static int
q_empty(QueueObj *q)
{
    if (q->kind != Q_SUBCLASS) {
        if (q->queue == NULL) {
            PyErr_SetString(PyExc_AttributeError, "_queue");
            return -1;
        }
        int t = PyObject_IsTrue(q->queue);
        return t < 0 ? -1 : !t;
    }
    return q_truth_of_call((PyObject *)q, "empty");
}

/* asyncio's full() for any maxsize (a float one too), compared as Python
 * does: False if maxsize <= 0, else qsize() >= maxsize, with the
 * subclass's own qsize() (`own_qsize`) or the storage's length. */
static int
q_full_generic(QueueObj *q, int own_qsize)
{
    PyObject *zero = PyLong_FromLong(0);
    int nonpos = zero ? PyObject_RichCompareBool(q->maxsize, zero, Py_LE) : -1;
    Py_XDECREF(zero);
    if (nonpos != 0) {
        return nonpos < 0 ? -1 : 0;
    }
    PyObject *size;
    if (own_qsize) {
        size = PyObject_CallMethod((PyObject *)q, "qsize", NULL);
    }
    else {
        Py_ssize_t n = q_qsize(q);
        size = n < 0 ? NULL : PyLong_FromSsize_t(n);
    }
    int r = size ? PyObject_RichCompareBool(size, q->maxsize, Py_GE) : -1;
    Py_XDECREF(size);
    return r;
}

/* full(): maxsize > 0 and qsize() >= maxsize */
static int
q_full(QueueObj *q)
{
    if (q->kind == Q_SUBCLASS) {
        return q_truth_of_call((PyObject *)q, "full");
    }
    if (PyLong_CheckExact(q->maxsize)) {
        int overflow;
        long m = PyLong_AsLongAndOverflow(q->maxsize, &overflow);
        if (m == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (overflow == 0) {
            if (m <= 0) {
                return 0;
            }
            Py_ssize_t n = q_qsize(q);
            return n < 0 ? -1 : n >= m;
        }
    }
    return q_full_generic(q, 0);
}

/* The next item out of the storage of a queue of kind `kind` (Q_SUBCLASS:
 * its own _get()). */
static PyObject *
q_take(QueueObj *q, int kind)
{
    ca_state *st = q->state;
    switch (kind) {
    case Q_FIFO:
        return PyObject_CallMethodNoArgs(q->queue, st->str_popleft);
    case Q_LIFO:
        return PyObject_CallMethodNoArgs(q->queue, st->str_pop);
    case Q_HEAP:
        return PyObject_CallOneArg(st->heappop, q->queue);
    default:
        return PyObject_CallMethod((PyObject *)q, "_get", NULL);
    }
}

/* item into the storage of a queue of kind `kind` (Q_SUBCLASS: its own
 * _put()). */
static int
q_store(QueueObj *q, int kind, PyObject *item)
{
    ca_state *st = q->state;
    PyObject *res;
    switch (kind) {
    case Q_FIFO:
    case Q_LIFO:
        res = PyObject_CallMethodOneArg(q->queue, st->str_append, item);
        break;
    case Q_HEAP: {
        PyObject *args[2] = {q->queue, item};
        res = PyObject_Vectorcall(st->heappush, args, 2, NULL);
        break;
    }
    default:
        res = PyObject_CallMethodOneArg((PyObject *)q, st->str_put_, item);
    }
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* ---- waiters ---- */

/* A waiters attribute, None if set so (NULL). */
#define Q_WAITERS(w) ((w) ? (w) : Py_None)

/* Pops waiters off the front and gives each not done None: only the first
 * such (`all` 0: asyncio's _wakeup_next), or every one (shutdown()). */
static int
q_wake(ca_state *st, PyObject *waiters, int all)
{
    waiters = Q_WAITERS(waiters);
    for (;;) {
        int has = PyObject_IsTrue(waiters);
        if (has <= 0) {
            return has;
        }
        PyObject *w = PyObject_CallMethodNoArgs(waiters, st->str_popleft);
        if (w == NULL) {
            return -1;
        }
        int done = ca_fut_test(st, w, 0);
        int r = done < 0 ? -1 : done ? 0 : ca_fut_set(st, w, Py_None);
        Py_DECREF(w);
        if (r < 0 || (done == 0 && !all)) {
            return r;
        }
    }
}

static int
q_wakeup_next(ca_state *st, PyObject *waiters)
{
    return q_wake(st, waiters, 0);
}

static int
q_event_call(QueueObj *q, int set)
{
    ca_state *st = q->state;
    if (q->finished != NULL && Py_IS_TYPE(q->finished, st->EventType)) {
        return set ? ca_event_set(q->finished) : ca_event_clear(q->finished);
    }
    PyObject *fin = q->finished ? q->finished : Py_None;
    PyObject *res = PyObject_CallMethod(fin, set ? "set" : "clear", NULL);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

#if PY_VERSION_HEX >= 0x030D0000
static int
q_raise_shutdown(ca_state *st)
{
    PyErr_SetNone(st->QueueShutDown);
    return -1;
}
#endif

/* ---- the non-blocking methods ---- */

static PyObject *
queue_put_nowait(QueueObj *q, PyObject *item)
{
    ca_state *st = q->state;
#if PY_VERSION_HEX >= 0x030D0000
    if (q->is_shutdown) {
        q_raise_shutdown(st);
        return NULL;
    }
#endif
    int full = q_full(q);
    if (full < 0) {
        return NULL;
    }
    if (full) {
        PyErr_SetNone(st->QueueFull);
        return NULL;
    }
    if (q_store(q, q->kind, item) < 0) {
        return NULL;
    }
    q->unfinished++;
    if (q_event_call(q, 0) < 0 || q_wakeup_next(st, q->getters) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
queue_get_nowait(QueueObj *q, PyObject *unused)
{
    ca_state *st = q->state;
    int empty = q_empty(q);
    if (empty < 0) {
        return NULL;
    }
    if (empty) {
#if PY_VERSION_HEX >= 0x030D0000
        if (q->is_shutdown) {
            q_raise_shutdown(st);
            return NULL;
        }
#endif
        PyErr_SetNone(st->QueueEmpty);
        return NULL;
    }
    PyObject *item = q_take(q, q->kind);
    if (item == NULL) {
        return NULL;
    }
    if (q_wakeup_next(st, q->putters) < 0) {
        Py_DECREF(item);
        return NULL;
    }
    return item;
}

/* ---- put() and get() ---- */

/* A new future of the bound loop appended to `waiters`, as op->fut. */
static PySendResult
q_wait_new(QueueObj *q, PyObject *waiters, WaitOpObj *op)
{
    PyObject *loop = ca_bound_loop((PyObject *)q, &q->loop, q->state);
    if (loop == NULL) {
        return PYGEN_ERROR;
    }
    PyObject *fut = PyObject_CallMethodNoArgs(loop, q->state->str_create_future);
    Py_DECREF(loop);
    if (fut == NULL) {
        return PYGEN_ERROR;
    }
    PyObject *res = PyObject_CallMethodOneArg(Q_WAITERS(waiters), q->state->str_append,
                                              fut);
    if (res == NULL) {
        Py_DECREF(fut);
        return PYGEN_ERROR;
    }
    Py_DECREF(res);
    Py_XSETREF(op->fut, fut);
    return PYGEN_NEXT;
}

/* put()'s loop: wait while full, then put_nowait(item). */
static PySendResult
q_put_step(WaitOpObj *op, PyObject **result)
{
    QueueObj *q = QUEUE(op->self);
    int full = q_full(q);
    if (full < 0) {
        return PYGEN_ERROR;
    }
    if (full) {
#if PY_VERSION_HEX >= 0x030D0000
        if (q->is_shutdown) {
            q_raise_shutdown(q->state);
            return PYGEN_ERROR;
        }
#endif
        return q_wait_new(q, q->putters, op);
    }
    *result = queue_put_nowait(q, op->arg);
    return *result ? PYGEN_RETURN : PYGEN_ERROR;
}

/* get()'s loop: wait while empty, then get_nowait(). */
static PySendResult
q_get_step(WaitOpObj *op, PyObject **result)
{
    QueueObj *q = QUEUE(op->self);
    int empty = q_empty(q);
    if (empty < 0) {
        return PYGEN_ERROR;
    }
    if (empty) {
#if PY_VERSION_HEX >= 0x030D0000
        if (q->is_shutdown) {
            empty = q_empty(q);  /* asyncio asks again */
            if (empty != 0) {
                return empty < 0 ? PYGEN_ERROR : (q_raise_shutdown(q->state), PYGEN_ERROR);
            }
        }
#endif
        return q_wait_new(q, q->getters, op);
    }
    *result = queue_get_nowait(q, NULL);
    return *result ? PYGEN_RETURN : PYGEN_ERROR;
}

/* After the await of a getter or putter: on success, the loop again; on
 * any exception (asyncio's bare `except:`), cancel the future, take it out
 * of `waiters` if still there, pass a wake-up it cannot use on (when the
 * queue is not `blocked`: full for put, empty for get), and re-raise. */
static PySendResult
q_resume(WaitOpObj *op, PyObject *exc, PyObject **result, int put)
{
    QueueObj *q = QUEUE(op->self);
    ca_state *st = q->state;
    PyObject *waiters = Q_WAITERS(put ? q->putters : q->getters);
    if (exc == NULL) {
        PyObject *res = ca_waitop_fut_result(op);
        if (res != NULL) {
            Py_DECREF(res);
            return put ? q_put_step(op, result) : q_get_step(op, result);
        }
        exc = ca_err_fetch();
    }
    PyObject *fut = op->fut;
    int ok = ca_fut_cancel(st, fut) >= 0;
    if (ok) {
        PyObject *res = PyObject_CallMethodOneArg(waiters, st->str_remove, fut);
        if (res != NULL) {
            Py_DECREF(res);
        }
        else if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();  /* taken out already (a wake-up, shutdown) */
        }
        else {
            ok = 0;
        }
    }
    if (ok) {
        int blocked = put ? q_full(q) : q_empty(q);
        int cancelled = blocked == 0 ? ca_fut_test(st, fut, 1) : 0;
        ok = blocked >= 0 && cancelled >= 0
             && (blocked || cancelled || q_wakeup_next(st, waiters) >= 0);
    }
    if (!ok) {
        PyObject *newer = ca_err_fetch();
        if (newer != NULL) {
            PyException_SetContext(newer, exc);
            exc = newer;
        }
    }
    ca_err_restore(exc);
    return PYGEN_ERROR;
}

static PySendResult
q_put_resume(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    return q_resume(op, exc, result, 1);
}

static PySendResult
q_get_resume(WaitOpObj *op, PyObject *exc, PyObject **result)
{
    return q_resume(op, exc, result, 0);
}

static const ca_waitop_kind q_put_kind = {"Queue.put", q_put_step, q_put_resume};
static const ca_waitop_kind q_get_kind = {"Queue.get", q_get_step, q_get_resume};

static PyObject *
queue_put(QueueObj *q, PyObject *item)
{
    return ca_waitop_new(q->state, &q_put_kind, (PyObject *)q, item);
}

static PyObject *
queue_get(QueueObj *q, PyObject *unused)
{
    return ca_waitop_new(q->state, &q_get_kind, (PyObject *)q, NULL);
}

/* ---- task_done(), join(), shutdown() ---- */

static PyObject *
queue_task_done(QueueObj *q, PyObject *unused)
{
    if (q->unfinished <= 0) {
        PyErr_SetString(PyExc_ValueError, "task_done() called too many times");
        return NULL;
    }
    q->unfinished--;
    if (q->unfinished == 0 && q_event_call(q, 1) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* join(): asyncio's coroutine, `await self._finished.wait()` while tasks
 * are unfinished (casyncio._accel's _queue_join: join() is not hot). */
static PyObject *
queue_join(QueueObj *q, PyObject *unused)
{
    return ca_call_helper(q->state, CA_HELPER_QUEUE_JOIN, (PyObject *)q);
}

#if PY_VERSION_HEX >= 0x030D0000
static PyObject *
queue_shutdown(QueueObj *q, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *immediate_obj;
    if (ca_parse_optional("shutdown", "immediate", args, nargs, kwnames,
                          &immediate_obj) < 0) {
        return NULL;
    }
    int immediate = immediate_obj == Py_None ? 0 : PyObject_IsTrue(immediate_obj);
    if (immediate < 0) {
        return NULL;
    }
    ca_state *st = q->state;
    q->is_shutdown = 1;
    if (immediate) {
        for (;;) {
            int empty = q_empty(q);
            if (empty < 0) {
                return NULL;
            }
            if (empty) {
                break;
            }
            PyObject *item = q_take(q, q->kind);
            if (item == NULL) {
                return NULL;
            }
            Py_DECREF(item);
            if (q->unfinished > 0) {
                q->unfinished--;
            }
        }
        if (q->unfinished == 0 && q_event_call(q, 1) < 0) {
            return NULL;
        }
    }
    if (q_wake(st, q->getters, 1) < 0 || q_wake(st, q->putters, 1) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}
#endif

/* ---- the overridable storage methods, for subclasses' super() ---- */

/* The storage kind of the C class a queue is (or derives from): what its
 * _init/_get/_put reached through super() work on. */
static int
q_class_kind(QueueObj *q)
{
    ca_state *st = q->state;
    return PyObject_TypeCheck(q, st->PriorityQueueType) ? Q_HEAP
           : PyObject_TypeCheck(q, st->LifoQueueType)   ? Q_LIFO
                                                         : Q_FIFO;
}

static PyObject *
queue_init_storage(QueueObj *q, PyObject *maxsize)
{
    /* asyncio's Queue._init: a deque; LifoQueue's and PriorityQueue's: a
     * list. */
    int list = q_class_kind(q) != Q_FIFO;
    PyObject *storage = list ? PyList_New(0) : PyObject_CallNoArgs(q->state->deque_type);
    if (storage == NULL) {
        return NULL;
    }
    Py_XSETREF(q->queue, storage);
    Py_RETURN_NONE;
}

static PyObject *
queue_get_item(QueueObj *q, PyObject *unused)
{
    if (q->queue == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_queue");
        return NULL;
    }
    return q_take(q, q_class_kind(q));
}

static PyObject *
queue_put_item(QueueObj *q, PyObject *item)
{
    if (q->queue == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_queue");
        return NULL;
    }
    return q_store(q, q_class_kind(q), item) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyObject *
queue_qsize(QueueObj *q, PyObject *unused)
{
    if (q->queue == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_queue");
        return NULL;
    }
    Py_ssize_t n = PyObject_Size(q->queue);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static PyObject *
queue_empty(QueueObj *q, PyObject *unused)
{
    if (q->queue == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_queue");
        return NULL;
    }
    int t = PyObject_IsTrue(q->queue);
    return t < 0 ? NULL : PyBool_FromLong(!t);
}

static PyObject *
queue_full(QueueObj *q, PyObject *unused)
{
    int r;
    if (q->kind != Q_SUBCLASS) {
        r = q_full(q);
    }
    else {
        r = q_full_generic(q, 1);
    }
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *
queue_wakeup_next_meth(QueueObj *q, PyObject *waiters)
{
    return q_wakeup_next(q->state, waiters) < 0 ? NULL : Py_NewRef(Py_None);
}

/* ---- repr, str ---- */

static PyObject *
queue_format(QueueObj *q, PyObject *unused)
{
    PyObject *res = PyUnicode_FromFormat("maxsize=%R", q->maxsize);
    if (res == NULL) {
        return NULL;
    }
    int has = q->queue ? PyObject_IsTrue(q->queue) : 0;
    if (has > 0) {
        PyObject *items = PySequence_List(q->queue);
        if (items != NULL) {
            Py_SETREF(res, PyUnicode_FromFormat("%U _queue=%R", res, items));
            Py_DECREF(items);
        }
        else {
            Py_CLEAR(res);
        }
    }
    PyObject *const waiters[2] = {Q_WAITERS(q->getters), Q_WAITERS(q->putters)};
    const char *const names[2] = {"_getters", "_putters"};
    for (int i = 0; i < 2 && res != NULL && has >= 0; i++) {
        has = PyObject_IsTrue(waiters[i]);
        if (has > 0) {
            Py_ssize_t n = PyObject_Size(waiters[i]);
            Py_SETREF(res, n < 0 ? NULL
                                 : PyUnicode_FromFormat("%U %s[%zd]", res, names[i], n));
        }
    }
    if (res != NULL && has >= 0 && q->unfinished) {
        Py_SETREF(res, PyUnicode_FromFormat("%U tasks=%zd", res, q->unfinished));
    }
#if PY_VERSION_HEX >= 0x030D0000
    if (res != NULL && has >= 0 && q->is_shutdown) {
        Py_SETREF(res, PyUnicode_FromFormat("%U shutdown", res));
    }
#endif
    if (has < 0) {
        Py_CLEAR(res);
    }
    return res;
}

static PyObject *
queue_describe(QueueObj *q, int with_id)
{
    PyObject *fmt = PyObject_CallMethod((PyObject *)q, "_format", NULL);
    if (fmt == NULL) {
        return NULL;
    }
    PyObject *name = PyType_GetName(Py_TYPE(q));
    PyObject *res = NULL;
    if (name != NULL) {
        res = with_id ? PyUnicode_FromFormat("<%U at %p %U>", name, q, fmt)
                      : PyUnicode_FromFormat("<%U %U>", name, fmt);
        Py_DECREF(name);
    }
    Py_DECREF(fmt);
    return res;
}

static PyObject *
queue_repr(QueueObj *q)
{
    return queue_describe(q, 1);
}

static PyObject *
queue_str(QueueObj *q)
{
    return queue_describe(q, 0);
}

/* ---- construction, attributes, GC ---- */

static PyObject *
queue_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    ca_state *st = ca_state_from_type(tp);
    if (st == NULL) {
        return NULL;
    }
    QueueObj *q = (QueueObj *)tp->tp_alloc(tp, 0);
    if (q == NULL) {
        return NULL;
    }
    q->state = st;
    q->maxsize = PyLong_FromLong(0);
    q->kind = Py_IS_TYPE(q, st->QueueType)           ? Q_FIFO
              : Py_IS_TYPE(q, st->LifoQueueType)     ? Q_LIFO
              : Py_IS_TYPE(q, st->PriorityQueueType) ? Q_HEAP
                                                     : Q_SUBCLASS;
    /* The deques exist even if a subclass's __init__ skips ours. */
    q->getters = PyObject_CallNoArgs(st->deque_type);
    q->putters = PyObject_CallNoArgs(st->deque_type);
    if (q->maxsize == NULL || q->getters == NULL || q->putters == NULL) {
        Py_DECREF(q);
        return NULL;
    }
    return (PyObject *)q;
}

/* __init__(self, maxsize=0), in asyncio's order. */
static int
queue_init(QueueObj *q, PyObject *args, PyObject *kwargs)
{
    ca_state *st = q->state;
    static char *kwlist[] = {"maxsize", NULL};
    PyObject *maxsize = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:Queue.__init__", kwlist,
                                     &maxsize)) {
        return -1;
    }
    if (maxsize == NULL) {
        maxsize = PyLong_FromLong(0);
        if (maxsize == NULL) {
            return -1;
        }
    }
    else {
        Py_INCREF(maxsize);
    }
    Py_XSETREF(q->maxsize, maxsize);
    PyObject *getters = PyObject_CallNoArgs(st->deque_type);
    PyObject *putters = getters ? PyObject_CallNoArgs(st->deque_type) : NULL;
    if (putters == NULL) {
        Py_XDECREF(getters);
        return -1;
    }
    Py_XSETREF(q->getters, getters);
    Py_XSETREF(q->putters, putters);
    q->unfinished = 0;
    PyObject *event_class = ca_import_attr("asyncio.locks", "Event");
    PyObject *finished = event_class ? PyObject_CallNoArgs(event_class) : NULL;
    Py_XDECREF(event_class);
    if (finished == NULL) {
        return -1;
    }
    Py_XSETREF(q->finished, finished);
    if (q_event_call(q, 1) < 0) {
        return -1;
    }
    PyObject *res = q->kind == Q_SUBCLASS
                        ? PyObject_CallMethodOneArg((PyObject *)q, st->str_init_, maxsize)
                        : queue_init_storage(q, maxsize);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    q->is_shutdown = 0;
    return 0;
}

static PyObject *
queue_get_loop_meth(QueueObj *q, PyObject *unused)
{
    return ca_bound_loop((PyObject *)q, &q->loop, q->state);
}

static PyObject *
queue_get_maxsize(QueueObj *q, void *c)
{
    return Py_NewRef(q->maxsize);
}

/* The object attributes, get and set as on asyncio's instances. */
#define Q_OBJ_ATTR(name, field)                                                   \
    static PyObject *queue_get_##name(QueueObj *q, void *c)                       \
    {                                                                             \
        return Py_NewRef(q->field ? q->field : Py_None);                          \
    }                                                                             \
    static int queue_set_##name(QueueObj *q, PyObject *v, void *c)                \
    {                                                                             \
        if (v == NULL) {                                                          \
            return ca_attr_deleted(Py_TYPE(q)->tp_name, "_" #name);               \
        }                                                                         \
        Py_XSETREF(q->field, v == Py_None ? NULL : Py_NewRef(v));                 \
        return 0;                                                                 \
    }

Q_OBJ_ATTR(loop, loop)
Q_OBJ_ATTR(getters, getters)
Q_OBJ_ATTR(putters, putters)
Q_OBJ_ATTR(queue, queue)
Q_OBJ_ATTR(finished, finished)

/* _maxsize: kept as assigned, None too (full() then fails as asyncio's) */
static int
queue_set_maxsize_attr(QueueObj *q, PyObject *v, void *c)
{
    if (v == NULL) {
        return ca_attr_deleted(Py_TYPE(q)->tp_name, "_maxsize");
    }
    Py_SETREF(q->maxsize, Py_NewRef(v));
    return 0;
}

static PyObject *
queue_get_unfinished(QueueObj *q, void *c)
{
    return PyLong_FromSsize_t(q->unfinished);
}

static int
queue_set_unfinished(QueueObj *q, PyObject *v, void *c)
{
    if (v == NULL) {
        return ca_attr_deleted(Py_TYPE(q)->tp_name, "_unfinished_tasks");
    }
    Py_ssize_t n = PyNumber_AsSsize_t(v, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred()) {
        return -1;
    }
    q->unfinished = n;
    return 0;
}

#if PY_VERSION_HEX >= 0x030D0000
static PyObject *
queue_get_is_shutdown(QueueObj *q, void *c)
{
    return PyBool_FromLong(q->is_shutdown);
}

static int
queue_set_is_shutdown(QueueObj *q, PyObject *v, void *c)
{
    int r = ca_attr_bool(v, Py_TYPE(q)->tp_name, "_is_shutdown");
    if (r < 0) {
        return -1;
    }
    q->is_shutdown = r;
    return 0;
}
#endif

static int
queue_traverse(QueueObj *q, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(q));
    Py_VISIT(q->loop);
    Py_VISIT(q->maxsize);
    Py_VISIT(q->getters);
    Py_VISIT(q->putters);
    Py_VISIT(q->queue);
    Py_VISIT(q->finished);
    Py_VISIT(q->dict);
    return 0;
}

static int
queue_clear(QueueObj *q)
{
    Py_CLEAR(q->loop);
    Py_CLEAR(q->maxsize);
    Py_CLEAR(q->getters);
    Py_CLEAR(q->putters);
    Py_CLEAR(q->queue);
    Py_CLEAR(q->finished);
    Py_CLEAR(q->dict);
    return 0;
}

static void
queue_dealloc(QueueObj *q)
{
    PyTypeObject *tp = Py_TYPE(q);
    PyObject_GC_UnTrack(q);
    if (q->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)q);
    }
    (void)queue_clear(q);
    tp->tp_free(q);
    Py_DECREF(tp);
}

static PyMethodDef queue_methods[] = {
    {"put", (PyCFunction)queue_put, METH_O,
     "put($self, item, /)\n--\n\nPut an item into the queue (await it); waits while full."},
    {"get", (PyCFunction)queue_get, METH_NOARGS,
     "get($self, /)\n--\n\nRemove and return an item (await it); waits while empty."},
    {"put_nowait", (PyCFunction)queue_put_nowait, METH_O,
     "put_nowait($self, item, /)\n--\n\nPut an item; QueueFull if no slot is free."},
    {"get_nowait", (PyCFunction)queue_get_nowait, METH_NOARGS,
     "get_nowait($self, /)\n--\n\nRemove and return an item; QueueEmpty if none."},
    {"task_done", (PyCFunction)queue_task_done, METH_NOARGS,
     "task_done($self, /)\n--\n\nIndicate that a formerly enqueued task is complete."},
    {"join", (PyCFunction)queue_join, METH_NOARGS,
     "join($self, /)\n--\n\nBlock until all items in the queue have been processed."},
#if PY_VERSION_HEX >= 0x030D0000
    {"shutdown", (PyCFunction)(void (*)(void))queue_shutdown,
     METH_FASTCALL | METH_KEYWORDS,
     "shutdown($self, /, immediate=False)\n--\n\n"
     "Shut-down the queue, making queue gets and puts raise QueueShutDown."},
#endif
    {"qsize", (PyCFunction)queue_qsize, METH_NOARGS,
     "qsize($self, /)\n--\n\nNumber of items in the queue."},
    {"empty", (PyCFunction)queue_empty, METH_NOARGS,
     "empty($self, /)\n--\n\nReturn True if the queue is empty, False otherwise."},
    {"full", (PyCFunction)queue_full, METH_NOARGS,
     "full($self, /)\n--\n\nReturn True if there are maxsize items in the queue."},
    {"_init", (PyCFunction)queue_init_storage, METH_O, NULL},
    {"_get", (PyCFunction)queue_get_item, METH_NOARGS, NULL},
    {"_put", (PyCFunction)queue_put_item, METH_O, NULL},
    {"_wakeup_next", (PyCFunction)queue_wakeup_next_meth, METH_O, NULL},
    {"_format", (PyCFunction)queue_format, METH_NOARGS, NULL},
    {"_get_loop", (PyCFunction)queue_get_loop_meth, METH_NOARGS, NULL},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     "See PEP 585"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef queue_getset[] = {
    {"maxsize", (getter)queue_get_maxsize, NULL, "Number of items allowed in the queue.",
     NULL},
    {"_maxsize", (getter)queue_get_maxsize, (setter)queue_set_maxsize_attr, NULL,
     NULL},
    {"_loop", (getter)queue_get_loop, (setter)queue_set_loop, NULL, NULL},
    {"_getters", (getter)queue_get_getters, (setter)queue_set_getters, NULL, NULL},
    {"_putters", (getter)queue_get_putters, (setter)queue_set_putters, NULL, NULL},
    {"_queue", (getter)queue_get_queue, (setter)queue_set_queue, NULL, NULL},
    {"_finished", (getter)queue_get_finished, (setter)queue_set_finished, NULL, NULL},
    {"_unfinished_tasks", (getter)queue_get_unfinished, (setter)queue_set_unfinished,
     NULL, NULL},
#if PY_VERSION_HEX >= 0x030D0000
    {"_is_shutdown", (getter)queue_get_is_shutdown, (setter)queue_set_is_shutdown, NULL,
     NULL},
#endif
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef queue_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(QueueObj, dict), READONLY, NULL},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(QueueObj, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot queue_slots[] = {
    {Py_tp_doc, "asyncio.Queue in C: a queue, useful for coordinating producer and "
                "consumer coroutines."},
    {Py_tp_new, queue_new},
    {Py_tp_init, queue_init},
    {Py_tp_repr, queue_repr},
    {Py_tp_str, queue_str},
    {Py_tp_traverse, queue_traverse},
    {Py_tp_clear, queue_clear},
    {Py_tp_dealloc, queue_dealloc},
    {Py_tp_methods, queue_methods},
    {Py_tp_getset, queue_getset},
    {Py_tp_members, queue_members},
    {0, NULL},
};

PyType_Spec ca_queue_spec = {
    .name = "casyncio._core.Queue",
    .basicsize = sizeof(QueueObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = queue_slots,
};

/* LifoQueue and PriorityQueue: the storage differs (queue_new picks it by
 * the exact type; _init/_get/_put look at the class for super() calls). */
static PyType_Slot lifoqueue_slots[] = {
    {Py_tp_traverse, queue_traverse},
    {Py_tp_clear, queue_clear},
    {Py_tp_dealloc, queue_dealloc},
    {Py_tp_doc, "asyncio.LifoQueue in C: retrieves most recently added entries first."},
    {0, NULL},
};

PyType_Spec ca_lifoqueue_spec = {
    .name = "casyncio._core.LifoQueue",
    .basicsize = sizeof(QueueObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = lifoqueue_slots,
};

static PyType_Slot priorityqueue_slots[] = {
    {Py_tp_traverse, queue_traverse},
    {Py_tp_clear, queue_clear},
    {Py_tp_dealloc, queue_dealloc},
    {Py_tp_doc, "asyncio.PriorityQueue in C: retrieves entries in priority order "
                "(lowest first)."},
    {0, NULL},
};

PyType_Spec ca_priorityqueue_spec = {
    .name = "casyncio._core.PriorityQueue",
    .basicsize = sizeof(QueueObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = priorityqueue_slots,
};
