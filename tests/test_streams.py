"""asyncio streams (open_connection, start_server, open_unix_connection,
start_unix_server, StreamReader/StreamWriter with drain) over the loop's
stream transports, on casyncio and on stock asyncio."""

import asyncio
import socket
import struct

import pytest

needs_unix = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no AF_UNIX")


def run(loop, coro, timeout=20):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


async def echo_handler(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def start(family, tmp_path, handler=echo_handler):
    """(server, open) for a streams server on an ephemeral address."""
    if family == "unix":
        path = str(tmp_path / "s.sock")
        server = await asyncio.start_unix_server(handler, path)
        return server, lambda **kw: asyncio.open_unix_connection(path, **kw)
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, lambda **kw: asyncio.open_connection("127.0.0.1", port, **kw)


@pytest.mark.parametrize("family", ["tcp", pytest.param("unix", marks=needs_unix)])
def test_stream_echo(loop, family, tmp_path):
    async def main():
        server, connect = await start(family, tmp_path)
        async with server:
            reader, writer = await connect()
            writer.write(b"line one\nline two\n")
            assert await reader.readline() == b"line one\n"
            assert await reader.readuntil(b"two\n") == b"line two\n"
            payload = bytes(range(256)) * 4096  # 1 MiB
            writer.write(payload)
            # Read while draining: the echo would otherwise fill both ways.
            echoed, _ = await asyncio.gather(
                reader.readexactly(len(payload)), writer.drain()
            )
            assert echoed == payload
            assert writer.can_write_eof()
            writer.write_eof()
            assert await reader.read() == b""
            assert reader.at_eof()
            writer.close()
            await writer.wait_closed()
            assert writer.is_closing()

    run(loop, main())


def test_drain_waits_for_slow_reader(loop):
    release = handler_done = None
    got = []

    async def slow_handler(reader, writer):
        await release.wait()
        while data := await reader.read(65536):
            got.append(len(data))
        writer.close()
        handler_done.set()

    sent = 0

    async def main():
        nonlocal release, handler_done, sent
        release = asyncio.Event()
        handler_done = asyncio.Event()
        server, connect = await start("tcp", None, slow_handler)
        async with server:
            reader, writer = await connect()
            chunk = b"z" * (1 << 20)
            drain = None
            for _ in range(64):  # far more than the socket buffers hold
                writer.write(chunk)
                sent += len(chunk)
                drain = asyncio.ensure_future(writer.drain())
                await asyncio.sleep(0)
                if not drain.done():
                    break
            assert not drain.done(), "drain() should wait for the reader"
            assert writer.transport.get_write_buffer_size() > 64 * 1024
            release.set()
            await drain
            writer.close()
            await writer.wait_closed()
            await handler_done.wait()

    run(loop, main())
    assert sum(got) == sent  # the slow reader got every byte


def test_open_connection_refused(loop):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main():
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)

    run(loop, main())


def test_reader_sees_peer_close(loop):
    async def closing_handler(reader, writer):
        writer.write(b"partial")
        writer.close()

    async def main():
        server, connect = await start("tcp", None, closing_handler)
        async with server:
            reader, writer = await connect()
            with pytest.raises(asyncio.IncompleteReadError) as info:
                await reader.readexactly(100)
            assert info.value.partial == b"partial"
            writer.close()
            await writer.wait_closed()

    run(loop, main())


def test_peer_reset_mid_write(loop):
    # drain() raises the reset, and so does the reader.
    async def main():
        accepted = loop.create_future()

        async def handler(reader, writer):
            accepted.set_result((reader, writer))

        server, _ = await start("tcp", None, handler)
        async with server:
            client = socket.create_connection(server.sockets[0].getsockname())
            reader, writer = await accepted
            writer.write(b"x" * (8 << 20))
            linger = struct.pack("ii", 1, 0)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            client.close()  # RST
            with pytest.raises((ConnectionResetError, BrokenPipeError)):
                await writer.drain()
            with pytest.raises((ConnectionResetError, BrokenPipeError)):
                await reader.read(10)
            writer.close()

    run(loop, main())
