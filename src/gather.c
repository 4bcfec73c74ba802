/* asyncio.gather() in C: the function, the future it returns
 * (`_GatheringFuture`, reporting asyncio.tasks._GatheringFuture as its
 * __class__) and the done-callback its children share.
 *
 * Stock asyncio's gather of the running Python is the specification, line
 * for line: which loop it uses, the 3.12+ children already done (their
 * callbacks run once the outer future exists), 3.14+'s call-graph edges
 * from the calling task, what a cancelled or failed child does to the
 * outer future, which CancelledError a cancelled gather raises, and
 * cancel() passed to every child.  Works on any loop and with any futures:
 * casyncio's own exact types are read in C, others through their methods.
 *
 * Owns: the outer future's children list (shared with the callback); the
 * callback's state (the count of children finished, return_exceptions,
 * 3.14+ the calling task).
 * Does not own: the children's tasks (the loop runs them), asyncio's
 * ensure_future (called for anything that is not one of our futures or an
 * exact coroutine). */
#include "errors.h"
#include "future.h"

typedef struct {
    FutureObj fut;
    PyObject *children;       /* what cancel() cancels: a list, as asyncio's */
    unsigned char cancel_requested;
} GatheringObj;

/* The done-callback of every child of one gather() call. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    ca_state *state;
    GatheringObj *outer;      /* NULL until made: bpo-46672 */
    PyObject *children;       /* list, in argument order, duplicates kept */
    PyObject *return_exceptions;
    PyObject *cur_task;       /* 3.14+: the task that called gather(), or NULL */
    Py_ssize_t nfuts;
    Py_ssize_t nfinished;
} GatherCbObj;

/* ---- a child, whatever its type ---- */

static int
child_cancelled(ca_state *st, PyObject *fut)
{
    if (ca_future_is_own(st, fut)) {
        return ((FutureObj *)fut)->fstate == CA_FUT_CANCELLED;
    }
    PyObject *res = PyObject_CallMethod(fut, "cancelled", NULL);
    int r = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    return r;
}

/* fut.exception(): the exception or None, a new reference. */
static PyObject *
child_exception(ca_state *st, PyObject *fut)
{
    if (ca_future_is_own(st, fut)) {
        return ca_future_exception((FutureObj *)fut);
    }
    return PyObject_CallMethod(fut, "exception", NULL);
}

static PyObject *
child_result(ca_state *st, PyObject *fut)
{
    if (ca_future_is_own(st, fut)) {
        return ca_future_result((FutureObj *)fut);
    }
    return PyObject_CallMethodNoArgs(fut, st->str_result);
}

static PyObject *
child_make_cancelled_error(ca_state *st, PyObject *fut)
{
    if (ca_future_is_own(st, fut)) {
        return ca_future_make_cancelled_error((FutureObj *)fut);
    }
    return PyObject_CallMethod(fut, "_make_cancelled_error", NULL);
}

/* CancelledError('' if fut._cancel_message is None else fut._cancel_message),
 * what a cancelled child contributes to a list of results. */
static PyObject *
child_cancelled_result(ca_state *st, PyObject *fut)
{
    PyObject *msg;
    if (ca_future_is_own(st, fut)) {
        msg = Py_XNewRef(((FutureObj *)fut)->cancel_msg);
    }
    else {
        msg = PyObject_GetAttrString(fut, "_cancel_message");
        if (msg == NULL) {
            return NULL;
        }
        if (msg == Py_None) {
            Py_CLEAR(msg);
        }
    }
    if (msg == NULL) {
        msg = PyUnicode_FromString("");
        if (msg == NULL) {
            return NULL;
        }
    }
    PyObject *res = PyObject_CallOneArg(st->CancelledError, msg);
    Py_DECREF(msg);
    return res;
}

static int gathering_cancel(GatheringObj *g, PyObject *msg);

/* child.cancel(msg=msg): 1 if it took the request. */
static int
child_cancel(ca_state *st, PyObject *fut, PyObject *msg)
{
    if (Py_IS_TYPE(fut, st->TaskType)) {
        return ca_task_cancel((TaskObj *)fut, msg);
    }
    if (Py_IS_TYPE(fut, st->FutureType)) {
        return ca_future_cancel((FutureObj *)fut, msg);
    }
    if (Py_IS_TYPE(fut, st->GatheringFutureType)) {
        return gathering_cancel((GatheringObj *)fut, msg);
    }
    PyObject *args[2] = {fut, msg};
    PyObject *res = PyObject_VectorcallMethod(
        st->str_cancel, args, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, st->kwnames_msg);
    int r = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    return r;
}

