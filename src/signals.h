/* The loop's signal pipe and add_signal_handler dispatch (signals.c). */
#ifndef CA_SIGNALS_H
#define CA_SIGNALS_H

#include "loop.h"

PyObject *ca_loop_signal_wakeup_fd(LoopObj *loop, PyObject *unused);
int ca_signals_dispatch(LoopObj *loop);
PyObject *ca_loop_get_signal_handlers(LoopObj *loop, void *closure);
void ca_signals_close(LoopObj *loop);

#endif
