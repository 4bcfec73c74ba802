/* The datagram transport (dgram.c). */
#ifndef CA_DGRAM_H
#define CA_DGRAM_H

#include "loop.h"

/* Adds the DatagramTransport type to the module. */
int ca_dgram_init(PyObject *mod);

#endif
