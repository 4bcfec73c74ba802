/* The write queue of the stream and pipe transports (wbuf.h). */
#include "wbuf.h"

#include <stdlib.h>
#include <string.h>

int
ca_wbuf_push(ca_wbuf *b, PyObject *bytes)
{
    if (b->head + b->len == b->cap) {
        if (b->head > 0) {
            memmove(b->items, b->items + b->head, (size_t)b->len * sizeof(PyObject *));
            b->head = 0;
        }
        else {
            Py_ssize_t ncap = b->cap ? b->cap * 2 : 8;
            PyObject **n = realloc(b->items, (size_t)ncap * sizeof(PyObject *));
            if (n == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            b->items = n;
            b->cap = ncap;
        }
    }
    b->items[b->head + b->len++] = bytes;
    b->size += PyBytes_GET_SIZE(bytes);
    return 0;
}

void
ca_wbuf_consume(ca_wbuf *b, Py_ssize_t n)
{
    b->size -= n;
    while (n > 0) {
        PyObject *first = b->items[b->head];
        Py_ssize_t left = PyBytes_GET_SIZE(first) - b->offset;
        if (n < left) {
            b->offset += n;
            return;
        }
        n -= left;
        b->offset = 0;
        b->head++;
        b->len--;
        Py_DECREF(first);
    }
    if (b->len == 0) {
        b->head = 0;
    }
}

void
ca_wbuf_clear(ca_wbuf *b)
{
    /* Beware: releasing bytes runs no Python code, but take the items
     * out first anyway so the queue is consistent at every point. */
    PyObject **items = b->items;
    Py_ssize_t head = b->head, len = b->len;
    b->head = b->len = b->offset = b->size = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_DECREF(items[head + i]);
    }
}

void
ca_wbuf_free(ca_wbuf *b)
{
    ca_wbuf_clear(b);
    free(b->items);
    b->items = NULL;
    b->cap = 0;
}

int
ca_wbuf_fill_iov(const ca_wbuf *b, struct iovec *iov)
{
    int n = 0;
    for (Py_ssize_t i = 0; i < b->len && n < CA_WBUF_IOV_MAX; i++) {
        PyObject *item = ca_wbuf_at(b, i);
        Py_ssize_t skip = i == 0 ? b->offset : 0;
        iov[n].iov_base = PyBytes_AS_STRING(item) + skip;
        iov[n].iov_len = (size_t)(PyBytes_GET_SIZE(item) - skip);
        n++;
    }
    return n;
}
