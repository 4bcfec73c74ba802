#!/usr/bin/env python3
"""HTTP benchmark: a keep-alive HTTP/1.1 server on casyncio, asyncio and uvloop under wrk.

    python benchmarks/httpbench.py [--rounds N] [--duration S] [--conns C]
                                   [--threads T] [--impls ...]
                                   [--modes protocol,streams] [--json FILE]

For every mode and round, each implementation in turn serves HTTP in its own
process (`httpbench.py --serve IMPL MODE FD`, handed a listening TCP socket
the parent made, glibc's malloc settled as in echo.py) while `wrk` (Debian
package `wrk`) loads it for the given duration. The server answers `GET /`
with "Hello, world!" and anything else with a 404; it parses every request
(request line, headers to the blank line, Content-Length bodies,
keep-alive), so pipelined requests and requests split across reads are
answered correctly. Modes: `protocol` (an
asyncio.Protocol; all the answers to one read go out in one write) and
`streams` (start_server; readuntil, write, drain per request).

Each run checks itself: wrk must report no socket errors and no non-2xx
responses, the bytes it read must be its request count times the size of the
answer, and the server (which counts the requests it answered and reports it
with its CPU time when stopped) must have answered at least as many requests
as wrk completed and at most one more per connection. The table gives
requests/s (wrk's figure, median of the rounds), the server's CPU
microseconds per request and casyncio's ratios to asyncio and uvloop.

Without wrk the benchmark prints one line saying so and exits 0. Exit status
1 when a run failed.

(The file is not called http.py: benchmarks/ is on sys.path when these
scripts run, and that name would hide the standard library's http package.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from servers import (  # noqa: E402
    cpu_seconds,
    new_loop,
    probe,
    ratio_table,
    settle_malloc,
)

IMPLS = ("casyncio", "asyncio", "uvloop")
MODES = ("protocol", "streams")
MAX_HEAD = 16 * 1024  # a longer request head is answered 431 and closed


# --------------------------------------------------------------------------
# Requests and answers


class BadRequest(Exception):
    """The bytes are not an HTTP/1.x request this server accepts."""

    def __init__(self, answer: bytes):
        super().__init__(answer.split(b"\r\n", 1)[0].decode())
        self.answer = answer


class Request(NamedTuple):
    method: bytes
    target: bytes
    keep_alive: bool
    length: int  # bytes of body that follow the head


def _answer(status: bytes, body: bytes, close: bool) -> bytes:
    head = [b"HTTP/1.1 " + status, b"Content-Type: text/plain"]
    head.append(b"Content-Length: %d" % len(body))
    if close:
        head.append(b"Connection: close")
    return b"\r\n".join(head) + b"\r\n\r\n" + body


BODY = b"Hello, world!"
OK = _answer(b"200 OK", BODY, close=False)
OK_CLOSE = _answer(b"200 OK", BODY, close=True)
NOT_FOUND = _answer(b"404 Not Found", b"Not Found", close=False)
NOT_FOUND_CLOSE = _answer(b"404 Not Found", b"Not Found", close=True)
BAD = _answer(b"400 Bad Request", b"Bad Request", close=True)
TOO_LARGE = _answer(b"431 Request Header Fields Too Large", b"Too Large", close=True)
UNSUPPORTED = _answer(b"501 Not Implemented", b"Not Implemented", close=True)


def parse_head(head: bytes) -> Request:
    """A request from its head (the bytes before the blank line)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise BadRequest(BAD)
    method, target, version = parts
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise BadRequest(BAD)
    connection = b""
    length = 0
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise BadRequest(BAD)
        name = name.lower()
        if name == b"content-length":
            value = value.strip()
            if not value.isdigit():
                raise BadRequest(BAD)
            length = int(value)
        elif name == b"connection":
            connection = value.lower()
        elif name == b"transfer-encoding":
            raise BadRequest(UNSUPPORTED)  # chunked bodies: not needed here
    tokens = {t.strip() for t in connection.split(b",")}
    if version == b"HTTP/1.1":
        keep_alive = b"close" not in tokens
    else:
        keep_alive = b"keep-alive" in tokens
    return Request(method, target, keep_alive, length)


def answer(req: Request) -> bytes:
    if req.method == b"GET" and req.target == b"/":
        return OK if req.keep_alive else OK_CLOSE
    return NOT_FOUND if req.keep_alive else NOT_FOUND_CLOSE


