"""Stream transports and servers: create_connection, create_server,
create_unix_connection, create_unix_server and connect_accepted_socket with
Protocol and BufferedProtocol, on casyncio and on stock asyncio."""

import asyncio
import gc
import socket
import struct
import warnings

import pytest
from support import HAS_IPV6

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


async def serve(loop, family, factory, tmp_path, **kw):
    """A server on an ephemeral address; returns (server, connect) where
    connect(factory) makes a client connection to it."""
    if family == "unix":
        path = str(tmp_path / "s.sock")
        server = await loop.create_unix_server(factory, path, **kw)

        def connect(client_factory, **ckw):
            return loop.create_unix_connection(client_factory, path, **ckw)

    else:
        host = "::1" if family == "ipv6" else "127.0.0.1"
        server = await loop.create_server(factory, host, 0, **kw)
        port = server.sockets[0].getsockname()[1]

        def connect(client_factory, **ckw):
            return loop.create_connection(client_factory, host, port, **ckw)

    return server, connect


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
    servers = []

    def factory():
        p = Recorder(loop, echo=True) if style == "protocol" else BufferedEcho(loop)
        servers.append(p)
        return p

    async def main():
        server, connect = await serve(loop, family, factory, tmp_path)
        async with server:
            tr, client = await connect(lambda: Recorder(loop))
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
            assert await servers[0].done is None
        assert client.events == ["made", "lost"]
        assert client.lost == [None] and servers[0].lost == [None]

    run(loop, main())


