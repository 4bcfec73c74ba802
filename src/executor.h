/* The C default executor, the ThreadPool type (executor.c). */
#ifndef CA_EXECUTOR_H
#define CA_EXECUTOR_H

#include "loop.h"

int ca_executor_init(PyObject *mod);
/* Runs a CA_READY_EXEC_RESULT/ERROR entry: completes the future unless
 * it is already done (cancelled while fn ran). */
int ca_executor_settle(LoopObj *loop, ca_ready_entry *e);

#endif
