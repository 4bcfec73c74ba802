"""The loop's sock_* methods: recv, recv_into, recvfrom, recvfrom_into,
sendall, sendto, connect, accept and sendfile, on both implementations."""

import asyncio
import errno
import gc
import io
import os
import random
import socket
import struct
import sys
import threading
import weakref

import pytest
from support import HAS_IPV6, TracedSocket

needs_ipv6 = pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 loopback")
needs_unix = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no AF_UNIX")


def nonblocking(sock):
    sock.setblocking(False)
    return sock


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield nonblocking(a), nonblocking(b)
    a.close()
    b.close()


@pytest.fixture
def tcp_pair():
    """A connected non-blocking TCP pair (client, server side)."""
    with socket.create_server(("127.0.0.1", 0)) as srv:
        client = socket.create_connection(srv.getsockname())
        conn, _ = srv.accept()
    yield nonblocking(client), nonblocking(conn)
    client.close()
    conn.close()


def run(loop, coro, timeout=10):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


async def until(predicate, timeout=5):
    """Give the loop iterations until predicate() holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition never became true"
        await asyncio.sleep(0.001)


def listener(family, tmp_path):
    if family == socket.AF_UNIX:
        path = str(tmp_path / "sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
    else:
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        srv = socket.socket(family, socket.SOCK_STREAM)
        srv.bind((host, 0))
    srv.listen(5)
    return nonblocking(srv)


# ---- echo with sock_* on both ends ----


@pytest.mark.parametrize(
    "family",
    [
        socket.AF_INET,
        pytest.param(socket.AF_INET6, marks=needs_ipv6),
        pytest.param(getattr(socket, "AF_UNIX", None), marks=needs_unix),
    ],
    ids=["ipv4", "ipv6", "unix"],
)
def test_echo(loop, family, tmp_path):
    srv = listener(family, tmp_path)
    messages = [b"hello", b"x" * 100_000, b"bye"]

    async def server():
        conn, addr = await loop.sock_accept(srv)
        with conn:
            assert conn.gettimeout() == 0
            while data := await loop.sock_recv(conn, 65536):
                await loop.sock_sendall(conn, data)
        return addr

    async def client():
        with nonblocking(socket.socket(family, socket.SOCK_STREAM)) as c:
            await loop.sock_connect(c, srv.getsockname())
            echoed = []
            for msg in messages:
                await loop.sock_sendall(c, msg)
                got = b""
                while len(got) < len(msg):
                    got += await loop.sock_recv(c, 65536)
                echoed.append(got)
            c.shutdown(socket.SHUT_WR)
            assert await loop.sock_recv(c, 10) == b""
            return echoed, c.getsockname()

    async def main():
        return await asyncio.gather(server(), client())

    with srv:
        peer, (echoed, client_name) = run(loop, main())
    assert echoed == messages
    if family != socket.AF_UNIX:
        assert peer == client_name


def test_sock_methods_return_awaitables_usable_as_coroutines(loop, pair):
    a, b = pair

    async def main():
        op = loop.sock_recv(a, 10)
        assert asyncio.iscoroutine(op)
        task = asyncio.ensure_future(op)
        await asyncio.sleep(0.01)
        assert not task.done()
        b.send(b"abc")
        return await task

    assert run(loop, main()) == b"abc"


def test_nothing_happens_before_await(loop, pair):
    a, b = pair
    b.send(b"data")
    op = loop.sock_recv(a, 100)
    op.close()  # never awaited: must read nothing
    assert a.recv(100) == b"data"


def test_keyword_arguments(loop, pair):
    a, b = pair

    async def main():
        await loop.sock_sendall(sock=b, data=b"kw")
        return await loop.sock_recv(sock=a, n=10)

    assert run(loop, main()) == b"kw"


# ---- large transfers, partial writes ----


def test_sendall_50_mib_byte_for_byte(loop, pair):
    a, b = pair
    payload = random.Random(1).randbytes(50 * 1024 * 1024)

    async def receive():
        buf = bytearray(len(payload))
        view = memoryview(buf)
        got = 0
        while got < len(buf):
            n = await loop.sock_recv_into(a, view[got:])
            assert n > 0
            got += n
        return bytes(buf)

    async def main():
        sender = asyncio.ensure_future(loop.sock_sendall(b, payload))
        await asyncio.sleep(0.01)
        # The socket buffer is far smaller: the send is partial and waits.
        assert not sender.done()
        received = await receive()
        assert await sender is None
        return received

    assert run(loop, main(), timeout=60) == payload


def test_recv_large_n_returns_exact_bytes(loop, pair):
    a, b = pair
    b.send(b"q" * 1000)

    async def main():
        return await loop.sock_recv(a, 4 * 1024 * 1024)

    data = run(loop, main())
    assert type(data) is bytes and data == b"q" * 1000


def test_recv_zero_and_negative(loop, pair):
    a, _ = pair
    assert run(loop, loop.sock_recv(a, 0)) == b""
    with pytest.raises(ValueError, match="negative buffersize"):
        run(loop, loop.sock_recv(a, -1))


def test_cancelled_sendall_stops_writing(loop, pair):
    a, b = pair
    payload = b"z" * (16 * 1024 * 1024)

    async def drain():
        total = 0
        while True:
            try:
                total += len(a.recv(1 << 20))
            except BlockingIOError:
                return total

    async def main():
        sender = asyncio.ensure_future(loop.sock_sendall(b, payload))
        await asyncio.sleep(0.01)
        assert not sender.done()
        sender.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sender
        assert loop.remove_writer(b.fileno()) is False
        first = await drain()
        await asyncio.sleep(0.05)
        later = await drain()
        return first, later

    first, later = run(loop, main())
    assert 0 < first < len(payload)
    assert later == 0


# ---- datagrams ----


def udp(family, host):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, 0))
    return nonblocking(s)


@pytest.mark.parametrize(
    "family,host",
    [
        (socket.AF_INET, "127.0.0.1"),
        pytest.param(socket.AF_INET6, "::1", marks=needs_ipv6),
    ],
    ids=["ipv4", "ipv6"],
)
def test_sendto_recvfrom_address_format(loop, family, host):
    with udp(family, host) as r, udp(family, host) as s:

        async def main():
            pending = asyncio.ensure_future(loop.sock_recvfrom(r, 100))
            await asyncio.sleep(0.01)
            assert not pending.done()
            sent = await loop.sock_sendto(s, b"datagram", r.getsockname())
            return sent, await pending

        sent, (data, addr) = run(loop, main())
        assert sent == 8
        assert data == b"datagram"
        assert addr == s.getsockname()
        assert len(addr) == (4 if family == socket.AF_INET6 else 2)


@needs_unix
def test_unix_datagram_address_is_path(loop, tmp_path):
    rpath, spath = str(tmp_path / "r"), str(tmp_path / "s")
    with (
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as r,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s,
    ):
        r.bind(rpath)
        s.bind(spath)
        nonblocking(r), nonblocking(s)

        async def main():
            await loop.sock_sendto(s, b"u", rpath)
            return await loop.sock_recvfrom(r, 10)

        assert run(loop, main()) == (b"u", spath)


def test_recvfrom_into_with_nbytes(loop):
    with udp(socket.AF_INET, "127.0.0.1") as r, udp(socket.AF_INET, "127.0.0.1") as s:

        async def main():
            buf = bytearray(10)
            pending = asyncio.ensure_future(loop.sock_recvfrom_into(r, buf, 3))
            await asyncio.sleep(0.01)
            await loop.sock_sendto(s, b"abcdef", r.getsockname())
            first = await pending
            await loop.sock_sendto(s, b"123456", r.getsockname())
            whole = await loop.sock_recvfrom_into(r, buf)  # nbytes=0: len(buf)
            return first, whole, bytes(buf)

        first, whole, buf = run(loop, main())
        assert first == (3, s.getsockname())
        assert whole == (6, s.getsockname())
        assert buf == b"123456\0\0\0\0"


def test_recv_into_waits_then_fills_buffer(loop, pair):
    a, b = pair

    async def main():
        buf = bytearray(8)
        pending = asyncio.ensure_future(loop.sock_recv_into(a, memoryview(buf)[2:]))
        await asyncio.sleep(0.01)
        assert not pending.done()
        b.send(b"xyz")
        return await pending, bytes(buf)

    assert run(loop, main()) == (3, b"\0\0xyz\0\0\0")


def test_recv_into_read_only_buffer_is_type_error(loop, pair):
    a, b = pair
    b.send(b"x")
    with pytest.raises(TypeError):
        run(loop, loop.sock_recv_into(a, b"immutable"))


def test_sendall_str_is_type_error(loop, pair):
    _, b = pair
    with pytest.raises(TypeError):
        run(loop, loop.sock_sendall(b, "text"))


# ---- a socket.socket subclass: its own methods are called ----


def test_socket_subclass_methods_are_called(loop, pair):
    a, b = pair
    traced = nonblocking(TracedSocket(fileno=os.dup(a.fileno())))
    traced.faults["send"] = [4] * 3

    async def main():
        await loop.sock_sendall(traced, b"0123456789")
        sent = b.recv(100)
        b.send(b"abc")
        got = await loop.sock_recv(traced, 10)
        buf = bytearray(5)
        pending = asyncio.ensure_future(loop.sock_recv_into(traced, buf))
        await asyncio.sleep(0.01)
        b.send(b"xy")
        return sent, got, await pending, bytes(buf)

    try:
        assert run(loop, main()) == (b"0123456789", b"abc", 2, b"xy\0\0\0")
    finally:
        traced.close()
    # sendall: the data, then what is left of it after each partial send;
    # recv_into: tried at once (nothing there), then when data came.
    assert traced.calls == [
        ("send", 10),
        ("send", 6),
        ("send", 2),
        ("recv", 10),
        ("recv_into", 5),
        ("recv_into", 5),
    ]


# ---- accept and connect ----


def test_accept_returns_nonblocking_socket(loop):
    with listener(socket.AF_INET, None) as srv:

        async def main():
            accepting = asyncio.ensure_future(loop.sock_accept(srv))
            await asyncio.sleep(0.01)
            assert not accepting.done()
            with socket.create_connection(srv.getsockname()) as c:
                conn, addr = await accepting
                with conn:
                    return type(conn), conn.gettimeout(), addr, c.getsockname()

        kind, timeout, addr, client_name = run(loop, main())
    assert kind is socket.socket
    assert timeout == 0
    assert addr == client_name


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connect_to_closed_port_is_refused(loop):
    port = closed_port()
    with nonblocking(socket.socket()) as c:
        with pytest.raises(ConnectionRefusedError) as info:
            run(loop, loop.sock_connect(c, ("127.0.0.1", port)))
    assert info.value.errno == errno.ECONNREFUSED


def test_connect_resolves_hostname(loop):
    with listener(socket.AF_INET, None) as srv:
        port = srv.getsockname()[1]

        async def main():
            with nonblocking(socket.socket()) as c:
                await loop.sock_connect(c, ("localhost", port))
                conn, _ = await loop.sock_accept(srv)
                with conn:
                    await loop.sock_sendall(c, b"resolved")
                    return c.getpeername(), await loop.sock_recv(conn, 100)

        peer, data = run(loop, main())
    assert peer == ("127.0.0.1", port)
    assert data == b"resolved"


def test_peer_reset_is_connection_reset_error(loop, tcp_pair):
    client, server = tcp_pair

    async def main():
        pending = asyncio.ensure_future(loop.sock_recv(client, 100))
        await asyncio.sleep(0.01)
        assert not pending.done()
        # SO_LINGER with a zero timeout: close() sends RST.
        server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        server.close()
        return await pending

    with pytest.raises(ConnectionResetError) as info:
        run(loop, main())
    assert info.value.errno == errno.ECONNRESET
    assert loop.remove_reader(client.fileno()) is False


def test_sendall_to_closed_peer_is_broken_pipe(loop, pair):
    a, b = pair
    a.close()
    with pytest.raises(BrokenPipeError):
        run(loop, loop.sock_sendall(b, b"nobody listens"))


# ---- cancellation and registrations ----


def test_cancelled_recv_loses_no_data_and_leaves_no_reader(loop, pair):
    a, b = pair

    async def main():
        pending = asyncio.ensure_future(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        no_reader = loop.remove_reader(a.fileno()) is False
        b.send(b"after cancel")
        await asyncio.sleep(0.01)
        return no_reader, await loop.sock_recv(a, 100)

    assert run(loop, main()) == (True, b"after cancel")


def test_add_reader_after_cancelled_recv(loop, pair):
    a, b = pair

    async def main():
        pending = asyncio.ensure_future(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)
        readable = loop.create_future()
        loop.add_reader(a.fileno(), readable.set_result, "readable")
        b.send(b"x")
        result = await readable
        assert loop.remove_reader(a.fileno()) is True
        return result, a.recv(10)

    assert run(loop, main()) == ("readable", b"x")


def test_cancel_when_data_arrives_in_same_iteration(loop, pair):
    a, b = pair

    async def main():
        pending = asyncio.ensure_future(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        b.send(b"raced")
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        return a.recv(100)

    assert run(loop, main()) == b"raced"


def test_cancel_queued_before_the_poll_that_sees_data(loop, pair):
    # The cancel is queued before the poll that reports the data: it runs
    # first, as asyncio runs it before the reader's Handle, so the
    # cancelled recv reads nothing.
    a, b = pair

    async def main():
        pending = asyncio.ensure_future(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        loop.call_soon(pending.cancel)
        b.send(b"raced")
        with pytest.raises(asyncio.CancelledError):
            await pending
        return a.recv(100)

    assert run(loop, main()) == b"raced"


def test_second_recv_on_same_socket_replaces_the_first(loop, pair):
    a, b = pair

    async def main():
        first = asyncio.ensure_future(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        b.send(b"for the second")
        data = await second
        await asyncio.sleep(0.01)
        still_pending = not first.done()
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        return data, still_pending, loop.remove_reader(a.fileno())

    assert run(loop, main()) == (b"for the second", True, False)


def test_timeout_around_recv(loop, pair):
    a, b = pair

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(loop.sock_recv(a, 10), 0.01)
        b.send(b"later")
        return await loop.sock_recv(a, 10)

    assert run(loop, main()) == b"later"


def test_remove_reader_during_recv_leaves_it_pending(loop, pair):
    a, b = pair

    async def main():
        pending = asyncio.ensure_future(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        removed = loop.remove_reader(a.fileno())
        b.send(b"unread")
        await asyncio.sleep(0.02)
        done = pending.done()
        pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)
        return removed, done, a.recv(100)

    assert run(loop, main()) == (True, False, b"unread")


# ---- argument checks, closed loop, closed socket ----


def blocking_calls(loop, sock):
    return {
        "sock_recv": lambda: loop.sock_recv(sock, 1),
        "sock_recv_into": lambda: loop.sock_recv_into(sock, bytearray(1)),
        "sock_recvfrom": lambda: loop.sock_recvfrom(sock, 1),
        "sock_recvfrom_into": lambda: loop.sock_recvfrom_into(sock, bytearray(1)),
        "sock_sendall": lambda: loop.sock_sendall(sock, b"x"),
        "sock_sendto": lambda: loop.sock_sendto(sock, b"x", ("127.0.0.1", 9)),
        "sock_connect": lambda: loop.sock_connect(sock, ("127.0.0.1", 9)),
        "sock_accept": lambda: loop.sock_accept(sock),
        "sock_sendfile": lambda: loop.sock_sendfile(sock, io.BytesIO(b"x")),
    }


@pytest.mark.parametrize("method", sorted(blocking_calls(None, None)))
def test_blocking_socket_in_debug_mode_is_value_error(loop, method):
    loop.set_debug(True)
    with socket.socket() as sock:  # blocking: gettimeout() is None
        with pytest.raises(ValueError, match="^the socket must be non-blocking$"):
            run(loop, blocking_calls(loop, sock)[method]())


def test_ssl_socket_is_type_error(loop):
    ssl = pytest.importorskip("ssl")
    ctx = ssl.create_default_context()
    with ctx.wrap_socket(
        socket.socket(), do_handshake_on_connect=False, server_hostname="x"
    ) as sock:
        with pytest.raises(TypeError, match="SSLSocket"):
            run(loop, loop.sock_recv(sock, 1))


def test_closed_loop_recv_without_data_raises(new_loop, pair):
    a, b = pair
    closed = new_loop()
    closed.close()
    other = new_loop()
    with pytest.raises(RuntimeError, match="^Event loop is closed$"):
        other.run_until_complete(closed.sock_recv(a, 10))
    # With data ready the system call succeeds first, as on asyncio.
    b.send(b"ready")
    assert other.run_until_complete(closed.sock_recv(a, 10)) == b"ready"


def test_closed_socket_is_ebadf(loop):
    sock = socket.socket()
    sock.setblocking(False)
    sock.close()
    with pytest.raises(OSError) as info:
        run(loop, loop.sock_recv(sock, 1))
    assert info.value.errno == errno.EBADF


def test_loop_close_with_pending_operations_releases_them(new_loop, pair):
    a, b = pair
    loop = new_loop()
    tasks = []

    async def start():
        tasks.append(asyncio.ensure_future(loop.sock_recv(b, 10)))
        tasks.append(asyncio.ensure_future(loop.sock_sendall(b, b"w" * (8 << 20))))
        await asyncio.sleep(0.01)

    loop.run_until_complete(start())
    assert not any(t.done() for t in tasks)
    tracked = [weakref.ref(t) for t in tasks]
    loop.close()
    del tasks[:]
    gc.collect()
    assert [r() for r in tracked] == [None, None]
    # The fds are free for another loop.
    other = new_loop()
    assert other.run_until_complete(other.sock_recv(a, 10)) == b"w" * 10


# ---- sendfile ----


@pytest.fixture
def datafile(tmp_path):
    data = random.Random(2).randbytes(3 * 1024 * 1024 + 17)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    return path, data


async def recv_all(loop, sock, n):
    got = bytearray()
    while len(got) < n:
        chunk = await loop.sock_recv(sock, 1 << 18)
        if not chunk:
            break
        got += chunk
    return bytes(got)


def test_sendfile_regular_file_uses_os_sendfile(loop, tcp_pair, datafile, monkeypatch):
    client, server = tcp_pair
    path, data = datafile
    fallbacks = []
    monkeypatch.setattr(
        loop, "_sock_sendfile_fallback", lambda *a: fallbacks.append(a), raising=False
    )

    async def main(f):
        sending = asyncio.ensure_future(
            loop.sock_sendfile(client, f, 5, len(data) - 10)
        )
        received = await recv_all(loop, server, len(data) - 10)
        return await sending, received, f.tell()

    with open(path, "rb") as f:
        sent, received, pos = run(loop, main(f), timeout=30)
    assert fallbacks == []
    assert sent == len(data) - 10
    assert received == data[5:-5]
    assert pos == len(data) - 5


def test_sendfile_whole_file(loop, tcp_pair, datafile):
    client, server = tcp_pair
    path, data = datafile

    async def main(f):
        sending = asyncio.ensure_future(loop.sock_sendfile(client, f))
        received = await recv_all(loop, server, len(data))
        return await sending, received

    with open(path, "rb") as f:
        assert run(loop, main(f), timeout=30) == (len(data), data)


def test_sendfile_fallback_for_file_without_fileno(loop, tcp_pair):
    client, server = tcp_pair
    data = b"0123456789" * 50_000
    f = io.BytesIO(data)

    async def main():
        sending = asyncio.ensure_future(loop.sock_sendfile(client, f, 10, 1000))
        received = await recv_all(loop, server, 1000)
        return await sending, received

    assert run(loop, main()) == (1000, data[10:1010])
    assert f.tell() == 1010


def test_sendfile_without_fallback_raises(loop, tcp_pair):
    client, _ = tcp_pair
    with pytest.raises(asyncio.SendfileNotAvailableError):
        run(loop, loop.sock_sendfile(client, io.BytesIO(b"x"), fallback=False))


def test_sendfile_empty_file(loop, tcp_pair, tmp_path):
    client, _ = tcp_pair
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with open(path, "rb") as f:
        assert run(loop, loop.sock_sendfile(client, f)) == 0


@pytest.mark.parametrize(
    "kwargs,exc,message",
    [
        ({"count": 0}, ValueError, "count must be a positive integer"),
        ({"count": "1"}, TypeError, "count must be a positive integer"),
        ({"offset": -1}, ValueError, "offset must be a non-negative integer"),
        ({"offset": 1.0}, TypeError, "offset must be a non-negative integer"),
    ],
)
def test_sendfile_argument_checks(loop, tcp_pair, kwargs, exc, message):
    client, _ = tcp_pair
    with pytest.raises(exc, match=message):
        run(loop, loop.sock_sendfile(client, io.BytesIO(b"x"), **kwargs))


def test_sendfile_text_file_and_datagram_socket(loop, tcp_pair, tmp_path):
    client, _ = tcp_pair
    path = tmp_path / "t.txt"
    path.write_text("text")
    with open(path) as f, pytest.raises(ValueError, match="binary mode"):
        run(loop, loop.sock_sendfile(client, f))
    with (
        udp(socket.AF_INET, "127.0.0.1") as u,
        pytest.raises(ValueError, match="SOCK_STREAM"),
    ):
        run(loop, loop.sock_sendfile(u, io.BytesIO(b"x")))


def test_sendfile_to_closed_socket_falls_back_then_fails(loop, tcp_pair, datafile):
    client, _ = tcp_pair
    path, _ = datafile
    client.close()
    with open(path, "rb") as f, pytest.raises(OSError) as info:
        run(loop, loop.sock_sendfile(client, f))
    assert info.value.errno == errno.EBADF


# ---- registrations left behind by completed operations ----


def test_reader_and_writer_operations_on_one_socket(loop, pair):
    a, b = pair
    payload = b"d" * (8 << 20)

    async def main():
        sending = asyncio.ensure_future(loop.sock_sendall(a, payload))
        receiving = asyncio.ensure_future(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        assert not sending.done() and not receiving.done()
        b.send(b"reply")  # a becomes readable while its write still waits
        got = await receiving
        drained = await recv_all(loop, b, len(payload))
        await sending
        return got, drained == payload

    assert run(loop, main()) == (b"reply", True)


def test_closed_socket_with_live_duplicate_does_not_wake_the_loop(loop, pair):
    import time

    a, b = pair
    dup = a.dup()  # keeps the socket open after a.close()
    try:

        async def main():
            b.send(b"1")
            await loop.sock_recv(a, 10)
            pending = asyncio.ensure_future(loop.sock_recv(a, 10))
            await asyncio.sleep(0.01)
            b.send(b"2")
            await pending
            a.close()
            b.send(b"unread")  # readable through dup, which nobody watches
            cpu = time.process_time()
            await asyncio.sleep(0.2)
            return time.process_time() - cpu

        assert run(loop, main()) < 0.1  # the loop slept, it did not spin
        assert dup.recv(100) == b"unread"
    finally:
        dup.close()


def test_fd_number_reused_after_completed_operation(loop):
    async def main():
        a, b = socket.socketpair()
        nonblocking(a), nonblocking(b)
        pending = asyncio.ensure_future(loop.sock_recv(a, 10))
        await asyncio.sleep(0.01)
        b.send(b"first")
        assert await pending == b"first"
        fd = a.fileno()
        a.close()
        b.close()
        c, d = socket.socketpair()
        with c, d:
            nonblocking(c), nonblocking(d)
            reused = fd in (c.fileno(), d.fileno())
            reader, writer = (c, d) if c.fileno() == fd else (d, c)
            pending = asyncio.ensure_future(loop.sock_recv(reader, 10))
            await asyncio.sleep(0.01)
            writer.send(b"second")
            got = await pending
            readable = loop.create_future()
            loop.add_reader(reader.fileno(), readable.set_result, True)
            writer.send(b"x")
            await readable
            loop.remove_reader(reader.fileno())
            return reused, got

    reused, got = run(loop, main())
    assert got == b"second"
    assert reused  # the test means nothing otherwise


# ---- a socket whose fd a transport owns ----


def test_fd_used_by_transport_raises_when_the_call_would_block(loop):
    # As asyncio's _ensure_fd_no_transport: checked only once the system call
    # would block (a call that completes at once never asks), on every Python.
    a, b = socket.socketpair()

    async def main():
        tr, _ = await loop.connect_accepted_socket(asyncio.Protocol, a)
        raw = socket.socket(fileno=a.fileno())
        raw.setblocking(False)
        try:
            await loop.sock_sendall(raw, b"x")  # room in the buffer: sent
            with pytest.raises(RuntimeError) as info:
                await loop.sock_recv(raw, 10)  # nothing to read: would block
            fd = a.fileno()
            assert (
                str(info.value) == f"File descriptor {fd} is used by transport {tr!r}"
            )
            while True:  # fill the send buffer so that sendall would block
                try:
                    raw.send(b"y" * 65536)
                except BlockingIOError:
                    break
            with pytest.raises(RuntimeError, match=f"^File descriptor {fd} is used by"):
                await loop.sock_sendall(raw, b"z" * 65536)
        finally:
            raw.detach()
            tr.close()
        await asyncio.sleep(0)

    run(loop, main())
    assert b.recv(1) == b"x"
    b.close()


@pytest.mark.parametrize("n", [100_000, 1 << 20])
def test_recv_large_stream_byte_for_byte(loop, n):
    # Large reads go straight into the bytes object returned (a different
    # path from small ones): every byte, never more than n at a time.
    payload = random.Random(n).randbytes(16 << 20)
    with socket.create_server(("127.0.0.1", 0)) as srv:
        sender = socket.create_connection(srv.getsockname())
        conn, _ = srv.accept()
    conn.setblocking(False)

    def send():
        with sender:
            sender.sendall(payload)

    async def main():
        got = bytearray()
        sizes = set()
        while chunk := await loop.sock_recv(conn, n):
            assert isinstance(chunk, bytes) and len(chunk) <= n
            sizes.add(len(chunk))
            got += chunk
        return bytes(got), sizes

    thread = threading.Thread(target=send)
    thread.start()
    try:
        got, sizes = run(loop, main(), timeout=60)
    finally:
        thread.join()
        conn.close()
    assert got == payload
    assert max(sizes) >= 16 * 1024  # the large-read path was taken


SOCK_METHODS = (
    "sock_recv",
    "sock_recv_into",
    "sock_recvfrom",
    "sock_recvfrom_into",
    "sock_sendall",
    "sock_sendto",
    "sock_accept",
    "sock_connect",
    "sock_sendfile",
)


@pytest.mark.parametrize("name", SOCK_METHODS)
def test_sock_methods_are_coroutine_functions_to_inspect(impl, loop, name):
    """asyncio's sock_* are `async def`; casyncio's C ones are marked
    (inspect.markcoroutinefunction) from 3.12 on, which 3.11 lacks."""
    import inspect

    expected = (
        impl == "asyncio"
        or sys.version_info >= (3, 12)
        or name
        in (
            "sock_connect",
            "sock_sendfile",  # Python coroutines on casyncio too
        )
    )
    assert inspect.iscoroutinefunction(getattr(loop, name)) is expected
