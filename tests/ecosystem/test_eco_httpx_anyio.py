"""httpx's async client and anyio on casyncio.

httpx runs on the loop under test against a small HTTP/1.1 server of asyncio
streams on the same loop; anyio runs through anyio.run() with its asyncio
backend and the loop factory of the implementation under test."""

import asyncio
import json
import threading

import pytest

httpx = pytest.importorskip("httpx", reason="httpx is not installed")
anyio = pytest.importorskip("anyio", reason="anyio is not installed")


async def http_server():
    """A keep-alive HTTP/1.1 server: GET /json answers a JSON document, POST
    /echo answers the body reversed."""

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *fields = head.decode("latin-1").split("\r\n")
                method, path, _ = line.split(" ", 2)
                headers = dict(f.lower().split(": ", 1) for f in fields if f)
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                if method == "GET":
                    out = json.dumps({"path": path}).encode()
                else:
                    out = body[::-1]
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(out) + out
                )
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def test_httpx_async_client(run):
    body = bytes(range(256)) * 4096  # 1 MiB

    async def main():
        server, url = await http_server()
        async with server:
            async with httpx.AsyncClient(base_url=url) as client:
                docs = await asyncio.gather(
                    *(client.get(f"/json?i={i}") for i in range(100))
                )
                echo = await client.post("/echo", content=body)
            return [d.json() for d in docs], echo.content

    docs, echo = run(main())
    assert docs == [{"path": f"/json?i={i}"} for i in range(100)]
    assert echo == body[::-1]


def anyio_run(loop_factory, fn):
    return anyio.run(
        fn, backend="asyncio", backend_options={"loop_factory": loop_factory}
    )


def test_anyio_task_groups_and_cancel_scopes(impl, loop_factory):
    async def main():
        assert type(asyncio.get_running_loop()).__module__.split(".")[0] == impl
        done = []

        async def worker(i):
            await anyio.sleep(0.01 * (5 - i))
            done.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(worker, i)
        with anyio.move_on_after(0.05) as scope:
            await anyio.sleep(10)
        timed_out = False
        try:
            with anyio.fail_after(0.05):
                await anyio.sleep(10)
        except TimeoutError:
            timed_out = True
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.sleep, 10)
            await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
        return done, scope.cancelled_caught, timed_out, tg.cancel_scope.cancel_called

    assert anyio_run(loop_factory, main) == ([4, 3, 2, 1, 0], True, True, True)


def test_anyio_streams_threads_and_sockets(loop_factory):
    async def main():
        send, receive = anyio.create_memory_object_stream(4)

        async def produce():
            async with send:
                for i in range(20):
                    await send.send(i)

        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            async with receive:
                items = [i async for i in receive]

        in_thread = await anyio.to_thread.run_sync(
            lambda: (
                anyio.from_thread.run(
                    anyio.sleep,
                    0,
                )
                or threading.get_ident()
            )
        )

        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)

        async def reverse(stream):
            async with stream:
                await stream.send((await stream.receive())[::-1])

        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, reverse)
            async with await anyio.connect_tcp("127.0.0.1", port) as client:
                await client.send(b"casyncio")
                reply = await client.receive()
            tg.cancel_scope.cancel()
        return items, in_thread != threading.get_ident(), reply

    assert anyio_run(loop_factory, main) == (list(range(20)), True, b"oicnysac")


def test_anyio_cancelled_receiver_loses_no_item(loop_factory):
    # anyio hands an item only to a receiver with no pending cancellation,
    # which it sees through isinstance(task._fut_waiter, asyncio.Future):
    # an item sent to a receiver being cancelled stays in the stream.
    async def main():
        send, receive = anyio.create_memory_object_stream(1)
        with send, receive:
            receiver = asyncio.create_task(receive.receive())
            await anyio.wait_all_tasks_blocked()
            receiver.cancel()
            send.send_nowait("item")
            try:
                await receiver
            except asyncio.CancelledError:
                cancelled = True
            else:
                cancelled = False
            return cancelled, receive.receive_nowait()

    assert anyio_run(loop_factory, main) == (True, "item")


def test_anyio_closed_unix_stream_during_receive(loop_factory, tmp_path):
    # Closing a UNIX stream while a task waits to receive: anyio then
    # removes the reader of the socket it has just closed, in a callback
    # whose error would go to the loop's exception handler.
    async def main():
        errors = []
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: errors.append(context)
        )
        path = str(tmp_path / "sock")
        listener = await anyio.create_unix_listener(path)
        results = []

        async def serve(stream):
            async with stream:
                await anyio.sleep(10)

        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, serve)
            client = await anyio.connect_unix(path)

            async def receive():
                try:
                    await client.receive()
                except anyio.ClosedResourceError:
                    results.append("closed")

            async with anyio.create_task_group() as inner:
                inner.start_soon(receive)
                await anyio.wait_all_tasks_blocked()
                await client.aclose()
            tg.cancel_scope.cancel()
        await anyio.sleep(0.01)
        return results, errors

    assert anyio_run(loop_factory, main) == (["closed"], [])
