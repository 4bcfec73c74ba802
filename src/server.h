/* The accepting side of servers (server.c). */
#ifndef CA_SERVER_H
#define CA_SERVER_H

#include "loop.h"

/* Creates the Accepter type and adds it to the module. */
int ca_server_types_init(PyObject *module, ca_state *st);
/* An accepter's listening socket is ready to accept (io.c's entry point). */
int ca_accepter_ready(LoopObj *loop, PyObject *obj);
PyObject *ca_loop_start_accepting(LoopObj *, PyObject *const *, Py_ssize_t);
PyObject *ca_loop_unlink_unix_socket(LoopObj *, PyObject *const *, Py_ssize_t);

#endif