class RequestSplitter:
    """Cuts a connection's byte stream into requests: a head up to the blank
    line, then Content-Length bytes of body (dropped). Several requests in one
    read and one request over several reads both come down to the buffer."""

    def __init__(self):
        self.buf = bytearray()
        self.skip = 0  # body bytes still to drop

    def feed(self, data: bytes) -> list[Request]:
        buf = self.buf
        buf += data
        reqs = []
        pos = 0
        while True:
            if self.skip:
                n = min(self.skip, len(buf) - pos)
                pos += n
                self.skip -= n
                if self.skip:
                    break
            end = buf.find(b"\r\n\r\n", pos)
            if end < 0:
                if len(buf) - pos > MAX_HEAD:
                    raise BadRequest(TOO_LARGE)
                break
            req = parse_head(bytes(buf[pos:end]))
            reqs.append(req)
            pos = end + 4
            self.skip = req.length
            if not req.keep_alive:
                break  # nothing after it is answered
        del buf[:pos]
        return reqs


# --------------------------------------------------------------------------
# The servers


class Stats:
    answered = 0


class HttpProtocol(asyncio.Protocol):
    def __init__(self, stats: Stats):
        self.stats = stats
        self.splitter = RequestSplitter()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if self.transport.is_closing():
            return
        try:
            reqs = self.splitter.feed(data)
        except BadRequest as e:
            self.transport.write(e.answer)
            self.transport.close()
            return
        if not reqs:
            return
        self.stats.answered += len(reqs)
        if len(reqs) == 1:
            self.transport.write(answer(reqs[0]))
        else:
            self.transport.write(b"".join(map(answer, reqs)))
        if not reqs[-1].keep_alive:
            self.transport.close()


async def handle_stream(stats: Stats, reader, writer):
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                req = parse_head(head[:-4])
                if req.length:
                    await reader.readexactly(req.length)
            except asyncio.IncompleteReadError:
                break  # the client closed, maybe mid-request
            except asyncio.LimitOverrunError:
                writer.write(TOO_LARGE)
                break
            except BadRequest as e:
                writer.write(e.answer)
                break
            writer.write(answer(req))
            stats.answered += 1
            if not req.keep_alive:
                break
            await writer.drain()
    except ConnectionError:
        pass  # wrk drops its connections when its time is up
    finally:
        writer.close()


async def start(mode: str, lsock: socket.socket, stats: Stats):
    """Start serving on `lsock` in the running loop; the server object."""
    if mode == "protocol":
        loop = asyncio.get_running_loop()
        return await loop.create_server(lambda: HttpProtocol(stats), sock=lsock)

    async def handler(reader, writer):
        await handle_stream(stats, reader, writer)

    return await asyncio.start_server(handler, sock=lsock, limit=MAX_HEAD)


def serve(impl: str, mode: str, fd: int) -> int:
    """The server process: serve until stdin's EOF, then print the requests
    answered, the CPU time used meanwhile and any loop errors."""
    settle_malloc()  # the same allocator state under every loop
    lsock = socket.socket(fileno=fd)
    loop = new_loop(impl)
    asyncio.set_event_loop(loop)
    errors = []

    def handler(loop, context):
        errors.append(f"{context.get('message')} {context.get('exception')!r}")
        loop.stop()

    loop.set_exception_handler(handler)
    stats = Stats()
    server = loop.run_until_complete(start(mode, lsock, stats))
    loop.add_reader(0, loop.stop)
    print("ready", flush=True)
    cpu0 = cpu_seconds()
    loop.run_forever()
    cpu = cpu_seconds() - cpu0
    report = {"answered": stats.answered, "cpu": cpu, "errors": errors}
    print(json.dumps(report), flush=True)
    del server  # connections may be open still: no orderly teardown needed
    os._exit(1 if errors else 0)


# --------------------------------------------------------------------------
# wrk and its output

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_wrk(out: str) -> dict:
    """The figures of a wrk report; ValueError if it has no summary."""
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)([KMGT]?)B read", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m or not rate:
        raise ValueError(f"no summary in wrk's output: {out[-300:]!r}")
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(m.group(1)),
        "bytes": float(m.group(4)) * _UNITS[m.group(5)],
        "rate": float(rate.group(1)),
        "socket_errors": sum(map(int, sock.groups())) if sock else 0,
        "socket_errors_line": sock.group(0) if sock else "",
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def verify(wrk: dict, answered: int, conns: int) -> str | None:
    """What is wrong with a run, or None."""
    if wrk["socket_errors"]:
        return f"wrk saw {wrk['socket_errors']} socket errors ({wrk['socket_errors_line']})"
    if wrk["non_2xx"]:
        return f"wrk got {wrk['non_2xx']} non-2xx answers"
    if wrk["requests"] == 0:
        return "wrk completed no request"
    # wrk prints the bytes rounded to 3 significant digits or so.
    expected = wrk["requests"] * len(OK)
    if abs(wrk["bytes"] - expected) > 0.01 * expected + 1024:
        return f"wrk read {wrk['bytes']:.0f} bytes, expected {expected}"
    if answered < wrk["requests"]:
        return f"the server answered {answered} requests, wrk completed more"
    # A request in flight on each connection when wrk stops is answered
    # but not counted by wrk.
    if answered > wrk["requests"] + conns:
        return f"the server answered {answered} requests, wrk only sent {wrk['requests']} + {conns}"
    return None


