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

#include <stdint.h>

/* Live-object counters of the debug build (CASYNCIO_DEBUG=1): what the
 * module has made and not yet freed, by kind; the test suite checks they
 * return to zero after each test module (tests/conftest.py). */
typedef enum {
    CA_LIVE_LOOP,
    CA_LIVE_HANDLE,     /* Handle, without TimerHandle */
    CA_LIVE_TIMER,      /* TimerHandle */
    CA_LIVE_FUTURE,
    CA_LIVE_TASK,
    CA_LIVE_TRANSPORT,  /* stream and datagram transports */
    CA_LIVE_SERVER,     /* accepters of listening sockets */
    CA_LIVE_SOCKOP,     /* pending or finished sock_* operations */
    CA_LIVE_WATCHER,    /* fds registered with the reactor */
    CA_LIVE_WRITEBUF,   /* transport write queues with memory allocated */
    CA_LIVE_WORK,       /* default executor work items, queued or running */
    CA_LIVE_N
} ca_live_kind;

#define CA_LIVE_NAMES                                                      \
    {"loops", "handles", "timers", "futures", "tasks", "transports",       \
     "servers", "sock_ops", "watchers", "write_buffers", "work_items"}

/* The free lists of the state below are used except on free-threaded
 * builds, where the GIL does not guard them, and under the sanitizers
 * (CA_SANITIZE), which must see every free. */
#if !defined(Py_GIL_DISABLED) && !defined(CA_SANITIZE)
#define CA_FREELISTS 1
#else
#define CA_FREELISTS 0
#endif

/* The Python helpers of the C primitives (ca_call_helper, prims.h). */
enum { CA_HELPER_CM_AENTER = 0, CA_HELPER_QUEUE_JOIN, CA_HELPER_WAIT_FOR, CA_HELPERS };

/* Which variant of asyncio.TaskGroup.create_task the running Python has
 * (taskgroup.c; casyncio._accel reads it from asyncio's code). */
enum {
    CA_TG_KNOWN = 1,         /* set up by _accel */
    CA_TG_SET_NAME = 2,      /* create_task(coro[, context=]), then tasks._set_task_name() */
    CA_TG_KWARGS = 4,        /* 3.14+: create_task(coro, **kwargs), passed on */
    CA_TG_CLOSE = 8,         /* a refused coroutine is closed */
    CA_TG_SHORTCUT = 16,     /* a task done at once goes to _on_task_done() at once */
    CA_TG_CB_FIRST = 32,     /* add_done_callback() before _tasks.add() */
    CA_TG_AWAITED_BY = 64,   /* 3.14+: call-graph edges to the parent task */
    CA_TG_ABORT_LATE = 128,  /* a task made while the group began aborting is cancelled */
};
#define CA_TG_NSTR 21

