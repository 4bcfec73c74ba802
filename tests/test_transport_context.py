"""The context a transport runs its protocol's callbacks in, on casyncio and
on stock asyncio.

asyncio runs protocol_factory, connection_made, data_received (or
get_buffer/buffer_updated), eof_received, connection_lost and the flow
control callbacks in copies of the context the server, connection or pipe
was made in: they are Handles (call_soon, add_reader, add_writer) and
tasks made there.  A ContextVar set before create_server() or
start_server() is therefore seen by the protocols and stream handlers of
its connections, and what one connection sets is not seen by the next.
Here the loop runs in a context where the variable is "outer"; the code
making the server or connection sets it to "inner"."""

import asyncio
import contextvars
import os
import socket
import sys

import pytest

cvar = contextvars.ContextVar("cvar", default="outer")
PY315 = sys.version_info >= (3, 15)


def run(loop, coro, timeout=20):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


class Seen(asyncio.Protocol):
    """Records cvar in each callback; `lost` is done at connection_lost."""

    def __init__(self, loop):
        self.seen = {}
        self.transport = None
        self.lost = loop.create_future()
        self.got_data = loop.create_future()

    def note(self, name):
        self.seen.setdefault(name, cvar.get())

    def connection_made(self, transport):
        self.transport = transport
        self.note("connection_made")

    def data_received(self, data):
        self.note("data_received")
        if not self.got_data.done():
            self.got_data.set_result(data)

    def eof_received(self):
        self.note("eof_received")

    def connection_lost(self, exc):
        self.note("connection_lost")
        self.lost.set_result(exc)


class BufferedSeen(Seen, asyncio.BufferedProtocol):
    def get_buffer(self, sizehint):
        self.note("get_buffer")
        self.buf = bytearray(4096)
        return self.buf

    def buffer_updated(self, nbytes):
        self.note("buffer_updated")
        if not self.got_data.done():
            self.got_data.set_result(bytes(self.buf[:nbytes]))


PROTOCOLS = pytest.mark.parametrize("proto_cls", [Seen, BufferedSeen])


@PROTOCOLS
def test_server_protocol_callbacks_run_in_the_servers_context(loop, proto_cls):
    made = []

    def factory():
        made.append(proto_cls(loop))
        made[-1].note("factory")
        return made[-1]

    async def main():
        cvar.set("inner")
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.setblocking(False)
            await loop.sock_sendall(client, b"ping")
            while not made or not made[0].got_data.done():
                await asyncio.sleep(0.001)
            client.shutdown(socket.SHUT_WR)
            await made[0].lost
        server.close()
        await server.wait_closed()
        return made[0].seen

    seen = run(loop, main())
    expected = ["factory", "connection_made", "eof_received", "connection_lost"]
    expected += (
        ["get_buffer", "buffer_updated"]
        if proto_cls is BufferedSeen
        else ["data_received"]
    )
    assert seen == dict.fromkeys(expected, "inner")
    assert cvar.get() == "outer"


@PROTOCOLS
def test_client_protocol_callbacks_run_in_the_connectors_context(loop, proto_cls):
    async def main():
        listener = socket.create_server(("127.0.0.1", 0))
        listener.setblocking(False)
        port = listener.getsockname()[1]

        async def connect():
            cvar.set("inner")
            return await loop.create_connection(
                lambda: proto_cls(loop), "127.0.0.1", port
            )

        with listener:
            transport, proto = await asyncio.create_task(connect())
            conn, _ = await loop.sock_accept(listener)
            with conn:
                await loop.sock_sendall(conn, b"pong")
                await proto.got_data
                conn.shutdown(socket.SHUT_WR)
                await proto.lost
        return proto.seen

    seen = run(loop, main())
    assert set(seen.values()) == {"inner"}
    assert "connection_lost" in seen and "eof_received" in seen


def test_each_connection_starts_from_a_copy_of_the_servers_context(loop):
    # What a protocol factory sets stays with its own connection.
    factories_saw = []

    def factory():
        factories_saw.append(cvar.get())
        cvar.set("set by a factory")
        return Seen(loop)

    async def main():
        cvar.set("inner")
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        for accepted in range(1, 4):
            with socket.create_connection(("127.0.0.1", port)):
                while len(factories_saw) < accepted:
                    await asyncio.sleep(0.001)
        server.close()
        await server.wait_closed()
        return cvar.get()

    assert run(loop, main()) == "inner"
    assert factories_saw == ["inner"] * 3


