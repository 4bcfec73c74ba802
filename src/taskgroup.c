/* asyncio.TaskGroup's per-task methods in C (accelerate()).
 *
 * casyncio._accel.TaskGroup subclasses this mixin and the running Python's
 * own asyncio.TaskGroup.  What runs once per group (__init__, __aenter__,
 * __aexit__, _abort, 3.15's cancel, __repr__) stays asyncio's code,
 * inherited: it is where the rules change from one micro version to the
 * next.  What runs once per task is here: create_task() and the
 * done-callback _on_task_done().  The running asyncio's two methods are the
 * specification; their variants differ in a few steps (the CA_TG_* flags),
 * and _accel reads which variant it has from asyncio's own code, leaving
 * TaskGroup stock for one it does not know.
 *
 * The group's state is asyncio's: the instance attributes (_tasks, _loop,
 * _entered, _parent_task, ...) that the inherited methods read and write,
 * read and written here by name as asyncio's methods do.
 * Owns nothing of its own (the mixin adds no fields). */
#include "errors.h"
#include "future.h"
#include "prims.h"

/* The attributes and methods used here, interned in st->tg_str. */
enum {
    TG_ENTERED, TG_EXITING, TG_ABORTING, TG_TASKS, TG_LOOP, TG_PARENT_TASK,
    TG_ON_TASK_DONE, TG_ON_COMPLETED_FUT, TG_ERRORS, TG_BASE_ERROR,
    TG_IS_BASE_ERROR, TG_ABORT, TG_PARENT_CANCEL_REQUESTED, TG_ADD, TG_DISCARD,
    TG_CLOSE, TG_SET_TASK_NAME, TG_CORO, TG_TASK, TG_KWNAMES_NAME,
    TG_KWNAMES_NAME_CONTEXT, TG_NSTR_
};
_Static_assert(TG_NSTR_ == CA_TG_NSTR, "CA_TG_NSTR in state.h");

static const char *const tg_names[TG_KWNAMES_NAME] = {
    "_entered", "_exiting", "_aborting", "_tasks", "_loop", "_parent_task",
    "_on_task_done", "_on_completed_fut", "_errors", "_base_error",
    "_is_base_error", "_abort", "_parent_cancel_requested", "add", "discard",
    "close", "_set_task_name", "coro", "task",
};

#define TG_NAME "TaskGroup"

static inline PyObject *
tg_get(ca_state *st, PyObject *self, int which)
{
    return PyObject_GetAttr(self, st->tg_str[which]);
}

