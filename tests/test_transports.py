"""Stream transports and servers: create_connection, create_server,
create_unix_connection, create_unix_server and connect_accepted_socket with
Protocol and BufferedProtocol, on casyncio and on stock asyncio."""

import asyncio
import contextlib
import gc
import os
import socket
import struct
import sys
import warnings

import pytest
from support import HAS_IPV6, TracedSocket

needs_ipv6 = pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 loopback")
needs_unix = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no AF_UNIX")

FAMILIES = pytest.mark.parametrize(
    "family",
    [
        "ipv4",
        pytest.param("ipv6", marks=needs_ipv6),
        pytest.param("unix", marks=needs_unix),
    ],
)


def run(loop, coro, timeout=20):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


class Served:
    """A server on an ephemeral address and the protocols it made."""

    def __init__(self, loop, server, connect, made):
        self.loop = loop
        self.server = server
        self.made = made  # server-side protocols, in accept order
        self._connect = connect

    async def connect(self, factory=None, **kw):
        """A client connection: (transport, protocol), a Recorder by default."""
        factory = factory or (lambda: Recorder(self.loop))
        return await self._connect(factory, **kw)

    async def accepted(self, n=1, timeout=5):
        """The n-th server-side protocol, once the server has made it."""
        deadline = self.loop.time() + timeout
        while len(self.made) < n:
            assert self.loop.time() < deadline, f"{len(self.made)} of {n} accepted"
            await asyncio.sleep(0.001)
        return self.made[n - 1]


@contextlib.asynccontextmanager
async def served(loop, make=None, family="ipv4", tmp_path=None, **kw):
    """A server whose protocols come from make() (a Recorder by default),
    closed and waited for on the way out."""
    made = []

    def factory():
        p = make() if make else Recorder(loop)
        made.append(p)
        return p

    if family == "unix":
        path = str(tmp_path / "s.sock")
        server = await loop.create_unix_server(factory, path, **kw)

        def connect(client_factory, **ckw):
            return loop.create_unix_connection(client_factory, path, **ckw)

    else:
        if "sock" not in kw:
            kw.update(host="::1" if family == "ipv6" else "127.0.0.1", port=0)
        server = await loop.create_server(factory, **kw)
        addr = server.sockets[0].getsockname()[:2]

        def connect(client_factory, **ckw):
            return loop.create_connection(client_factory, *addr, **ckw)

    try:
        yield Served(loop, server, connect, made)
    finally:
        server.close()
        await server.wait_closed()


class Recorder(asyncio.Protocol):
    """Records every callback; `done` resolves at connection_lost."""

    def __init__(self, loop, echo=False, eof_result=None):
        self.loop = loop
        self.echo = echo
        self.eof_result = eof_result
        self.transport = None
        self.data = bytearray()
        self.events = []
        self.lost = []
        self.done = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")

    def data_received(self, data):
        assert isinstance(data, bytes)
        self.data += data
        if self.echo:
            self.transport.write(data)

    def eof_received(self):
        self.events.append("eof")
        return self.eof_result

    def pause_writing(self):
        self.events.append("pause")

    def resume_writing(self):
        self.events.append("resume")

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost.append(exc)
        if not self.done.done():
            self.done.set_result(exc)


class BufferedEcho(asyncio.BufferedProtocol):
    def __init__(self, loop):
        self.buf = bytearray(1000)
        self.lost = []
        self.done = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        assert sizehint == -1
        return self.buf

    def buffer_updated(self, nbytes):
        self.transport.write(bytes(self.buf[:nbytes]))

    def eof_received(self):
        return None

    def connection_lost(self, exc):
        self.lost.append(exc)
        self.done.set_result(exc)


async def read_exactly(proto, n, timeout=10):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(proto.data) < n:
        assert loop.time() < deadline, f"got {len(proto.data)} of {n} bytes"
        await asyncio.sleep(0.001)
    return bytes(proto.data)


