/* The fd watch table (io.c): what the loop watches on each fd, the
 * watchers' kinds, and phase 3 of an iteration. */
#ifndef CA_IO_H
#define CA_IO_H

#include <stdint.h>

#include "readyq.h"
#include "state.h"

typedef struct LoopObj LoopObj;  /* loop.h */

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
    CA_WATCHER_TRANSPORT,   /* a transport (transport.c) */
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
    /* The socket transport (stream.c) that owns the fd while it is open
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

#endif