/* The truth of self.<which>: 1, 0 or -1. */
static int
tg_flag(ca_state *st, PyObject *self, int which)
{
    PyObject *v = tg_get(st, self, which);
    if (v == NULL) {
        return -1;
    }
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

/* obj.<name>(arg): 0 or -1. */
static int
tg_call1(PyObject *obj, PyObject *name, PyObject *arg)
{
    PyObject *res = PyObject_CallMethodOneArg(obj, name, arg);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* create_task()'s refusal: coro.close() (3.12.2+), then RuntimeError
 * "TaskGroup <repr> <why>". */
static PyObject *
tg_refuse(ca_state *st, PyObject *self, PyObject *coro, const char *why)
{
    if (st->tg_flags & CA_TG_CLOSE) {
        PyObject *res = PyObject_CallMethodNoArgs(coro, st->tg_str[TG_CLOSE]);
        if (res == NULL) {
            return NULL;
        }
        Py_DECREF(res);
    }
    PyErr_Format(PyExc_RuntimeError, TG_NAME " %R %s", self, why);
    return NULL;
}

/* task.cancel() */
static int
tg_cancel_task(ca_state *st, PyObject *task)
{
    if (Py_IS_TYPE(task, st->TaskType)) {
        return ca_task_cancel((TaskObj *)task, NULL) < 0 ? -1 : 0;
    }
    PyObject *res = PyObject_CallMethodNoArgs(task, st->str_cancel);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* self._loop.create_task(coro, ...) as the running asyncio's create_task
 * calls it: with **kwargs passed on (3.14+), name= (3.12.2+), or neither
 * and then tasks._set_task_name(task, name).  `kw` holds the keyword
 * values, named by kwnames. */
static PyObject *
tg_spawn(ca_state *st, PyObject *self, PyObject *coro, PyObject *const *kw,
         PyObject *kwnames, PyObject *name, PyObject *context)
{
    int fl = st->tg_flags;
    PyObject *loop = tg_get(st, self, TG_LOOP);
    if (loop == NULL) {
        return NULL;
    }
    PyObject *task;
    if (fl & CA_TG_KWARGS) {
        Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
        PyObject *small[8];
        PyObject **argv = small;
        if (nkw + 2 > (Py_ssize_t)Py_ARRAY_LENGTH(small)) {
            argv = PyMem_New(PyObject *, nkw + 2);
            if (argv == NULL) {
                Py_DECREF(loop);
                return PyErr_NoMemory();
            }
        }
        argv[0] = loop;
        argv[1] = coro;
        for (Py_ssize_t i = 0; i < nkw; i++) {
            argv[2 + i] = kw[i];
        }
        task = PyObject_VectorcallMethod(st->str_create_task, argv,
                                         2 | PY_VECTORCALL_ARGUMENTS_OFFSET, kwnames);
        if (argv != small) {
            PyMem_Free(argv);
        }
    }
    else {
        int by_kw = !(fl & CA_TG_SET_NAME);
        int with_ctx = context != Py_None;
        PyObject *argv[4] = {loop, coro, NULL, NULL};
        PyObject *names = NULL;
        Py_ssize_t nkw = 0;
        if (by_kw) {
            argv[2 + nkw++] = name;
        }
        if (with_ctx) {
            argv[2 + nkw++] = context;
        }
        if (nkw > 0) {
            names = !by_kw ? st->kwnames_context
                           : st->tg_str[with_ctx ? TG_KWNAMES_NAME_CONTEXT : TG_KWNAMES_NAME];
        }
        task = PyObject_VectorcallMethod(st->str_create_task, argv,
                                         2 | PY_VECTORCALL_ARGUMENTS_OFFSET, names);
    }
    Py_DECREF(loop);
    if (task != NULL && (fl & CA_TG_SET_NAME) && name != Py_None) {
        /* tasks._set_task_name(task, name): a no-op for None */
        PyObject *fn = PyDict_GetItemWithError(st->tasks_dict, st->tg_str[TG_SET_TASK_NAME]);
        PyObject *res = NULL;
        if (fn != NULL) {
            PyObject *args[2] = {task, name};
            res = PyObject_Vectorcall(fn, args, 2, NULL);
        }
        else if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_AttributeError,
                            "module 'asyncio.tasks' has no attribute '_set_task_name'");
        }
        if (res == NULL) {
            Py_CLEAR(task);
        }
        Py_XDECREF(res);
    }
    return task;
}

/* self._tasks.add(task) or .discard(task) */
static int
tg_tasks_update(ca_state *st, PyObject *tasks, PyObject *task, int add)
{
    if (PySet_CheckExact(tasks)) {
        return add ? PySet_Add(tasks, task) : (PySet_Discard(tasks, task) < 0 ? -1 : 0);
    }
    return tg_call1(tasks, st->tg_str[add ? TG_ADD : TG_DISCARD], task);
}

/* task.add_done_callback(self._on_task_done) */
static int
tg_watch(ca_state *st, PyObject *self, PyObject *task)
{
    PyObject *cb = tg_get(st, self, TG_ON_TASK_DONE);
    if (cb == NULL) {
        return -1;
    }
    int rc;
    if (ca_future_is_own(st, task)) {
        rc = ca_future_add_callback((FutureObj *)task, cb, NULL);
    }
    else {
        PyObject *res = PyObject_CallMethodOneArg(task, st->str_add_done_callback, cb);
        rc = res ? 0 : -1;
        Py_XDECREF(res);
    }
    Py_DECREF(cb);
    return rc;
}

#if PY_VERSION_HEX >= 0x030E0000
/* futures.future_add_to_awaited_by(task, self._parent_task) or its twin. */
static int
tg_edge(ca_state *st, PyObject *self, PyObject *task, int add)
{
    PyObject *parent = tg_get(st, self, TG_PARENT_TASK);
    if (parent == NULL) {
        return -1;
    }
    int rc = ca_awaited_by_edge(st, task, parent, add);
    Py_DECREF(parent);
    return rc;
}
#endif

/* Enlists an existing task: what create_task does once the task is made. */
static int
tg_enlist(ca_state *st, PyObject *self, PyObject *task)
{
    int fl = st->tg_flags;
#if PY_VERSION_HEX >= 0x030E0000
    if ((fl & CA_TG_AWAITED_BY) && tg_edge(st, self, task, 1) < 0) {
        return -1;
    }
#endif
    if (fl & CA_TG_SHORTCUT) {
        /* 3.12.0-3.13.1: a task already done (an eager one) is handed to
         * _on_task_done() at once, without a done-callback */
        int done = ca_fut_test(st, task, 0);
        if (done != 0) {
            return done < 0 ? -1 : tg_call1(self, st->tg_str[TG_ON_TASK_DONE], task);
        }
    }
    PyObject *tasks = NULL;
    int rc = -1;
    if (fl & CA_TG_CB_FIRST) {
        if (tg_watch(st, self, task) < 0 || (tasks = tg_get(st, self, TG_TASKS)) == NULL
            || tg_tasks_update(st, tasks, task, 1) < 0) {
            goto done;
        }
    }
    else if ((tasks = tg_get(st, self, TG_TASKS)) == NULL
             || tg_tasks_update(st, tasks, task, 1) < 0 || tg_watch(st, self, task) < 0) {
        goto done;
    }
    if (fl & CA_TG_ABORT_LATE) {
        /* an eager task may have made the group abort before it joined
         * _tasks (gh-155418) */
        int aborting = tg_flag(st, self, TG_ABORTING);
        int done = aborting > 0 ? ca_fut_test(st, task, 0) : 0;
        if (aborting < 0 || done < 0 || (aborting && !done && tg_cancel_task(st, task) < 0)) {
            goto done;
        }
    }
    rc = 0;
done:
    Py_XDECREF(tasks);
    return rc;
}

static PyObject *tg_create_task(PyObject *self, PyTypeObject *cls, PyObject *const *args,
                                size_t nargsf, PyObject *kwnames);

/* create_task(coro=coro, **kwargs) (3.14+): again with coro positional and
 * the other keywords passed on. */
static PyObject *
tg_create_task_coro_kw(PyObject *self, PyTypeObject *cls, PyObject *const *kwvalues,
                       Py_ssize_t nkw, PyObject *kwnames, PyObject *coro)
{
    ca_state *st = PyType_GetModuleState(cls);
    PyObject *names = PyTuple_New(nkw - 1);
    PyObject **argv = PyMem_New(PyObject *, nkw);
    PyObject *res = NULL;
    if (names == NULL || argv == NULL) {
        if (argv == NULL) {
            PyErr_NoMemory();
        }
        goto done;
    }
    argv[0] = coro;
    Py_ssize_t j = 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_Compare(k, st->tg_str[TG_CORO]) != 0) {
            PyTuple_SET_ITEM(names, j, Py_NewRef(k));
            argv[1 + j++] = kwvalues[i];
        }
    }
    res = tg_create_task(self, cls, argv, 1, j > 0 ? names : NULL);