# ---- echo ----


@FAMILIES
@pytest.mark.parametrize("style", ["protocol", "buffered"])
def test_echo(loop, family, style, tmp_path):
    def make():
        return Recorder(loop, echo=True) if style == "protocol" else BufferedEcho(loop)

    async def main():
        async with served(loop, make, family, tmp_path) as srv:
            tr, client = await srv.connect()
            assert isinstance(tr, asyncio.Transport)
            assert client.transport is tr and client.events == ["made"]
            messages = [b"hello", bytes(range(256)) * 400, b"bye"]
            for m in messages:
                tr.write(m)
            tr.writelines([b"a", bytearray(b"b"), memoryview(b"c")])
            total = sum(map(len, messages)) + 3
            echoed = await read_exactly(client, total)
            assert echoed == b"".join(messages) + b"abc"
            tr.close()
            assert tr.is_closing()
            assert await client.done is None
            assert await srv.made[0].done is None
        assert client.events == ["made", "lost"]
        assert client.lost == [None] and srv.made[0].lost == [None]

    run(loop, main())


BIG = 100 * 1024 * 1024
BIG_BLOCK = bytes(range(251)) * 4099  # a period that is no power of two
BIG_PAYLOAD = BIG_BLOCK * (BIG // len(BIG_BLOCK) + 2)
BIG_CHUNK = 1 << 20


class Verifier(asyncio.Protocol):
    """Checks every byte received against BIG_PAYLOAD at its offset, without
    keeping them; `done` resolves with the count at EOF."""

    def __init__(self, loop):
        self.count = 0
        self.done = loop.create_future()

    def data_received(self, data):
        if not BIG_PAYLOAD.startswith(data, self.count):
            self.done.set_exception(AssertionError(f"differs after {self.count}"))
        self.count += len(data)

    def eof_received(self):
        if not self.done.done():
            self.done.set_result(self.count)


class FlowWriter(asyncio.Protocol):
    """A client that writes only while its transport is below the high mark."""

    def __init__(self, loop):
        self.writable = asyncio.Event()
        self.writable.set()
        self.lost = loop.create_future()

    def pause_writing(self):
        self.writable.clear()

    def resume_writing(self):
        self.writable.set()

    def connection_lost(self, exc):
        self.lost.set_result(exc)


async def send_big_protocol(srv):
    tr, client = await srv.connect(lambda: FlowWriter(srv.loop))
    view = memoryview(BIG_PAYLOAD)
    for i in range(0, BIG, BIG_CHUNK):
        await client.writable.wait()
        tr.write(view[i : i + BIG_CHUNK])
    tr.write_eof()
    count = await (await srv.accepted()).done
    tr.close()
    await client.lost
    return count


async def send_big_streams(family, tmp_path):
    received = asyncio.get_running_loop().create_future()

    async def handler(reader, writer):
        count = 0
        while data := await reader.read(BIG_CHUNK):
            if not BIG_PAYLOAD.startswith(data, count):
                received.set_exception(AssertionError(f"differs after {count}"))
                break
            count += len(data)
        else:
            received.set_result(count)
        writer.close()

    if family == "unix":
        path = str(tmp_path / "s.sock")
        server = await asyncio.start_unix_server(handler, path)
        reader, writer = await asyncio.open_unix_connection(path)
    else:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
    async with server:
        view = memoryview(BIG_PAYLOAD)
        for i in range(0, BIG, BIG_CHUNK):
            writer.write(view[i : i + BIG_CHUNK])
            await writer.drain()
        writer.write_eof()
        count = await received
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
    return count


@pytest.mark.parametrize("family", ["ipv4", pytest.param("unix", marks=needs_unix)])
@pytest.mark.parametrize("style", ["protocol", "streams"])
def test_100mib_transfer_byte_for_byte(loop, family, style, tmp_path):
    async def main():
        if style == "streams":
            return await send_big_streams(family, tmp_path)
        async with served(loop, lambda: Verifier(loop), family, tmp_path) as srv:
            return await send_big_protocol(srv)

    assert run(loop, main(), timeout=120) == BIG


# ---- half-close ----


@pytest.mark.parametrize("keep_open", [True, False])
def test_half_close(loop, keep_open):
    async def main():
        make = lambda: Recorder(loop, eof_result=keep_open)  # noqa: E731
        async with served(loop, make) as srv:
            tr, client = await srv.connect(lambda: Recorder(loop, eof_result=None))
            assert tr.can_write_eof()
            tr.write(b"request")
            tr.write_eof()
            with pytest.raises(RuntimeError, match="write_eof"):
                tr.write(b"more")
            peer = await srv.accepted()
            while "eof" not in peer.events:
                await asyncio.sleep(0.001)
            if keep_open:
                assert not peer.transport.is_closing()
                peer.transport.write(b"reply")
                await read_exactly(client, 5)
                assert bytes(client.data) == b"reply"
                peer.transport.close()
            else:
                assert peer.transport.is_closing()
            await peer.done
            await client.done
        return peer

    peer = run(loop, main())
    assert bytes(peer.data) == b"request"
    assert peer.events == ["made", "eof", "lost"]
    assert peer.lost == [None]


# ---- errors from the peer and from protocols ----


def test_peer_reset_mid_write(loop):
    async def main():
        async with served(loop) as srv:
            client = socket.create_connection(srv.server.sockets[0].getsockname())
            peer = await srv.accepted()
            peer.transport.write(b"x" * (8 << 20))
            assert peer.transport.get_write_buffer_size() > 0
            linger = struct.pack("ii", 1, 0)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            client.close()  # RST
            await peer.done
        return peer

    peer = run(loop, main())
    exc = peer.lost[0]
    assert isinstance(exc, (ConnectionResetError, BrokenPipeError))
    assert peer.lost == [exc]
    assert peer.events.count("lost") == 1


def test_data_received_exception_reaches_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    boom = ValueError("boom")

    class Bad(Recorder):
        def data_received(self, data):
            raise boom

    async def main():
        async with served(loop, lambda: Bad(loop)) as srv:
            tr, client = await srv.connect()
            tr.write(b"hi")
            exc = await (await srv.accepted()).done
            await client.done
            # The loop keeps running and serving.
            tr2, client2 = await srv.connect()
            tr2.close()
            await client2.done
        return exc, srv.made[0]

    exc, peer = run(loop, main())
    assert exc is boom
    assert len(contexts) >= 1
    ctx = contexts[0]
    assert ctx["message"] == "Fatal error: protocol.data_received() call failed."
    assert ctx["exception"] is boom
    assert ctx["protocol"] is peer
    assert ctx["transport"] is peer.transport


def test_connection_made_exception_reaches_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    class Bad(Recorder):
        def connection_made(self, transport):
            super().connection_made(transport)
            raise KeyError("made")

    async def main():
        async with served(loop, lambda: Recorder(loop, echo=True)) as srv:
            tr, client = await srv.connect(lambda: Bad(loop))
            await asyncio.sleep(0.01)
            tr.write(b"ping")
            await read_exactly(client, 4)  # reading started despite the error
            tr.close()
            await client.done

    run(loop, main())
    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], KeyError)
    assert contexts[0]["message"].startswith("Exception in callback")