typedef struct {
    PyTypeObject *LoopType;
    PyTypeObject *HandleType;
    PyTypeObject *TimerHandleType;
    PyTypeObject *ThreadSafeHandleType;  /* 3.14+ only, else NULL */
    PyTypeObject *FutureType;
    PyTypeObject *TaskType;
    PyTypeObject *FutureIterType;
    PyTypeObject *TaskStepType;
    PyTypeObject *TaskRefType;
    PyTypeObject *SockOpType;
    PyTypeObject *StreamTransportType;
    PyTypeObject *AccepterType;
    PyTypeObject *GatheringFutureType; /* gather.c */
    PyTypeObject *GatherCallbackType;
    PyTypeObject *OneShotType;        /* oneshot.c */
    PyTypeObject *TimeoutType;        /* timeout.c */
    PyTypeObject *WaitOpType;         /* waitop.c */
    PyTypeObject *LockType;           /* locks.c */
    PyTypeObject *EventType;
    PyTypeObject *SemaphoreType;
    PyTypeObject *BoundedSemaphoreType;
    PyObject *deque_type;             /* collections.deque */
    PyObject *helpers[CA_HELPERS];    /* _accel's coroutine functions, or NULL */
    PyTypeObject *QueueType;          /* queues.c */
    PyTypeObject *LifoQueueType;
    PyTypeObject *PriorityQueueType;
    PyObject *QueueEmpty;             /* asyncio.queues' exceptions */
    PyObject *QueueFull;
    PyObject *QueueShutDown;          /* 3.13+, else NULL */
    PyTypeObject *TaskGroupMethodsType; /* taskgroup.c */
    PyTypeObject *ShieldCallbackType; /* shield.c */
    PyTypeObject *WaitCallbackType;   /* wait.c */
    PyObject *isfuture;               /* asyncio.futures.isfuture */
    PyObject *timeouts_dict;          /* asyncio.timeouts.__dict__ */
    PyObject *str_timeout;            /* "timeout" */
    PyObject *str_aenter;             /* "__aenter__" */
    PyObject *str_aexit;              /* "__aexit__" */
    PyObject *str_set_exception;
    PyObject *str_remove_done_callback;
    PyObject *tg_str[CA_TG_NSTR];     /* its names, interned */
    int tg_flags;                     /* CA_TG_*, 0 until _accel sets them */
    int cond_notify;                  /* asyncio's Condition.wait notifies on errors */
    PyTypeObject *ConditionType;      /* locks.c */
    PyObject *heappush;               /* heapq's */
    PyObject *heappop;
    PyObject *str_popleft;
    PyObject *str_pop;
    PyObject *str_put_;               /* "_put" */
    PyObject *str_init_;              /* "_init" */

    /* asyncio helpers, looked up at import. */
    PyObject *format_callback_source; /* format_helpers._format_callback_source */
    PyObject *extract_stack;          /* format_helpers.extract_stack */
    PyObject *format_handle;          /* base_events._format_handle */
    PyObject *iscoroutine;            /* coroutines.iscoroutine */
    PyObject *iscoroutinefunction;    /* coroutines.iscoroutinefunction (3.14+: _iscoroutinefunction) */
    PyObject *is_debug_mode;          /* coroutines._is_debug_mode */
    PyObject *logger;                 /* asyncio.log.logger */
    PyObject *CancelledError;         /* asyncio.CancelledError */
    PyObject *InvalidStateError;      /* asyncio.InvalidStateError */
    PyObject *AsyncioFuture;          /* asyncio.futures.Future */
    PyObject *AsyncioTask;            /* asyncio.tasks.Task */
    PyObject *AsyncioHandle;          /* asyncio.events.Handle */
    PyObject *AsyncioTimerHandle;     /* asyncio.events.TimerHandle */
    PyObject *AsyncioThreadSafeHandle; /* 3.14+: events._ThreadSafeHandle */
    PyObject *AsyncioGatheringFuture; /* tasks._GatheringFuture */
    PyObject *AsyncioTimeout;         /* timeouts.Timeout */
    /* What gather() calls (gather.c). */
    PyObject *ensure_future;          /* tasks.ensure_future (3.11: _ensure_future) */
    PyObject *gather_get_event_loop;  /* events.get_event_loop (3.11: _get_event_loop) */
    PyObject *get_running_loop;       /* events._get_running_loop */
    PyObject *str_current_task;       /* 3.14+: looked up in tasks_dict */
    PyObject *str_add_awaited_by;     /* "future_add_to_awaited_by" */
    PyObject *str_discard_awaited_by; /* "future_discard_from_awaited_by" */
    /* asyncio.tasks.__dict__ and asyncio.futures.__dict__: asyncio's loop
     * makes its tasks with tasks.Task and its futures with futures.Future,
     * looked up at each call (loop_class_in_place, loop.c). */
    PyObject *tasks_dict;
    PyObject *futures_dict;
    int names_watcher;                /* 3.12+: the dict watcher's id, or -1 */
    PyObject *get_event_loop;         /* events.get_event_loop (3.11: _get_event_loop) */
    PyObject *future_repr;            /* base_futures._future_repr */
    PyObject *task_repr;              /* base_tasks._task_repr */
    PyObject *task_get_stack;         /* base_tasks._task_get_stack */
    PyObject *task_print_stack;       /* base_tasks._task_print_stack */
    PyObject *SSLSocket;              /* ssl.SSLSocket, or None without ssl */
    PyObject *SendfileNotAvailableError; /* asyncio.SendfileNotAvailableError */

    /* asyncio's task registries, shared with _asyncio so that
     * asyncio.all_tasks() and current_task() see our tasks.
     *
     * 3.11-3.13: current_tasks is tasks._current_tasks ({loop: task});
     * registry_data is the .data set of the WeakSet of tasks (3.11:
     * _all_tasks, 3.12+: _scheduled_tasks), which holds our tasks' TaskRefs
     * (taskref.c); eager_tasks is 3.12+'s set of tasks running their first
     * step.
     *
     * 3.14+: the running task is in the thread state, which only _asyncio's
     * _enter_task, _leave_task and _swap_current_task write (cached here);
     * all_tasks() reads _asyncio's own WeakSet of tasks that are not
     * _asyncio.Task, and registry_data is its .data, found at import
     * (module_find_foreign_registry) and checked by a probe; if it cannot
     * be found, registry_data is NULL and tasks register through
     * _register_task/_unregister_task, with real weakrefs. */
    PyObject *current_tasks;
    PyObject *registry_data;
    PyObject *eager_tasks;
    PyObject *enter_task;
    PyObject *leave_task;
    PyObject *swap_current_task;
    PyObject *register_task;
    PyObject *unregister_task;
    /* 3.14+'s call graph: _asyncio.Future and _asyncio's functions that
     * record edges between its own futures (future.c). */
    PyObject *NativeFuture;
    PyObject *native_add_awaited_by;
    PyObject *native_discard_awaited_by;
    /* Types that asyncio.iscoroutine accepted: checked before calling it. */
    PyObject *coroutine_types;
    uint64_t task_name_counter;
#ifdef CA_DEBUG
    Py_ssize_t live[CA_LIVE_N];
#endif

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
    PyObject *str_add_done_callback;
    PyObject *str_cancel;
    PyObject *str_result;
    PyObject *str_get_loop;
    PyObject *str_loop_attr;          /* "_loop" */
    PyObject *str_blocking;           /* "_asyncio_future_blocking" */
    PyObject *str_throw;
    PyObject *str_call_soon;
    PyObject *str_is_running;
    PyObject *str_future;
    PyObject *str_task;
    PyObject *str_time;
    PyObject *str_fileno;
    PyObject *str_gettimeout;
    PyObject *str_recvfrom;
    PyObject *str_recvfrom_into;
    PyObject *str_sendto;
    PyObject *str_connect;
    PyObject *str_accept;
    PyObject *str_setblocking;
    PyObject *str_call_at;            /* Timeout (timeout.c) */
    PyObject *str_cancelling;
    PyObject *str_uncancel;
    PyObject *str_on_timeout;         /* "_on_timeout" */
    PyObject *str_reschedule;
    PyObject *str_create_future;           /* the locks (locks.c) */
    PyObject *str_append;
    PyObject *str_remove;
    PyObject *str_done;
    PyObject *str_cancelled;
    PyObject *str_set_result;
    PyObject *str_locked;
    PyObject *str_acquire;
    PyObject *str_release;
    /* Stream transports (stream.c), filled by ca_stream_types_init. */
    PyObject *TransportSocket;        /* trsock.TransportSocket */
    PyObject *SocketType;             /* socket.socket (ca_is_socket_subclass) */
    PyObject *BufferedProtocol;       /* protocols.BufferedProtocol */
    PyObject *set_result_unless_cancelled; /* futures._set_result_unless_cancelled */
    PyObject *str_data_received;
    PyObject *str_get_buffer;
    PyObject *str_buffer_updated;
    PyObject *str_eof_received;
    PyObject *str_peername;
    PyObject *str_recv;
    PyObject *str_recv_into;
    PyObject *str_send;
    PyObject *str_sendmsg;
    PyObject *str_transport;          /* exception-handler context keys */
    PyObject *str_protocol;
    PyObject *str_datagram_received;  /* datagram transports (dgram.c) */
    PyObject *str_error_received;
    PyObject *kwnames_context;        /* ("context",) for vectorcalls */
    PyObject *kwnames_loop;           /* ("loop",) */
    PyObject *kwnames_msg;            /* ("msg",) */
    PyObject *str_create_task;
    PyObject *str_Task;
    PyObject *str_Future;
    PyObject *str_set_name;
    PyObject *str_loop;
    PyObject *str_name;
    PyObject *empty_tuple;

    /* Free lists (CA_FREELISTS): freed objects kept for reuse, as raw
     * memory holding no references, freed in module_clear.
     *
     * FutureIter objects (one is made per await of a Future): allocating
     * and freeing one cost ~250 instructions per await on 3.11. */
#define CA_FI_FREELIST_MAX 64
    PyObject *fi_free[CA_FI_FREELIST_MAX];
    int fi_nfree;

    /* Handle and TimerHandle objects (one struct serves both): call_soon's
     * malloc and free cost ~500 instructions per callback on 3.12, and every
     * allocation counts towards the next young collection.  Sized for a
     * burst of a couple of thousand callbacks between two loop iterations
     * (one per ready connection, say): with 256, a burst of 1,000 reused
     * only a quarter.  At most 2048 * 128 bytes kept. */
#define CA_HANDLE_FREELIST_MAX 2048
    PyObject *handle_free[CA_HANDLE_FREELIST_MAX];
    int handle_nfree;

    /* Every live loop, linked through the loops (borrowed; a loop unlinks
     * itself when it is freed), for the gc.callbacks hook of loop.c. */
    PyObject *loops;
} ca_state;