done:
    PyMem_Free(argv);
    Py_XDECREF(names);
    return res;
}

/* create_task(coro, *, name=None, context=None) (3.11-3.13),
 * create_task(coro, **kwargs) (3.14+) */
static PyObject *
tg_create_task(PyObject *self, PyTypeObject *cls, PyObject *const *args,
               size_t nargsf, PyObject *kwnames)
{
    ca_state *st = PyType_GetModuleState(cls);
    int fl = st->tg_flags;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *vals[3] = {NULL, NULL, NULL};  /* coro, name, context */
    if (!(fl & CA_TG_KNOWN)) {
        PyErr_SetString(PyExc_RuntimeError,
                        "casyncio's TaskGroup methods are not set up for this asyncio");
        return NULL;
    }
    if (fl & CA_TG_KWARGS) {
        /* create_task(coro, **kwargs): coro may come by keyword */
        static const char *const names[] = {"coro"};
        Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
        Py_ssize_t at = -1;
        for (Py_ssize_t i = 0; i < nkw && at < 0; i++) {
            if (PyUnicode_Compare(PyTuple_GET_ITEM(kwnames, i), st->tg_str[TG_CORO]) == 0) {
                at = i;
            }
        }
        if (nargs != 1 || at >= 0) {
            if (nargs == 0 && at >= 0) {
                return tg_create_task_coro_kw(self, cls, args, nkw, kwnames, args[at]);
            }
            /* too many, too few, or coro twice: the error of the call
             * with only coro= of its keywords (none read past args) */
            PyObject *kw = at >= 0 ? PyTuple_GetSlice(kwnames, at, at + 1) : NULL;
            if (at < 0 || kw != NULL) {
                (void)ca_parse_args(TG_NAME ".create_task", 1, names, 1, 1, 1, args, nargs,
                                    kw, vals);
            }
            Py_XDECREF(kw);
            return NULL;
        }
        vals[0] = args[0];
    }
    else {
        static const char *const names[] = {"coro", "name", "context"};
        if (ca_parse_args(TG_NAME ".create_task", 1, names, 1, 3, 1, args, nargsf, kwnames,
                          vals) < 0) {
            return NULL;
        }
    }
    PyObject *coro = vals[0];
    PyObject *name = vals[1] ? vals[1] : Py_None, *context = vals[2] ? vals[2] : Py_None;

    int r = tg_flag(st, self, TG_ENTERED);
    if (r <= 0) {
        return r < 0 ? NULL : tg_refuse(st, self, coro, "has not been entered");
    }
    r = tg_flag(st, self, TG_EXITING);
    if (r > 0) {
        int nonempty = tg_flag(st, self, TG_TASKS);
        if (nonempty <= 0) {
            return nonempty < 0 ? NULL : tg_refuse(st, self, coro, "is finished");
        }
    }
    else if (r < 0) {
        return NULL;
    }
    r = tg_flag(st, self, TG_ABORTING);
    if (r != 0) {
        return r < 0 ? NULL : tg_refuse(st, self, coro, "is shutting down");
    }
    PyObject *task = tg_spawn(st, self, coro, args + nargs, kwnames, name, context);
    if (task != NULL && tg_enlist(st, self, task) < 0) {
        Py_CLEAR(task);
    }
    return task;
}

