/* Byte-stream transports on the transport base: the socket transport
 * (stream.c) and the pipe transports (pipe.c) share the object below, its
 * reading and writing, and the Python methods of a byte stream. */
#ifndef CA_STREAM_H
#define CA_STREAM_H

#include "transport.h"
#include "wbuf.h"

typedef struct StreamObj StreamObj;

/* A byte stream's kind: the transport ops, then how bytes move.  The I/O
 * functions return what they moved (> 0; 0 from recv at end of file),
 * CA_ST_WOULD_BLOCK (nothing to do now), or CA_ST_ERROR with an exception
 * set. */
#define CA_ST_WOULD_BLOCK (-1)
#define CA_ST_ERROR (-2)

typedef struct {
    ca_transport_ops tr;
    /* Receives what is waiting into a new bytes object *data. */
    Py_ssize_t (*recv)(StreamObj *s, PyObject **data);
    /* Receives into a BufferedProtocol's buffer: `buf`, seen as `view`. */
    Py_ssize_t (*recv_into)(StreamObj *s, PyObject *buf, Py_buffer *view);
    /* Sends as much of buf[:len] (the bytes of `data`) as the fd takes. */
    Py_ssize_t (*send)(StreamObj *s, PyObject *data, const char *buf, Py_ssize_t len);
    /* Sends the write queue from its head, as much as the fd takes. */
    Py_ssize_t (*flush)(StreamObj *s);
    /* write_eof's shutdown(SHUT_WR); -1 with an exception.  NULL for the
     * pipes, whose write_eof() is close(): `eof` is never set on them. */
    int (*shutdown_wr)(StreamObj *s);
    /* End of file was read / data_received raised (its exception set). */
    int (*on_eof)(StreamObj *s);
    int (*data_failed)(StreamObj *s);
    const char *read_error;   /* asyncio's fatal error messages */
    const char *write_error;
    /* write() drops data from close() on (pipes); a socket queues it. */
    char drop_when_closing;
    /* The fd is a socket: recv/send/sendmsg, not read/write/writev
     * (ca_stream_fd_*). */
    char fd_socket;
} ca_stream_ops;

struct StreamObj {
    TransportObj tr;
    PyObject *server;       /* asyncio Server or NULL */
    /* Set while loop.sendfile() sends through the socket itself: done once
     * the write queue is empty; write() is refused meanwhile. */
    PyObject *empty_waiter;
    ca_wbuf wbuf;
    char eof;               /* write_eof() was called */
    char buffered;          /* the protocol is an asyncio.BufferedProtocol */
    char large_reads;       /* the last read was >= CA_RECV_DIRECT_MIN bytes */
};

static inline const ca_stream_ops *
ca_st_ops(StreamObj *s)
{
    return (const ca_stream_ops *)s->tr.ops;
}

/* ---- stream.c: for pipe.c ---- */

/* The read and write paths of every byte stream. */
int ca_stream_read_ready(TransportObj *t);
int ca_stream_write_ready(TransportObj *t);
Py_ssize_t ca_stream_queue_size(TransportObj *t);
Py_ssize_t ca_stream_queue_len(TransportObj *t);
void ca_stream_queue_clear(TransportObj *t);
int ca_stream_release(TransportObj *t);
/* The fd-level I/O of a socket or pipe (ops->fd_socket tells which
 * system calls), for the ops tables. */
Py_ssize_t ca_stream_fd_recv(StreamObj *s, PyObject **data);
Py_ssize_t ca_stream_fd_recv_into(StreamObj *s, PyObject *buf, Py_buffer *view);
Py_ssize_t ca_stream_fd_send(StreamObj *s, PyObject *data, const char *buf, Py_ssize_t len);
Py_ssize_t ca_stream_fd_flush(StreamObj *s);
/* The transport ops every byte stream shares (a designated-initializer
 * list: a kind adds read_ready and its own fields). */
#define CA_STREAM_TR_OPS                                                                \
    .write_ready = ca_stream_write_ready, .queue_size = ca_stream_queue_size,           \
    .queue_len = ca_stream_queue_len, .queue_clear = ca_stream_queue_clear,             \
    .release = ca_stream_release
