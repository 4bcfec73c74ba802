"""Exceptions raised from every protocol callback of a stream transport.

Each test makes one callback of the server's protocol raise, drives a TCP
connection to the point where that callback runs, and records what
followed: what the exception handler was given (the exception, the context
keys, the start of the message), whether the transport was closed, whether
connection_lost saw the exception, and that the loop still serves a new
connection afterwards.  The record must be the same on the loop under test
(casyncio or stock asyncio, the ``loop`` fixture) as on a fresh stock
selector loop.
"""

import asyncio

import pytest

PAYLOAD = b"x" * 1000
BIG = b"y" * (4 * 1024 * 1024)  # enough to fill the socket buffers


class Boom(Exception):
    pass


class ServerProtocol(asyncio.Protocol):
    """Echoes; raises Boom from the callback named `failing`, once."""

    def __init__(self, failing, record):
        self.failing = failing
        self.record = record
        self.transport = None

    def maybe_fail(self, name):
        if name == self.failing and not self.record.get("raised"):
            self.record["raised"] = True
            raise Boom(name)

    def connection_made(self, transport):
        self.transport = transport
        self.maybe_fail("connection_made")

    def data_received(self, data):
        self.maybe_fail("data_received")
        if self.failing in ("pause_writing", "resume_writing"):
            transport = self.transport
            transport.set_write_buffer_limits(high=64 * 1024)
            transport.write(BIG)  # the client does not read yet: pauses
        else:
            self.transport.write(data)

    def eof_received(self):
        self.maybe_fail("eof_received")
        return None  # close

    def pause_writing(self):
        self.record["paused"] = True
        self.maybe_fail("pause_writing")

    def resume_writing(self):
        self.record["resumed"] = True
        self.maybe_fail("resume_writing")

    def connection_lost(self, exc):
        self.record["lost_with"] = type(exc).__name__ if exc else None
        self.maybe_fail("connection_lost")


class BufferedServerProtocol(asyncio.BufferedProtocol, ServerProtocol):
    def __init__(self, failing, record):
        ServerProtocol.__init__(self, failing, record)
        self.buf = bytearray(64 * 1024)

    def get_buffer(self, sizehint):
        self.maybe_fail("get_buffer")
        return self.buf

    def buffer_updated(self, nbytes):
        self.maybe_fail("buffer_updated")
        self.transport.write(bytes(self.buf[:nbytes]))


CALLBACKS = [
    ("connection_made", ServerProtocol),
    ("data_received", ServerProtocol),
    ("eof_received", ServerProtocol),
    ("connection_lost", ServerProtocol),
    ("pause_writing", ServerProtocol),
    ("resume_writing", ServerProtocol),
    ("get_buffer", BufferedServerProtocol),
    ("buffer_updated", BufferedServerProtocol),
]


async def echo_once(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(PAYLOAD)
    got = await reader.readexactly(len(PAYLOAD))
    writer.close()
    await writer.wait_closed()
    return got == PAYLOAD


async def scenario(loop, failing, protocol_class):
    record = {}
    reports = []
    loop.set_exception_handler(lambda lp, ctx: reports.append(ctx))
    protocols = []

    def factory():
        # Only the first connection's protocol fails; later ones echo.
        p = protocol_class(
            failing if not protocols else None, record if not protocols else {}
        )
        protocols.append(p)
        return p

    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(PAYLOAD)
    if failing == "eof_received":
        writer.write_eof()
    expected = (
        len(BIG) if failing in ("pause_writing", "resume_writing") else len(PAYLOAD)
    )
    if expected == len(BIG):
        for _ in range(200):  # the client reads nothing until the server paused
            if record.get("paused"):
                break
            await asyncio.sleep(0.01)
    received = 0
    reset = False
    while received < expected:  # the echo, or the server closing first
        try:
            chunk = await asyncio.wait_for(reader.read(1024 * 1024), 10)
        except ConnectionResetError:  # closed with our data unread
            reset = True
            break
        if not chunk:
            break
        received += len(chunk)
    writer.close()
    for _ in range(100):  # let the server side finish closing
        if protocols[0].transport is None or protocols[0].transport.is_closing():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    still_serving = await echo_once(port)
    server.close()
    await server.wait_closed()

    report = [
        (
            type(ctx.get("exception")).__name__,
            sorted(ctx),
            # A callback's repr names implementation classes: not compared.
            "Exception in callback"
            if ctx["message"].startswith("Exception in callback ")
            else ctx["message"],
        )
        for ctx in reports
        if isinstance(ctx.get("exception"), Boom)
    ]
    transport = protocols[0].transport
    return {
        "report": report,
        "closing": transport.is_closing() if transport is not None else None,
        "lost_with": record.get("lost_with", "not called"),
        "still_serving": still_serving,
        "client_saw": "reset" if reset else received,
    }


@pytest.mark.parametrize(
    ("failing", "protocol_class"), CALLBACKS, ids=[c for c, _ in CALLBACKS]
)
def test_protocol_callback_raising(loop, failing, protocol_class):
    got = loop.run_until_complete(scenario(loop, failing, protocol_class))
    assert got["still_serving"] is True
    assert len(got["report"]) == 1, got  # reported once, through the handler
    reference_loop = asyncio.SelectorEventLoop()
    try:
        expected = reference_loop.run_until_complete(
            scenario(reference_loop, failing, protocol_class)
        )
    finally:
        reference_loop.close()
    assert got == expected
