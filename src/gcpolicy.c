/* The GC policy (see gcpolicy.h for the rules). */
#include "gcpolicy.h"
#include "loop.h"

PyObject *
ca_context_copy(void)
{
    PyObject *ctx = PyContext_CopyCurrent();
    if (ctx != NULL && ca_context_len(ctx) == 0) {
        PyObject_GC_UnTrack(ctx);
    }
    return ctx;
}

int
ca_gc_visit_queued(PyObject *h, visitproc visit, void *arg)
{
    if (Py_REFCNT(h) == 1 && !PyObject_GC_IsTracked(h)) {
        return Py_TYPE(h)->tp_traverse(h, visit, arg);
    }
    Py_VISIT(h);
    return 0;
}

/* Tracks the queued handles that something else holds too. */
static void
loop_track_escaped(LoopObj *self)
{
    for (Py_ssize_t i = 0; i < self->ready.len; i++) {
        ca_ready_entry *e = ca_readyq_at(&self->ready, i);
        if (e->kind == CA_READY_HANDLE) {
            ca_handle_unqueue(e->obj);
        }
    }
    for (size_t i = 0; i < self->timers.len; i++) {
        ca_handle_unqueue((PyObject *)self->timers.nodes[i].timer);
    }
}

void
ca_gc_loop_link(LoopObj *self)
{
    ca_state *st = self->state;
    self->all_prev = NULL;
    self->all_next = st->loops;
    if (st->loops != NULL) {
        ((LoopObj *)st->loops)->all_prev = (PyObject *)self;
    }
    st->loops = (PyObject *)self;
}

void
ca_gc_loop_unlink(LoopObj *self)
{
    ca_state *st = self->state;
    if (self->all_prev != NULL) {
        ((LoopObj *)self->all_prev)->all_next = self->all_next;
    }
    else if (st->loops == (PyObject *)self) {
        st->loops = self->all_next;
    }
    if (self->all_next != NULL) {
        ((LoopObj *)self->all_next)->all_prev = self->all_prev;
    }
    self->all_prev = self->all_next = NULL;
}

/* In gc.callbacks, called as hook(phase, info) around every collection:
 * before a full one, every loop's queued handles that something else holds
 * too are tracked, so that the collection can see a cycle through them. */
static PyObject *
loop_gc_hook(PyObject *mod, PyObject *args)
{
    PyObject *phase, *info;
    if (!PyArg_ParseTuple(args, "OO", &phase, &info)) {
        return NULL;
    }
    ca_state *st = PyModule_GetState(mod);
    if (st == NULL || st->loops == NULL || !PyDict_Check(info)
        || !PyUnicode_Check(phase)
        || PyUnicode_CompareWithASCIIString(phase, "start") != 0) {
        Py_RETURN_NONE;
    }
    PyObject *gen = PyDict_GetItemString(info, "generation"); /* borrowed */
    if (gen == NULL || !PyLong_Check(gen) || PyLong_AsLong(gen) != 2) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    for (PyObject *l = st->loops; l != NULL; l = ((LoopObj *)l)->all_next) {
        loop_track_escaped((LoopObj *)l);
    }
    Py_RETURN_NONE;
}

static PyMethodDef loop_gc_hook_def = {
    "_casyncio_gc_hook", loop_gc_hook, METH_VARARGS,
    "Lets a full collection see the handles queued on casyncio loops that "
    "something else holds too.",
};

int
ca_gc_install_hook(PyObject *mod)
{
    PyObject *callbacks = ca_import_attr("gc", "callbacks");
    if (callbacks == NULL) {
        return -1;
    }
    int rc = 0;
    if (!PyList_Check(callbacks)) {
        PyErr_SetString(PyExc_TypeError, "gc.callbacks is not a list");
        rc = -1;
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(callbacks); i++) {
        PyObject *cb = PyList_GET_ITEM(callbacks, i);
        if (PyCFunction_Check(cb)
            && ((PyCFunctionObject *)cb)->m_ml == &loop_gc_hook_def
            && PyCFunction_GET_SELF(cb) == mod) {
            goto done;
        }
    }
    PyObject *hook = PyCFunction_NewEx(&loop_gc_hook_def, mod, NULL);
    if (hook == NULL || PyList_Append(callbacks, hook) < 0) {
        rc = -1;
    }
    Py_XDECREF(hook);
done:
    Py_DECREF(callbacks);
    return rc;
}

