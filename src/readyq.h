/* The ready queue: a growable ring buffer of entries waiting to run.
 *
 * Owns: the array.  The entries' object references belong to the loop,
 * which releases them when it runs or drops an entry; this file never
 * touches a Python object (it returns 0 or -errno).
 *
 * An entry is a kind plus up to two objects, so a later kind (a task
 * wakeup, say) can be queued without allocating a Handle. */
#ifndef CA_READYQ_H
#define CA_READYQ_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <Python.h>

typedef enum {
    CA_READY_HANDLE = 1,  /* obj: a Handle to run */
    CA_READY_CALLBACK,    /* obj(arg) in ctx: a future's done-callback */
    CA_READY_TASK_STEP,   /* step task obj, throwing arg if not NULL */
    CA_READY_TASK_WAKEUP, /* wake task obj: the future arg is done */
    CA_READY_SOCKOP,      /* obj: a sock_* operation whose fd is ready */
    CA_READY_EXEC_RESULT, /* the default executor's fn returned arg for future obj */
    CA_READY_EXEC_ERROR,  /* ... raised arg */
    CA_READY_WATCH_READ,  /* obj: a transport or accepter whose fd, arg (an
                           * int), was reported readable behind queued
                           * entries (io.c) */
    CA_READY_WATCH_WRITE, /* ... writable */
} ca_ready_kind;

/* The loop owns one reference to each non-NULL object of a queued entry. */
typedef struct {
    PyObject *obj;
    PyObject *arg;
    PyObject *ctx;
    int kind;
} ca_ready_entry;

typedef struct {
    ca_ready_entry *buf;
    Py_ssize_t cap;   /* a power of two, or 0 before the first push */
    Py_ssize_t head;  /* index of the oldest entry */
    Py_ssize_t len;
} ca_readyq;

static inline int
ca_readyq_grow(ca_readyq *q)
{
    Py_ssize_t ncap = q->cap ? q->cap * 2 : 256;
    ca_ready_entry *nbuf = malloc((size_t)ncap * sizeof(*nbuf));
    if (nbuf == NULL) {
        return -ENOMEM;
    }
    /* Unwrap the ring so the entries start at index 0 again. */
    Py_ssize_t first = q->cap - q->head;
    if (first > q->len) {
        first = q->len;
    }
    if (q->len) {
        memcpy(nbuf, q->buf + q->head, (size_t)first * sizeof(*nbuf));
        memcpy(nbuf + first, q->buf, (size_t)(q->len - first) * sizeof(*nbuf));
    }
    free(q->buf);
    q->buf = nbuf;
    q->cap = ncap;
    q->head = 0;
    return 0;
}

static inline int
ca_readyq_push(ca_readyq *q, int kind, PyObject *obj, PyObject *arg,
               PyObject *ctx)
{
    if (q->len == q->cap) {
        int err = ca_readyq_grow(q);
        if (err < 0) {
            return err;
        }
    }
    ca_ready_entry *e = &q->buf[(q->head + q->len) & (q->cap - 1)];
    e->kind = kind;
    e->obj = obj;
    e->arg = arg;
    e->ctx = ctx;
    q->len++;
    return 0;
}

/* Removes and returns the oldest entry; the queue must not be empty. */
static inline ca_ready_entry
ca_readyq_pop(ca_readyq *q)
{
    ca_ready_entry e = q->buf[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->len--;
    return e;
}

/* The i-th oldest entry, for traversal. */
static inline ca_ready_entry *
ca_readyq_at(ca_readyq *q, Py_ssize_t i)
{
    return &q->buf[(q->head + i) & (q->cap - 1)];
}

static inline void
ca_readyq_free(ca_readyq *q)
{
    free(q->buf);
    q->buf = NULL;
    q->cap = q->head = q->len = 0;
}

#endif