/* The part of _on_task_done for a task that failed with `exc`. */
static int
tg_task_failed(ca_state *st, PyObject *self, PyObject *task, PyObject *exc)
{
    PyObject *errors = tg_get(st, self, TG_ERRORS);
    if (errors == NULL) {
        return -1;
    }
    int rc = PyList_CheckExact(errors) ? PyList_Append(errors, exc)
                                       : tg_call1(errors, st->str_append, exc);
    Py_DECREF(errors);
    if (rc < 0) {
        return -1;
    }
    /* if self._is_base_error(exc) and self._base_error is None: */
    PyObject *res = PyObject_CallMethodOneArg(self, st->tg_str[TG_IS_BASE_ERROR], exc);
    int base = res ? PyObject_IsTrue(res) : -1;
    Py_XDECREF(res);
    if (base < 0) {
        return -1;
    }
    if (base) {
        PyObject *prev = tg_get(st, self, TG_BASE_ERROR);
        if (prev == NULL) {
            return -1;
        }
        int none = prev == Py_None;
        Py_DECREF(prev);
        if (none && PyObject_SetAttr(self, st->tg_str[TG_BASE_ERROR], exc) < 0) {
            return -1;
        }
    }

    PyObject *parent = tg_get(st, self, TG_PARENT_TASK);
    if (parent == NULL) {
        return -1;
    }
    int pdone = ca_fut_test(st, parent, 0);
    if (pdone > 0) {
        /* "not sure if this case is possible", asyncio says */
        rc = -1;
        PyObject *loop = tg_get(st, self, TG_LOOP);
        PyObject *ctx = loop == NULL ? NULL : Py_BuildValue(
            "{s:N,s:O,s:O}", "message",
            PyUnicode_FromFormat("Task %R has errored out but its parent task %S is "
                                 "already completed", task, parent),
            "exception", exc, "task", task);
        if (ctx != NULL) {
            rc = tg_call1(loop, st->str_call_exception_handler, ctx);
        }
        Py_XDECREF(loop);
        Py_XDECREF(ctx);
        Py_DECREF(parent);
        return rc;
    }
    if (pdone < 0) {
        Py_DECREF(parent);
        return -1;
    }
    Py_DECREF(parent);

    int aborting = tg_flag(st, self, TG_ABORTING);
    int requested = aborting == 0 ? tg_flag(st, self, TG_PARENT_CANCEL_REQUESTED) : 0;
    if (aborting < 0 || requested < 0) {
        return -1;
    }
    if (aborting || requested) {
        return 0;
    }
    /* cancel the body of the group (its __aexit__ uncancels) */
    res = PyObject_CallMethodNoArgs(self, st->tg_str[TG_ABORT]);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    if (PyObject_SetAttr(self, st->tg_str[TG_PARENT_CANCEL_REQUESTED], Py_True) < 0
        || (parent = tg_get(st, self, TG_PARENT_TASK)) == NULL) {
        return -1;
    }
    rc = tg_cancel_task(st, parent);
    Py_DECREF(parent);
    return rc;
}

