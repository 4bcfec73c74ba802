/* The loop object (loop.c: iteration, scheduling, timers) and what the
 * other files call of loop.c.  Each part of the loop that lives in a file
 * of its own has its header: io.h (the fd watch table), sockets.h,
 * signals.h, wakeup.h, executor.h, dgram.h, stream.h. */
#ifndef CA_LOOP_H
#define CA_LOOP_H

#include <stdint.h>

#include "handle.h"
#include "io.h"
#include "reactor.h"
#include "readyq.h"
#include "state.h"
#include "timerheap.h"


struct LoopObj {
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
    char *recv_scratch;       /* recv.c: the receive buffer, or NULL */
    char recv_large;          /* sockets.c: the last sock_recv was large */
    /* The module state's list of live loops (borrowed links), which the
     * gc.callbacks hook walks (handle.h). */
    PyObject *all_prev;
    PyObject *all_next;
};

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

extern PyType_Spec ca_loop_spec;

#endif