def run_one(impl: str, mode: str, args, wrk_path: str) -> dict:
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1024)
    port = lsock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", impl, mode, str(lsock.fileno())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(lsock.fileno(),),
        text=True,
    )
    lsock.close()
    try:
        if server.stdout.readline().strip() != "ready":
            return {"error": f"server did not start: {server.stderr.read()[-500:]}"}
        cmd = [wrk_path, f"-t{args.threads}", f"-c{args.conns}"]
        cmd += [f"-d{args.duration:g}s", f"http://127.0.0.1:{port}/"]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.duration + 60
        )
        # communicate() closes the server's stdin: its signal to stop.
        out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    if proc.returncode != 0:
        return {"error": f"wrk: {(proc.stderr or proc.stdout).strip()[-300:]}"}
    lines = out.strip().splitlines()
    srv = json.loads(lines[-1]) if lines else None
    if server.returncode != 0 or srv is None or srv["errors"]:
        return {"error": f"server: {(srv or {}).get('errors')} {err.strip()[-500:]}"}
    try:
        wrk = parse_wrk(proc.stdout)
    except ValueError as e:
        return {"error": str(e)}
    problem = verify(wrk, srv["answered"], args.conns)
    if problem:
        return {"error": problem}
    return {
        "rate": wrk["rate"],
        "requests": wrk["requests"],
        "answered": srv["answered"],
        "cpu_us": 1e6 * srv["cpu"] / srv["answered"],
    }


# --------------------------------------------------------------------------
# The parent


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="wrk's -d, seconds")
    p.add_argument("--conns", type=int, default=50, help="wrk's -c")
    p.add_argument("--threads", type=int, default=1, help="wrk's -t")
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    impls = [i for i in args.impls.split(",") if i]
    modes = [m for m in args.modes.split(",") if m]
    if set(impls) - set(IMPLS) or set(modes) - set(MODES) or not impls or not modes:
        p.error(f"choose from {IMPLS} and {MODES}")
    if args.rounds < 1 or args.conns < 1 or args.threads < 1 or args.duration <= 0:
        p.error("--rounds, --conns, --threads and --duration must be positive")

    wrk_path = shutil.which("wrk")
    if not wrk_path:
        print("wrk is not installed (apt-get install wrk): HTTP benchmark skipped")
        return 0
    for impl in list(impls):
        err = probe(impl)
        if err:
            print(f"{impl} cannot be used ({err}): skipped")
            impls.remove(impl)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; wrk -t{args.threads}"
        f" -c{args.conns} -d{args.duration:g}s, {args.rounds} round(s)",
        flush=True,
    )
    results: dict = {}
    failures = []
    for rnd in range(1, args.rounds + 1):
        for mode in modes:
            for impl in impls:
                r = run_one(impl, mode, args, wrk_path)
                label = f"round {rnd} {mode:<8} {impl:<8}"
                if "error" in r:
                    failures.append((label, r["error"]))
                    print(f"{label} FAILED: {r['error']}", file=sys.stderr)
                    continue
                results.setdefault((mode, impl), []).append(r)
                print(
                    f"{label} {r['rate']:9.0f} req/s  {r['cpu_us']:7.1f} us/req",
                    file=sys.stderr,
                    flush=True,
                )
    print()
    print(ratio_table(results, modes, ("mode",), impls, "req"))
    print(
        "\nreq/s: wrk's requests per second (median of the rounds); us/req: server"
        " CPU microseconds per request;\nX/Y: how many times faster X is (cpu X/Y:"
        " in server CPU per request)."
    )
    if args.json:
        doc = {f"{m} {i}": rs for (m, i), rs in results.items()}
        doc["failures"] = [{"run": lab, "error": e} for lab, e in failures]
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    for label, err in failures:
        print(f"FAILED {label}: {err}")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        sys.exit(serve(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    sys.exit(main())