def test_create_connection_refused(loop):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main():
        with pytest.raises(ConnectionRefusedError):
            await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)

    run(loop, main())


# ---- flow control ----


def test_flow_control_pause_resume(loop):
    async def main():
        async with served(loop) as srv:
            tr, client = await srv.connect()
            assert tr.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
            tr.set_write_buffer_limits(high=1000)
            assert tr.get_write_buffer_limits() == (250, 1000)
            tr.set_write_buffer_limits(low=100)
            assert tr.get_write_buffer_limits() == (100, 400)
            with pytest.raises(ValueError, match="must be >= low"):
                tr.set_write_buffer_limits(high=1, low=2)
            tr.set_write_buffer_limits(high=64 * 1024)
            peer = await srv.accepted()
            peer.transport.pause_reading()  # a reader that stops reading
            assert not peer.transport.is_reading()
            chunk = b"y" * 65536
            sent = 0
            while "pause" not in client.events:
                tr.write(chunk)
                sent += len(chunk)
                await asyncio.sleep(0)
            assert tr.get_write_buffer_size() > 64 * 1024
            assert client.events == ["made", "pause"]
            peer.transport.resume_reading()
            while "resume" not in client.events:
                await asyncio.sleep(0.001)
            assert tr.get_write_buffer_size() <= 16 * 1024
            tr.close()
            await client.done
            await peer.done
        # Nothing was lost while the writer was paused.
        assert bytes(peer.data) == b"y" * sent

    run(loop, main())


