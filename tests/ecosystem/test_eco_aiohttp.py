"""aiohttp on casyncio: its server under load from its client (JSON
requests, 1 MiB bodies both ways, websockets), both on the loop under test."""

import asyncio
import hashlib

import pytest

aiohttp = pytest.importorskip("aiohttp", reason="aiohttp is not installed")
from aiohttp import web  # noqa: E402

MIB = 1 << 20


async def add(request):
    data = await request.json()
    return web.json_response({"sum": data["a"] + data["b"], "id": data["id"]})


async def digest(request):
    body = await request.read()
    return web.json_response({"len": len(body), "md5": hashlib.md5(body).hexdigest()})


async def blob(request):
    size = int(request.query["size"])
    return web.Response(body=bytes(i % 251 for i in range(size)))


async def ws_upper(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            await ws.send_str(msg.data.upper())
        elif msg.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(msg.data[::-1])
    return ws


async def serve():
    app = web.Application(client_max_size=4 * MIB)
    app.router.add_post("/add", add)
    app.router.add_post("/digest", digest)
    app.router.add_get("/blob", blob)
    app.router.add_get("/ws", ws_upper)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


def test_json_under_load(run):
    async def main():
        runner, url = await serve()
        try:
            conn = aiohttp.TCPConnector(limit=20)
            async with aiohttp.ClientSession(connector=conn) as session:

                async def one(i):
                    body = {"a": i, "b": 2 * i, "id": i}
                    async with session.post(f"{url}/add", json=body) as resp:
                        assert resp.status == 200
                        return await resp.json()

                return await asyncio.gather(*(one(i) for i in range(500)))
        finally:
            await runner.cleanup()

    results = run(main())
    assert results == [{"sum": 3 * i, "id": i} for i in range(500)]


def test_one_mib_bodies(run):
    payload = bytes(range(256)) * (MIB // 256)

    async def main():
        runner, url = await serve()
        try:
            async with aiohttp.ClientSession() as session:
                async with session.post(f"{url}/digest", data=payload) as resp:
                    up = await resp.json()
                async with session.get(f"{url}/blob?size={MIB}") as resp:
                    down = await resp.read()
            return up, down
        finally:
            await runner.cleanup()

    up, down = run(main())
    assert up == {"len": MIB, "md5": hashlib.md5(payload).hexdigest()}
    assert down == bytes(i % 251 for i in range(MIB))


def test_websockets(run):
    async def main():
        runner, url = await serve()
        try:
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(f"{url}/ws") as ws:
                    got = []
                    for i in range(50):
                        await ws.send_str(f"message {i}")
                        got.append((await ws.receive()).data)
                    await ws.send_bytes(b"x" * MIB + b"y")
                    big = (await ws.receive()).data
                    await ws.close()
                    return got, big, ws.close_code
        finally:
            await runner.cleanup()

    got, big, code = run(main())
    assert got == [f"MESSAGE {i}" for i in range(50)]
    assert big == b"y" + b"x" * MIB
    assert code == 1000
