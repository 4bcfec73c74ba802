/* The loop object shared by loop.c (iteration, scheduling), io.c (fd
 * watchers) and wakeup.c (cross-thread wakeup). */
#ifndef CA_LOOP_H
#define CA_LOOP_H

#include <stdint.h>

#include "handle.h"
#include "reactor.h"
#include "readyq.h"
#include "state.h"
#include "timerheap.h"

typedef enum {
    CA_WATCH_NONE = 0,
    CA_WATCH_CALLBACK,  /* add_reader/add_writer handles */
    CA_WATCH_WAKEUP,    /* the loop's own eventfd */
    CA_WATCH_SIGNAL,    /* the read end of the signal wakeup pipe */
} ca_watch_kind;

/* What sits in a CA_WATCH_CALLBACK entry's reader or writer slot, set when
 * it is put there: io.c dispatches a ready slot by this, in one switch
 * (io_fire). */
typedef enum {
    CA_WATCHER_NONE = 0,
    CA_WATCHER_HANDLE,      /* add_reader/add_writer's Handle (io.c) */
    CA_WATCHER_SOCKOP,      /* a pending sock_* operation (sockets.c) */
    CA_WATCHER_STREAM,      /* a stream or pipe transport (stream.c) */
    CA_WATCHER_ACCEPTER,    /* a listening socket's accepter (server.c) */
} ca_watcher_kind;

/* What the loop watches on one fd; the table is indexed by fd.
 *
 * An fd watched only by sock_* operations (sockets.c) has a one-shot
 * kernel entry: the event that completes an operation also disarms the
 * entry, so finishing costs no epoll_ctl, and the next operation on the
 * fd re-arms it with one (not a DEL then an ADD).  A disarmed entry is
 * left in place: it reports nothing, even if the fd is closed while a
 * duplicate keeps the socket open, and a reused fd number is handled by
 * the reactor (MOD falls back to ADD). */
typedef struct {
    PyObject *reader;   /* what reader_kind says, or NULL */
    PyObject *writer;   /* what writer_kind says, or NULL */
    /* The stream transport (stream.c) that owns the fd while it is open
     * and not closing; borrowed, cleared by the transport.  add_reader &
     * co. refuse such an fd, as asyncio's _ensure_fd_no_transport. */
    PyObject *transport;
    /* The object the last add_reader/add_writer was given, kept while a
     * slot is in use: remove_reader(sock) of a socket closed since finds
     * its fd by it, as the selector's lookup by identity does. */
    PyObject *fileobj;
    uint32_t mask;      /* what the kernel entry was given (0: no entry) */
    uint8_t kind;       /* ca_watch_kind */
    uint8_t reader_kind; /* ca_watcher_kind of reader (NONE when NULL) */
    uint8_t writer_kind;
    uint8_t disarmed;   /* a one-shot entry fired since it was armed */
} ca_watch;

typedef struct {
    PyObject_HEAD
    ca_state *state;
    ca_readyq ready;
    ca_timerheap timers;      /* nodes point at TimerHandles we own */
    ca_reactor *reactor;
    ca_watch *watches;
    int nwatches;
    int wakeup_fd;
    int signal_rfd;           /* signal wakeup pipe (signals.c), or -1 */
    int signal_wfd;
    PyObject *signal_handlers; /* signals.c: {signum: Handle}, made on first use */
    /* Set when the eventfd has been written and not yet drained, so a burst
     * of call_soon_threadsafe costs one write.  Only read or written with
     * the GIL held, by whichever thread. */
    char wakeup_pending;
    char debug;
    char stopping;
    char closed;
    char running;
    /* time() is not the loop's own (a subclass's, or patched on the
     * instance as tests with a virtual clock do): the loop reads its clock
     * through it, as asyncio's loop calls self.time().  Kept up to date by
     * loop_refresh_clock. */
    char py_clock;
    unsigned long thread_id;  /* valid while running */
    uint64_t timer_seq;       /* tie-breaker for equal deadlines */
    Py_ssize_t timer_cancelled; /* cancelled timers still in the heap */
    double slow_callback_duration;
    PyObject *current_handle; /* the handle running, in debug mode only */
    PyObject *task_factory;   /* NULL: casyncio.Task */
    char *recv_scratch;       /* sockets.c: sock_recv's buffer, or NULL */
    char recv_large;          /* sockets.c: the last sock_recv was large */
    char *stream_scratch;     /* stream.c: transports' receive buffer, or NULL */
    /* The module state's list of live loops (borrowed links), which the
     * gc.callbacks hook walks (handle.h). */
    PyObject *all_prev;
    PyObject *all_next;
} LoopObj;

/* Seconds on the clock of time.monotonic(). */
double ca_time_now(void);
/* Queues an entry (taking new references to obj, arg and ctx) to run in
 * the next pass over the ready queue; no allocation beyond the ring. */
int ca_loop_schedule(LoopObj *loop, int kind, PyObject *obj, PyObject *arg,
                     PyObject *ctx);
