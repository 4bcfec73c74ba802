#!/usr/bin/env python3
"""Soak test: an echo server at full load for minutes, connections churning.

    python benchmarks/soak.py [--impl casyncio] [--mode protocol|streams]
                              [--seconds 300] [--clients 2] [--warmup 10]

The server (this script with --serve, in its own process, on the chosen
implementation) echoes over TCP on loopback.  CLIENTS client processes
(plain blocking sockets, no asyncio) each open a connection, send 1 to 20
messages of 1 byte to 64 KiB, check every echoed byte, close (one in ten
with a reset instead of a clean close) and start again, until SECONDS are
over.  The server reports its resident memory and open fds once a second;
the script prints them after the warm-up and at the end, with connections
and bytes served.  Not a timed test: it is for finding slow leaks (memory
or fds that grow with the number of connections), so what matters is that
the end figures are the same as the start ones.

Exit status 1 if a client saw a wrong echo or an error, or the server died.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

MAX_MESSAGE = 64 * 1024


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def new_loop(impl: str) -> asyncio.AbstractEventLoop:
    if impl == "casyncio":
        from workloads import _load_casyncio  # the in-tree build if there is one

        return _load_casyncio()[0]()
    if impl == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


# --------------------------------------------------------------------------
# The server


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def connection_lost(self, exc):
        self.transport = None


async def echo_stream(reader, writer):
    try:
        while data := await reader.read(MAX_MESSAGE):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def serve(impl: str, mode: str) -> None:
    loop = new_loop(impl)
    asyncio.set_event_loop(loop)

    async def main():
        if mode == "protocol":
            server = await loop.create_server(EchoProtocol, "127.0.0.1", 0)
        else:
            server = await asyncio.start_server(echo_stream, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        print(f"port {port}", flush=True)
        stop = asyncio.Event()
        loop.add_reader(sys.stdin.fileno(), stop.set)  # EOF on stdin: stop
        while not stop.is_set():
            print(
                f"stats {time.monotonic():.1f} {rss_bytes()} {open_fds()}", flush=True
            )
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
        loop.remove_reader(sys.stdin.fileno())
        server.close()
        await server.wait_closed()

    loop.run_until_complete(main())
    loop.close()


# --------------------------------------------------------------------------
# A client process


def client(port: int, seconds: float, seed: int) -> None:
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    conns = messages = nbytes = 0
    while time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            for _ in range(rng.randint(1, 20)):
                size = rng.choice(
                    (1, rng.randint(1, 4096), rng.randint(1, MAX_MESSAGE))
                )
                payload = rng.randbytes(size)
                sock.sendall(payload)
                got = bytearray()
                while len(got) < size:
                    chunk = sock.recv(size - len(got))
                    if not chunk:
                        raise RuntimeError("server closed the connection early")
                    got += chunk
                if got != payload:
                    raise RuntimeError("echo differs from what was sent")
                messages += 1
                nbytes += size
            if rng.random() < 0.1:  # a reset rather than a clean close
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
        conns += 1
    print(f"done {conns} {messages} {nbytes}", flush=True)


# --------------------------------------------------------------------------
# The driver


def read_server(proc, samples, lock):
    for line in proc.stdout:
        parts = line.split()
        if parts and parts[0] == "stats":
            with lock:
                samples.append((float(parts[1]), int(parts[2]), int(parts[3])))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--impl", default="casyncio", choices=("casyncio", "asyncio", "uvloop")
    )
    ap.add_argument("--mode", default="protocol", choices=("protocol", "streams"))
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument(
        "--serve", nargs=2, metavar=("IMPL", "MODE"), help=argparse.SUPPRESS
    )
    ap.add_argument(
        "--client", nargs=3, metavar=("PORT", "SECONDS", "SEED"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.serve:
        serve(*args.serve)
        return 0
    if args.client:
        client(int(args.client[0]), float(args.client[1]), int(args.client[2]))
        return 0

    me = [sys.executable, os.path.abspath(__file__)]
    server = subprocess.Popen(
        me + ["--serve", args.impl, args.mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(server.stdout.readline().split()[1])
    samples: list[tuple[float, int, int]] = []
    lock = threading.Lock()
    threading.Thread(
        target=read_server, args=(server, samples, lock), daemon=True
    ).start()
    total = args.warmup + args.seconds
    clients = [
        subprocess.Popen(
            me + ["--client", str(port), str(total), str(i)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(args.clients)
    ]
    time.sleep(args.warmup)
    with lock:
        start = samples[-1]
    outs = [c.communicate()[0] for c in clients]
    with lock:
        end = samples[-1]
    server.stdin.close()
    server.wait(30)
    failed = [c.returncode for c in clients if c.returncode] + (
        [server.returncode] if server.returncode else []
    )
    conns = messages = nbytes = 0
    for out in outs:
        for line in out.splitlines():
            if line.startswith("done "):
                c, m, b = map(int, line.split()[1:])
                conns, messages, nbytes = conns + c, messages + m, nbytes + b
    print(
        f"{args.impl} {args.mode}: {args.seconds:.0f} s after a {args.warmup:.0f} s warm-up, {args.clients} client processes"
    )
    print(
        f"  connections {conns:,}  messages {messages:,}  echoed {nbytes / 2**20:,.0f} MiB"
    )
    print(
        f"  server resident memory: {start[1] / 2**20:.1f} MiB after warm-up, {end[1] / 2**20:.1f} MiB at the end"
    )
    print(f"  server open fds:        {start[2]} after warm-up, {end[2]} at the end")
    print(f"  peak resident memory:   {max(s[1] for s in samples) / 2**20:.1f} MiB")
    if failed:
        print(f"FAILED: exit statuses {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
