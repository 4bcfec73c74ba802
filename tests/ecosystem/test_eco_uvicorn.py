"""uvicorn, a real process started with `--loop casyncio:new_event_loop`
(or `--loop asyncio`), serving an ASGI app; the client runs on the loop
under test."""

import asyncio
import signal
import subprocess
import sys
import textwrap

import pytest
from support import subprocess_env

pytest.importorskip("uvicorn", reason="uvicorn is not installed")

from .eco_support import free_port, wait_for_port  # noqa: E402

APP = textwrap.dedent(
    """
    import asyncio

    state = {}

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    state["started"] = True
                    await send({"type": "lifespan.startup.complete"})
                else:
                    print("lifespan shutdown", flush=True)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        loop = type(asyncio.get_running_loop())
        if scope["path"] == "/loop":
            out = f"{loop.__module__}.{loop.__qualname__} {state['started']}".encode()
        else:
            out = body[::-1]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})
    """
)


async def request(port, method, path, body=b""):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n".encode()
        + body
    )
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, payload = response.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], payload


@pytest.fixture
def uvicorn_server(impl, tmp_path):
    (tmp_path / "asgi_app.py").write_text(APP)
    port = free_port()
    loop = "casyncio:new_event_loop" if impl == "casyncio" else "asyncio"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--loop",
            loop,
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--lifespan",
            "on",
            "asgi_app:app",
        ],
        cwd=tmp_path,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, proc, "uvicorn")
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def test_uvicorn_serves_an_asgi_app(run, impl, uvicorn_server):
    port, proc = uvicorn_server
    body = bytes(range(256)) * 1024

    async def main():
        loop_status, loop_name = await request(port, "GET", "/loop")
        results = await asyncio.gather(
            *(request(port, "POST", "/echo", body) for _ in range(20))
        )
        return loop_status, loop_name, results

    status, loop_name, results = run(main())
    assert status == b"HTTP/1.1 200 OK"
    expected = "casyncio._loop.Loop" if impl == "casyncio" else "asyncio."
    assert loop_name.decode().startswith(expected)
    assert loop_name.endswith(b" True")  # lifespan startup ran
    assert results == [(b"HTTP/1.1 200 OK", body[::-1])] * 20
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0, output
    assert "lifespan shutdown" in output
