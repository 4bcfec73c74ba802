/* errno -> OSError, exception fetch/restore across versions, and the
 * context dict handed to the loop's exception handler. */
#include "errors.h"

#include <errno.h>

void
ca_err_from_errno(int err)
{
    errno = -err;
    /* OSError's constructor picks the subclass from errno. */
    PyErr_SetFromErrno(PyExc_OSError);
}

void
ca_err_from_errno_msg(int err, PyObject *msg)
{
    PyObject *exc = PyObject_CallFunction(PyExc_OSError, "iO", -err, msg);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}

PyObject *
ca_err_fetch(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) {
        return NULL;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL) {
        PyException_SetTraceback(value, tb);
        Py_DECREF(tb);
    }
    Py_DECREF(type);
    return value;
#endif
}

void
ca_err_restore(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyObject *tb = PyException_GetTraceback(exc);
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, tb);
#endif
}

int
ca_err_is_fatal(PyObject *exc)
{
    return PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_SystemExit)
           || PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_KeyboardInterrupt);
}

PyObject *
ca_err_fetch_handled(void)
{
    PyObject *exc = ca_err_fetch();
    if (exc != NULL && ca_err_is_fatal(exc)) {
        ca_err_restore(exc);
        return NULL;
    }
    return exc;
}

int
ca_err_clear_would_block(void)
{
    if (PyErr_ExceptionMatches(PyExc_BlockingIOError)
        || PyErr_ExceptionMatches(PyExc_InterruptedError)) {
        PyErr_Clear();
        return 1;
    }
    return 0;
}

/* Builds the context {'message', 'exception', keys[i]: values[i]...,
 * 'source_traceback'} and calls loop.call_exception_handler with it: the
 * one builder of exception-handler contexts. */
static int
report_context(ca_state *st, PyObject *loop, PyObject *message, PyObject *exc,
               PyObject *const *keys, PyObject *const *values, int n,
               PyObject *source_traceback)
{
    PyObject *res = NULL;
    PyObject *ctx = PyDict_New();
    if (ctx == NULL) {
        return -1;
    }
    if (PyDict_SetItem(ctx, st->str_message, message) < 0
        || (exc != NULL && PyDict_SetItem(ctx, st->str_exception, exc) < 0)) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (PyDict_SetItem(ctx, keys[i], values[i]) < 0) {
            goto done;
        }
    }
    if (source_traceback != NULL && source_traceback != Py_None
        && PyDict_SetItem(ctx, st->str_source_traceback, source_traceback) < 0) {
        goto done;
    }
    res = PyObject_CallMethodOneArg(loop, st->str_call_exception_handler, ctx);
done:
    Py_DECREF(ctx);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

int
ca_report_exception(ca_state *st, PyObject *loop, PyObject *message,
                    PyObject *exc, PyObject *key, PyObject *value,
                    PyObject *source_traceback)
{
    return report_context(st, loop, message, exc, &key, &value, key != NULL,
                          source_traceback);
}

int
ca_report_transport_error(ca_state *st, PyObject *loop, const char *message,
                          PyObject *exc, PyObject *transport, PyObject *protocol)
{
    PyObject *msg = PyUnicode_FromString(message);
    if (msg == NULL) {
        return -1;
    }
    PyObject *keys[2] = {st->str_transport, st->str_protocol};
    PyObject *values[2] = {transport, protocol ? protocol : Py_None};
    int rc = report_context(st, loop, msg, exc, keys, values, 2, NULL);
    Py_DECREF(msg);
    return rc;
}