def test_stream_handlers_see_the_context_of_start_server(loop):
    async def main():
        handled = loop.create_future()

        async def handle(reader, writer):
            line = await reader.readline()
            handled.set_result((cvar.get(), line))
            writer.close()

        cvar.set("inner")
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        async def client():
            cvar.set("client")
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"hello\n")
            await writer.drain()
            await reader.read()
            writer.close()
            await writer.wait_closed()

        await asyncio.create_task(client())
        result = await handled
        server.close()
        await server.wait_closed()
        return result

    assert run(loop, main()) == ("inner", b"hello\n")


def test_resume_reading_moves_reading_to_the_resumers_context(loop):
    # asyncio's resume_reading adds a new reader Handle, in the context of
    # its caller; from 3.15 on a transport keeps the one context it was made
    # with (the connecting task's copy here) for every callback.
    async def main():
        a, b = socket.socketpair()
        b.setblocking(False)

        async def connect():
            cvar.set("inner")
            return await loop.connect_accepted_socket(lambda: Seen(loop), a)

        transport, proto = await asyncio.create_task(connect())
        transport.pause_reading()
        await loop.sock_sendall(b, b"data")
        await asyncio.sleep(0.01)
        assert not proto.got_data.done()

        def resume():
            cvar.set("resumer")
            transport.resume_reading()

        contextvars.copy_context().run(resume)
        await proto.got_data
        transport.close()
        await proto.lost
        b.close()
        return proto.seen

    seen = run(loop, main())
    assert seen["connection_made"] == "inner"
    assert seen["data_received"] == ("inner" if PY315 else "resumer")


def test_write_pipe_flow_control_runs_in_the_writers_context(loop):
    # A writer that fills the pipe: the writer Handle (and so resume_writing)
    # runs in the context of the write() that started queueing.
    class Flow(Seen):
        def pause_writing(self):
            self.note("pause_writing")

        def resume_writing(self):
            self.note("resume_writing")
            self.resumed.set_result(None)

    async def main():
        rfd, wfd = os.pipe()
        os.set_blocking(rfd, False)
        proto = Flow(loop)
        proto.resumed = loop.create_future()
        transport, _ = await loop.connect_write_pipe(
            lambda: proto, os.fdopen(wfd, "wb")
        )
        transport.set_write_buffer_limits(high=1, low=0)

        def write():
            cvar.set("writer")
            transport.write(b"x" * (1 << 20))

        contextvars.copy_context().run(write)
        assert transport.get_write_buffer_size() > 0
        while not proto.resumed.done():
            try:
                os.read(rfd, 1 << 16)
            except BlockingIOError:
                await asyncio.sleep(0.001)
        transport.close()
        await proto.lost
        os.close(rfd)
        return proto.seen

    seen = run(loop, main())
    assert seen["pause_writing"] == "writer"
    assert seen["resume_writing"] == "writer"


@pytest.mark.skipif(not PY315, reason="3.15: one context per transport")
def test_a_transport_keeps_one_context_for_all_its_callbacks(loop):
    """3.15: what a protocol callback sets is seen by the transport's later
    callbacks (they all run in the transport's one context), and not by the
    code that made the connection or by another connection."""

    class Setter(asyncio.Protocol):
        def __init__(self):
            self.seen = {}
            self.lost = loop.create_future()

        def connection_made(self, transport):
            self.seen["connection_made"] = cvar.get()
            cvar.set("made")

        def data_received(self, data):
            self.seen["data_received"] = cvar.get()
            cvar.set("data")

        def connection_lost(self, exc):
            self.seen["connection_lost"] = cvar.get()
            self.lost.set_result(None)

    async def main():
        protos = []

        def factory():
            protos.append(Setter())
            return protos[-1]

        cvar.set("server")
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        for _ in range(2):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"x")
            await writer.drain()
            while not protos or "data_received" not in protos[-1].seen:
                await asyncio.sleep(0.01)
            writer.close()
            await writer.wait_closed()
            await protos[-1].lost
        server.close()
        await server.wait_closed()
        return cvar.get(), [p.seen for p in protos]

    here, seen = run(loop, main())
    assert here == "server"
    expected = {
        "connection_made": "server",
        "data_received": "made",
        "connection_lost": "data",
    }
    assert seen == [expected, expected]
