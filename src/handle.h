/* Handle and TimerHandle: what call_soon/call_later return and what the
 * ready queue runs.  One struct serves both types; TimerHandle only adds
 * meaning to `when` and `scheduled`. */
#ifndef CA_HANDLE_H
#define CA_HANDLE_H

#include "gcpolicy.h"
#include "state.h"

/* Arguments kept in the handle itself rather than in a tuple: making and
 * freeing the tuple was ~200 instructions of a call_soon(cb, a, b). */
#define CA_HANDLE_ARGV 2

typedef struct {
    PyObject_HEAD
    PyObject *callback;         /* NULL once cancelled */
    /* The arguments: `args`, a tuple, or, while `args` is NULL, the first
     * `nargv` of `argv` (at most CA_HANDLE_ARGV, so a call with more makes
     * the tuple).  `_args` and the repr make the tuple on first use, moving
     * argv into it.  All NULL/0 once cancelled. */
    PyObject *args;
    PyObject *argv[CA_HANDLE_ARGV];
    PyObject *context;
    PyObject *loop;
    PyObject *source_traceback; /* NULL unless created in debug mode */
    PyObject *repr;             /* repr kept at cancel() in debug mode */
    PyObject *weakreflist;
    ca_state *state;            /* borrowed: for the free list */
    double when;                /* TimerHandle: the deadline */
    char cancelled;
    char scheduled;             /* TimerHandle: in its loop's heap */
    char when_int;              /* TimerHandle: `when` was given as an int,
                                 * so it is given back as one, as asyncio
                                 * keeps the object call_at() was passed */
    char nargv;
    char ctx_maybe_untracked;   /* `context` may be an untracked empty copy
                                 * (a timer's; see below): checked before
                                 * it is run in or freed.  0: tracked, or
                                 * not one of casyncio's copies. */
} HandleObj;

/* A new Handle (or TimerHandle, by `tp`) calling callback(*args[:nargs]) in
 * `context` (NULL or None: a copy of the current one).  `queued`: made for
 * the ready queue or timer heap of `loop`, which is then a LoopObj; the
 * handle starts untracked (see ca_handle_unqueue). */
HandleObj *ca_handle_new(ca_state *st, PyTypeObject *tp, PyObject *loop,
                         PyObject *callback, PyObject *const *args,
                         Py_ssize_t nargs, PyObject *context, int queued);
/* ca_handle_new() for call_soon(callback, *args, context=context) on
 * `loop`, a LoopObj whose debug flag is `debug`, queued: the same handle,
 * made by a shorter path in the common case. */
static inline HandleObj *
ca_handle_new_soon(ca_state *st, PyObject *loop, int debug, PyObject *callback,
                   PyObject *const *args, Py_ssize_t nargs, PyObject *context)
{
#if CA_FREELISTS
    /* Beware: keep in step with ca_handle_new(). */
    if (st->handle_nfree > 0 && nargs <= CA_HANDLE_ARGV && !debug
        && (context == NULL || context == Py_None)) {
        PyObject *ctx = PyContext_CopyCurrent();
        if (ctx == NULL) {
            return NULL;
        }
        HandleObj *h = (HandleObj *)st->handle_free[--st->handle_nfree];
        (void)PyObject_Init((PyObject *)h, st->HandleType);
        CA_LIVE_ADD(st, CA_LIVE_HANDLE, 1);
        /* handle_clear() left every other slot NULL (or 0) */
        assert(h->callback == NULL && h->args == NULL && h->nargv == 0
               && h->context == NULL && h->loop == NULL && h->weakreflist == NULL
               && h->source_traceback == NULL && h->repr == NULL
               && !h->ctx_maybe_untracked && h->state == st);
        h->when = 0.0;
        h->when_int = 0;
        h->cancelled = 0;
        h->scheduled = 0;
        h->callback = Py_NewRef(callback);
        h->context = ctx;
        h->loop = Py_NewRef(loop);
        h->nargv = (char)nargs;
        for (Py_ssize_t i = 0; i < nargs; i++) {
            h->argv[i] = Py_NewRef(args[i]);
        }
        return h;
    }
#endif
    return ca_handle_new(st, st->HandleType, loop, callback, args, nargs, context, 1);
}

/* Runs the callback in its context.  An exception goes to the loop's
 * exception handler; returns -1 with the exception set only for
 * KeyboardInterrupt/SystemExit (or a failing exception handler). */
int ca_handle_run(ca_state *st, HandleObj *h);

/* Calls cb(*args) inside ctx; -1 with the callback's exception set. */
int ca_context_call(PyObject *ctx, PyObject *cb, PyObject *const *args,
                    Py_ssize_t nargs);
/* After a callback failed: KeyboardInterrupt/SystemExit stay raised (-1);
 * anything else goes to the loop's exception handler, as "Exception in
 * callback cb(args)" with a 'handle' (h, or one made for the report). */
int ca_callback_settle(ca_state *st, PyObject *loop, PyObject *cb,
                       PyObject *const *args, Py_ssize_t nargs, PyObject *ctx,
                       HandleObj *h);
int ca_report_callback_error(ca_state *st, PyObject *loop, PyObject *cb,
                             PyObject *const *args, Py_ssize_t nargs,
                             PyObject *ctx, HandleObj *h, PyObject *exc);
/* Drops the callback and its arguments; idempotent. */
void ca_handle_mark_cancelled(HandleObj *h);

extern PyType_Spec ca_handle_spec;
extern PyType_Spec ca_timerhandle_spec;

#if PY_VERSION_HEX >= 0x030E0000
/* call_soon_threadsafe()'s handle (3.14+), queued on `loop`'s ready queue:
 * as asyncio's events._ThreadSafeHandle, it is run and cancelled under a
 * lock of its own (handle.c). */
HandleObj *ca_threadsafe_handle_new(ca_state *st, PyObject *loop, PyObject *callback,
                                    PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *context);
extern PyType_Spec ca_threadsafehandle_spec;
#endif

#endif
