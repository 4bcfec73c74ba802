/* The sock_* operations (sockets.c). */
#ifndef CA_SOCKETS_H
#define CA_SOCKETS_H

#include "loop.h"

/* fd of a pending sock_* operation is ready (dispatch, phase 3): try the
 * system call again now (0), or if behind, queue it to run after the
 * entries that were ready before the poll (1); -1 on error. */
int ca_sockop_ready(LoopObj *loop, PyObject *op, int behind);
/* Runs a CA_READY_SOCKOP entry: the system call, now. */
int ca_sockop_run(LoopObj *loop, PyObject *op);
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

#endif
