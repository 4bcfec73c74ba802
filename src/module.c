/* casyncio._core: module initialisation (multi-phase) and the module state.
 * Owns the heap types and the cached asyncio helpers of state.h. */
#include "dgram.h"
#include "errors.h"
#include "executor.h"
#include "future.h"
#include "handle.h"
#include "loop.h"
#include "prims.h"
#include "sockets.h"
#include "server.h"
#include "state.h"
#include "stream.h"

PyObject **
ca_kw_slot(PyObject *kw, const char *const *names, PyObject **out, int n)
{
    for (int i = 0; i < n; i++) {
        if (PyUnicode_CompareWithASCIIString(kw, names[i]) == 0) {
            return &out[i];
        }
    }
    return NULL;
}

PyObject *
ca_import_attr(const char *module, const char *name)
{
    PyObject *mod = PyImport_ImportModule(module);
    if (mod == NULL) {
        return NULL;
    }
    PyObject *attr = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    return attr;
}

PyObject *
ca_get_class(PyObject *obj, ca_state *st)
{
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *cls = (PyObject *)tp;
    if (st != NULL) {
        cls = tp == st->FutureType             ? st->AsyncioFuture
              : tp == st->TaskType             ? st->AsyncioTask
              : tp == st->HandleType           ? st->AsyncioHandle
              : tp == st->TimerHandleType      ? st->AsyncioTimerHandle
              : tp == st->ThreadSafeHandleType ? st->AsyncioThreadSafeHandle
              : tp == st->GatheringFutureType  ? st->AsyncioGatheringFuture
              : tp == st->TimeoutType          ? st->AsyncioTimeout
                                               : cls;
    }
    return Py_NewRef(cls);
}

int
ca_set_class(PyObject *obj, PyObject *value)
{
    PyObject *dict = PyObject_GetAttrString((PyObject *)&PyBaseObject_Type,
                                            "__dict__");
    if (dict == NULL) {
        return -1;
    }
    PyObject *descr = PyMapping_GetItemString(dict, "__class__");
    Py_DECREF(dict);
    if (descr == NULL) {
        return -1;
    }
    int r = Py_TYPE(descr)->tp_descr_set(descr, obj, value);
    Py_DECREF(descr);
    return r;
}

#if PY_VERSION_HEX >= 0x030C0000
/* Set once a watched name of asyncio.tasks or asyncio.futures ("Task",
 * "Future") is set or deleted, or the dict cleared; never reset.
 *
 * A C global (beside the signal wakeup fd, the other one): a dict watcher's
 * callback is given no module state.  One flag for the whole process is
 * safe: it only ever sends casyncio (of any interpreter) from its fast path
 * to the lookup that is always right. */
int ca_asyncio_names_touched = 0;

static int
module_names_watcher(PyDict_WatchEvent event, PyObject *dict, PyObject *key,
                     PyObject *new_value)
{
    if (event == PyDict_EVENT_ADDED || event == PyDict_EVENT_MODIFIED
        || event == PyDict_EVENT_DELETED) {
        if (key != NULL && PyUnicode_Check(key)
            && (PyUnicode_CompareWithASCIIString(key, "Task") == 0
                || PyUnicode_CompareWithASCIIString(key, "Future") == 0)) {
            ca_asyncio_names_touched = 1;
        }
    }
    else {
        ca_asyncio_names_touched = 1;  /* cleared, cloned, freed */
    }
    return 0;
}

/* Watches asyncio.tasks' and asyncio.futures' namespaces; without a
 * watcher (all taken), the names are looked up at every call. */
static void
module_watch_names(ca_state *st)
{
    st->names_watcher = PyDict_AddWatcher(module_names_watcher);
    if (st->names_watcher < 0
        || PyDict_Watch(st->names_watcher, st->tasks_dict) < 0
        || PyDict_Watch(st->names_watcher, st->futures_dict) < 0) {
        PyErr_Clear();
        ca_asyncio_names_touched = 1;
    }
}

