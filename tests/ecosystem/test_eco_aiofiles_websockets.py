"""aiofiles (file I/O in the default executor) and websockets (its asyncio
server and client, talking to each other) on casyncio."""

import pytest

MIB = 1 << 20


def test_aiofiles(run, tmp_path):
    aiofiles = pytest.importorskip("aiofiles", reason="aiofiles is not installed")
    from aiofiles import os as aio_os

    path = tmp_path / "data.txt"
    lines = [f"line {i}\n" for i in range(1000)]

    async def main():
        async with aiofiles.open(path, "w") as f:
            await f.writelines(lines)
        async with aiofiles.open(path) as f:
            read_back = [line async for line in f]
        async with aiofiles.open(path, "ab") as f:
            await f.write(b"x" * MIB)
        stat = await aio_os.stat(path)
        await aio_os.rename(path, tmp_path / "moved.txt")
        return read_back, stat.st_size, await aio_os.path.exists(path)

    read_back, size, exists = run(main())
    assert read_back == lines
    assert size == len("".join(lines)) + MIB
    assert not exists


def test_websockets(run):
    pytest.importorskip("websockets", reason="websockets is not installed")
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve

    async def echo(ws):
        async for message in ws:
            await ws.send(message[::-1])

    async def main():
        async with serve(echo, "127.0.0.1", 0, max_size=2 * MIB) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}", max_size=2 * MIB) as ws:
                replies = []
                for i in range(50):
                    await ws.send(f"text {i}")
                    replies.append(await ws.recv())
                await ws.send(b"a" * MIB + b"b")
                big = await ws.recv()
                latency = await (await ws.ping())
                await ws.close()
                return replies, big, latency, ws.close_code

    replies, big, latency, code = run(main())
    assert replies == [f"text {i}"[::-1] for i in range(50)]
    assert big == b"b" + b"a" * MIB
    assert latency >= 0
    assert code == 1000