#if PY_VERSION_HEX >= 0x030E0000
/* asyncio's `name` in the module dict `dict`, looked up at each use as
 * asyncio's gather looks up its globals (tests swap in the Python
 * versions); a new reference. */
static PyObject *
gather_lookup(PyObject *dict, PyObject *name, const char *module)
{
    PyObject *fn = PyDict_GetItemWithError(dict, name);
    if (fn == NULL && !PyErr_Occurred()) {
        PyErr_Format(PyExc_AttributeError, "module '%s' has no attribute '%U'",
                     module, name);
    }
    return Py_XNewRef(fn);
}

/* futures.future_add_to_awaited_by(fut, waiter) (add) or its discard twin:
 * in C when it is casyncio's own (as _compat installs it). */
int
ca_awaited_by_edge(ca_state *st, PyObject *fut, PyObject *waiter, int add)
{
    PyObject *fn = gather_lookup(st->futures_dict,
                                 add ? st->str_add_awaited_by : st->str_discard_awaited_by,
                                 "asyncio.futures");
    if (fn == NULL) {
        return -1;
    }
    PyCFunction ours = (PyCFunction)(void (*)(void))(
        add ? ca_future_add_to_awaited_by : ca_future_discard_from_awaited_by);
    int rc;
    if (PyCFunction_Check(fn) && PyCFunction_GET_FUNCTION(fn) == ours) {
        rc = ca_graph_edge(st, fut, waiter, add);
    }
    else {
        PyObject *args[2] = {fut, waiter};
        PyObject *res = PyObject_Vectorcall(fn, args, 2, NULL);
        rc = res ? 0 : -1;
        Py_XDECREF(res);
    }
    Py_DECREF(fn);
    return rc;
}
#endif

/* ---- the done-callback ---- */

#if PY_VERSION_HEX >= 0x030E0000
/* gh-157213: once gather() is settled, children that outlive it lose the
 * edge to the calling task. */
static int
gather_discard_edges(GatherCbObj *cb)
{
    if (cb->cur_task == NULL) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(cb->children); i++) {
        PyObject *child = Py_NewRef(PyList_GET_ITEM(cb->children, i));
        int rc = ca_awaited_by_edge(cb->state, child, cb->cur_task, 0);
        Py_DECREF(child);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}
#else
#define gather_discard_edges(cb) 0
#endif

/* Sets the outer future's exception to `exc` (a new reference, or NULL
 * after an error). */
static int
gather_fail(GatherCbObj *cb, PyObject *exc)
{
    if (exc == NULL) {
        return -1;
    }
    int rc = gather_discard_edges(cb);
    if (rc == 0) {
        rc = ca_future_set_exception(&cb->outer->fut, exc);
    }
    Py_DECREF(exc);
    return rc;
}

/* Every child is done: the list of results, or the cancellation. */
static int
gather_finish(GatherCbObj *cb)
{
    ca_state *st = cb->state;
    PyObject *results = PyList_New(0);
    PyObject *last = NULL;
    if (results == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(cb->children); i++) {
        Py_XSETREF(last, Py_NewRef(PyList_GET_ITEM(cb->children, i)));
        int c = child_cancelled(st, last);
        PyObject *res = NULL;
        if (c > 0) {
            res = child_cancelled_result(st, last);
        }
        else if (c == 0) {
            res = child_exception(st, last);
            if (res == Py_None) {
                Py_SETREF(res, child_result(st, last));
            }
        }
        if (res == NULL || PyList_Append(results, res) < 0) {
            Py_XDECREF(res);
            goto error;
        }
        Py_DECREF(res);
    }
    int rc;
    if (cb->outer->cancel_requested) {
        /* Cancelled while the children finished: the cancellation wins,
         * whatever return_exceptions says (bpo-32684); asyncio takes the
         * error from the last child. */
        PyObject *exc = last ? child_make_cancelled_error(st, last) : NULL;
        rc = exc ? ca_future_set_exception(&cb->outer->fut, exc) : -1;
        Py_XDECREF(exc);
    }
    else {
        rc = ca_future_set_result(&cb->outer->fut, results);
    }
    Py_DECREF(results);
    Py_XDECREF(last);
    return rc;
error:
    Py_DECREF(results);
    Py_XDECREF(last);
    return -1;
}