# ---- servers ----


def test_many_concurrent_connections(loop):
    n = 1000

    async def handle(reader, writer):
        data = await reader.readline()
        writer.write(data.upper())
        await writer.drain()
        writer.close()

    async def one(port, i):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"conn %d\n" % i)
        reply = await r.readline()
        w.close()
        await w.wait_closed()
        return reply

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=n)
        port = server.sockets[0].getsockname()[1]
        async with server:
            replies = await asyncio.gather(*[one(port, i) for i in range(n)])
        return replies

    replies = run(loop, main(), timeout=60)
    assert replies == [b"CONN %d\n" % i for i in range(n)]


def test_server_close_while_clients_connected(loop):
    async def main():
        async with served(loop, lambda: Recorder(loop, echo=True)) as srv:
            server = srv.server
            port = server.sockets[0].getsockname()[1]
            assert server.is_serving()
            tr, client = await srv.connect()
            peer = await srv.accepted()
            server.close()
            assert not server.is_serving()
            assert server.sockets == ()
            with pytest.raises(ConnectionRefusedError):
                await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
            tr.write(b"still here")  # the existing connection keeps working
            assert await read_exactly(client, 10) == b"still here"
            # wait_closed() waits for the connections still open.
            waiting = asyncio.ensure_future(server.wait_closed())
            await asyncio.sleep(0.05)
            if sys.version_info >= (3, 12):  # 3.11's returns at once
                assert not waiting.done()
            tr.close()
            await client.done
            await peer.done
            await asyncio.wait_for(waiting, 5)

    run(loop, main())


def test_server_context_manager_and_serve_forever_cancelled(loop):
    async def main():
        server = await loop.create_server(
            asyncio.Protocol, "127.0.0.1", 0, start_serving=False
        )
        assert not server.is_serving()
        async with server:
            assert server.get_loop() is loop
            task = asyncio.ensure_future(server.serve_forever())
            await asyncio.sleep(0.01)
            assert server.is_serving()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not server.is_serving()
        await server.wait_closed()
        return server

    server = run(loop, main())
    assert not server.is_serving()


def test_connect_accepted_socket(loop):
    async def main():
        a, b = socket.socketpair()
        tr_a, pa = await loop.connect_accepted_socket(
            lambda: Recorder(loop, echo=True), a
        )
        tr_b, pb = await loop.connect_accepted_socket(lambda: Recorder(loop), b)
        tr_b.write(b"pair")
        assert await read_exactly(pb, 4) == b"pair"
        tr_b.close()
        await pa.done
        await pb.done
        assert pa.events[-2:] == ["eof", "lost"]

    run(loop, main())


# ---- the transport's surface ----


