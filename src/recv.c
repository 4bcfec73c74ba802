/* The receive primitive's scratch buffer (see recv.h). */
#include "recv.h"

#include <stdlib.h>

char *
ca_recv_scratch_alloc(LoopObj *loop)
{
    if (loop->recv_scratch == NULL) {
        loop->recv_scratch = malloc(CA_RECV_SCRATCH_SIZE);
        if (loop->recv_scratch == NULL) {
            PyErr_NoMemory();
        }
    }
    return loop->recv_scratch;
}

void
ca_recv_release(LoopObj *loop)
{
    free(loop->recv_scratch);
    loop->recv_scratch = NULL;
}