static void
module_unwatch_names(ca_state *st)
{
    if (st->names_watcher >= 0) {
        if (st->tasks_dict != NULL) {
            (void)PyDict_Unwatch(st->names_watcher, st->tasks_dict);
        }
        if (st->futures_dict != NULL) {
            (void)PyDict_Unwatch(st->names_watcher, st->futures_dict);
        }
        (void)PyDict_ClearWatcher(st->names_watcher);
        PyErr_Clear();
        st->names_watcher = -1;
    }
}
#endif

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
#if PY_VERSION_HEX >= 0x030E0000
        /* The public name warns from 3.14 on; asyncio's loop uses this. */
        {&st->iscoroutinefunction, "asyncio.coroutines", "_iscoroutinefunction"},
#else
        {&st->iscoroutinefunction, "asyncio.coroutines", "iscoroutinefunction"},
#endif
        {&st->is_debug_mode, "asyncio.coroutines", "_is_debug_mode"},
        {&st->logger, "asyncio.log", "logger"},
        {&st->CancelledError, "asyncio.exceptions", "CancelledError"},
        {&st->InvalidStateError, "asyncio.exceptions", "InvalidStateError"},
        {&st->AsyncioFuture, "asyncio.futures", "Future"},
        {&st->AsyncioTask, "asyncio.tasks", "Task"},
        {&st->AsyncioHandle, "asyncio.events", "Handle"},
        {&st->AsyncioTimerHandle, "asyncio.events", "TimerHandle"},
        {&st->tasks_dict, "asyncio.tasks", "__dict__"},
        {&st->futures_dict, "asyncio.futures", "__dict__"},
#if PY_VERSION_HEX >= 0x030E0000
        {&st->AsyncioThreadSafeHandle, "asyncio.events", "_ThreadSafeHandle"},
#endif
        {&st->get_event_loop, "asyncio.events", "get_event_loop"},
        {&st->AsyncioGatheringFuture, "asyncio.tasks", "_GatheringFuture"},
        {&st->AsyncioTimeout, "asyncio.timeouts", "Timeout"},
        {&st->deque_type, "collections", "deque"},
        {&st->QueueEmpty, "asyncio.queues", "QueueEmpty"},
        {&st->QueueFull, "asyncio.queues", "QueueFull"},
#if PY_VERSION_HEX >= 0x030D0000
        {&st->QueueShutDown, "asyncio.queues", "QueueShutDown"},
#endif
        {&st->heappush, "heapq", "heappush"},
        {&st->isfuture, "asyncio.futures", "isfuture"},
        {&st->timeouts_dict, "asyncio.timeouts", "__dict__"},
        {&st->heappop, "heapq", "heappop"},
        {&st->get_running_loop, "asyncio.events", "_get_running_loop"},
#if PY_VERSION_HEX >= 0x030C0000
        {&st->ensure_future, "asyncio.tasks", "ensure_future"},
        {&st->gather_get_event_loop, "asyncio.events", "get_event_loop"},
#else
        {&st->ensure_future, "asyncio.tasks", "_ensure_future"},
        {&st->gather_get_event_loop, "asyncio.events", "_get_event_loop"},
#endif
        {&st->future_repr, "asyncio.base_futures", "_future_repr"},
        {&st->task_repr, "asyncio.base_tasks", "_task_repr"},
        {&st->task_get_stack, "asyncio.base_tasks", "_task_get_stack"},
        {&st->task_print_stack, "asyncio.base_tasks", "_task_print_stack"},
        {&st->SendfileNotAvailableError, "asyncio.exceptions",
         "SendfileNotAvailableError"},
#if PY_VERSION_HEX >= 0x030E0000
        {&st->enter_task, "_asyncio", "_enter_task"},
        {&st->leave_task, "_asyncio", "_leave_task"},
        {&st->swap_current_task, "_asyncio", "_swap_current_task"},
        {&st->register_task, "_asyncio", "_register_task"},
        {&st->unregister_task, "_asyncio", "_unregister_task"},
        {&st->NativeFuture, "_asyncio", "Future"},
        {&st->native_add_awaited_by, "_asyncio", "future_add_to_awaited_by"},
        {&st->native_discard_awaited_by, "_asyncio", "future_discard_from_awaited_by"},
#else
        {&st->current_tasks, "asyncio.tasks", "_current_tasks"},
#endif
#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030E0000
        {&st->eager_tasks, "asyncio.tasks", "_eager_tasks"},