extern PyModuleDef ca_module_def;

/* Imports `module` and returns its attribute `name` (a new reference), or
 * NULL with an exception set.  For module and type initialisation. */
PyObject *ca_import_attr(const char *module, const char *name);
/* For a vectorcall's keyword `kw`: &out[i] where names[i] (n of them)
 * equals it, or NULL. */
PyObject **ca_kw_slot(PyObject *kw, const char *const *names, PyObject **out, int n);
/* casyncio's Future, Task, Handle and TimerHandle give the asyncio class
 * they stand for (asyncio.Future, ...) as their __class__ (ca_get_class,
 * with the object's module state, NULL before it has one); a subclass of
 * them gives its own type.  isinstance(x, cls) asks x.__class__ once
 * type(x) is not a subclass of cls, so isinstance(x, asyncio.Future) and
 * the like are true, as libraries check, without inheriting _asyncio's
 * private struct layout; type(x) stays the casyncio type, and C code that
 * checks types (PyObject_TypeCheck) is not misled.  Assigning __class__
 * does what it does on any object: ca_set_class hands it to object's
 * descriptor. */
PyObject *ca_get_class(PyObject *obj, ca_state *st);
int ca_set_class(PyObject *obj, PyObject *value);

#ifdef CA_DEBUG
/* Counts `delta` objects of `kind` made (+) or freed (-) by the module
 * that defined `tp`: for deallocators, which may no longer reach a loop. */