def test_extra_info_and_checks(loop):
    async def main():
        async with served(loop) as srv:
            addr = srv.server.sockets[0].getsockname()
            tr, client = await srv.connect()
            sock = tr.get_extra_info("socket")
            assert sock.fileno() >= 0 and sock.family == socket.AF_INET
            assert tr.get_extra_info("peername") == addr
            assert tr.get_extra_info("sockname") == sock.getsockname()
            assert tr.get_extra_info("peercert") is None
            assert tr.get_extra_info("nothing", 42) == 42
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert tr.get_protocol() is client
            assert tr.is_reading()
            tr.pause_reading()
            assert not tr.is_reading()
            tr.resume_reading()
            assert tr.is_reading()
            # (3.14 names the types: "bytes, bytearray, or memoryview object")
            with pytest.raises(
                TypeError, match="data argument must be a .*, not 'str'"
            ):
                tr.write("text")
            with pytest.raises(RuntimeError, match="is used by transport"):
                loop.add_reader(sock.fileno(), lambda: None)
            other = Recorder(loop)
            tr.set_protocol(other)
            assert tr.get_protocol() is other
            tr.set_protocol(client)
            tr.abort()
            assert tr.is_closing()
            assert await client.done is None
            assert tr.get_protocol() is None or tr.get_protocol() is client

    run(loop, main())


def test_pause_reading_holds_data_until_resumed(loop):
    """Paused, a transport delivers nothing however long data waits in the
    kernel (casyncio drops its kernel entry only when the fd next reports
    readable); pausing and resuming inside one callback loses nothing;
    resuming delivers everything that arrived meanwhile, in order."""

    async def main():
        async with served(loop) as srv:
            tr, client = await srv.connect()
            peer = await srv.accepted()
            # Paused and resumed before the loop polls again.
            tr.pause_reading()
            tr.resume_reading()
            peer.transport.write(b"a" * 1000)
            while len(client.data) < 1000:
                await asyncio.sleep(0.001)
            # Paused across several polls while the peer keeps writing.
            tr.pause_reading()
            for i in range(5):
                peer.transport.write(bytes([i]) * 100)
                await asyncio.sleep(0.01)
            assert len(client.data) == 1000 and not tr.is_reading()
            # Resumed then paused again at once: still nothing.
            tr.resume_reading()
            tr.pause_reading()
            await asyncio.sleep(0.02)
            assert len(client.data) == 1000
            tr.resume_reading()
            expect = b"a" * 1000 + b"".join(bytes([i]) * 100 for i in range(5))
            while len(client.data) < len(expect):
                await asyncio.sleep(0.001)
            assert bytes(client.data) == expect
            # Paused from data_received, resumed by the next callback.
            client_data_received = client.data_received

            def pause_each(data):
                client_data_received(data)
                tr.pause_reading()
                loop.call_soon(tr.resume_reading)

            client.data_received = pause_each
            peer.transport.write(b"z" * 50_000)
            while len(client.data) < len(expect) + 50_000:
                await asyncio.sleep(0.001)
            assert bytes(client.data) == expect + b"z" * 50_000
            tr.close()
            assert await client.done is None

    run(loop, main())


def test_unclosed_transport_warns(new_loop):
    loop = new_loop()

    a, b = socket.socketpair()

    async def main():
        await loop.connect_accepted_socket(asyncio.Protocol, a)

    run(loop, main())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loop.close()
        gc.collect()
    b.close()
    assert any(
        "unclosed transport" in str(w.message)
        for w in caught
        if issubclass(w.category, ResourceWarning)
    )


# ---- a socket.socket subclass: its own methods carry the traffic ----


async def traced_connection(loop, make=None):
    """A transport on a TracedSocket (its protocol from make(), a Recorder
    by default) and a plain one connected to it: (traced socket, transport,
    protocol, peer transport, peer Recorder)."""
    a, b = socket.socketpair()
    traced = TracedSocket(fileno=a.detach())
    tr, proto = await loop.connect_accepted_socket(
        make or (lambda: Recorder(loop)), traced
    )
    peer_tr, peer = await loop.connect_accepted_socket(lambda: Recorder(loop), b)
    return traced, tr, proto, peer_tr, peer


