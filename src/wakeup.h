/* The eventfd that call_soon_threadsafe writes (wakeup.c). */
#ifndef CA_WAKEUP_H
#define CA_WAKEUP_H

#include "loop.h"

int ca_wakeup_open(LoopObj *loop);
void ca_wakeup_signal(LoopObj *loop);
void ca_wakeup_drain(LoopObj *loop);
void ca_wakeup_close(LoopObj *loop);

#endif