static int
gather_child_done(GatherCbObj *cb, PyObject *fut)
{
    ca_state *st = cb->state;
    cb->nfinished++;
#if PY_VERSION_HEX >= 0x030E0000
    if (cb->cur_task != NULL && ca_awaited_by_edge(st, fut, cb->cur_task, 0) < 0) {
        return -1;
    }
#endif
    if (cb->outer == NULL || cb->outer->fut.fstate != CA_FUT_PENDING) {
        /* Too late to matter: mark the exception retrieved. */
        int c = child_cancelled(st, fut);
        if (c != 0) {
            return c < 0 ? -1 : 0;
        }
        PyObject *exc = child_exception(st, fut);
        Py_XDECREF(exc);
        return exc ? 0 : -1;
    }
    int keep = PyObject_IsTrue(cb->return_exceptions);
    if (keep < 0) {
        return -1;
    }
    if (!keep) {
        int c = child_cancelled(st, fut);
        if (c < 0) {
            return -1;
        }
        if (c) {
            return gather_fail(cb, child_make_cancelled_error(st, fut));
        }
        PyObject *exc = child_exception(st, fut);
        if (exc == NULL) {
            return -1;
        }
        if (exc != Py_None) {
            return gather_fail(cb, exc);
        }
        Py_DECREF(exc);
    }
    return cb->nfinished == cb->nfuts ? gather_finish(cb) : 0;
}

static PyObject *
gathercb_vectorcall(GatherCbObj *cb, PyObject *const *args, size_t nargsf,
                    PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0)) {
        PyErr_Format(PyExc_TypeError,
                     "_done_callback() takes exactly one argument (%zd given)", nargs);
        return NULL;
    }
    /* The callback may drop the last reference to itself (a child's list
     * of callbacks): keep it alive while it runs. */
    Py_INCREF(cb);
    int rc = gather_child_done(cb, args[0]);
    Py_DECREF(cb);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static int
gathercb_traverse(GatherCbObj *cb, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(cb));
    Py_VISIT(cb->outer);
    Py_VISIT(cb->children);
    Py_VISIT(cb->return_exceptions);
    Py_VISIT(cb->cur_task);
    return 0;
}

static int
gathercb_clear(GatherCbObj *cb)
{
    Py_CLEAR(cb->outer);
    Py_CLEAR(cb->children);
    Py_CLEAR(cb->return_exceptions);
    Py_CLEAR(cb->cur_task);
    return 0;
}

static void
gathercb_dealloc(GatherCbObj *cb)
{
    PyTypeObject *tp = Py_TYPE(cb);
    PyObject_GC_UnTrack(cb);
    (void)gathercb_clear(cb);
    tp->tp_free(cb);
    Py_DECREF(tp);
}

static PyMemberDef gathercb_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(GatherCbObj, vectorcall),
     READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot gathercb_slots[] = {
    {Py_tp_doc, "The done-callback of gather()'s children."},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_traverse, gathercb_traverse},
    {Py_tp_clear, gathercb_clear},
    {Py_tp_dealloc, gathercb_dealloc},
    {Py_tp_members, gathercb_members},
    {0, NULL},
};