def test_large_transfer_byte_for_byte(loop):
    size = 24 * 1024 * 1024
    block = struct.pack("!I", 0xDEADBEEF) + bytes(range(256)) * 16
    payload = (block * (size // len(block) + 1))[:size]
    received = []

    def factory():
        p = Recorder(loop, eof_result=None)
        received.append(p)
        return p

    async def main():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, client = await loop.create_connection(
            lambda: Recorder(loop), "127.0.0.1", port
        )
        view = memoryview(payload)
        for i in range(0, size, 1 << 20):
            tr.write(view[i : i + (1 << 20)])
        tr.write_eof()
        await received[0].done
        tr.close()
        await client.done
        server.close()
        await server.wait_closed()
        return received[0]

    proto = run(loop, main())
    assert len(proto.data) == size
    assert proto.data == payload
    assert proto.events[-2:] == ["eof", "lost"]


# ---- half-close ----


@pytest.mark.parametrize("keep_open", [True, False])
def test_half_close(loop, keep_open):
    servers = []

    def factory():
        p = Recorder(loop, eof_result=keep_open)
        servers.append(p)
        return p

    async def main():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, client = await loop.create_connection(
            lambda: Recorder(loop, eof_result=None), "127.0.0.1", port
        )
        assert tr.can_write_eof()
        tr.write(b"request")
        tr.write_eof()
        with pytest.raises(RuntimeError, match="write_eof"):
            tr.write(b"more")
        while not servers or "eof" not in servers[0].events:
            await asyncio.sleep(0.001)
        srv_tr = servers[0].transport
        if keep_open:
            assert not srv_tr.is_closing()
            srv_tr.write(b"reply")
            await read_exactly(client, 5)
            assert bytes(client.data) == b"reply"
            srv_tr.close()
        else:
            assert srv_tr.is_closing()
        await servers[0].done
        await client.done
        server.close()
        await server.wait_closed()

    run(loop, main())
    assert bytes(servers[0].data) == b"request"
    assert servers[0].events == ["made", "eof", "lost"]
    assert servers[0].lost == [None]


# ---- errors from the peer and from protocols ----


def test_peer_reset_mid_write(loop):
    servers = []

    def factory():
        p = Recorder(loop)
        servers.append(p)
        return p

    async def main():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        while not servers:
            await asyncio.sleep(0.001)
        srv_tr = servers[0].transport
        srv_tr.write(b"x" * (8 << 20))
        assert srv_tr.get_write_buffer_size() > 0
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # RST
        exc = await servers[0].done
        server.close()
        await server.wait_closed()
        return exc

    exc = run(loop, main())
    assert isinstance(exc, (ConnectionResetError, BrokenPipeError))
    assert servers[0].lost == [exc]
    assert servers[0].events.count("lost") == 1


def test_data_received_exception_reaches_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    boom = ValueError("boom")

    class Bad(Recorder):
        def data_received(self, data):
            raise boom

    servers = []

    def factory():
        p = Bad(loop)
        servers.append(p)
        return p

    async def main():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, client = await loop.create_connection(
            lambda: Recorder(loop), "127.0.0.1", port
        )
        tr.write(b"hi")
        exc = await servers[0].done
        await client.done
        # The loop keeps running and serving.
        tr2, client2 = await loop.create_connection(
            lambda: Recorder(loop), "127.0.0.1", port
        )
        tr2.close()
        await client2.done
        server.close()
        await server.wait_closed()
        return exc

    exc = run(loop, main())
    assert exc is boom
    assert len(contexts) >= 1
    ctx = contexts[0]
    assert ctx["message"] == "Fatal error: protocol.data_received() call failed."
    assert ctx["exception"] is boom
    assert ctx["protocol"] is servers[0]
    assert ctx["transport"] is servers[0].transport


def test_connection_made_exception_reaches_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    class Bad(Recorder):
        def connection_made(self, transport):
            super().connection_made(transport)
            raise KeyError("made")

    async def main():
        server = await loop.create_server(
            lambda: Recorder(loop, echo=True), "127.0.0.1", 0
        )
        port = server.sockets[0].getsockname()[1]
        tr, client = await loop.create_connection(lambda: Bad(loop), "127.0.0.1", port)
        await asyncio.sleep(0.01)
        tr.write(b"ping")
        await read_exactly(client, 4)  # reading started despite the error
        tr.close()
        await client.done
        server.close()
        await server.wait_closed()

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
    servers = []

    def factory():
        p = Recorder(loop)
        servers.append(p)
        return p

    async def main():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, client = await loop.create_connection(
            lambda: Recorder(loop), "127.0.0.1", port
        )
        assert tr.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
        tr.set_write_buffer_limits(high=1000)
        assert tr.get_write_buffer_limits() == (250, 1000)
        tr.set_write_buffer_limits(low=100)
        assert tr.get_write_buffer_limits() == (100, 400)
        with pytest.raises(ValueError, match="must be >= low"):
            tr.set_write_buffer_limits(high=1, low=2)
        tr.set_write_buffer_limits(high=64 * 1024)
        while not servers:
            await asyncio.sleep(0.001)
        servers[0].transport.pause_reading()
        assert not servers[0].transport.is_reading()
        chunk = b"y" * 65536
        while "pause" not in client.events:
            tr.write(chunk)
            await asyncio.sleep(0)
        assert tr.get_write_buffer_size() > 64 * 1024
        assert client.events == ["made", "pause"]
        servers[0].transport.resume_reading()
        while "resume" not in client.events:
            await asyncio.sleep(0.001)
        assert tr.get_write_buffer_size() <= 16 * 1024
        tr.close()
        await client.done
        await servers[0].done
        server.close()
        await server.wait_closed()

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
    servers = []

    def factory():
        p = Recorder(loop, echo=True)
        servers.append(p)
        return p

    async def main():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        assert server.is_serving()
        tr, client = await loop.create_connection(
            lambda: Recorder(loop), "127.0.0.1", port
        )
        server.close()
        assert not server.is_serving()
        assert server.sockets == ()
        with pytest.raises(ConnectionRefusedError):
            await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        tr.write(b"still here")  # the existing connection keeps working
        assert await read_exactly(client, 10) == b"still here"
        tr.close()
        await client.done
        await servers[0].done
        await asyncio.wait_for(server.wait_closed(), 5)

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
        server = await loop.create_server(lambda: Recorder(loop), "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        tr, client = await loop.create_connection(lambda: Recorder(loop), *addr)
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
        with pytest.raises(TypeError, match="bytes-like object, not 'str'"):
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
        server.close()
        await server.wait_closed()

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
        server = await asyncio.start_server(tls_echo, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
        assert w.get_extra_info("sslcontext") is client_ctx
        assert w.get_extra_info("peercert") is not None
        w.write(b"hello tls\n")
        assert await r.readline() == b"HELLO TLS\n"
        w.close()
        await w.wait_closed()
        server.close()
        await server.wait_closed()
        # Plain first, then upgraded with start_tls.
        server = await asyncio.start_server(tls_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection("127.0.0.1", port)
        assert w.get_extra_info("peercert") is None
        w.write(b"STARTTLS\n")
        assert await r.readline() == b"OK\n"
        await w.start_tls(client_ctx, server_hostname="localhost")
        assert w.get_extra_info("sslcontext") is client_ctx
        w.write(b"secret\n")
        assert await r.readline() == b"SECRET\n"
        w.close()
        await w.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_sendfile(loop, tmp_path):
    data = bytes(range(256)) * 16_000
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    servers = []

    def factory():
        p = Recorder(loop)
        servers.append(p)
        return p

    async def main():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, client = await loop.create_connection(
            lambda: Recorder(loop), "127.0.0.1", port
        )
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
        await servers[0].done
        tr.close()
        await client.done
        server.close()
        await server.wait_closed()

    run(loop, main())
    assert bytes(servers[0].data) == data[1000:4_001_000] + b"tail"


# ---- accept out of file descriptors ----


def test_accept_out_of_fds_reports_and_resumes(loop):
    resource = pytest.importorskip("resource")
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    servers = []

    def factory():
        p = Recorder(loop)
        servers.append(p)
        return p

    async def main():
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        await asyncio.sleep(0)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
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
        assert servers == []
        deadline = loop.time() + 5
        while len(servers) < 3:  # accepting resumes after a second
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        for c in clients:
            c.close()
        for p in servers:
            await p.done
        server.close()
        await server.wait_closed()

    run(loop, main())
    assert contexts[0]["message"] == "socket.accept() out of system resource"
    assert isinstance(contexts[0]["exception"], OSError)
    assert "socket" in contexts[0]