void ca_live_add_by_type(PyTypeObject *tp, ca_live_kind kind, Py_ssize_t delta);
#define CA_LIVE_ADD(st, kind, delta) ((st)->live[(kind)] += (delta))
#define CA_LIVE_ADD_TYPE(tp, kind, delta) ca_live_add_by_type((tp), (kind), (delta))
#else
#define CA_LIVE_ADD(st, kind, delta) ((void)0)
#define CA_LIVE_ADD_TYPE(tp, kind, delta) ((void)0)
#endif

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

/* Whether asyncio.tasks.Task or asyncio.futures.Future may have been
 * replaced since import (a dict watcher says so from 3.12 on; 3.11 has
 * none, so there it is always 1 and the names are looked up). */
#if PY_VERSION_HEX >= 0x030C0000
extern int ca_asyncio_names_touched;
static inline int
ca_asyncio_names_changed(void)
{
    return ca_asyncio_names_touched;
}
#else
static inline int
ca_asyncio_names_changed(void)
{
    return 1;
}
#endif

/* A strict subclass of socket.socket: the transports and sock_* methods
 * call its own recv()/send()/... as asyncio does, for it may override them;
 * an exact socket.socket is read and written in C. */
static inline int
ca_is_socket_subclass(ca_state *st, PyObject *sock)
{
    PyTypeObject *socket_type = (PyTypeObject *)st->SocketType;
    return !Py_IS_TYPE(sock, socket_type) && PyObject_TypeCheck(sock, socket_type);
}

#endif