@pytest.mark.parametrize("style", ["protocol", "buffered"])
def test_socket_subclass_methods_are_called(loop, style):
    def make():
        return Recorder(loop, echo=True) if style == "protocol" else BufferedEcho(loop)

    async def main():
        traced, tr, proto, peer_tr, peer = await traced_connection(loop, make)
        peer_tr.write(b"ping")
        assert await read_exactly(peer, 4) == b"ping"
        tr.write_eof()
        await peer.done
        await proto.done
        return traced

    traced = run(loop, main())
    names = traced.names()
    reader = "recv" if style == "protocol" else "recv_into"
    assert names.count("send") == 1
    assert traced.calls.count(("shutdown", socket.SHUT_WR)) == 1
    assert names.count(reader) >= 2  # the data, then the end of the stream
    assert not {"recv", "recv_into"} - {reader} & set(names)


def test_socket_subclass_partial_sends_are_flushed_in_order(loop):
    async def main():
        traced, tr, proto, peer_tr, peer = await traced_connection(loop)
        traced.faults["send"] = [3] * 10
        tr.write(b"0123456789")
        tr.write(b"abcdefghij")
        assert tr.get_write_buffer_size() == 17
        got = await read_exactly(peer, 20)
        assert tr.get_write_buffer_size() == 0
        tr.close()
        await proto.done
        await peer.done
        return got, traced.names()

    got, calls = run(loop, main())
    assert got == b"0123456789abcdefghij"
    # write() tries send() at once; the queue goes out as asyncio's buffer
    # does: by sendmsg() from 3.12 on, by send() before.
    flush = "sendmsg" if sys.version_info >= (3, 12) else "send"
    assert calls[0] == "send"
    assert set(calls[1:]) == {flush}
    assert len(calls) >= 1 + 17 // 3


def test_socket_subclass_send_that_closes_the_transport(loop):
    """send() runs code: a close() from it, with data still queued, lets the
    queue drain, then the connection is lost."""

    async def main():
        traced, tr, proto, peer_tr, peer = await traced_connection(loop)
        traced.faults["send"] = [3, tr.close]
        tr.write(b"0123456789")
        assert await proto.done is None
        got = await read_exactly(peer, 10)
        await peer.done
        return got, proto.events

    got, events = run(loop, main())
    assert got == b"0123456789"
    assert events == ["made", "lost"]


def test_socket_subclass_would_block_is_ignored(loop):
    async def main():
        traced, tr, proto, peer_tr, peer = await traced_connection(loop)
        traced.faults["recv"] = [BlockingIOError(), InterruptedError()]
        peer_tr.write(b"late")
        assert await read_exactly(proto, 4) == b"late"
        peer_tr.close()
        await proto.done
        return proto.lost, traced.names().count("recv")

    lost, recvs = run(loop, main())
    assert lost == [None]
    assert recvs >= 3


@pytest.mark.parametrize("method", ["recv", "send"])
def test_socket_subclass_error_closes_the_transport(loop, method):
    async def main():
        traced, tr, proto, peer_tr, peer = await traced_connection(loop)
        error = ConnectionResetError("from the subclass")
        traced.faults[method] = [error]
        (peer_tr if method == "recv" else tr).write(b"x")
        exc = await proto.done
        peer_tr.close()
        await peer.done
        return exc, error, tr.is_closing()

    exc, error, closing = run(loop, main())
    assert exc is error
    assert closing


# ---- TLS (asyncio's SSL protocol over ours) and sendfile ----


def _ssl_contexts():
    ssl = pytest.importorskip("ssl")
    test_utils = pytest.importorskip("test.test_asyncio.utils")
    return (
        ssl,
        test_utils.simple_server_sslcontext(),
        test_utils.simple_client_sslcontext(),
    )


