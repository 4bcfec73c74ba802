/* Stream transports (stream.c) and the accepting side of servers
 * (server.c): what the loop and module initialisation need of them. */
#ifndef CA_STREAM_H
#define CA_STREAM_H

#include "loop.h"

/* Creates the transport type (a subclass of asyncio's _FlowControlMixin,
 * so that isinstance checks of asyncio itself hold), the pipe transport
 * types (ReadPipeTransport over asyncio.ReadTransport, WritePipeTransport
 * over _FlowControlMixin) and the accepter type, and caches the asyncio
 * helpers they use in the module state. */
int ca_stream_types_init(PyObject *module, ca_state *st);

/* A transport for the connected stream socket `sock`, as asyncio's
 * _SelectorSocketTransport(loop, sock, protocol, waiter, extra, server,
 * context): connection_made, reading and the waiter's result are scheduled.
 * `context` (NULL or None: none) is 3.15's: every protocol callback of the
 * transport runs in it, where without one each side runs in a copy of the
 * context it started in (3.14 and before). */
PyObject *ca_stream_new(LoopObj *loop, PyObject *sock, PyObject *protocol,
                        PyObject *waiter, PyObject *extra, PyObject *server,
                        PyObject *context);

/* The fd of a transport or an accepter in a watch slot is ready. */
int ca_stream_ready(LoopObj *loop, PyObject *obj, int writer);

/* Frees what the loop holds for transports (the receive buffer). */
void ca_streams_release(LoopObj *loop);

/* server.c: an accepter is ready to accept. */
int ca_accepter_ready(LoopObj *loop, PyObject *obj);

PyObject *ca_loop_make_socket_transport(LoopObj *, PyObject *const *, Py_ssize_t,
                                        PyObject *);
PyObject *ca_loop_start_accepting(LoopObj *, PyObject *const *, Py_ssize_t);
PyObject *ca_loop_unlink_unix_socket(LoopObj *, PyObject *const *, Py_ssize_t);

extern PyType_Spec ca_accepter_spec;

#endif
