/* The receive primitive of sock_recv (sockets.c) and the stream and pipe
 * transports (stream.c, pipe.c): bytes from an fd into a new bytes object,
 * with the loop's scratch buffer.
 *
 * Owns: the loop's scratch buffer (loop->recv_scratch, freed by
 * ca_recv_release).  Calls no Python code. */
#ifndef CA_RECV_H
#define CA_RECV_H

#include "loop.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* The scratch buffer's size, and the most a transport reads per readiness
 * (asyncio's max_size). */
#define CA_RECV_SCRATCH_SIZE (256 * 1024)
/* After a receive brought at least this much, the next one asks FIONREAD
 * how much is waiting and, if it is this much again, receives straight
 * into a bytes object of that size: no copy, which was nearly all of the
 * user-space instructions of an echo of 100 KiB messages (callgrind: 103k a
 * message; stock asyncio gets the same from socket.recv's resize of its
 * bytes in place, a private API).  Below this size the ioctl costs about
 * what the copy does.  A wrong guess costs one ioctl, never a result. */
#define CA_RECV_DIRECT_MIN (16 * 1024)

/* Receives at most n (> 0) bytes from fd, recv() on a socket (is_socket)
 * or read(), into a new bytes object *data of the exact size: through the
 * scratch buffer and one copy; or straight into the bytes object when n is
 * over the scratch buffer's size, or when `large` (the caller's last
 * receive brought CA_RECV_DIRECT_MIN or more) and FIONREAD reports that
 * much waiting.  Returns the bytes received (> 0), 0 at end of file (*data
 * untouched), or -1: then *err is the errno (nothing received, no
 * exception set), or 0 with MemoryError set. */
static inline Py_ssize_t ca_recv_bytes(LoopObj *loop, int fd, Py_ssize_t n, int large,
                                       int is_socket, PyObject **data, int *err);
/* Frees the scratch buffer. */
void ca_recv_release(LoopObj *loop);

/* ---- inline: every receive goes through here (definitions) ---- */

/* Allocates the scratch buffer; NULL with MemoryError. */
char *ca_recv_scratch_alloc(LoopObj *loop);

/* How big a bytes object to receive into directly, or 0 for the scratch
 * buffer. */
static inline Py_ssize_t
ca_recv_direct_size(int fd, Py_ssize_t n, int large)
{
    int avail = 0;
    if (n > CA_RECV_SCRATCH_SIZE) {
        return n;
    }
    if (!large || n < CA_RECV_DIRECT_MIN || ioctl(fd, FIONREAD, &avail) < 0
        || avail < CA_RECV_DIRECT_MIN) {
        return 0;
    }
    return avail < n ? avail : n;
}

/* Inline, as the code of sock_recv and the transports' reads was before it
 * was shared: a call with seven arguments cost ~40 instructions a receive
 * (callgrind, sock_echo). */
static inline Py_ssize_t
ca_recv_bytes(LoopObj *loop, int fd, Py_ssize_t n, int large, int is_socket,
              PyObject **data, int *err)
{
    PyObject *big = NULL;
    char *buf;
    Py_ssize_t size = ca_recv_direct_size(fd, n, large);
    if (size == 0) {
        size = n;
        buf = loop->recv_scratch ? loop->recv_scratch : ca_recv_scratch_alloc(loop);
    }
    else {
        big = PyBytes_FromStringAndSize(NULL, size);
        buf = big ? PyBytes_AS_STRING(big) : NULL;
    }
    if (buf == NULL) {
        *err = 0;
        return -1;
    }
    ssize_t got = is_socket ? recv(fd, buf, (size_t)size, 0) : read(fd, buf, (size_t)size);
    if (got <= 0) {
        *err = got < 0 ? errno : 0;
        Py_XDECREF(big);
        return got;
    }
    if (big != NULL && got == size) {
        *data = big;
        return got;
    }
    /* The scratch buffer, or less than FIONREAD said (another reader of
     * the fd): a copy of the exact size. */
    *data = PyBytes_FromStringAndSize(buf, got);
    Py_XDECREF(big);
    if (*data == NULL) {
        *err = 0;
        return -1;
    }
    return got;
}

#endif