#endif
    };
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        *attrs[i].slot = ca_import_attr(attrs[i].module, attrs[i].name);
        if (*attrs[i].slot == NULL) {
            return -1;
        }
    }
    return 0;
}

/* ssl.SSLSocket as asyncio sees it: base_events imported ssl, or set it
 * to None when Python was built without it. */
static int
module_cache_ssl(ca_state *st)
{
    PyObject *ssl = ca_import_attr("asyncio.base_events", "ssl");
    if (ssl == NULL) {
        return -1;
    }
    st->SSLSocket = ssl == Py_None ? Py_NewRef(Py_None)
                                   : PyObject_GetAttrString(ssl, "SSLSocket");
    Py_DECREF(ssl);
    return st->SSLSocket ? 0 : -1;
}

#if PY_VERSION_HEX >= 0x030E0000
/* 1 if registering `probe` with _asyncio._register_task puts it in the
 * WeakSet `weakset`, and unregistering takes it out again. */
static int
module_registry_probe(ca_state *st, PyObject *weakset)
{
    /* A fresh class: weakly referenceable, and equal only to itself. */
    PyObject *probe = PyObject_CallFunction((PyObject *)&PyType_Type, "s()N",
                                            "casyncio_registry_probe", PyDict_New());
    if (probe == NULL) {
        return -1;
    }
    int in = -1, out = -1;
    PyObject *r = PyObject_CallOneArg(st->register_task, probe);
    if (r != NULL) {
        Py_DECREF(r);
        in = PySequence_Contains(weakset, probe);
        r = PyObject_CallOneArg(st->unregister_task, probe);
        if (r != NULL) {
            Py_DECREF(r);
            out = PySequence_Contains(weakset, probe);
        }
    }
    Py_DECREF(probe);
    if (in < 0 || out < 0) {
        return -1;
    }
    return in == 1 && out == 0;
}

/* _asyncio's WeakSet of tasks that are not _asyncio.Task (its module state,
 * so reached through gc.get_referents): a new reference, or NULL (and no
 * exception) when there is not exactly one WeakSet there that the probe
 * shows is the registry. */
static PyObject *
module_find_foreign_registry(ca_state *st)
{
    PyObject *mod = PyImport_ImportModule("_asyncio");
    PyObject *get_referents = ca_import_attr("gc", "get_referents");
    PyObject *weakset_type = ca_import_attr("weakref", "WeakSet");
    PyObject *list = NULL, *refs = NULL, *found = NULL;
    if (mod == NULL || get_referents == NULL || weakset_type == NULL) {
        goto done;
    }
    list = PyObject_CallOneArg(get_referents, mod);
    refs = list ? PySequence_Fast(list, "referents") : NULL;
    for (Py_ssize_t i = 0; refs != NULL && i < PySequence_Fast_GET_SIZE(refs); i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(refs, i);
        if (Py_IS_TYPE(o, (PyTypeObject *)weakset_type)) {
            if (found != NULL) {
                Py_CLEAR(found);  /* more than one: do not guess */
                break;
            }
            found = Py_NewRef(o);
        }
    }
    if (found != NULL && module_registry_probe(st, found) != 1) {
        Py_CLEAR(found);
    }
done:
    PyErr_Clear();
    Py_XDECREF(refs);
    Py_XDECREF(list);
    Py_XDECREF(weakset_type);
    Py_XDECREF(get_referents);
    Py_XDECREF(mod);
    return found;
}
#endif

/* The WeakSet asyncio.all_tasks() reads; we add to its .data directly. */
static int
module_cache_registry(ca_state *st)
{
#if PY_VERSION_HEX >= 0x030E0000
    PyObject *weakset = module_find_foreign_registry(st);
    if (weakset == NULL) {
        /* Registration goes through _register_task (task.c). */
        st->coroutine_types = PySet_New(NULL);
        return st->coroutine_types ? 0 : -1;
    }
#else
#if PY_VERSION_HEX >= 0x030C0000
    const char *name = "_scheduled_tasks";
#else
    const char *name = "_all_tasks";
#endif
    PyObject *weakset = ca_import_attr("asyncio.tasks", name);
    if (weakset == NULL) {
        return -1;
    }
#endif
    st->registry_data = PyObject_GetAttrString(weakset, "data");
    Py_DECREF(weakset);
    if (st->registry_data == NULL) {
        return -1;
    }
    if (!PySet_Check(st->registry_data)) {
        PyErr_SetString(PyExc_ImportError, "asyncio's task registry is not a WeakSet");
        return -1;
    }
    st->coroutine_types = PySet_New(NULL);
    return st->coroutine_types ? 0 : -1;
}

