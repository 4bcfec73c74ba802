/* The awaitable that C versions of asyncio's `async def` methods return
 * when the method never suspends (Timeout.__aenter__ and __aexit__).
 *
 * Like the coroutine it stands for, it does nothing until awaited: the
 * first step runs the method's work and finishes with its value.  It
 * answers the coroutine protocol (send, throw, close, __await__, __next__;
 * am_send for 3.11's await, tp_iternext for 3.12+'s) and refuses a second
 * run with the coroutine's message.  It does not warn when never awaited.
 *
 * Owns: the method's receiver and arguments, until the first step. */
#include "future.h"
#include "prims.h"

typedef struct {
    PyObject_HEAD
    ca_oneshot_fn fn;
    const char *qualname;
    PyObject *self;           /* NULL once run or closed */
    PyObject *args[CA_ONESHOT_ARGS];
} OneShotObj;

static void
oneshot_drop(OneShotObj *op)
{
    Py_CLEAR(op->self);
    for (int i = 0; i < CA_ONESHOT_ARGS; i++) {
        Py_CLEAR(op->args[i]);
    }
}

PyObject *
ca_oneshot_new(ca_state *st, ca_oneshot_fn fn, const char *qualname,
               PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    assert(nargs <= CA_ONESHOT_ARGS);
    OneShotObj *op = PyObject_GC_New(OneShotObj, st->OneShotType);
    if (op == NULL) {
        return NULL;
    }
    op->fn = fn;
    op->qualname = qualname;
    op->self = Py_NewRef(self);
    for (Py_ssize_t i = 0; i < CA_ONESHOT_ARGS; i++) {
        op->args[i] = i < nargs ? Py_NewRef(args[i]) : NULL;
    }
    PyObject_GC_Track(op);
    return (PyObject *)op;
}

static PySendResult
oneshot_am_send(OneShotObj *op, PyObject *arg, PyObject **result)
{
    *result = NULL;
    if (op->self == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
        return PYGEN_ERROR;
    }
    if (arg != Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "can't send non-None value to a just-started coroutine");
        return PYGEN_ERROR;
    }
    /* Run with our own references: the work may drop the last other one. */
    PyObject *self = op->self;
    PyObject *args[CA_ONESHOT_ARGS];
    for (int i = 0; i < CA_ONESHOT_ARGS; i++) {
        args[i] = op->args[i];
        op->args[i] = NULL;
    }
    op->self = NULL;
    PyObject *res = op->fn(self, args);
    Py_DECREF(self);
    for (int i = 0; i < CA_ONESHOT_ARGS; i++) {
        Py_XDECREF(args[i]);
    }
    if (res == NULL) {
        return PYGEN_ERROR;
    }
    *result = res;
    return PYGEN_RETURN;
}

static PyObject *
oneshot_step(OneShotObj *op, PyObject *arg, int quiet)
{
    PyObject *result;
    PySendResult r = oneshot_am_send(op, arg, &result);
    return ca_send_as_iter(r, result, quiet);
}

static PyObject *
oneshot_iternext(OneShotObj *op)
{
    return oneshot_step(op, Py_None, 1);
}

static PyObject *
oneshot_send(OneShotObj *op, PyObject *arg)
{
    return oneshot_step(op, arg, 0);
}

/* throw() before the first step: as a coroutine that has not started, the
 * exception comes straight out and the work is never done. */
static PyObject *
oneshot_throw(OneShotObj *op, PyObject *const *args, Py_ssize_t nargs)
{
    oneshot_drop(op);
    return ca_raise_thrown(args, nargs);
}

static PyObject *
oneshot_close(OneShotObj *op, PyObject *unused)
{
    oneshot_drop(op);
    Py_RETURN_NONE;
}

static PyObject *
oneshot_await(OneShotObj *op)
{
    return Py_NewRef(op);
}

static PyObject *
oneshot_get_qualname(OneShotObj *op, void *c)
{
    return PyUnicode_FromString(op->qualname);
}

static PyObject *
oneshot_get_name(OneShotObj *op, void *c)
{
    return ca_name_of(op->qualname);
}

static PyObject *
oneshot_repr(OneShotObj *op)
{
    return PyUnicode_FromFormat("<casyncio awaitable %s at %p>", op->qualname, op);
}

static int
oneshot_traverse(OneShotObj *op, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(op->self);
    for (int i = 0; i < CA_ONESHOT_ARGS; i++) {
        Py_VISIT(op->args[i]);
    }
    return 0;
}

static int
oneshot_clear(OneShotObj *op)
{
    oneshot_drop(op);
    return 0;
}

static void
oneshot_dealloc(OneShotObj *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    oneshot_drop(op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef oneshot_methods[] = {
    {"send", (PyCFunction)oneshot_send, METH_O,
     "send($self, value, /)\n--\n\nRun the work (value must be None)."},
    {"throw", (PyCFunction)(void (*)(void))oneshot_throw, METH_FASTCALL,
     "throw($self, typ, val=None, tb=None, /)\n--\n\n"
     "Raise the exception here; the work is never done."},
    {"close", (PyCFunction)oneshot_close, METH_NOARGS,
     "close($self, /)\n--\n\nDrop the work without doing it."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef oneshot_getset[] = {
    {"__qualname__", (getter)oneshot_get_qualname, NULL, NULL, NULL},
    {"__name__", (getter)oneshot_get_name, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot oneshot_slots[] = {
    {Py_tp_doc, "What a C version of an asyncio async method returns: await it."},
    {Py_am_await, oneshot_await},
    {Py_am_send, oneshot_am_send},
    /* __await__() gives the object itself, which must then iterate (a
     * coroutine's gives a wrapper that does) */
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, oneshot_iternext},
    {Py_tp_repr, oneshot_repr},
    {Py_tp_traverse, oneshot_traverse},
    {Py_tp_clear, oneshot_clear},
    {Py_tp_dealloc, oneshot_dealloc},
    {Py_tp_methods, oneshot_methods},
    {Py_tp_getset, oneshot_getset},
    {0, NULL},
};

PyType_Spec ca_oneshot_spec = {
    .name = "casyncio._core.OneShot",
    .basicsize = sizeof(OneShotObj),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = oneshot_slots,
};
