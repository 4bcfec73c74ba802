#!/usr/bin/env python3
"""Echo server benchmark: casyncio, asyncio and uvloop servers against one client.

    python benchmarks/echo.py [--rounds N] [--seconds S] [--impls ...]
                              [--modes protocol,streams,sock] [--families tcp,unix]
                              [--sizes 1,10,100] [--conns N] [--window W] [--py-client]
                              [--default-malloc] [--json FILE]

For every (family, size, mode) and round, each implementation in turn serves
echo in its own process (`echo.py --serve IMPL MODE FD`, handed a listening
socket the parent made; before serving it frees one 4 MiB block so that
glibc's malloc is in the same state under every loop, see
servers.settle_malloc; --default-malloc leaves it as it starts), and a
client process keeps WINDOW messages of SIZE KiB in flight on each of CONNS
connections for SECONDS, checking every echoed byte against what it sent.  The client is a small C epoll program compiled
here with the system C compiler (CLIENT_C), so that it costs the machine
far less than any server and is not what limits the rate; without a
compiler, or with --py-client, it is `echo.py --client ...`, one selectors
loop in plain Python (no asyncio), which at 1 KiB is slower than the
fastest servers.  The client reports echoed messages per second; the
server reports the CPU time (user + system) it used while serving, so the
table also shows server CPU microseconds per message.

Modes: `protocol` (asyncio.Protocol, data_received writes back), `streams`
(start_server, read / write / drain), `sock` (sock_accept, sock_recv,
sock_sendall, a task per connection).  The `limit` implementation is a
minimal C epoll echo server compiled here with the system C compiler (skipped
with a line saying so when there is none): the floor for the server's cost,
and the check that the client is not the bottleneck (it should echo clearly
more than the fastest Python server).  `limit_uring` (only when asked for in
--impls; it needs liburing's header and library, Debian's liburing-dev) is
the same floor on io_uring instead of epoll.

Exit status: 0 when every run succeeded, 1 when a run failed (a server or
client error, or an echo that differs from what was sent).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from servers import (  # noqa: E402
    cpu_seconds,
    new_loop,
    probe,
    ratio_table,
    settle_malloc,
)

IMPLS = ("casyncio", "asyncio", "uvloop", "limit", "limit_uring")
DEFAULT_IMPLS = ("casyncio", "asyncio", "uvloop", "limit")
MODES = ("protocol", "streams", "sock")
FAMILIES = ("tcp", "unix")
READ_SIZE = 256 * 1024


# --------------------------------------------------------------------------
# The servers (each in its own process; stdin's EOF says stop)


def serve_protocol(asyncio, loop, lsock, unix):
    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    make = loop.create_unix_server if unix else loop.create_server
    return loop.run_until_complete(make(Echo, sock=lsock))


def serve_streams(asyncio, loop, lsock, unix):
    async def handle(reader, writer):
        while data := await reader.read(READ_SIZE):
            writer.write(data)
            await writer.drain()
        writer.close()

    start = asyncio.start_unix_server if unix else asyncio.start_server
    return loop.run_until_complete(start(handle, sock=lsock))


def serve_sock(asyncio, loop, lsock, unix):
    async def echo(conn):
        with conn:
            while data := await loop.sock_recv(conn, READ_SIZE):
                await loop.sock_sendall(conn, data)

    async def accept():
        while True:
            conn, _ = await loop.sock_accept(lsock)
            conn.setblocking(False)
            if not unix:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            loop.create_task(echo(conn))

    lsock.setblocking(False)
    return loop.create_task(accept())


def serve(impl: str, mode: str, fd: int, settle: bool = True) -> int:
    import asyncio

    if settle:
        settle_malloc()
    lsock = socket.socket(fileno=fd)
    unix = lsock.family == socket.AF_UNIX
    loop = new_loop(impl)
    errors = []

    def handler(loop, context):
        errors.append(
            context.get("message", "?") + " " + repr(context.get("exception"))
        )
        loop.stop()

    loop.set_exception_handler(handler)
    server = {"protocol": serve_protocol, "streams": serve_streams, "sock": serve_sock}[
        mode
    ](asyncio, loop, lsock, unix)
    loop.add_reader(0, loop.stop)
    print("ready", flush=True)
    cpu0 = cpu_seconds()
    loop.run_forever()
    cpu = cpu_seconds() - cpu0
    print(json.dumps({"cpu": cpu, "errors": errors}), flush=True)
    # Nothing to tear down that the figures depend on; the connections are
    # closed by the client already.
    del server
    os._exit(1 if errors else 0)


# --------------------------------------------------------------------------
# The limit: a minimal C epoll echo server

LIMIT_C = r"""
/* Minimal echo server: level-triggered epoll, one read buffer, a pending
 * tail per connection when a write is short.  argv[1]: the listening fd.
 * Stops at EOF on stdin and prints its CPU time while serving. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ (256 * 1024)
typedef struct { char *pend; size_t len, off; } conn;
static conn *conns[65536];
static double cpu(void) {
    struct rusage r; getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_stime.tv_sec +
           (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}
static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL); close(fd);
    if (conns[fd]) { free(conns[fd]->pend); free(conns[fd]); conns[fd] = NULL; }
}
static void want(int ep, int fd, unsigned ev) {
    struct epoll_event e = {.events = ev, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
}
static void flush(int ep, int fd) {
    conn *c = conns[fd];
    while (c->off < c->len) {
        ssize_t n = send(fd, c->pend + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0) { if (errno != EAGAIN) drop(ep, fd); return; }
        c->off += n;
    }
    c->len = c->off = 0; want(ep, fd, EPOLLIN);
}
static void echo(int ep, int fd, char *buf) {
    ssize_t n = recv(fd, buf, BUFSZ, 0), w = 0;
    if (n == 0 || (n < 0 && errno != EAGAIN)) { drop(ep, fd); return; }
    if (n < 0) return;
    while (w < n) {
        ssize_t k = send(fd, buf + w, n - w, MSG_NOSIGNAL);
        if (k < 0 && errno == EAGAIN) break;
        if (k < 0) { drop(ep, fd); return; }
        w += k;
    }
    if (w < n) {
        conn *c = conns[fd];
        c->pend = realloc(c->pend, n - w); memcpy(c->pend, buf + w, n - w);
        c->len = n - w; c->off = 0; want(ep, fd, EPOLLOUT);
    }
}
int main(int argc, char **argv) {
    int lfd = atoi(argv[1]), ep = epoll_create1(0);
    char *buf = malloc(BUFSZ);
    struct epoll_event e = {.events = EPOLLIN, .data.fd = lfd}, evs[256];
    fcntl(lfd, F_SETFL, O_NONBLOCK);
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
    e.data.fd = 0; epoll_ctl(ep, EPOLL_CTL_ADD, 0, &e);
    printf("ready\n"); fflush(stdout);
    double t0 = cpu();
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == 0) {
                printf("{\"cpu\": %f, \"errors\": []}\n", cpu() - t0); return 0;
            } else if (fd == lfd) {
                int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0 || c >= 65536) { if (c >= 0) close(c); continue; }
                int one = 1; setsockopt(c, 6 /* TCP */, 1 /* NODELAY */, &one, sizeof one);
                conns[c] = calloc(1, sizeof(conn));
                struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
            } else if (conns[fd] && conns[fd]->len) {
                flush(ep, fd);
            } else if (conns[fd]) {
                echo(ep, fd, buf);
            }
        }
    }
}
"""

# The same floor on io_uring: per connection a recv, then a send of what it
# brought (again while short), then the next recv; every round submits what
# the last one queued and waits for at least one completion.

LIMIT_URING_C = r"""
#define _GNU_SOURCE
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ (256 * 1024)
enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3, OP_STDIN = 4 };
typedef struct { int fd; char *buf; size_t len, off; } conn;
static struct io_uring ring;
static double cpu(void) {
    struct rusage r; getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_stime.tv_sec +
           (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}
static struct io_uring_sqe *sqe(int op, conn *c) {
    struct io_uring_sqe *e = io_uring_get_sqe(&ring);
    if (!e) { io_uring_submit(&ring); e = io_uring_get_sqe(&ring); }
    io_uring_sqe_set_data64(e, (uint64_t)(uintptr_t)c | (uint64_t)op);
    return e;
}
static void want_recv(conn *c) {
    io_uring_prep_recv(sqe(OP_RECV, c), c->fd, c->buf, BUFSZ, 0);
}
static void want_send(conn *c) {
    io_uring_prep_send(sqe(OP_SEND, c), c->fd, c->buf + c->off, c->len - c->off,
                       MSG_NOSIGNAL);
}
static void drop(conn *c) { close(c->fd); free(c->buf); free(c); }
int main(int argc, char **argv) {
    int lfd = atoi(argv[1]);
    char stop[16];
    if (io_uring_queue_init(1024, &ring, 0) < 0) { perror("io_uring"); return 1; }
    io_uring_prep_accept(sqe(OP_ACCEPT, NULL), lfd, NULL, NULL, 0);
    io_uring_prep_read(sqe(OP_STDIN, NULL), 0, stop, sizeof stop, 0);
    printf("ready\n"); fflush(stdout);
    double t0 = cpu();
    for (;;) {
        io_uring_submit_and_wait(&ring, 1);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            int op = (int)(cqe->user_data & 7), res = cqe->res;
            conn *c = (conn *)(uintptr_t)(cqe->user_data & ~(uint64_t)7);
            if (op == OP_STDIN) {
                printf("{\"cpu\": %f, \"errors\": []}\n", cpu() - t0);
                return 0;
            } else if (op == OP_ACCEPT) {
                if (res >= 0) {
                    int one = 1;
                    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conn *n = aligned_alloc(8, sizeof(conn));
                    n->fd = res; n->buf = malloc(BUFSZ); n->len = n->off = 0;
                    want_recv(n);
                }
                io_uring_prep_accept(sqe(OP_ACCEPT, NULL), lfd, NULL, NULL, 0);
            } else if (op == OP_RECV) {
                if (res <= 0) { drop(c); continue; }
                c->len = (size_t)res; c->off = 0; want_send(c);
            } else if (op == OP_SEND) {
                if (res < 0) { drop(c); continue; }
                c->off += (size_t)res;
                if (c->off < c->len) want_send(c); else want_recv(c);
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
}
"""

# The C floors: implementation name -> (source, what it is, libraries).
FLOORS = {
    "limit": (LIMIT_C, "C epoll echo server", []),
    "limit_uring": (LIMIT_URING_C, "C io_uring echo server", ["-luring"]),
}


def build_c(workdir: str, name: str, source: str, what: str, libs=()):
    """Compile `source` as workdir/name: ([the executable], what it is), or
    (None, why not)."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None, "no C compiler (cc) found"
    src = Path(workdir) / f"{name}.c"
    exe = Path(workdir) / name
    src.write_text(source, encoding="utf-8")
    proc = subprocess.run(
        [cc, "-O2", "-o", str(exe), str(src), *libs], capture_output=True, text=True
    )
    if proc.returncode != 0:
        return None, f"{cc} failed: {proc.stderr.strip()[-300:]}"
    return [str(exe)], f"{what} built with {cc}"


def build_limit(workdir: str, impl: str = "limit") -> tuple[list[str] | None, str]:
    source, what, libs = FLOORS[impl]
    return build_c(workdir, f"echo_{impl}", source, what, libs)


def build_client(workdir: str) -> tuple[list[str] | None, str]:
    return build_c(workdir, "echo_client", CLIENT_C, "C epoll client")


# --------------------------------------------------------------------------
# The client (its own process, no asyncio)


CLIENT_C = r"""
/* Echo load generator: CONNS connections, each keeping WINDOW messages of
 * SIZE bytes in flight, every echoed byte checked against what was sent.
 * argv: ADDRESS (host:port or a Unix socket path) SIZE CONNS WINDOW SECONDS
 * COUNT.  COUNT > 0: exactly COUNT messages a connection, then stop.
 * Prints {"messages": M, "seconds": S}; exits 1 with a message on error. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PERIOD 1000003L
#define BUFSZ (256 * 1024)

typedef struct { int fd; long base, sent, recvd; unsigned ev; int open; } conn;

static char *expected;  /* the stream twice, then BUFSZ more: no wrapping */
static long size, window, count;
static int stopping;

static double now(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}
static void die(const char *what) { perror(what); exit(1); }
static void fail(const char *what) { fprintf(stderr, "%s\n", what); exit(1); }

static int dial(const char *addr) {
    const char *colon = strrchr(addr, ':');
    int fd;
    if (addr[0] != '/' && colon) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        char host[256];
        snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
        sa.sin_port = htons(atoi(colon + 1));
        if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) fail("bad address");
        if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    } else {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", addr);
        if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Sends while fewer than `window` messages are unanswered (none once
 * stopping, but a message already begun is finished); 1 if the socket is
 * full. */
static int top_up(conn *c) {
    long limit = stopping ? 0 : (c->recvd / size + window) * size;
    if (count && limit > count * size) limit = count * size;
    if (c->sent % size && limit < c->sent + size - c->sent % size)
        limit = c->sent + size - c->sent % size;
    while (c->sent < limit) {
        long n = limit - c->sent;
        if (n > BUFSZ) n = BUFSZ;
        ssize_t k = send(c->fd, expected + (c->base + c->sent) % PERIOD, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EAGAIN) return 1;
            die("send");
        }
        c->sent += k;
        if (k < n) return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 7) fail("usage: client ADDRESS SIZE CONNS WINDOW SECONDS COUNT");
    size = atol(argv[2]);
    int nconns = atoi(argv[3]);
    window = atol(argv[4]);
    double seconds = atof(argv[5]);
    count = atol(argv[6]);
    expected = malloc(2 * PERIOD + BUFSZ);
    unsigned long long x = 0x9E3779B97F4A7C15ull ^ (unsigned long long)getpid() ^
                           (unsigned long long)(now() * 1e9);
    for (long i = 0; i < PERIOD; i++) {  /* xorshift64 */
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        expected[i] = (char)(x >> 32);
    }
    memcpy(expected + PERIOD, expected, PERIOD);
    memcpy(expected + 2 * PERIOD, expected, BUFSZ);
    char *buf = malloc(BUFSZ);
    conn *cs = calloc(nconns, sizeof *cs);
    int ep = epoll_create1(0);
    for (int i = 0; i < nconns; i++) {
        cs[i].fd = dial(argv[1]);
        cs[i].base = (i * 7919L) % PERIOD;
        cs[i].open = 1;
        cs[i].ev = EPOLLIN | EPOLLOUT;
        struct epoll_event e = {.events = cs[i].ev, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e);
    }
    double t0 = now(), deadline = t0 + seconds, elapsed = 0;
    long echoed_at_stop = 0;
    int open_conns = nconns;
    struct epoll_event evs[256];
    while (open_conns) {
        if (count && !stopping) {
            int done = 1;
            for (int i = 0; i < nconns; i++) done &= cs[i].recvd == count * size;
            if (done) {
                elapsed = now() - t0;
                echoed_at_stop = count * size * nconns;
                break;
            }
        } else if (!count && !stopping && now() >= deadline) {
            stopping = 1;
            elapsed = now() - t0;
            for (int i = 0; i < nconns; i++) echoed_at_stop += cs[i].recvd;
        }
        int n = epoll_wait(ep, evs, 256, 1000);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t k = recv(c->fd, buf, BUFSZ, 0);
                if (k == 0) fail("server closed a connection");
                if (k < 0 && errno != EAGAIN) die("recv");
                if (k > 0) {
                    if (memcmp(buf, expected + (c->base + c->recvd) % PERIOD, k))
                        fail("echo differs from what was sent");
                    c->recvd += k;
                    if (c->recvd > c->sent) fail("more bytes echoed than sent");
                }
            }
            int blocked = top_up(c);
            if (stopping && c->recvd == c->sent && !blocked) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->open = 0;
                open_conns--;
                continue;
            }
            unsigned want = EPOLLIN | (blocked ? EPOLLOUT : 0);
            if (want != c->ev) {
                struct epoll_event e = {.events = want, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                c->ev = want;
            }
        }
    }
    for (int i = 0; i < nconns; i++) if (cs[i].open) close(cs[i].fd);
    printf("{\"messages\": %f, \"seconds\": %f}\n", (double)echoed_at_stop / size, elapsed);
    return 0;
}
"""


def client(address, size, conns, window, seconds, count) -> int:
    """Echo for `seconds`, or (count > 0) exactly `count` messages a
    connection; print the messages echoed and the time taken."""
    import selectors

    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    # Every connection sends the same pseudo-random stream from its own
    # offset; an echo is checked against the stream at the bytes' position.
    period = 1_000_003
    rnd = os.urandom(period)
    expected = rnd * 2 + rnd[:READ_SIZE]
    stream = memoryview(expected)
    sel = selectors.DefaultSelector()
    state = []
    for i in range(conns):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.connect(address)
        if family == socket.AF_INET:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        st = {"sock": s, "base": (i * 7919) % period, "sent": 0, "recvd": 0}
        state.append(st)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
    buf = bytearray(READ_SIZE)
    view = memoryview(buf)
    deadline = time.perf_counter() + seconds
    stopping = False
    t0 = time.perf_counter()
    open_conns = conns

    def top_up(st):
        # Send while fewer than `window` messages are unanswered (whole
        # messages only, once stopping: none).
        limit = 0 if stopping else (st["recvd"] // size + window) * size
        if count:
            limit = min(limit, count * size)
        if st["sent"] % size:
            limit = max(limit, st["sent"] + size - st["sent"] % size)
        while st["sent"] < limit:
            pos = (st["base"] + st["sent"]) % period
            n = min(limit - st["sent"], READ_SIZE)
            try:
                k = st["sock"].send(stream[pos : pos + n])
            except BlockingIOError:
                return True
            st["sent"] += k
            if k < n:
                return True
        return False

    while open_conns:
        if count and not stopping:
            # Stop once every connection has had all its messages echoed.
            if all(st["recvd"] == count * size for st in state):
                elapsed = time.perf_counter() - t0
                echoed_at_stop = count * size * conns
                for st in state:
                    st["sock"].close()
                break
        elif not stopping and time.perf_counter() >= deadline:
            stopping = True
            elapsed = time.perf_counter() - t0
            echoed_at_stop = sum(st["recvd"] for st in state)
        for key, ev in sel.select(1.0):
            st = key.data
            if ev & selectors.EVENT_READ:
                n = st["sock"].recv_into(buf)
                if n == 0:
                    sys.exit("server closed a connection")
                pos = (st["base"] + st["recvd"]) % period
                # startswith compares with memcmp and copies nothing.
                if not expected.startswith(view[:n], pos):
                    sys.exit(f"echo differs at byte {st['recvd']}")
                st["recvd"] += n
                if st["recvd"] > st["sent"]:
                    sys.exit("more bytes echoed than sent")
            blocked = top_up(st)
            if stopping and st["recvd"] == st["sent"] and not blocked:
                sel.unregister(st["sock"])
                st["sock"].close()
                open_conns -= 1
                continue
            want = selectors.EVENT_READ | (selectors.EVENT_WRITE if blocked else 0)
            if key.events != want:
                sel.modify(st["sock"], want, st)
    print(json.dumps({"messages": echoed_at_stop / size, "seconds": elapsed}))
    return 0


# --------------------------------------------------------------------------
# The parent: rounds of alternating server processes


def listening_socket(family: str, tmp: str):
    if family == "unix":
        path = os.path.join(tmp, f"echo-{os.getpid()}-{time.monotonic_ns()}.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        address = path
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        address = s.getsockname()
    s.listen(1024)
    return s, address


def pinned(cpus, which):
    """With --pin, what a child runs before exec to stay on its own CPU:
    the server on the first of `cpus`, the client on the second."""
    if not cpus:
        return None
    cpu = cpus[which]
    return lambda: os.sched_setaffinity(0, {cpu})


def run_one(impl, mode, family, size_kib, args, floors, tmp, count=0) -> dict:
    """One server of impl against one client run: {"rate", "cpu_us"}, or
    {"error"}.  args.client_cmd is the C client, or None for the Python one."""
    lsock, address = listening_socket(family, tmp)
    fd = lsock.fileno()
    if impl in FLOORS:
        cmd = [*floors[impl], str(fd)]
    else:
        cmd = [sys.executable, __file__, "--serve", impl, mode, str(fd)]
        if args.default_malloc:
            cmd.append("--default-malloc")
    cmd = args.wrap.split() + cmd
    server = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(fd,),
        text=True,
        preexec_fn=pinned(args.pin, 0),
    )
    lsock.close()
    try:
        line = server.stdout.readline()
        if line.strip() != "ready":
            return {"error": f"server did not start: {server.stderr.read()[-500:]}"}
        addr_arg = address if family == "unix" else f"{address[0]}:{address[1]}"
        client_cmd = args.client_cmd or [sys.executable, __file__, "--client"]
        proc = subprocess.run(
            [*client_cmd, addr_arg]
            + [str(size_kib * 1024), str(args.conns), str(args.window)]
            + [str(args.seconds), str(count)],
            capture_output=True,
            text=True,
            timeout=args.seconds + 60 + (600 if args.wrap else 0),
            preexec_fn=pinned(args.pin, 1),
        )
        # communicate() closes the server's stdin: its signal to stop.
        out, err = server.communicate(timeout=600 if args.wrap else 30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        if family == "unix":
            os.unlink(address)
    if proc.returncode != 0:
        return {"error": f"client: {proc.stderr.strip()[-500:]}"}
    srv = json.loads(out.strip().splitlines()[-1]) if out.strip() else None
    if server.returncode != 0 or srv is None or srv["errors"]:
        return {"error": f"server: {(srv or {}).get('errors')} {err.strip()[-500:]}"}
    cli = json.loads(proc.stdout.strip().splitlines()[-1])
    rate = cli["messages"] / cli["seconds"]
    # Server CPU while serving, per message echoed in the measured window
    # (the drain after it is a few windows of messages at most).
    return {"rate": rate, "cpu_us": 1e6 * srv["cpu"] / max(cli["messages"], 1)}


def callgrind_ir(impl, cfg, args, floors, tmp, count) -> int | str:
    """The server's instructions (user space) for `count` messages a
    connection, under callgrind; or an error message."""
    out = os.path.join(tmp, f"callgrind.{impl}.{count}.out")
    args.wrap = f"valgrind --tool=callgrind --callgrind-out-file={out}"
    try:
        r = run_one(impl, *cfg, args, floors, tmp, count=count)
    finally:
        args.wrap = ""
    if "error" in r:
        return r["error"]
    with open(out, encoding="utf-8") as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    return "no totals in the callgrind output"


def callgrind_run(args, impls, configs, floors, tmp) -> int:
    """Instructions per message: the difference between runs of N and 2N
    messages a connection, so start-up and shutdown cancel out."""
    if not shutil.which("valgrind"):
        print("valgrind is not installed")
        return 1
    n = args.callgrind
    rows, failed = [], 0
    for cfg in configs:
        row = [*map(str, cfg)]
        for impl in impls:
            if impl in FLOORS and cfg[0] != configs[0][0]:
                row.append("")
                continue
            a = callgrind_ir(impl, cfg, args, floors, tmp, n)
            b = callgrind_ir(impl, cfg, args, floors, tmp, 2 * n)
            if isinstance(a, str) or isinstance(b, str):
                print(f"{cfg} {impl} FAILED: {a if isinstance(a, str) else b}")
                failed += 1
                row.append("FAILED")
                continue
            per = (b - a) / (n * args.conns)
            print(
                f"{' '.join(row[:3])} {impl}: {per:,.0f} instructions/message",
                flush=True,
            )
            row.append(f"{per / 1000:,.1f}k")
        rows.append(row)
    head = ["mode", "family", "KiB", *impls]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print("\nserver instructions per message (callgrind, user space only):")
    for r in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    return 1 if failed else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0, help="client time per run")
    p.add_argument(
        "--impls",
        default=",".join(DEFAULT_IMPLS),
        help=f"from {','.join(IMPLS)} (default: %(default)s)",
    )
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--sizes", default="1,10,100", help="message sizes in KiB")
    p.add_argument("--conns", type=int, default=10)
    p.add_argument("--window", type=int, default=4, help="messages in flight")
    p.add_argument(
        "--wrap",
        default="",
        metavar="CMD",
        help="run each server under CMD, e.g. 'perf record -g -o FILE --' or"
        " 'valgrind --tool=callgrind --callgrind-out-file=FILE'",
    )
    p.add_argument(
        "--callgrind",
        type=int,
        default=0,
        metavar="N",
        help="instead of timing: count the server's instructions per message"
        " under callgrind (runs of N and 2N messages a connection)",
    )
    p.add_argument(
        "--py-client",
        action="store_true",
        help="use the Python client even when the C one can be built",
    )
    p.add_argument(
        "--default-malloc",
        action="store_true",
        help="serve with glibc's malloc as a fresh process has it, rather than"
        " settled the same way for every implementation (servers.settle_malloc)",
    )
    p.add_argument(
        "--pin",
        action="store_true",
        help="run each server on one CPU and the client on another"
        " (sched_setaffinity), so that neither moves between runs",
    )
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            p.error("--pin needs two CPUs")
        args.pin = cpus[:2]
    impls = [i for i in args.impls.split(",") if i]
    modes = [m for m in args.modes.split(",") if m]
    families = [f for f in args.families.split(",") if f]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if (
        set(impls) - set(IMPLS)
        or set(modes) - set(MODES)
        or set(families) - set(FAMILIES)
    ):
        p.error(f"choose from {IMPLS}, {MODES}, {FAMILIES}")

    tmp = tempfile.mkdtemp(prefix="casyncio-echo-")
    args.client_cmd = None
    if not args.py_client:
        args.client_cmd, why = build_client(tmp)
        print(
            f"client: {why}"
            + ("" if args.client_cmd else ": the Python client is used")
        )
    floors = {}
    for impl in [i for i in impls if i in FLOORS]:
        floors[impl], why = build_limit(tmp, impl)
        print(
            f"{impl}: {why}" + ("" if floors[impl] else f": the {impl} row is skipped")
        )
        if floors[impl] is None:
            impls.remove(impl)
    for impl in [i for i in impls if i not in FLOORS]:
        err = probe(impl)
        if err:
            print(f"{impl} cannot be used ({err}): skipped")
            impls.remove(impl)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; {args.conns} connections,"
        f" {args.window} messages in flight each, "
        + (
            f"{args.callgrind} then {2 * args.callgrind} messages each under callgrind"
            if args.callgrind
            else f"{args.seconds:g} s per run, {args.rounds} round(s)"
        )
        + (
            f"; server on CPU {args.pin[0]}, client on CPU {args.pin[1]}"
            if args.pin
            else ""
        ),
        flush=True,
    )
    configs = [(m, f, s) for f in families for s in sizes for m in modes]
    if args.callgrind:
        rc = callgrind_run(args, impls, configs, floors, tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        return rc
    results: dict = {}
    failures = []
    for rnd in range(1, args.rounds + 1):
        for cfg in configs:
            for impl in impls:
                if impl in FLOORS and cfg[0] != modes[0]:
                    continue  # one floor figure per (family, size)
                r = run_one(impl, *cfg, args, floors, tmp)
                label = f"round {rnd} {cfg[0]:<8} {cfg[1]:<4} {cfg[2]:>3} KiB {impl:<8}"
                if "error" in r:
                    failures.append((label, r["error"]))
                    print(f"{label} FAILED: {r['error']}", file=sys.stderr)
                    continue
                results.setdefault((cfg, impl), []).append(r)
                print(
                    f"{label} {r['rate']:9.0f} msg/s  {r['cpu_us']:7.1f} us/msg",
                    file=sys.stderr,
                    flush=True,
                )
    # A floor's row stands under the first mode of each (family, size).
    for (cfg, impl), rs in list(results.items()):
        if impl in FLOORS:
            for m in modes[1:]:
                results[((m, cfg[1], cfg[2]), impl)] = rs
    shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(ratio_table(results, configs, ("mode", "family", "KiB"), impls, "msg"))
    print(
        "\nmsg/s: echoed messages per second seen by the client (median of the"
        " rounds);\nus/msg: server CPU microseconds per message; X/Y: how many times"
        " faster X is (cpu X/Y: in server CPU per message)."
    )
    if args.json:
        doc = {f"{c[0]} {c[1]} {c[2]} {i}": rs for (c, i), rs in results.items()}
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    for label, err in failures:
        print(f"FAILED {label}: {err}")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        sys.exit(
            serve(
                sys.argv[2],
                sys.argv[3],
                int(sys.argv[4]),
                settle="--default-malloc" not in sys.argv[5:],
            )
        )
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        addr = sys.argv[2]
        if ":" in addr and not addr.startswith("/"):
            host, port = addr.rsplit(":", 1)
            addr = (host, int(port))
        size, conns, window = map(int, sys.argv[3:6])
        sys.exit(
            client(addr, size, conns, window, float(sys.argv[6]), int(sys.argv[7]))
        )
    sys.exit(main())
