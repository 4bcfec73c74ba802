/* TaskRef: the entry a pending Task puts in asyncio's task registry.
 *
 * Owns: nothing.  It points at its task without a reference; the task
 * detaches it (ca_taskref_detach) when it finishes or dies, so it never
 * points at a freed task.
 * Does not own: the registry (asyncio's WeakSet: tasks._all_tasks on 3.11,
 * tasks._scheduled_tasks on 3.12+), to which ca_task_register and
 * ca_task_unregister (the end of this file) add and discard the entries.
 *
 * Why not a weakref.ref: the WeakSet keeps weakrefs in its .data set, and a
 * weakref is a GC-tracked object.  A pending task then costs the collector
 * five objects (coroutine, task, its Context, the Context of gather's
 * done-callback, the weakref); with 100,000 pending tasks the collector is
 * about half the run time, and registration alone ~20% of it (gather_100k,
 * 3.11, measured with and without).  A TaskRef holds no references, so it
 * is not tracked.  To the WeakSet it behaves like the weakref it replaces:
 * calling it returns the task (None once detached), it hashes as the task,
 * and it compares equal to a weakref or TaskRef to the same task, so
 * all_tasks(), `task in _all_tasks`, _register_task/_unregister_task all
 * work unchanged.  Only code reading the private .data set directly can see
 * that its entries are not weakref.ref instances. */
#include "errors.h"
#include "future.h"
#include "taskreg.h"

typedef struct {
    PyObject_HEAD
    PyObject *task;  /* borrowed; NULL once detached */
    Py_hash_t hash;  /* the task's, kept after it is detached (as weakrefs do) */
} TaskRefObj;

PyObject *
ca_taskref_new(ca_state *st, PyObject *task)
{
    Py_hash_t hash = PyObject_Hash(task);
    if (hash == -1) {
        return NULL;
    }
    TaskRefObj *ref = PyObject_New(TaskRefObj, st->TaskRefType);
    if (ref == NULL) {
        return NULL;
    }
    ref->task = task;
    ref->hash = hash;
    return (PyObject *)ref;
}

void
ca_taskref_detach(PyObject *ref)
{
    ((TaskRefObj *)ref)->task = NULL;
}

/* The object a weakref or TaskRef points at: 1 and a new reference in
 * *obj, 0 if it is dead, -1 with an exception; 2 if `ref` is neither. */
static int
taskref_referent(ca_state *st, PyObject *ref, PyObject **obj)
{
    *obj = NULL;
    if (Py_IS_TYPE(ref, st->TaskRefType)) {
        *obj = Py_XNewRef(((TaskRefObj *)ref)->task);
        return *obj != NULL;
    }
    if (!PyWeakref_Check(ref)) {
        return 2;
    }
#if PY_VERSION_HEX >= 0x030D0000
    return PyWeakref_GetRef(ref, obj);
#else
    PyObject *o = PyWeakref_GetObject(ref);
    if (o == NULL) {
        return -1;
    }
    *obj = o == Py_None ? NULL : Py_NewRef(o);
    return *obj != NULL;
#endif
}

/* As weakref.ref compares: by referent while both are alive, else by
 * identity. */
static PyObject *
taskref_richcompare(PyObject *self, PyObject *other, int op)
{
    ca_state *st = ca_state_from_type(Py_TYPE(self));
    if (st == NULL || (op != Py_EQ && op != Py_NE)) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *a = NULL, *b = NULL;
    int ra = taskref_referent(st, self, &a);
    int rb = taskref_referent(st, other, &b);
    PyObject *res;
    if (ra < 0 || rb < 0) {
        res = NULL;
    }
    else if (rb == 2) {
        res = Py_NewRef(Py_NotImplemented);
    }
    else if (a == NULL || b == NULL) {
        res = PyBool_FromLong((self == other) == (op == Py_EQ));
    }
    else {
        res = PyObject_RichCompare(a, b, op);
    }
    Py_XDECREF(a);
    Py_XDECREF(b);
    return res;
}

static PyObject *
taskref_call(TaskRefObj *ref, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) > 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) > 0)) {
        PyErr_SetString(PyExc_TypeError, "a task reference takes no arguments");
        return NULL;
    }
    return Py_NewRef(ref->task ? ref->task : Py_None);
}

static Py_hash_t
taskref_hash(TaskRefObj *ref)
{
    return ref->hash;
}

static PyObject *
taskref_repr(TaskRefObj *ref)
{
    if (ref->task == NULL) {
        return PyUnicode_FromFormat("<casyncio task reference at %p; dead>", ref);
    }
    return PyUnicode_FromFormat("<casyncio task reference at %p; to '%s' at %p>", ref,
                                Py_TYPE(ref->task)->tp_name, ref->task);
}

static void
taskref_dealloc(TaskRefObj *ref)
{
    PyTypeObject *tp = Py_TYPE(ref);
    tp->tp_free(ref);
    Py_DECREF(tp);
}

static PyType_Slot taskref_slots[] = {
    {Py_tp_call, taskref_call},
    {Py_tp_hash, taskref_hash},
    {Py_tp_richcompare, taskref_richcompare},
    {Py_tp_repr, taskref_repr},
    {Py_tp_dealloc, taskref_dealloc},
    {0, NULL},
};

PyType_Spec ca_taskref_spec = {
    .name = "casyncio._core.TaskRef",
    .basicsize = sizeof(TaskRefObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = taskref_slots,
};

/* ---- registering a task ---- */

/* Marks a task registered through _asyncio._register_task (3.14+ when
 * _asyncio's WeakSet could not be found: see state.h). */
#define CA_REGISTERED_PUBLICLY Py_None

void
ca_task_unregister(ca_state *st, TaskObj *task)
{
    PyObject *ref = task->registry_ref;
    if (ref == NULL) {
        return;
    }
    task->registry_ref = NULL;
    PyObject *err = ca_err_fetch();
    if (ref == CA_REGISTERED_PUBLICLY) {
        if (Py_REFCNT(task) > 0 && st->unregister_task != NULL
            && ca_task_call_drop(st->unregister_task, (PyObject *)task, NULL) < 0) {
            PyErr_WriteUnraisable((PyObject *)task);
        }
    }
    else {
        if (st->registry_data != NULL && PySet_Discard(st->registry_data, ref) < 0) {
            PyErr_WriteUnraisable((PyObject *)task);
        }
        ca_taskref_detach(ref);
        Py_DECREF(ref);
    }
    if (err != NULL) {
        ca_err_restore(err);
    }
}

int
ca_task_register(ca_state *st, TaskObj *task)
{
    ca_task_unregister(st, task);  /* __init__ called again */
    if (st->registry_data == NULL) {
        if (ca_task_call_drop(st->register_task, (PyObject *)task, NULL) < 0) {
            return -1;
        }
        task->registry_ref = CA_REGISTERED_PUBLICLY;
        return 0;
    }
    /* What WeakSet.add does, without the Python call, and with an entry the
     * collector does not track (see taskref.c). */
    PyObject *ref = ca_taskref_new(st, (PyObject *)task);
    if (ref == NULL) {
        return -1;
    }
    if (PySet_Add(st->registry_data, ref) < 0) {
        ca_taskref_detach(ref);
        Py_DECREF(ref);
        return -1;
    }
    task->registry_ref = ref;
    return 0;
}