def test_tls_echo_and_start_tls(loop):
    ssl, server_ctx, client_ctx = _ssl_contexts()

    async def tls_echo(reader, writer):
        if (line := await reader.readline()) == b"STARTTLS\n":
            writer.write(b"OK\n")
            await writer.drain()
            await writer.start_tls(server_ctx)
            line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        writer.close()

    async def main():
        # TLS from the start.
        async with await asyncio.start_server(
            tls_echo, "127.0.0.1", 0, ssl=server_ctx
        ) as server:
            addr = server.sockets[0].getsockname()
            r, w = await asyncio.open_connection(*addr, ssl=client_ctx)
            assert w.get_extra_info("sslcontext") is client_ctx
            assert w.get_extra_info("peercert") is not None
            w.write(b"hello tls\n")
            assert await r.readline() == b"HELLO TLS\n"
            w.close()
            await w.wait_closed()
        # Plain first, then upgraded with start_tls.
        async with await asyncio.start_server(tls_echo, "127.0.0.1", 0) as server:
            r, w = await asyncio.open_connection(*server.sockets[0].getsockname())
            assert w.get_extra_info("peercert") is None
            w.write(b"STARTTLS\n")
            assert await r.readline() == b"OK\n"
            await w.start_tls(client_ctx, server_hostname="localhost")
            assert w.get_extra_info("sslcontext") is client_ctx
            w.write(b"secret\n")
            assert await r.readline() == b"SECRET\n"
            w.close()
            await w.wait_closed()

    run(loop, main())


def test_sendfile(loop, tmp_path):
    data = bytes(range(256)) * 16_000
    path = tmp_path / "file.bin"
    path.write_bytes(data)

    async def main():
        async with served(loop) as srv:
            tr, client = await srv.connect()
            with open(path, "rb") as f:
                task = asyncio.ensure_future(
                    loop.sendfile(tr, f, offset=1000, count=4_000_000)
                )
                await asyncio.sleep(0)
                # Sent by the socket itself: the transport refuses to interleave.
                with pytest.raises(RuntimeError, match="sendfile is in progress"):
                    tr.write(b"interleaved")
                sent = await task
            assert sent == 4_000_000
            assert tr.get_protocol() is client  # restored after the transfer
            tr.write(b"tail")
            tr.write_eof()
            peer = await srv.accepted()
            await peer.done
            tr.close()
            await client.done
        return peer

    peer = run(loop, main())
    assert bytes(peer.data) == data[1000:4_001_000] + b"tail"


# ---- accept out of file descriptors ----


def test_accept_out_of_fds_reports_and_resumes(loop):
    resource = pytest.importorskip("resource")
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    async def main():
        async with served(loop) as srv:
            await asyncio.sleep(0)
            addr = srv.server.sockets[0].getsockname()
            clients = [socket.create_connection(addr) for _ in range(3)]
            probe = socket.socket()
            lowest_free = probe.fileno()
            probe.close()
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
            try:
                deadline = loop.time() + 5
                while not contexts:
                    assert loop.time() < deadline
                    await asyncio.sleep(0.01)
            finally:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            assert srv.made == []
            await srv.accepted(3)  # accepting resumes after a second
            for c in clients:
                c.close()
            for p in srv.made:
                await p.done

    run(loop, main())
    assert contexts[0]["message"] == "socket.accept() out of system resource"
    assert isinstance(contexts[0]["exception"], OSError)
    assert "socket" in contexts[0]


class FailingAcceptSocket(socket.socket):
    """A listening socket whose next accept() fails with `errors` first."""

    errors: list

    def accept(self):
        if self.errors:
            raise self.errors.pop(0)
        return super().accept()


