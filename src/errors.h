/* The one conversion point between the two error regimes (-errno below
 * Python, -1/NULL with an exception above), and the exception fetch and
 * restore helpers that differ between 3.11 and 3.12+. */
#ifndef CA_ERRORS_H
#define CA_ERRORS_H

#include "state.h"

/* Sets the OSError subclass that matches -err (err is negative). */
void ca_err_from_errno(int err);
/* The same with a message of our own: OSError(-err, msg). */
void ca_err_from_errno_msg(int err, PyObject *msg);
/* Takes the current exception (normalised, traceback attached) or NULL. */
PyObject *ca_err_fetch(void);
/* Raises exc again, stealing the reference. */
void ca_err_restore(PyObject *exc);
/* The current exception taken, for the caller to handle, unless it is
 * KeyboardInterrupt or SystemExit, which stays raised: then NULL, as when
 * no exception is set (PyErr_Occurred() tells the two apart). */
PyObject *ca_err_fetch_handled(void);
/* True for the exceptions that must stop the loop instead of going to the
 * exception handler: SystemExit and KeyboardInterrupt. */
int ca_err_is_fatal(PyObject *exc);
/* If the current exception is BlockingIOError or InterruptedError, what a
 * socket's methods raise for "not now" (asyncio retries at the next
 * readiness), clears it and returns 1; else 0. */
int ca_err_clear_would_block(void);
/* Calls loop.call_exception_handler({'message': message, 'exception': exc,
 * key: value, 'source_traceback': tb if not None}); returns -1 only if the
 * handler let an exception (KeyboardInterrupt, SystemExit) through.
 * `key` and `exc` may be NULL. */
int ca_report_exception(ca_state *st, PyObject *loop, PyObject *message,
                        PyObject *exc, PyObject *key, PyObject *value,
                        PyObject *source_traceback);
/* The same for a transport's error: {'message': message, 'exception': exc,
 * 'transport': transport, 'protocol': protocol or None}. */
int ca_report_transport_error(ca_state *st, PyObject *loop, const char *message,
                              PyObject *exc, PyObject *transport, PyObject *protocol);

#endif
