"""Where a transport's I/O events run among the loop's other callbacks, on
casyncio and on stock asyncio.

asyncio's selector loop appends the reader or writer Handle of every ready
fd to the ready queue after the callbacks already queued, then the timers
due at the poll; what those schedule runs in the next iteration.  casyncio
runs an event at once when nothing would come before it, and queues it
otherwise, so the order is the same.  (aiohttp's concurrent websocket
close relies on it: a close() scheduled before the server's reply arrives
runs first.)"""

import asyncio
import socket

import pytest


def run(loop, coro, timeout=20):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


class Recorder(asyncio.Protocol):
    def __init__(self, order):
        self.order = order
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.order.append("data")
        asyncio.get_running_loop().call_soon(self.order.append, "after-data")


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def when_data_comes(before_poll):
    """A transport over one end of a socket pair: a byte is sent to it, and
    before the loop polls, `before_poll(loop, transport, order)` queues what
    the test wants queued ahead of it.  Returns the transport and the order
    of events once the loop has run a few iterations."""
    loop = asyncio.get_running_loop()
    order = []
    ours, peer = socket.socketpair()
    transport, _ = await loop.connect_accepted_socket(lambda: Recorder(order), ours)
    await asyncio.sleep(0)  # connection_made and the first read registration
    peer.send(b"x")
    before_poll(loop, transport, order)
    await settle()
    peer.close()
    return transport, order


def test_callback_queued_before_the_data_came_runs_first(loop):
    def before_poll(loop, transport, order):
        loop.call_soon(order.append, "soon")

    transport, order = run(loop, when_data_comes(before_poll))
    transport.close()
    assert order[:3] == ["soon", "data", "after-data"]


def test_due_timer_runs_before_what_data_received_schedules(loop):
    def before_poll(loop, transport, order):
        loop.call_at(loop.time() - 1, order.append, "timer")

    transport, order = run(loop, when_data_comes(before_poll))
    transport.close()
    assert order[:3] == ["data", "timer", "after-data"]


def test_pause_queued_before_the_data_came_holds_it_back(loop):
    def before_poll(loop, transport, order):
        loop.call_soon(transport.pause_reading)

    transport, order = run(loop, when_data_comes(before_poll))
    assert order == []
    transport.resume_reading()
    run(loop, settle())
    transport.close()
    assert order == ["data", "after-data"]


def test_close_queued_before_the_data_came_drops_it(loop):
    def before_poll(loop, transport, order):
        loop.call_soon(transport.close)

    _, order = run(loop, when_data_comes(before_poll))
    assert order == []


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_server_closed_before_its_accept_ran_accepts_nothing(loop, family, tmp_path):
    made = []

    async def main():
        def factory():
            made.append(1)
            return asyncio.Protocol()

        if family == "tcp":
            server = await loop.create_server(factory, "127.0.0.1", 0)
            addr = server.sockets[0].getsockname()
            client = socket.socket()
        else:
            path = str(tmp_path / "s")
            server = await loop.create_unix_server(factory, path)
            addr = path
            client = socket.socket(socket.AF_UNIX)
        await asyncio.sleep(0)
        client.connect(addr)  # completes in the kernel's backlog
        loop.call_soon(server.close)
        await settle()
        await server.wait_closed()
        client.close()

    run(loop, main())
    assert made == []