/* protocol.eof_received() failed (the current exception): fatal. */
int ca_stream_eof_failed(StreamObj *s);
int ca_stream_traverse(PyObject *self, visitproc visit, void *arg);
int ca_stream_clear(PyObject *self);
void ca_stream_dealloc(PyObject *self);
void ca_stream_finalize(PyObject *self);

PyObject *ca_stream_py_write(PyObject *self, PyObject *data);
PyObject *ca_stream_py_writelines(PyObject *self, PyObject *lines);
PyObject *ca_stream_py_can_write_eof(PyObject *self, PyObject *unused);
PyObject *ca_stream_py_is_reading(PyObject *self, PyObject *unused);
PyObject *ca_stream_py_pause_reading(PyObject *self, PyObject *unused);
PyObject *ca_stream_py_resume_reading(PyObject *self, PyObject *unused);
PyObject *ca_stream_py_start_reading(PyObject *self, PyObject *unused);
PyObject *ca_stream_py_set_protocol(PyObject *self, PyObject *protocol);
PyObject *ca_stream_py_call_connection_lost(PyObject *self, PyObject *exc);
extern PyMemberDef ca_stream_members[];

/* Method table entries shared by the socket and the pipe transports. */
#define CA_STREAM_WRITE_METHODS                                                         \
    CA_TR_WRITE_BUFFER_METHODS,                                                         \
    {"write", ca_stream_py_write, METH_O,                                               \
     "write($self, data, /)\n--\n\nWrite data: at once if the fd takes it, else "      \
     "queued and written when the fd is writable."},                                    \
    {"writelines", ca_stream_py_writelines, METH_O,                                     \
     "writelines($self, list_of_data, /)\n--\n\nWrite the concatenated buffers."},     \
    {"can_write_eof", ca_stream_py_can_write_eof, METH_NOARGS,                          \
     "can_write_eof($self, /)\n--\n\nTrue."}

#define CA_STREAM_READ_METHODS                                                          \
    {"is_reading", ca_stream_py_is_reading, METH_NOARGS,                                \
     "is_reading($self, /)\n--\n\nTrue unless reading is paused or closing."},         \
    {"pause_reading", ca_stream_py_pause_reading, METH_NOARGS,                          \
     "pause_reading($self, /)\n--\n\nStop calling data_received until resumed."},      \
    {"resume_reading", ca_stream_py_resume_reading, METH_NOARGS,                        \
     "resume_reading($self, /)\n--\n\nResume after pause_reading()."}

#define CA_STREAM_COMMON_METHODS                                                        \
    CA_TR_COMMON_METHODS,                                                               \
    {"set_protocol", ca_stream_py_set_protocol, METH_O,                                 \
     "set_protocol($self, protocol, /)\n--\n\nReplace the protocol."},                 \
    {"_call_connection_lost", ca_stream_py_call_connection_lost, METH_O, NULL},         \
    {"_start_reading", ca_stream_py_start_reading, METH_NOARGS, NULL}

/* ---- stream.c: for the loop and server.c ---- */

/* Creates the socket transport type (a subclass of asyncio's
 * _FlowControlMixin, so that isinstance checks of asyncio itself hold)
 * and caches the asyncio helpers the byte streams use. */
int ca_stream_types_init(PyObject *module, ca_state *st);

/* A transport for the connected stream socket `sock`, as asyncio's
 * _SelectorSocketTransport(loop, sock, protocol, waiter, extra, server,
 * context): connection_made, reading and the waiter's result are scheduled.
 * `context` (NULL or None: none) is 3.15's: every protocol callback of the
 * transport runs in it, where without one each side runs in a copy of the
 * context it started in (3.14 and before). */
PyObject *ca_stream_new(LoopObj *loop, PyObject *sock, PyObject *protocol,
                        PyObject *waiter, PyObject *extra, PyObject *server,
                        PyObject *context);

PyObject *ca_loop_make_socket_transport(LoopObj *, PyObject *const *, Py_ssize_t,
                                        PyObject *);

/* ---- pipe.c ---- */

/* Creates ReadPipeTransport (over asyncio.ReadTransport) and
 * WritePipeTransport (over _FlowControlMixin). */
int ca_pipe_types_init(PyObject *module);

#endif
