/* A transport's write queue: the bytes objects write() could not send at
 * once, oldest first, the first of them perhaps partly sent.
 *
 * Owns: one reference to each queued bytes object, and the array (freed
 * by ca_wbuf_free).  Does not own: the transport, its fd, flow control
 * (the transport compares `size` with its water marks).  Calls no Python
 * code but Py_DECREF of bytes objects. */
#ifndef CA_WBUF_H
#define CA_WBUF_H

#include <Python.h>
#include <sys/uio.h>

/* Chunks handed to one gather write (sendmsg, writev, sock.sendmsg). */
#define CA_WBUF_IOV_MAX 64

typedef struct {
    PyObject **items;       /* bytes objects; items[head] is the oldest */
    Py_ssize_t head;
    Py_ssize_t len;
    Py_ssize_t cap;
    Py_ssize_t offset;      /* bytes of items[head] already sent */
    Py_ssize_t size;        /* bytes queued, not yet sent */
} ca_wbuf;

/* Appends `bytes` (a bytes object), taking the caller's reference;
 * -1 with MemoryError (the reference is then still the caller's). */
int ca_wbuf_push(ca_wbuf *b, PyObject *bytes);
/* Drops n sent bytes from the front (n <= size). */
void ca_wbuf_consume(ca_wbuf *b, Py_ssize_t n);
/* Empties the queue; the array is kept for reuse. */
void ca_wbuf_clear(ca_wbuf *b);
/* Empties the queue and frees the array. */
void ca_wbuf_free(ca_wbuf *b);
/* Fills iov (CA_WBUF_IOV_MAX entries) with the unsent bytes of the
 * first chunks; returns how many entries it filled. */
int ca_wbuf_fill_iov(const ca_wbuf *b, struct iovec *iov);

/* The i-th queued chunk, i < len (borrowed). */
static inline PyObject *
ca_wbuf_at(const ca_wbuf *b, Py_ssize_t i)
{
    return b->items[b->head + i];
}

#endif
