/* Handle and TimerHandle: what call_soon/call_later return and what the
 * ready queue runs.  One struct serves both types; TimerHandle only adds
 * meaning to `when` and `scheduled`. */
#ifndef CA_HANDLE_H
#define CA_HANDLE_H

#include "state.h"

typedef struct {
    PyObject_HEAD
    PyObject *callback;         /* NULL once cancelled */
    PyObject *args;             /* a tuple; NULL once cancelled */
    PyObject *context;
    PyObject *loop;
    PyObject *source_traceback; /* NULL unless created in debug mode */
    PyObject *repr;             /* repr kept at cancel() in debug mode */
    PyObject *weakreflist;
    double when;                /* TimerHandle: the deadline */
    char cancelled;
    char scheduled;             /* TimerHandle: in its loop's heap */
} HandleObj;

/* A new Handle (or TimerHandle, by `tp`) calling callback(*args[:nargs]) in
 * `context` (NULL or None: a copy of the current one). */
HandleObj *ca_handle_new(ca_state *st, PyTypeObject *tp, PyObject *loop,
                         PyObject *callback, PyObject *const *args,
                         Py_ssize_t nargs, PyObject *context);
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

#endif
