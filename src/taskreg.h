/* asyncio's registries as Task sees them (task.c): the running task of
 * each loop, which every step enters and leaves (inline here: it is on the
 * path of every step), and the registry all_tasks() reads (taskref.c). */
#ifndef CA_TASKREG_H
#define CA_TASKREG_H

#include "future.h"

/* Calls fn(a) or fn(a, b), dropping the result: 0, or -1 with the error. */
static inline int
ca_task_call_drop(PyObject *fn, PyObject *a, PyObject *b)
{
    PyObject *args[2] = {a, b};
    PyObject *r = PyObject_Vectorcall(fn, args, b == NULL ? 1 : 2, NULL);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* Puts the task in asyncio's registry (again, if __init__ runs twice):
 * through a TaskRef in _asyncio's WeakSet, or _register_task where that
 * set could not be found (3.14+, see state.h). */
int ca_task_register(ca_state *st, TaskObj *task);
/* Takes the task out of the registry, when it finishes or dies.  For a
 * finished task this is not observable through asyncio's API (all_tasks()
 * skips done tasks); it keeps the registry small.  The entry is detached
 * whatever happens, so it never points at a freed task. */
void ca_task_unregister(ca_state *st, TaskObj *task);

#if PY_VERSION_HEX >= 0x030E0000
/* 3.14+: the running task is per thread, written only by _asyncio's own
 * functions (their checks and messages are asyncio's). */
static inline int
ca_task_enter(ca_state *st, PyObject *loop, PyObject *task)
{
    return ca_task_call_drop(st->enter_task, loop, task);
}

static inline int
ca_task_leave(ca_state *st, PyObject *loop, PyObject *task)
{
    return ca_task_call_drop(st->leave_task, loop, task);
}

/* Makes `task` (None: no task) the loop's current task, without enter's
 * check; returns the previous one (a new reference, None if none). */
static inline PyObject *
ca_task_swap_current(ca_state *st, PyObject *loop, PyObject *task)
{
    PyObject *args[2] = {loop, task};
    return PyObject_Vectorcall(st->swap_current_task, args, 2, NULL);
}
#else
static inline int
ca_task_enter(ca_state *st, PyObject *loop, PyObject *task)
{
    /* One lookup instead of get-then-set: the dict grows iff there was no
     * current task. */
    Py_ssize_t before = PyDict_GET_SIZE(st->current_tasks);
    PyObject *cur = PyDict_SetDefault(st->current_tasks, loop, task);
    if (cur == NULL) {
        return -1;
    }
    if (PyDict_GET_SIZE(st->current_tasks) == before) {
        Py_INCREF(cur);
        PyErr_Format(PyExc_RuntimeError,
                     "Cannot enter into task %R while another task %R is being "
                     "executed.", task, cur);
        Py_DECREF(cur);
        return -1;
    }
    return 0;
}

static inline int
ca_task_leave_mismatch(PyObject *task, PyObject *cur)
{
    cur = Py_NewRef(cur ? cur : Py_None);
    PyErr_Format(PyExc_RuntimeError,
                 "Leaving task %R does not match the current task %R.", task, cur);
    Py_DECREF(cur);
    return -1;
}

static inline int
ca_task_leave(ca_state *st, PyObject *loop, PyObject *task)
{
#if PY_VERSION_HEX >= 0x030D0000
    /* One lookup: pop, and put back what was not ours (an error path). */
    PyObject *cur = NULL;
    int found = PyDict_Pop(st->current_tasks, loop, &cur);
    if (found < 0) {
        return -1;
    }
    if (cur == task) {
        Py_DECREF(cur);
        return 0;
    }
    if (found && PyDict_SetItem(st->current_tasks, loop, cur) < 0) {
        Py_DECREF(cur);
        return -1;
    }
    ca_task_leave_mismatch(task, cur);
    Py_XDECREF(cur);
    return -1;
#else
    PyObject *cur = PyDict_GetItemWithError(st->current_tasks, loop);
    if (cur != task) {
        if (cur == NULL && PyErr_Occurred()) {
            return -1;
        }
        return ca_task_leave_mismatch(task, cur);
    }
    return PyDict_DelItem(st->current_tasks, loop);
#endif
}

#if PY_VERSION_HEX >= 0x030C0000
/* As 3.14's _swap_current_task, on the dict. */
static inline PyObject *
ca_task_swap_current(ca_state *st, PyObject *loop, PyObject *task)
{
    PyObject *prev = PyDict_GetItemWithError(st->current_tasks, loop);
    if (prev == NULL && PyErr_Occurred()) {
        return NULL;
    }
    prev = Py_NewRef(prev ? prev : Py_None);
    int rc = task != Py_None ? PyDict_SetItem(st->current_tasks, loop, task)
             : prev != Py_None ? PyDict_DelItem(st->current_tasks, loop)
                               : 0;
    if (rc < 0) {
        Py_DECREF(prev);
        return NULL;
    }
    return prev;
}
#endif
#endif

#endif