/* Called by TimerHandle.cancel() for a timer of this loop. */
void ca_loop_timer_cancelled(LoopObj *loop, HandleObj *timer);
/* Raises RuntimeError('Event loop is closed') and returns -1 if it is. */
int ca_loop_check_closed(LoopObj *loop);
/* What asyncio's call_soon checks before it queues anything (Task steps
 * and done-callbacks included): the loop is open and, in debug mode, it is
 * called from the loop's own thread.  -1 with RuntimeError if not. */
int ca_loop_check_call_soon(LoopObj *loop);

/* io.c */
/* Runs or queues what the poll's `nevents` events are for; `behind`: entries
 * that must run first (queued before the poll, or due timers) wait. */
int ca_io_dispatch(LoopObj *loop, int nevents, int behind);
/* Runs a CA_READY_WATCH_* entry, unless its object no longer watches the fd. */
int ca_io_run_queued(LoopObj *loop, ca_ready_entry *e);
/* Watches fd for reading as one of the loop's own kinds (wakeup, signal). */
int ca_io_watch_special(LoopObj *loop, int fd, int kind);
void ca_io_clear(LoopObj *loop);
int ca_io_traverse(LoopObj *loop, visitproc visit, void *arg);
PyObject *ca_loop_add_reader(LoopObj *, PyObject *const *, Py_ssize_t);
PyObject *ca_loop_add_writer(LoopObj *, PyObject *const *, Py_ssize_t);
PyObject *ca_loop_remove_reader(LoopObj *, PyObject *);
PyObject *ca_loop_remove_writer(LoopObj *, PyObject *);
/* Makes op, a watcher of `kind` (a sock_* operation, a transport or an
 * accepter), fd's reader or writer, replacing (and, for a Handle,
 * cancelling) the previous one. */
int ca_io_watch_op(LoopObj *loop, int fd, int writer, PyObject *op,
                   ca_watcher_kind kind);
/* Stops watching fd for op, if op is still its reader or writer. */
void ca_io_unwatch_op(LoopObj *loop, int fd, int writer, PyObject *op);
/* Whether op is still fd's reader (writer if writer). */
int ca_io_watching_op(LoopObj *loop, int fd, int writer, PyObject *op);
/* Re-arms fd's one-shot entry if it fired and is still wanted. */
void ca_io_rearm(LoopObj *loop, int fd);
/* Records (borrowed) the transport that owns fd / forgets it, if it is
 * still the owner. */
int ca_io_claim_fd(LoopObj *loop, int fd, PyObject *transport);
void ca_io_release_fd(LoopObj *loop, int fd, PyObject *transport);

/* sockets.c */
/* fd of a pending sock_* operation is ready (dispatch, phase 3): try the
 * system call again now (0), or if behind, queue it to run after the
 * entries that were ready before the poll (1); -1 on error. */
int ca_sockop_ready(LoopObj *loop, PyObject *op, int behind);
/* Runs a CA_READY_SOCKOP entry: the system call, now. */
int ca_sockop_run(LoopObj *loop, PyObject *op);
void ca_sockets_release(LoopObj *loop);
PyObject *ca_loop_sock_recv(LoopObj *, PyObject *const *, Py_ssize_t, PyObject *);
PyObject *ca_loop_sock_recv_into(LoopObj *, PyObject *const *, Py_ssize_t, PyObject *);
PyObject *ca_loop_sock_recvfrom(LoopObj *, PyObject *const *, Py_ssize_t, PyObject *);
PyObject *ca_loop_sock_recvfrom_into(LoopObj *, PyObject *const *, Py_ssize_t,
                                     PyObject *);
PyObject *ca_loop_sock_sendall(LoopObj *, PyObject *const *, Py_ssize_t, PyObject *);
PyObject *ca_loop_sock_sendto(LoopObj *, PyObject *const *, Py_ssize_t, PyObject *);
PyObject *ca_loop_sock_accept(LoopObj *, PyObject *const *, Py_ssize_t, PyObject *);
PyObject *ca_loop_sock_connect_op(LoopObj *, PyObject *const *, Py_ssize_t);
PyObject *ca_loop_sock_sendfile_op(LoopObj *, PyObject *const *, Py_ssize_t);
extern PyType_Spec ca_sockop_spec;

/* signals.c */
PyObject *ca_loop_signal_wakeup_fd(LoopObj *loop, PyObject *unused);
int ca_signals_dispatch(LoopObj *loop);
PyObject *ca_loop_get_signal_handlers(LoopObj *loop, void *closure);
void ca_signals_close(LoopObj *loop);

/* dgram.c: adds the DatagramTransport type to the module. */
int ca_dgram_init(PyObject *mod);

/* executor.c: the C default executor (ThreadPool type). */
int ca_executor_init(PyObject *mod);
/* Runs a CA_READY_EXEC_RESULT/ERROR entry: completes the future unless
 * it is already done (cancelled while fn ran). */
int ca_executor_settle(LoopObj *loop, ca_ready_entry *e);

/* wakeup.c */
int ca_wakeup_open(LoopObj *loop);
void ca_wakeup_signal(LoopObj *loop);
void ca_wakeup_drain(LoopObj *loop);
void ca_wakeup_close(LoopObj *loop);

extern PyType_Spec ca_loop_spec;

#endif
