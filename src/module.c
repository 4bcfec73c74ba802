/* casyncio._core: module initialisation (multi-phase) and the module state.
 * Owns the heap types and the cached asyncio helpers of state.h. */
#include "handle.h"
#include "loop.h"
#include "state.h"

/* Imports `module` and returns its attribute `name` (a new reference). */
static PyObject *
module_import_attr(const char *module, const char *name)
{
    PyObject *mod = PyImport_ImportModule(module);
    if (mod == NULL) {
        return NULL;
    }
    PyObject *attr = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    return attr;
}

static int
module_intern(PyObject **slot, const char *s)
{
    *slot = PyUnicode_InternFromString(s);
    return *slot ? 0 : -1;
}

static int
module_cache_asyncio(ca_state *st)
{
    struct {
        PyObject **slot;
        const char *module;
        const char *name;
    } attrs[] = {
        {&st->format_callback_source, "asyncio.format_helpers", "_format_callback_source"},
        {&st->extract_stack, "asyncio.format_helpers", "extract_stack"},
        {&st->format_handle, "asyncio.base_events", "_format_handle"},
        {&st->iscoroutine, "asyncio.coroutines", "iscoroutine"},
        {&st->iscoroutinefunction, "asyncio.coroutines", "iscoroutinefunction"},
        {&st->is_debug_mode, "asyncio.coroutines", "_is_debug_mode"},
        {&st->logger, "asyncio.log", "logger"},
    };
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        *attrs[i].slot = module_import_attr(attrs[i].module, attrs[i].name);
        if (*attrs[i].slot == NULL) {
            return -1;
        }
    }
    return 0;
}

static int
module_intern_strings(ca_state *st)
{
    if (module_intern(&st->str_call_exception_handler, "call_exception_handler") < 0
        || module_intern(&st->str_timer_handle_cancelled, "_timer_handle_cancelled") < 0
        || module_intern(&st->str_get_debug, "get_debug") < 0
        || module_intern(&st->str_warning, "warning") < 0
        || module_intern(&st->str_message, "message") < 0
        || module_intern(&st->str_exception, "exception") < 0
        || module_intern(&st->str_handle, "handle") < 0
        || module_intern(&st->str_source_traceback, "source_traceback") < 0
        || module_intern(&st->str_context, "context") < 0) {
        return -1;
    }
    st->empty_tuple = PyTuple_New(0);
    return st->empty_tuple ? 0 : -1;
}

static int
module_add_type(PyObject *mod, PyType_Spec *spec, PyObject *base,
                PyTypeObject **slot)
{
    *slot = (PyTypeObject *)PyType_FromModuleAndSpec(mod, spec, base);
    if (*slot == NULL) {
        return -1;
    }
    return PyModule_AddType(mod, *slot);
}

static int
module_exec(PyObject *mod)
{
    ca_state *st = PyModule_GetState(mod);
    if (module_add_type(mod, &ca_handle_spec, NULL, &st->HandleType) < 0
        || module_add_type(mod, &ca_timerhandle_spec, (PyObject *)st->HandleType,
                           &st->TimerHandleType) < 0
        || module_add_type(mod, &ca_loop_spec, NULL, &st->LoopType) < 0) {
        return -1;
    }
    if (module_cache_asyncio(st) < 0 || module_intern_strings(st) < 0) {
        return -1;
    }
#ifdef CA_DEBUG
    if (PyModule_AddIntConstant(mod, "DEBUG_BUILD", 1) < 0) {
        return -1;
    }
#else
    if (PyModule_AddIntConstant(mod, "DEBUG_BUILD", 0) < 0) {
        return -1;
    }
#endif
    return 0;
}

/* Visits (or clears) every object reference of the state, once. */
#define CA_STATE_REFS(X)                                                       \
    X(LoopType) X(HandleType) X(TimerHandleType) X(format_callback_source)     \
    X(extract_stack) X(format_handle) X(iscoroutine) X(iscoroutinefunction)    \
    X(is_debug_mode) X(logger) X(str_call_exception_handler)                   \
    X(str_timer_handle_cancelled) X(str_get_debug) X(str_warning)              \
    X(str_message) X(str_exception) X(str_handle) X(str_source_traceback)      \
    X(str_context) X(empty_tuple)

static int
module_traverse(PyObject *mod, visitproc visit, void *arg)
{
    ca_state *st = PyModule_GetState(mod);
#define CA_VISIT(name) Py_VISIT(st->name);
    CA_STATE_REFS(CA_VISIT)
#undef CA_VISIT
    return 0;
}

static int
module_clear(PyObject *mod)
{
    ca_state *st = PyModule_GetState(mod);
#define CA_CLEAR(name) Py_CLEAR(st->name);
    CA_STATE_REFS(CA_CLEAR)
#undef CA_CLEAR
    return 0;
}

static void
module_free(void *mod)
{
    (void)module_clear((PyObject *)mod);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

PyModuleDef ca_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "casyncio._core",
    .m_doc = "The C core of casyncio: event loop, handles and scheduling.",
    .m_size = sizeof(ca_state),
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&ca_module_def);
}