/* _on_task_done(task): the done-callback of every task of the group */
static PyObject *
tg_on_task_done(PyObject *self, PyTypeObject *cls, PyObject *const *args,
                size_t nargsf, PyObject *kwnames)
{
    ca_state *st = PyType_GetModuleState(cls);
    static const char *const names[] = {"task"};
    PyObject *task;
    if (ca_parse_args(TG_NAME "._on_task_done", 1, names, 1, 1, 1, args, nargsf, kwnames,
                      &task) < 0) {
        return NULL;
    }
    PyObject *tasks = tg_get(st, self, TG_TASKS);
    if (tasks == NULL || tg_tasks_update(st, tasks, task, 0) < 0) {
        goto fail;
    }
#if PY_VERSION_HEX >= 0x030E0000
    if ((st->tg_flags & CA_TG_AWAITED_BY) && tg_edge(st, self, task, 0) < 0) {
        goto fail;
    }
#endif
    PyObject *waiter = tg_get(st, self, TG_ON_COMPLETED_FUT);
    if (waiter == NULL) {
        goto fail;
    }
    if (waiter != Py_None) {
        /* the last task wakes __aexit__ */
        int left = PyObject_IsTrue(tasks);
        int done = left == 0 ? ca_fut_test(st, waiter, 0) : 1;
        if (left < 0 || done < 0 || (!done && ca_fut_set(st, waiter, Py_True) < 0)) {
            Py_DECREF(waiter);
            goto fail;
        }
    }
    Py_DECREF(waiter);
    Py_CLEAR(tasks);

    int cancelled = ca_fut_test(st, task, 1);
    if (cancelled != 0) {
        return cancelled < 0 ? NULL : Py_NewRef(Py_None);
    }
    PyObject *exc = ca_future_is_own(st, task)
                        ? ca_future_exception((FutureObj *)task)
                        : PyObject_CallMethodNoArgs(task, st->str_exception);
    if (exc == NULL) {
        return NULL;
    }
    int rc = exc == Py_None ? 0 : tg_task_failed(st, self, task, exc);
    Py_DECREF(exc);
    return rc < 0 ? NULL : Py_NewRef(Py_None);

fail:
    Py_XDECREF(tasks);
    return NULL;
}

static PyMethodDef tg_methods[] = {
    {"create_task", (PyCFunction)(void (*)(void))tg_create_task,
     METH_METHOD | METH_FASTCALL | METH_KEYWORDS,
     "Create a new task in this group and return it (asyncio's\n"
     "TaskGroup.create_task, in C)."},
    {"_on_task_done", (PyCFunction)(void (*)(void))tg_on_task_done,
     METH_METHOD | METH_FASTCALL | METH_KEYWORDS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot tg_slots[] = {
    {Py_tp_doc, "The per-task methods of asyncio.TaskGroup in C: a base of\n"
                "casyncio._accel.TaskGroup, with asyncio's own TaskGroup."},
    {Py_tp_methods, tg_methods},
    {0, NULL},
};

PyType_Spec ca_taskgroup_methods_spec = {
    .name = "casyncio._core._TaskGroupMethods",
    .basicsize = sizeof(PyObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = tg_slots,
};

/* Interns the names used above. */
int
ca_taskgroup_init(ca_state *st)
{
    for (int i = 0; i < TG_KWNAMES_NAME; i++) {
        st->tg_str[i] = PyUnicode_InternFromString(tg_names[i]);
        if (st->tg_str[i] == NULL) {
            return -1;
        }
    }
    st->tg_str[TG_KWNAMES_NAME] = PyTuple_Pack(1, st->str_name);
    st->tg_str[TG_KWNAMES_NAME_CONTEXT] = PyTuple_Pack(2, st->str_name, st->str_context);
    return st->tg_str[TG_KWNAMES_NAME] && st->tg_str[TG_KWNAMES_NAME_CONTEXT] ? 0 : -1;
}
