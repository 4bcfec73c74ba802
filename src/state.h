/* The module state: the heap types and the Python objects the C code looks
 * up once at import instead of on every call.
 *
 * Owns: references to the types and cached callables/strings.
 * Does not own: anything per loop (see loop.h).
 *
 * Per-callback paths never look the module up: a loop caches its state
 * pointer when it is created (the loop's type keeps the module alive). */
#ifndef CA_STATE_H
#define CA_STATE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

typedef struct {
    PyTypeObject *LoopType;
    PyTypeObject *HandleType;
    PyTypeObject *TimerHandleType;

    /* asyncio helpers, looked up at import. */
    PyObject *format_callback_source; /* format_helpers._format_callback_source */
    PyObject *extract_stack;          /* format_helpers.extract_stack */
    PyObject *format_handle;          /* base_events._format_handle */
    PyObject *iscoroutine;            /* coroutines.iscoroutine */
    PyObject *iscoroutinefunction;    /* coroutines.iscoroutinefunction */
    PyObject *is_debug_mode;          /* coroutines._is_debug_mode */
    PyObject *logger;                 /* asyncio.log.logger */

    /* Interned strings and small constants. */
    PyObject *str_call_exception_handler;
    PyObject *str_timer_handle_cancelled;
    PyObject *str_get_debug;
    PyObject *str_warning;
    PyObject *str_message;
    PyObject *str_exception;
    PyObject *str_handle;
    PyObject *str_source_traceback;
    PyObject *str_context;
    PyObject *empty_tuple;
} ca_state;

extern PyModuleDef ca_module_def;

/* The state of the module that defined `tp` or one of its bases; for paths
 * that have no loop at hand (Handle methods, repr).  Sets an exception and
 * returns NULL if the type is not ours. */
static inline ca_state *
ca_state_from_type(PyTypeObject *tp)
{
    PyObject *mod = PyType_GetModuleByDef(tp, &ca_module_def);
    if (mod == NULL) {
        return NULL;
    }
    return (ca_state *)PyModule_GetState(mod);
}

#endif