static PyType_Spec gathercb_spec = {
    .name = "casyncio._core._GatherCallback",
    .basicsize = sizeof(GatherCbObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = gathercb_slots,
};

/* ---- the outer future ---- */

/* asyncio's _GatheringFuture.cancel(): cancel every child, and count the
 * request only if one of them took it; the future itself is not
 * cancelled here, its last child's callback settles it. */
static int
gathering_cancel(GatheringObj *g, PyObject *msg)
{
    ca_state *st = g->fut.state;
    if (g->fut.fstate != CA_FUT_PENDING || g->children == NULL) {
        return 0;
    }
    PyObject *it = PyObject_GetIter(g->children);
    if (it == NULL) {
        return -1;
    }
    int taken = 0;
    PyObject *child;
    while ((child = PyIter_Next(it)) != NULL) {
        int r = child_cancel(st, child, msg);
        Py_DECREF(child);
        if (r < 0) {
            Py_DECREF(it);
            return -1;
        }
        taken |= r;
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) {
        return -1;
    }
    if (taken) {
        g->cancel_requested = 1;
    }
    return taken;
}

static PyObject *
gathering_cancel_meth(GatheringObj *g, PyObject *const *args, Py_ssize_t nargsf,
                      PyObject *kwnames)
{
    PyObject *msg;
    if (ca_parse_optional("cancel", "msg", args, nargsf, kwnames, &msg) < 0) {
        return NULL;
    }
    int r = gathering_cancel(g, msg);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *
gathering_get_children(GatheringObj *g, void *c)
{
    return Py_NewRef(g->children ? g->children : Py_None);
}

static int
gathering_set_children(GatheringObj *g, PyObject *v, void *c)
{
    if (v == NULL) {
        return ca_attr_deleted("_GatheringFuture", "_children");
    }
    Py_XSETREF(g->children, Py_NewRef(v));
    return 0;
}

static PyObject *
gathering_get_cancel_requested(GatheringObj *g, void *c)
{
    return PyBool_FromLong(g->cancel_requested);
}

static int
gathering_set_cancel_requested(GatheringObj *g, PyObject *v, void *c)
{
    int b = ca_attr_bool(v, "_GatheringFuture", "_cancel_requested");
    if (b < 0) {
        return -1;
    }
    g->cancel_requested = (unsigned char)b;
    return 0;
}

static int
gathering_traverse(GatheringObj *g, visitproc visit, void *arg)
{
    Py_VISIT(g->children);
    return ca_future_traverse(&g->fut, visit, arg);
}

static int
gathering_clear(GatheringObj *g)
{
    Py_CLEAR(g->children);
    return ca_future_clear(&g->fut);
}

static void
gathering_dealloc(GatheringObj *g)
{
    if (PyObject_CallFinalizerFromDealloc((PyObject *)g) < 0) {
        return;  /* resurrected */
    }
    PyObject_GC_UnTrack(g);
    Py_CLEAR(g->children);
    /* Future's deallocator does the rest (its finalizer has run). */
    g->fut.state->FutureType->tp_dealloc((PyObject *)g);
}

static PyMethodDef gathering_methods[] = {
    {"cancel", (PyCFunction)(void (*)(void))gathering_cancel_meth,
     METH_FASTCALL | METH_KEYWORDS,
     "cancel($self, /, msg=None)\n--\n\n"
     "Cancel every child; True if one of them took the request."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef gathering_getset[] = {
    {"_children", (getter)gathering_get_children, (setter)gathering_set_children,
     NULL, NULL},
    {"_cancel_requested", (getter)gathering_get_cancel_requested,
     (setter)gathering_set_cancel_requested, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot gathering_slots[] = {
    {Py_tp_doc, "The future gather() returns (asyncio's _GatheringFuture)."},
    {Py_tp_traverse, gathering_traverse},
    {Py_tp_clear, gathering_clear},
    {Py_tp_dealloc, gathering_dealloc},
    {Py_tp_methods, gathering_methods},
    {Py_tp_getset, gathering_getset},
    {0, NULL},
};

static PyType_Spec gathering_spec = {
    .name = "casyncio._core._GatheringFuture",
    .basicsize = sizeof(GatheringObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = gathering_slots,
};

static GatheringObj *
gathering_new(ca_state *st, PyObject *loop, PyObject *children)
{
    PyTypeObject *tp = st->GatheringFutureType;
    GatheringObj *g = (GatheringObj *)tp->tp_alloc(tp, 0);
    if (g == NULL) {
        return NULL;
    }
    ca_future_prepare(&g->fut, st);
    if (ca_future_setup(&g->fut, loop) < 0) {
        Py_DECREF(g);
        return NULL;
    }
    g->children = Py_NewRef(children);
    return g;
}

/* ---- gather() ---- */

/* asyncio.ensure_future(arg, loop=loop) (loop NULL: none given), in C for
 * our own futures and for exact coroutines when the loop is known. */
PyObject *
ca_ensure_future(ca_state *st, PyObject *arg, PyObject *loop)
{
    if (ca_future_is_own(st, arg)
        && (loop == NULL || loop == ((FutureObj *)arg)->loop)) {
        return Py_NewRef(arg);
    }
    if (PyCoro_CheckExact(arg)) {
        PyObject *running = loop ? Py_NewRef(loop) : PyObject_CallNoArgs(st->get_running_loop);
        if (running == NULL) {
            return NULL;
        }
        if (running != Py_None) {
            PyObject *task = PyObject_CallMethodOneArg(running, st->str_create_task, arg);
            Py_DECREF(running);
            if (task == NULL && PyErr_ExceptionMatches(PyExc_RuntimeError)) {
                /* As ensure_future does: the coroutine will never run. */
                PyObject *exc = ca_err_fetch();
                PyObject *res = PyObject_CallMethod(arg, "close", NULL);
                Py_XDECREF(res);
                if (res == NULL) {
                    Py_DECREF(exc);
                    return NULL;
                }
                ca_err_restore(exc);
            }
            return task;
        }
        Py_DECREF(running);
    }
    PyObject *args[2] = {arg, loop ? loop : Py_None};
    return PyObject_Vectorcall(st->ensure_future, args, 1, st->kwnames_loop);
}

/* futures._get_loop(fut) */
static PyObject *
gather_get_loop(ca_state *st, PyObject *fut)
{
    if (ca_future_is_own(st, fut)) {
        return Py_NewRef(((FutureObj *)fut)->loop);
    }
    return ca_future_loop_of(st, fut);
}

/* fut._log_destroy_pending = False: gather made this task, so nobody else
 * can await it and its "destroyed but pending" warning would mislead. */
static int
gather_quiet_task(ca_state *st, PyObject *fut)
{
    if (Py_IS_TYPE(fut, st->TaskType)) {
        ((TaskObj *)fut)->log_destroy_pending = 0;
        return 0;
    }
    return PyObject_SetAttrString(fut, "_log_destroy_pending", Py_False);
}

#if PY_VERSION_HEX >= 0x030C0000
static int
gather_is_done(ca_state *st, PyObject *fut)
{
    if (ca_future_is_own(st, fut)) {
        return ((FutureObj *)fut)->fstate != CA_FUT_PENDING;
    }
    PyObject *res = PyObject_CallMethod(fut, "done", NULL);
    int r = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    return r;
}
#endif

static int
gather_watch(GatherCbObj *cb, PyObject *fut)
{
    ca_state *st = cb->state;
#if PY_VERSION_HEX >= 0x030E0000
    if (cb->cur_task != NULL && ca_awaited_by_edge(st, fut, cb->cur_task, 1) < 0) {
        return -1;
    }
#endif
    if (ca_future_is_own(st, fut)) {
        return ca_future_add_callback((FutureObj *)fut, (PyObject *)cb, NULL);
    }
    PyObject *res = PyObject_CallMethodOneArg(fut, st->str_add_done_callback,
                                              (PyObject *)cb);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* gather() of nothing: a future of the current loop, done with []. */
static PyObject *
gather_nothing(ca_state *st)
{
    PyObject *loop = PyObject_CallNoArgs(st->gather_get_event_loop);
    if (loop == NULL) {
        return NULL;
    }
    PyObject *outer = PyObject_CallMethod(loop, "create_future", NULL);
    Py_DECREF(loop);
    PyObject *empty = outer ? PyList_New(0) : NULL;
    PyObject *res = empty ? PyObject_CallMethod(outer, "set_result", "O", empty) : NULL;
    Py_XDECREF(empty);
    if (res == NULL) {
        Py_XDECREF(outer);
        return NULL;
    }
    Py_DECREF(res);
    return outer;
}

static GatherCbObj *
gathercb_new(ca_state *st, PyObject *return_exceptions)
{
    GatherCbObj *cb = PyObject_GC_New(GatherCbObj, st->GatherCallbackType);
    if (cb == NULL) {
        return NULL;
    }
    cb->vectorcall = (vectorcallfunc)gathercb_vectorcall;
    cb->state = st;
    cb->outer = NULL;
    cb->children = PyList_New(0);
    cb->return_exceptions = Py_NewRef(return_exceptions);
    cb->cur_task = NULL;
    cb->nfuts = cb->nfinished = 0;
    PyObject_GC_Track(cb);
    if (cb->children == NULL) {
        Py_DECREF(cb);
        return NULL;
    }
    return cb;
}

/* The loop and (3.14+) the calling task, as gather() starts: *loop NULL
 * before 3.14 (the first child's loop will do). */
static int
gather_start(ca_state *st, GatherCbObj *cb, PyObject **loop)
{
    *loop = NULL;
#if PY_VERSION_HEX >= 0x030E0000
    PyObject *running = PyObject_CallNoArgs(st->get_running_loop);
    if (running == NULL) {
        return -1;
    }
    if (running == Py_None) {
        Py_DECREF(running);
        return 0;
    }
    *loop = running;
    PyObject *current = gather_lookup(st->tasks_dict, st->str_current_task,
                                      "asyncio.tasks");
    PyObject *task = current ? PyObject_CallOneArg(current, running) : NULL;
    Py_XDECREF(current);
    if (task == NULL) {
        return -1;
    }
    if (task == Py_None) {
        Py_DECREF(task);
    }
    else {
        cb->cur_task = task;
    }
#endif
    return 0;
}

/* One argument of gather(): its future, made or found, in `children`. */
static int
gather_add(GatherCbObj *cb, PyObject *arg_to_fut, PyObject *done_futs,
           PyObject *arg, PyObject **loop)
{
    ca_state *st = cb->state;
    PyObject *fut = PyDict_GetItemWithError(arg_to_fut, arg);
    if (fut != NULL) {  /* the same awaitable twice: one child */
        return PyList_Append(cb->children, fut);
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    fut = ca_ensure_future(st, arg, *loop);
    if (fut == NULL) {
        return -1;
    }
    int rc = 0;
    if (*loop == NULL) {
        *loop = gather_get_loop(st, fut);
        rc = *loop ? 0 : -1;
    }
    if (rc == 0 && fut != arg) {
        rc = gather_quiet_task(st, fut);
    }
    if (rc == 0) {
        cb->nfuts++;
        rc = PyDict_SetItem(arg_to_fut, arg, fut);
    }
    if (rc == 0) {
#if PY_VERSION_HEX >= 0x030C0000
        int done = gather_is_done(st, fut);
        rc = done < 0 ? -1
             : done  ? PyList_Append(done_futs, fut)
                     : gather_watch(cb, fut);
#else
        rc = gather_watch(cb, fut);
#endif
    }
    if (rc == 0) {
        rc = PyList_Append(cb->children, fut);
    }
    Py_DECREF(fut);
    return rc;
}

/* gather(*coros_or_futures, return_exceptions=False) */
static PyObject *
gather_impl(ca_state *st, PyObject *const *args, Py_ssize_t nargs,
            PyObject *return_exceptions)
{
    if (nargs == 0) {
        return gather_nothing(st);
    }
    GatherCbObj *cb = gathercb_new(st, return_exceptions);
    if (cb == NULL) {
        return NULL;
    }
    PyObject *loop = NULL;
    PyObject *arg_to_fut = PyDict_New();
    PyObject *done_futs = PyList_New(0);
    PyObject *outer = NULL;
    if (arg_to_fut == NULL || done_futs == NULL || gather_start(st, cb, &loop) < 0) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        if (gather_add(cb, arg_to_fut, done_futs, args[i], &loop) < 0) {
            goto done;
        }
    }
    cb->outer = gathering_new(st, loop, cb->children);
    if (cb->outer == NULL) {
        goto done;
    }
    /* 3.12+: children done already (eager tasks) settle now, so that a
     * gather of only those is done when it returns. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(done_futs); i++) {
        PyObject *fut = Py_NewRef(PyList_GET_ITEM(done_futs, i));
        int rc = gather_child_done(cb, fut);
        Py_DECREF(fut);
        if (rc < 0) {
            goto done;
        }
    }
    outer = Py_NewRef(cb->outer);
done:
    Py_XDECREF(loop);
    Py_XDECREF(arg_to_fut);
    Py_XDECREF(done_futs);
    Py_DECREF(cb);
    return outer;
}

PyObject *
ca_gather(PyObject *module, PyObject *const *args, Py_ssize_t nargsf,
          PyObject *kwnames)
{
    ca_state *st = PyModule_GetState(module);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *return_exceptions = Py_False;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(kw, "return_exceptions") != 0) {
            PyErr_Format(PyExc_TypeError,
                         "gather() got an unexpected keyword argument '%U'", kw);
            return NULL;
        }
        return_exceptions = args[nargs + i];
    }
    return gather_impl(st, args, nargs, return_exceptions);
}

int
ca_gather_types_init(PyObject *mod, ca_state *st)
{
    st->GatheringFutureType = (PyTypeObject *)PyType_FromModuleAndSpec(
        mod, &gathering_spec, (PyObject *)st->FutureType);
    if (st->GatheringFutureType == NULL) {
        return -1;
    }
    st->GatherCallbackType = (PyTypeObject *)PyType_FromModuleAndSpec(
        mod, &gathercb_spec, NULL);
    return st->GatherCallbackType ? 0 : -1;
}
