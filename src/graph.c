/* 3.14+'s call graph (asyncio.graph) for casyncio's futures: which tasks
 * await a future (FutureObj.awaited_by: NULL, one object, or a set once
 * there are more, as _asyncio keeps it), its `_asyncio_awaited_by`, and the
 * module functions _compat.install_call_graph_hooks puts in place of
 * asyncio.futures.future_add_to_awaited_by and its discard twin.
 *
 * Owns: nothing of its own; the edges live in the futures.
 * Does not own: _asyncio's edges between its own futures (its functions
 * record those). */
#include "future.h"

#if PY_VERSION_HEX >= 0x030E0000

int
ca_future_awaited_by_add(FutureObj *fut, PyObject *waiter)
{
    if (fut->awaited_by == NULL) {
        fut->awaited_by = Py_NewRef(waiter);
        return 0;
    }
    if (PySet_CheckExact(fut->awaited_by)) {
        return PySet_Add(fut->awaited_by, waiter);
    }
    if (fut->awaited_by == waiter) {
        return 0;
    }
    PyObject *set = PySet_New(NULL);
    if (set == NULL || PySet_Add(set, fut->awaited_by) < 0
        || PySet_Add(set, waiter) < 0) {
        Py_XDECREF(set);
        return -1;
    }
    Py_SETREF(fut->awaited_by, set);
    return 0;
}

int
ca_future_awaited_by_discard(FutureObj *fut, PyObject *waiter)
{
    if (fut->awaited_by == waiter) {
        Py_CLEAR(fut->awaited_by);
        return 0;
    }
    if (fut->awaited_by != NULL && PySet_CheckExact(fut->awaited_by)) {
        return PySet_Discard(fut->awaited_by, waiter) < 0 ? -1 : 0;
    }
    return 0;
}

PyObject *
ca_future_get_awaited_by(FutureObj *fut, void *c)
{
    if (fut->awaited_by == NULL) {
        Py_RETURN_NONE;
    }
    if (PySet_CheckExact(fut->awaited_by)) {
        return PyFrozenSet_New(fut->awaited_by);
    }
    PyObject *one = PyTuple_Pack(1, fut->awaited_by);
    PyObject *set = one ? PyFrozenSet_New(one) : NULL;
    Py_XDECREF(one);
    return set;
}

/* Which of the two kinds `o` is: 1 casyncio's Future or Task (or a
 * subclass), 2 _asyncio's, 0 neither. */
static int
future_graph_kind(ca_state *st, PyObject *o)
{
    if (PyObject_TypeCheck(o, st->FutureType)) {
        return 1;
    }
    return PyObject_TypeCheck(o, (PyTypeObject *)st->NativeFuture) ? 2 : 0;
}

int
ca_graph_edge(ca_state *st, PyObject *fut, PyObject *waiter, int add)
{
    int fkind = future_graph_kind(st, fut);
    int wkind = future_graph_kind(st, waiter);
    if (fkind == 2 && wkind == 2) {
        /* Both _asyncio's: its own function. */
        PyObject *args[2] = {fut, waiter};
        PyObject *res = PyObject_Vectorcall(add ? st->native_add_awaited_by
                                                : st->native_discard_awaited_by,
                                            args, 2, NULL);
        Py_XDECREF(res);
        return res ? 0 : -1;
    }
    if (fkind == 1 && wkind != 0) {
        FutureObj *f = (FutureObj *)fut;
        return add ? ca_future_awaited_by_add(f, waiter)
                   : ca_future_awaited_by_discard(f, waiter);
    }
    return 0;
}

static PyObject *
future_graph_edge(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                  const char *name, int add)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s expected 2 arguments, got %zd", name, nargs);
        return NULL;
    }
    if (ca_graph_edge(PyModule_GetState(module), args[0], args[1], add) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
ca_future_add_to_awaited_by(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    return future_graph_edge(module, args, nargs, "future_add_to_awaited_by", 1);
}

PyObject *
ca_future_discard_from_awaited_by(PyObject *module, PyObject *const *args,
                                  Py_ssize_t nargs)
{
    return future_graph_edge(module, args, nargs, "future_discard_from_awaited_by", 0);
}
#endif