def test_accept_error_reported_as_failed_callback(loop):
    # Not out of resources: asyncio lets the error escape its reader
    # callback, so the loop reports it as "Exception in callback ..." with
    # the handle, and the server goes on accepting.
    contexts = []
    handles = []

    def handler(lp, ctx):
        contexts.append(ctx)
        handles.append(repr(ctx.get("handle")))

    loop.set_exception_handler(handler)
    error = PermissionError(1, "refused by a firewall hook")
    lsock = FailingAcceptSocket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.errors = [error]
    lsock.bind(("127.0.0.1", 0))

    async def main():
        async with served(loop, sock=lsock) as srv:
            client = socket.create_connection(lsock.getsockname())
            peer = await srv.accepted()
            client.close()
            await peer.done

    run(loop, main())
    assert len(contexts) == 1
    ctx = contexts[0]
    assert set(ctx) == {"message", "exception", "handle"}
    assert ctx["message"].startswith("Exception in callback ")
    assert "_accept_connection(" in ctx["message"]
    assert ctx["exception"] is error
    # casyncio's Handle is its own type, with asyncio.Handle's methods.
    assert "_accept_connection(" in handles[0]
    assert callable(ctx["handle"].cancel)


def test_tls_handshake_timeout(loop):
    """A peer that accepts TCP but never answers the TLS handshake: the
    client gives up after ssl_handshake_timeout, as asyncio does, and the
    server-side socket is closed."""
    ssl, _, client_ctx = _ssl_contexts()
    accepted = []

    async def silent(reader, writer):
        accepted.append(writer)
        await reader.read()  # never answers; EOF once the client gives up
        writer.close()

    async def main():
        async with await asyncio.start_server(silent, "127.0.0.1", 0) as server:
            addr = server.sockets[0].getsockname()
            started = loop.time()
            with pytest.raises(ConnectionAbortedError, match="handshake"):
                await asyncio.open_connection(
                    *addr, ssl=client_ctx, ssl_handshake_timeout=0.2
                )
            elapsed = loop.time() - started
            assert 0.2 <= elapsed < 5
            for _ in range(200):  # the silent side sees EOF and closes
                if accepted and accepted[0].is_closing():
                    break
                await asyncio.sleep(0.01)
            assert accepted and accepted[0].is_closing()

    run(loop, main())


# ---- 3.13: a UNIX server's path is removed when it stops serving ----

needs_cleanup_socket = pytest.mark.skipif(
    sys.version_info < (3, 13), reason="create_unix_server(cleanup_socket=) is 3.13+"
)


@needs_cleanup_socket
@pytest.mark.parametrize("replaced", [False, True])
def test_unix_server_close_removes_its_own_path_only(loop, tmp_path, replaced):
    path = str(tmp_path / "s.sock")

    async def main():
        server = await loop.create_unix_server(asyncio.Protocol, path)
        if replaced:  # another file took the name: not the server's to remove
            os.unlink(path)
            with open(path, "w") as f:
                f.write("not a socket")
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())
    assert os.path.exists(path) == replaced


@needs_cleanup_socket
def test_unix_server_close_makes_no_blocking_os_call_outside_asyncio(
    loop, tmp_path, monkeypatch
):
    """blockbuster (aiohttp's suite runs it) reports os.stat and os.unlink
    made while the loop runs, except from asyncio's own _stop_serving: the
    clean-up must not call them from elsewhere (casyncio makes the same
    system calls in C)."""
    callers = []

    def spy(name):
        real = getattr(os, name)

        def wrapper(*args, **kwargs):
            code = sys._getframe(1).f_code
            callers.append((name, code.co_filename, code.co_name))
            return real(*args, **kwargs)

        return wrapper

    path = str(tmp_path / "s.sock")

    async def main():
        server = await loop.create_unix_server(asyncio.Protocol, path)
        monkeypatch.setattr(os, "stat", spy("stat"))
        monkeypatch.setattr(os, "unlink", spy("unlink"))
        server.close()
        await server.wait_closed()
        monkeypatch.undo()

    loop.run_until_complete(main())
    assert not os.path.exists(path)
    for name, filename, func in callers:
        assert filename.endswith(os.path.join("asyncio", "unix_events.py")), (
            name,
            filename,
            func,
        )