static int
module_intern_strings(ca_state *st)
{
    if (module_intern(&st->str_call_exception_handler, "call_exception_handler") < 0
        || module_intern(&st->str_timer_handle_cancelled, "_timer_handle_cancelled") < 0
        || module_intern(&st->str_get_debug, "get_debug") < 0
        || module_intern(&st->str_warning, "warning") < 0
        || module_intern(&st->str_message, "message") < 0
        || module_intern(&st->str_transport, "transport") < 0
        || module_intern(&st->str_protocol, "protocol") < 0
        || module_intern(&st->str_datagram_received, "datagram_received") < 0
        || module_intern(&st->str_error_received, "error_received") < 0
        || module_intern(&st->str_exception, "exception") < 0
        || module_intern(&st->str_handle, "handle") < 0
        || module_intern(&st->str_source_traceback, "source_traceback") < 0
        || module_intern(&st->str_context, "context") < 0
        || module_intern(&st->str_add_done_callback, "add_done_callback") < 0
        || module_intern(&st->str_cancel, "cancel") < 0
        || module_intern(&st->str_result, "result") < 0
        || module_intern(&st->str_get_loop, "get_loop") < 0
        || module_intern(&st->str_loop_attr, "_loop") < 0
        || module_intern(&st->str_blocking, "_asyncio_future_blocking") < 0
        || module_intern(&st->str_throw, "throw") < 0
        || module_intern(&st->str_call_soon, "call_soon") < 0
        || module_intern(&st->str_is_running, "is_running") < 0
        || module_intern(&st->str_time, "time") < 0
        || module_intern(&st->str_future, "future") < 0
        || module_intern(&st->str_task, "task") < 0
        || module_intern(&st->str_fileno, "fileno") < 0
        || module_intern(&st->str_gettimeout, "gettimeout") < 0
        || module_intern(&st->str_recvfrom, "recvfrom") < 0
        || module_intern(&st->str_recvfrom_into, "recvfrom_into") < 0
        || module_intern(&st->str_sendto, "sendto") < 0
        || module_intern(&st->str_connect, "connect") < 0
        || module_intern(&st->str_accept, "accept") < 0
        || module_intern(&st->str_setblocking, "setblocking") < 0
        || module_intern(&st->str_call_at, "call_at") < 0
        || module_intern(&st->str_cancelling, "cancelling") < 0
        || module_intern(&st->str_uncancel, "uncancel") < 0
        || module_intern(&st->str_on_timeout, "_on_timeout") < 0
        || module_intern(&st->str_reschedule, "reschedule") < 0
        || module_intern(&st->str_popleft, "popleft") < 0
        || module_intern(&st->str_pop, "pop") < 0
        || module_intern(&st->str_put_, "_put") < 0
        || module_intern(&st->str_init_, "_init") < 0
        || module_intern(&st->str_create_future, "create_future") < 0
        || module_intern(&st->str_append, "append") < 0
        || module_intern(&st->str_remove, "remove") < 0
        || module_intern(&st->str_done, "done") < 0
        || module_intern(&st->str_cancelled, "cancelled") < 0
        || module_intern(&st->str_set_result, "set_result") < 0
        || module_intern(&st->str_locked, "locked") < 0
        || module_intern(&st->str_acquire, "acquire") < 0
        || module_intern(&st->str_release, "release") < 0
        || module_intern(&st->str_set_exception, "set_exception") < 0
        || module_intern(&st->str_timeout, "timeout") < 0
        || module_intern(&st->str_aenter, "__aenter__") < 0
        || module_intern(&st->str_aexit, "__aexit__") < 0
        || module_intern(&st->str_remove_done_callback, "remove_done_callback") < 0) {
        return -1;
    }
    if (module_intern(&st->str_Task, "Task") < 0
        || module_intern(&st->str_Future, "Future") < 0
        || module_intern(&st->str_set_name, "set_name") < 0
        || module_intern(&st->str_loop, "loop") < 0
        || module_intern(&st->str_name, "name") < 0
        || module_intern(&st->str_create_task, "create_task") < 0
        || module_intern(&st->str_current_task, "current_task") < 0
        || module_intern(&st->str_add_awaited_by, "future_add_to_awaited_by") < 0
        || module_intern(&st->str_discard_awaited_by,
                         "future_discard_from_awaited_by") < 0) {
        return -1;
    }
    st->kwnames_context = PyTuple_Pack(1, st->str_context);
    st->kwnames_loop = PyTuple_Pack(1, st->str_loop);
    st->kwnames_msg = Py_BuildValue("(s)", "msg");
    if (st->kwnames_context == NULL || st->kwnames_loop == NULL
        || st->kwnames_msg == NULL) {
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

/* Messages that name a type by its tp_name ("object Lock can't be used in
 * 'await' expression") name it alone, as asyncio's Python classes are
 * named; __module__ and __qualname__ keep the full name.  The short name
 * points into the spec's static string. */
static int
module_name_alone(PyTypeObject *tp)
{
    const char *dot = strrchr(tp->tp_name, '.');
    if (dot != NULL) {
        tp->tp_name = dot + 1;
    }
    return 0;
}

static int
module_exec(PyObject *mod)
{
    ca_state *st = PyModule_GetState(mod);
    st->names_watcher = -1;
    if (module_add_type(mod, &ca_handle_spec, NULL, &st->HandleType) < 0
        || module_add_type(mod, &ca_timerhandle_spec, (PyObject *)st->HandleType,
                           &st->TimerHandleType) < 0
#if PY_VERSION_HEX >= 0x030E0000
        || module_add_type(mod, &ca_threadsafehandle_spec, (PyObject *)st->HandleType,
                           &st->ThreadSafeHandleType) < 0
#endif
        || module_add_type(mod, &ca_loop_spec, NULL, &st->LoopType) < 0
        || module_add_type(mod, &ca_future_spec, NULL, &st->FutureType) < 0
        || module_add_type(mod, &ca_task_spec, (PyObject *)st->FutureType,
                           &st->TaskType) < 0
        || module_add_type(mod, &ca_futureiter_spec, NULL, &st->FutureIterType) < 0
        || module_add_type(mod, &ca_taskstep_spec, NULL, &st->TaskStepType) < 0
        || module_add_type(mod, &ca_taskref_spec, NULL, &st->TaskRefType) < 0
        || module_add_type(mod, &ca_sockop_spec, NULL, &st->SockOpType) < 0
        || module_add_type(mod, &ca_oneshot_spec, NULL, &st->OneShotType) < 0
        || module_add_type(mod, &ca_timeout_spec, NULL, &st->TimeoutType) < 0
        || module_add_type(mod, &ca_waitop_spec, NULL, &st->WaitOpType) < 0
        || module_add_type(mod, &ca_lock_spec, NULL, &st->LockType) < 0
        || module_add_type(mod, &ca_event_spec, NULL, &st->EventType) < 0
        || module_add_type(mod, &ca_semaphore_spec, NULL, &st->SemaphoreType) < 0
        || module_add_type(mod, &ca_boundedsemaphore_spec, (PyObject *)st->SemaphoreType,
                           &st->BoundedSemaphoreType) < 0
        || module_add_type(mod, &ca_condition_spec, NULL, &st->ConditionType) < 0
        || module_add_type(mod, &ca_queue_spec, NULL, &st->QueueType) < 0
        || module_add_type(mod, &ca_lifoqueue_spec, (PyObject *)st->QueueType,
                           &st->LifoQueueType) < 0
        || module_add_type(mod, &ca_priorityqueue_spec, (PyObject *)st->QueueType,
                           &st->PriorityQueueType) < 0
        || module_add_type(mod, &ca_taskgroup_methods_spec, NULL,
                           &st->TaskGroupMethodsType) < 0
        || module_add_type(mod, &ca_shieldcb_spec, NULL, &st->ShieldCallbackType) < 0
        || module_add_type(mod, &ca_waitcb_spec, NULL, &st->WaitCallbackType) < 0
        || module_name_alone(st->LockType) < 0 || module_name_alone(st->EventType) < 0
        || module_name_alone(st->SemaphoreType) < 0
        || module_name_alone(st->BoundedSemaphoreType) < 0
        || module_name_alone(st->ConditionType) < 0
        || ca_stream_types_init(mod, st) < 0
        || ca_pipe_types_init(mod) < 0
        || ca_server_types_init(mod, st) < 0
        || ca_dgram_init(mod) < 0
        || ca_executor_init(mod) < 0
        || ca_gather_types_init(mod, st) < 0) {
        return -1;
    }
    if (module_cache_asyncio(st) < 0 || module_cache_registry(st) < 0
        || module_cache_ssl(st) < 0
        || module_intern_strings(st) < 0 || ca_taskgroup_init(st) < 0) {
        return -1;
    }
#if PY_VERSION_HEX >= 0x030C0000
    module_watch_names(st);
#endif
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
    X(LoopType) X(HandleType) X(TimerHandleType) X(ThreadSafeHandleType)       \
    X(FutureType) X(TaskType) X(AsyncioThreadSafeHandle)                       \
    X(FutureIterType) X(TaskStepType) X(TaskRefType) X(SockOpType)             \
    X(format_callback_source)                                                  \
    X(extract_stack) X(format_handle) X(iscoroutine) X(iscoroutinefunction)    \
    X(is_debug_mode) X(logger) X(CancelledError) X(InvalidStateError)          \
    X(AsyncioFuture) X(AsyncioTask) X(AsyncioHandle) X(AsyncioTimerHandle)    \
    X(get_event_loop) X(future_repr) X(task_repr) X(task_get_stack)            \
    X(task_print_stack) X(SSLSocket) X(SendfileNotAvailableError)              \
    X(current_tasks) X(registry_data)                                          \
    X(eager_tasks) X(enter_task) X(leave_task) X(swap_current_task)            \
    X(register_task) X(unregister_task) X(NativeFuture)                        \
    X(native_add_awaited_by) X(native_discard_awaited_by) X(coroutine_types) X(str_call_exception_handler)            \
    X(str_timer_handle_cancelled) X(str_get_debug) X(str_warning)              \
    X(str_message) X(str_exception) X(str_handle) X(str_source_traceback)      \
    X(str_context) X(str_add_done_callback) X(str_cancel) X(str_result)        \
    X(str_get_loop) X(str_loop_attr) X(str_blocking) X(str_throw)              \
    X(str_call_soon) X(str_is_running) X(str_time) X(str_future) X(str_task)   \
    X(str_fileno) X(str_gettimeout) X(str_recvfrom) X(str_recvfrom_into)      \
    X(str_sendto) X(str_connect) X(str_accept) X(str_setblocking)              \
    X(kwnames_context) X(empty_tuple) X(kwnames_loop) X(str_Task)              \
    X(str_Future) X(str_set_name) X(str_loop) X(str_name) X(tasks_dict)        \
    X(futures_dict)                                                            \
    X(StreamTransportType) X(AccepterType) X(TransportSocket)                  \
    X(GatheringFutureType) X(GatherCallbackType) X(AsyncioGatheringFuture)     \
    X(ensure_future) X(gather_get_event_loop) X(get_running_loop)              \
    X(str_current_task) X(str_add_awaited_by) X(str_discard_awaited_by)       \
    X(kwnames_msg) X(str_create_task)                                          \
    X(OneShotType) X(TimeoutType) X(AsyncioTimeout) X(str_call_at)             \
    X(str_cancelling) X(str_uncancel) X(str_on_timeout) X(str_reschedule)      \
    X(WaitOpType) X(LockType) X(EventType) X(SemaphoreType)                    \
    X(BoundedSemaphoreType) X(deque_type) X(helpers[0]) X(helpers[1]) X(helpers[2])          \
    X(QueueType) X(LifoQueueType) X(PriorityQueueType) X(QueueEmpty)           \
    X(QueueFull) X(QueueShutDown) X(heappush) X(heappop) X(str_popleft)        \
    X(str_pop) X(str_put_) X(str_init_)                                        \
    X(str_create_future)    X(str_append)    X(str_remove)    X(str_done)    X(str_cancelled)    \
    X(str_set_result)    X(str_locked)    X(str_acquire)    X(str_release)    \
    X(BufferedProtocol) X(set_result_unless_cancelled) X(str_data_received)    \
    X(str_get_buffer) X(str_buffer_updated) X(str_eof_received)                \
    X(str_peername) X(SocketType) X(str_recv) X(str_recv_into) X(str_send)     \
    X(str_sendmsg) X(str_transport) X(str_protocol) X(str_datagram_received)  \
    X(str_error_received) X(TaskGroupMethodsType) X(ShieldCallbackType)        \
    X(str_set_exception) X(str_remove_done_callback) X(WaitCallbackType)      \
    X(isfuture) X(ConditionType) X(timeouts_dict) X(str_timeout) X(str_aenter)     \
    X(str_aexit)

static int
module_traverse(PyObject *mod, visitproc visit, void *arg)
{
    ca_state *st = PyModule_GetState(mod);
#define CA_VISIT(name) Py_VISIT(st->name);
    CA_STATE_REFS(CA_VISIT)
#undef CA_VISIT
    for (int i = 0; i < CA_TG_NSTR; i++) {
        Py_VISIT(st->tg_str[i]);
    }
    return 0;
}

static int
module_clear(PyObject *mod)
{
    ca_state *st = PyModule_GetState(mod);
#if PY_VERSION_HEX >= 0x030C0000
    module_unwatch_names(st);
#endif
#define CA_CLEAR(name) Py_CLEAR(st->name);
    CA_STATE_REFS(CA_CLEAR)
#undef CA_CLEAR
    for (int i = 0; i < CA_TG_NSTR; i++) {
        Py_CLEAR(st->tg_str[i]);
    }
    while (st->fi_nfree > 0) {
        PyObject_GC_Del(st->fi_free[--st->fi_nfree]);
    }
    while (st->handle_nfree > 0) {
        PyObject_GC_Del(st->handle_free[--st->handle_nfree]);
    }
    return 0;
}

static void
module_free(void *mod)
{
    (void)module_clear((PyObject *)mod);
}

#ifdef CA_DEBUG
void
ca_live_add_by_type(PyTypeObject *tp, ca_live_kind kind, Py_ssize_t delta)
{
    /* Beware: called from deallocators, possibly with an exception set. */
    PyObject *exc = ca_err_fetch();
    PyObject *mod = PyType_GetModuleByDef(tp, &ca_module_def);
    if (mod != NULL) {
        ((ca_state *)PyModule_GetState(mod))->live[kind] += delta;
    }
    else {
        PyErr_Clear();
    }
    ca_err_restore(exc);
}

static PyObject *
module_live_counts(PyObject *mod, PyObject *unused)
{
    static const char *names[CA_LIVE_N] = CA_LIVE_NAMES;
    ca_state *st = (ca_state *)PyModule_GetState(mod);
    PyObject *d = PyDict_New();
    for (int i = 0; d != NULL && i < CA_LIVE_N; i++) {
        PyObject *n = PyLong_FromSsize_t(st->live[i]);
        if (n == NULL || PyDict_SetItemString(d, names[i], n) < 0) {
            Py_CLEAR(d);
        }
        Py_XDECREF(n);
    }
    return d;
}
#endif

static PyObject *
module_set_flag(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_set_flag(name: str, value: int, /)");
        return NULL;
    }
    ca_state *st = PyModule_GetState(module);
    long v = PyLong_AsLong(args[1]);
    if (v == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (PyUnicode_CompareWithASCIIString(args[0], "taskgroup") == 0) {
        st->tg_flags = (int)v | CA_TG_KNOWN;
    }
    else if (PyUnicode_CompareWithASCIIString(args[0], "condition_notify") == 0) {
        st->cond_notify = v != 0;
    }
    else {
        PyErr_Format(PyExc_ValueError, "no flag named %R", args[0]);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
#ifdef CA_DEBUG
    {"_live_counts", module_live_counts, METH_NOARGS,
     "_live_counts($module, /)\n--\n\n"
     "The live-object counters of the debug build: {kind: objects alive}."},
#endif
    {"gather", (PyCFunction)(void (*)(void))ca_gather, METH_FASTCALL | METH_KEYWORDS,
     "gather($module, /, *coros_or_futures, return_exceptions=False)\n--\n\n"
     "asyncio.gather() in C: a future aggregating the results of the given\n"
     "coroutines and futures (see asyncio.gather)."},
    {"shield", (PyCFunction)(void (*)(void))ca_shield, METH_FASTCALL | METH_KEYWORDS,
     "shield($module, /, arg)\n--\n\n"
     "asyncio.shield() in C: wait for a future, shielding it from\n"
     "cancellation (see asyncio.shield)."},
    {"wait", (PyCFunction)(void (*)(void))ca_wait, METH_FASTCALL | METH_KEYWORDS,
     "wait($module, /, fs, *, timeout=None, return_when='ALL_COMPLETED')\n--\n\n"
     "asyncio.wait() in C: wait for the futures and tasks of fs; returns\n"
     "the sets (done, pending) (see asyncio.wait)."},
#if PY_VERSION_HEX >= 0x030C0000
    {"wait_for", (PyCFunction)(void (*)(void))ca_wait_for, METH_FASTCALL | METH_KEYWORDS,
     "wait_for($module, /, fut, timeout)\n--\n\n"
     "asyncio.wait_for() in C: wait for fut to complete, with a timeout\n"
     "(see asyncio.wait_for)."},
#endif
    {"_set_flag", (PyCFunction)(void (*)(void))module_set_flag, METH_FASTCALL,
     "_set_flag($module, name, value, /)\n--\n\n"
     "Which variant of asyncio's code the C versions follow, as casyncio._accel\n"
     "works it out: 'taskgroup' (the CA_TG_* flags of TaskGroup.create_task)\n"
     "or 'condition_notify' (Condition.wait notifies another waiter on errors)."},
    {"_set_helper", (PyCFunction)(void (*)(void))ca_set_helper, METH_FASTCALL,
     "_set_helper($module, name, fn, /)\n--\n\n"
     "Give the C primitives a Python coroutine function they call (set by\n"
     "casyncio._accel): 'cm_aenter', a lock subclass's __aenter__ when it\n"
     "overrides acquire(); 'queue_join', Queue.join()."},
    {"timeout", (PyCFunction)(void (*)(void))ca_timeout, METH_FASTCALL | METH_KEYWORDS,
     "timeout($module, /, delay)\n--\n\n"
     "asyncio.timeout() in C: a Timeout with the deadline `delay` seconds\n"
     "from now by the running loop's clock, or none if delay is None."},
    {"timeout_at", (PyCFunction)(void (*)(void))ca_timeout_at,
     METH_FASTCALL | METH_KEYWORDS,
     "timeout_at($module, /, when)\n--\n\n"
     "asyncio.timeout_at() in C: a Timeout with the deadline `when` (the\n"
     "running loop's clock), or none if when is None."},
#if PY_VERSION_HEX >= 0x030C0000
    {"eager_task_factory", (PyCFunction)(void (*)(void))ca_task_eager_factory,
     METH_FASTCALL | METH_KEYWORDS, CA_EAGER_TASK_FACTORY_DOC},
#endif
#if PY_VERSION_HEX >= 0x030E0000
    {"future_add_to_awaited_by", (PyCFunction)(void (*)(void))ca_future_add_to_awaited_by,
     METH_FASTCALL,
     "future_add_to_awaited_by($module, fut, waiter, /)\n--\n\n"
     "Record that fut is awaited on by waiter (asyncio's, for casyncio's\n"
     "futures too); casyncio puts it in place of asyncio's."},
    {"future_discard_from_awaited_by",
     (PyCFunction)(void (*)(void))ca_future_discard_from_awaited_by, METH_FASTCALL,
     "future_discard_from_awaited_by($module, fut, waiter, /)\n--\n\n"
     "Record that fut is no longer awaited on by waiter."},
#endif
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

PyModuleDef ca_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "casyncio._core",
    .m_doc = "The C core of casyncio: event loop, handles and scheduling.",
    .m_size = sizeof(ca_state),
    .m_methods = module_methods,
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
