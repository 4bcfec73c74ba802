"""Quick checks of the benchmarks' own machinery (nothing here is timed):
the sleep0 limit's C round-robin builds and checks its coroutines, and the
HTTP benchmark's server answers pipelined and split requests correctly on
both implementations, and its check of wrk's report rejects a bad run."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import echo  # noqa: E402
import httpbench  # noqa: E402
import roundrobin  # noqa: E402
import workloads  # noqa: E402

needs_cc = pytest.mark.skipif(roundrobin.compiler() is None, reason="no C compiler")


# --------------------------------------------------------------------------
# The sleep0 limit


@needs_cc
def test_sleep0_limit_runs_the_workload_coroutines():
    result = workloads.LIMITS["sleep0"](0.01)  # 100 tasks x 100 sleeps
    assert result.ops == 100 * 100
    assert result.seconds > 0


@needs_cc
def test_round_robin_returns_results_in_order():
    run = roundrobin.build().run

    async def steps(n, tag):
        for _ in range(n):
            await asyncio.sleep(0)
        return tag

    # Coroutines that finish at different passes keep their places.
    assert run([steps(3, "a"), steps(0, "b"), steps(7, "c")]) == ["a", "b", "c"]
    assert run([]) == []


@needs_cc
def test_round_robin_rejects_a_yield_that_is_not_none():
    run = roundrobin.build().run

    loop = asyncio.new_event_loop()

    async def waits_on_a_future():
        await loop.create_future()

    coro = waits_on_a_future()
    try:
        with pytest.raises(RuntimeError, match="expected a bare None"):
            run([coro])
    finally:
        coro.close()
        loop.close()


@needs_cc
def test_round_robin_propagates_a_coroutine_error():
    run = roundrobin.build().run

    async def fails():
        await asyncio.sleep(0)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run([fails()])


# --------------------------------------------------------------------------
# The echo benchmark's clients


class _Echo(asyncio.Protocol):
    """Echoes, or (flip_at set) flips one byte of the stream on the way."""

    flip_at = None

    def connection_made(self, transport):
        self.transport = transport
        self.seen = 0

    def data_received(self, data):
        at = self.flip_at
        if at is not None and self.seen <= at < self.seen + len(data):
            data = bytearray(data)
            data[at - self.seen] ^= 0xFF
        self.seen += len(data)
        self.transport.write(bytes(data))


def _run_client(loop, tmp_path, which, flip_at=None, size=3000, conns=3, count=20):
    """Run the echo client `which` ("c" or "py") against an echo server on
    `loop` for `count` messages a connection: (exit status, its stdout, its
    stderr)."""
    if which == "c":
        cmd, why = echo.build_client(str(tmp_path))
        if cmd is None:
            pytest.skip(why)
    else:
        cmd = [sys.executable, echo.__file__, "--client"]

    async def main():
        proto = type("P", (_Echo,), {"flip_at": flip_at})
        server = await loop.create_server(proto, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        args = [f"127.0.0.1:{port}", str(size), str(conns), "4", "30", str(count)]
        try:
            return await asyncio.to_thread(
                subprocess.run,
                [*cmd, *args],
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            server.close()
            await server.wait_closed()

    proc = loop.run_until_complete(main())
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("which", ["c", "py"])
def test_echo_client_counts_whole_messages(loop, tmp_path, which):
    rc, out, err = _run_client(loop, tmp_path, which)
    assert rc == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["messages"] == 3 * 20
    assert report["seconds"] > 0


@pytest.mark.parametrize("which", ["c", "py"])
def test_echo_client_rejects_a_changed_byte(loop, tmp_path, which):
    rc, out, err = _run_client(loop, tmp_path, which, flip_at=12345)
    assert rc != 0
    assert "differs" in err


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs two CPUs",
)
def test_echo_pin_puts_server_and_client_on_their_own_cpus():
    cpus = sorted(os.sched_getaffinity(0))[:2]
    assert echo.pinned(None, 0) is None
    code = "import os; print(sorted(os.sched_getaffinity(0)))"
    for which in (0, 1):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=echo.pinned(cpus, which),
        ).stdout
        assert json.loads(out) == [cpus[which]]


# --------------------------------------------------------------------------
# The HTTP server


def _get(path, extra=b""):
    return b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"


def _exchange(port, chunks, expected_len):
    """Send `chunks` (a pause between them), read until `expected_len`
    bytes or EOF; everything read, and whether the server closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for chunk in chunks:
            s.sendall(chunk)
            time.sleep(0.05)  # each chunk reaches the server in its own read
        got = b""
        while len(got) < expected_len:
            data = s.recv(65536)
            if not data:
                return got, True
            got += data
        s.settimeout(0.2)
        try:
            closed = s.recv(1) == b""
        except TimeoutError:
            closed = False
        return got, closed


@pytest.mark.parametrize("mode", httpbench.MODES)
def test_http_server_pipelined_and_split_requests(loop, mode):
    stats = httpbench.Stats()
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    post = b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"

    async def main():
        server = await httpbench.start(mode, lsock, stats)
        # Three pipelined requests in one send, a POST whose body must be
        # skipped among them; then one request cut in the middle of its
        # head and of its blank line.
        pipelined = _get(b"/") + post + _get(b"/missing")
        split = [_get(b"/")[:7], _get(b"/")[7:-1], b"\n"]
        want1 = httpbench.OK + httpbench.NOT_FOUND + httpbench.NOT_FOUND
        first = await asyncio.to_thread(_exchange, port, [pipelined], len(want1))
        second = await asyncio.to_thread(_exchange, port, split, len(httpbench.OK))
        closing = _get(b"/", b"Connection: close\r\n") + _get(b"/")
        third = await asyncio.to_thread(_exchange, port, [closing], 1 << 20)
        server.close()
        await server.wait_closed()
        return want1, first, second, third

    want1, first, second, third = loop.run_until_complete(asyncio.wait_for(main(), 30))
    assert first == (want1, False)
    assert second == (httpbench.OK, False)
    # Connection: close is answered, then the connection is closed and the
    # request after it is not answered.
    assert third == (httpbench.OK_CLOSE, True)
    assert stats.answered == 3 + 1 + 1


def test_http_answers_have_the_right_content_length():
    for raw in (httpbench.OK, httpbench.NOT_FOUND, httpbench.BAD):
        head, _, body = raw.partition(b"\r\n\r\n")
        assert b"Content-Length: %d" % len(body) in head.split(b"\r\n")
    assert httpbench.OK.endswith(b"\r\n\r\nHello, world!")


def test_http_bad_requests():
    with pytest.raises(httpbench.BadRequest) as e:
        httpbench.RequestSplitter().feed(b"GET /\r\n\r\n")
    assert e.value.answer == httpbench.BAD
    with pytest.raises(httpbench.BadRequest) as e:
        httpbench.RequestSplitter().feed(b"x" * (httpbench.MAX_HEAD + 1))
    assert e.value.answer == httpbench.TOO_LARGE
    req = httpbench.parse_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive")
    assert req.keep_alive
    assert not httpbench.parse_head(b"GET / HTTP/1.0").keep_alive


WRK_OK = """Running 5s test @ http://127.0.0.1:1234/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.05ms  310.42us   7.10ms   90.00%
    Req/Sec    24.45k     1.20k   26.00k    80.00%
  121650 requests in 5.00s, {mib}MB read
Requests/sec:  24330.00
Transfer/sec:      2.07MB
"""


def test_wrk_report_checks():
    mib = f"{121650 * len(httpbench.OK) / 1024**2:.2f}"
    good = httpbench.parse_wrk(WRK_OK.format(mib=mib))
    assert good["requests"] == 121650 and good["rate"] == 24330.0
    assert httpbench.verify(good, 121650 + 50, 50) is None
    assert "answered" in httpbench.verify(good, 121649, 50)
    assert "answered" in httpbench.verify(good, 121650 + 51, 50)
    errors = WRK_OK.format(mib=mib).replace(
        "Requests/sec", "  Non-2xx or 3xx responses: 3\nRequests/sec"
    )
    assert "non-2xx" in httpbench.verify(httpbench.parse_wrk(errors), 121650, 50)
    sock_err = WRK_OK.format(mib=mib).replace(
        "Requests/sec",
        "  Socket errors: connect 0, read 2, write 0, timeout 0\nRequests/sec",
    )
    assert "socket" in httpbench.verify(httpbench.parse_wrk(sock_err), 121650, 50)
    short = httpbench.parse_wrk(WRK_OK.format(mib="1.00"))
    assert "bytes" in httpbench.verify(short, 121650, 50)
    with pytest.raises(ValueError):
        httpbench.parse_wrk("unable to connect")


def test_http_benchmark_without_wrk_says_so(capsys, monkeypatch):
    monkeypatch.setattr(httpbench.shutil, "which", lambda name: None)
    assert httpbench.main(["--rounds", "1"]) == 0
    assert "wrk is not installed" in capsys.readouterr().out


# --------------------------------------------------------------------------
# The README's table from several Pythons' runs (table.py)


def test_table_combines_the_runs_of_several_pythons(tmp_path):
    import table

    def run_doc(version, casyncio, asyncio_, uvloop=None):
        cells = {"casyncio": casyncio, "asyncio": asyncio_}
        if uvloop is not None:
            cells["uvloop"] = uvloop
        return {
            "meta": {"python": f"CPython {version}.1"},
            "summary": {"sleep0": {k: {"median": v} for k, v in cells.items()}},
            "failures": [] if uvloop else [{"impl": "uvloop", "workload": "sleep0"}],
        }

    files = []
    for version, figures in (("3.15", (300, 100, 200)), ("3.11", (400, 100))):
        path = tmp_path / f"{version}.json"
        path.write_text(json.dumps(run_doc(version, *figures)))
        files.append(str(path))
    lines = table.table(
        {
            table.python_version(json.loads(Path(f).read_text())): [
                json.loads(Path(f).read_text())
            ]
            for f in files
        },
        "3.15",
    ).splitlines()
    assert lines[0].split(" | ")[-2:] == [
        "3.11: /asyncio, /uvloop",
        "3.15: /asyncio, /uvloop |",
    ]
    row = [c.strip() for c in lines[2].strip("|").split("|")]
    assert row[0] == "sleep0"
    assert row[1:4] == ["300", "100", "200"]  # 3.15's ops/s
    assert row[4:] == ["4.00x / uvloop failed", "3.00x / 1.50x"]


# --------------------------------------------------------------------------
# The servers' probe (echo.py, httpbench.py)


def test_server_probe_finds_casyncio_from_the_top_of_a_checkout(monkeypatch):
    """From the checkout's top directory, `python -c` would import the
    source directory casyncio/ (no extension built there) rather than the
    installed package; the probe must not, or echo.py skips casyncio."""
    import servers

    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(root)
    if any((root / "casyncio").glob("_core*.so")):
        pytest.skip("an in-tree build: the source directory imports")
    assert servers.probe("casyncio") is None
    assert servers.probe("asyncio") is None


def test_table_pools_the_rounds_of_several_runs_pairing_each_round():
    """Two runs of one Python: each speedup is taken within a round (the two
    implementations' adjacent runs), and the cell is the median over all
    rounds of both runs; --spread shows their range."""
    import table

    def run_doc(rounds):
        runs = []
        for rnd, (c, a) in enumerate(rounds, 1):
            runs += [
                {"workload": "sleep0", "impl": "casyncio", "round": rnd, "value": c},
                {"workload": "sleep0", "impl": "asyncio", "round": rnd, "value": a},
            ]
        return {
            "meta": {"python": "CPython 3.14.1", "rounds": len(rounds)},
            "runs": runs,
            "summary": {"sleep0": {"casyncio": {}, "asyncio": {}}},
            "failures": [],
        }

    # A slow phase of the machine in the second run halves both figures of
    # its rounds: the per-round speedups stay 2x, 3x, 4x, 3x, 3x.
    docs = {
        "3.14": [
            run_doc([(200, 100), (300, 100)]),
            run_doc([(200, 50), (150, 50), (150, 50)]),
        ]
    }
    row = table.table(docs, "3.14", spread=True).splitlines()[2]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "sleep0"
    assert cells[1:3] == ["200", "50.0"]  # medians over the 5 rounds
    assert cells[4] == "3.00x (2.00-4.00) / -"


# --------------------------------------------------------------------------
# The lockstep transport workloads (instructions.py's deterministic echo)


@pytest.mark.parametrize("name", ["protocol_pingpong", "udp_pingpong"])
@pytest.mark.parametrize("impl", ["casyncio", "asyncio"])
def test_lockstep_workloads_count_every_round_trip(name, impl):
    factory, _ = workloads.IMPLS[impl]()
    result = workloads.run_once(workloads.WORKLOADS[name], factory, 0.002)
    assert result.ops == 100  # 50,000 round trips at scale 0.002
    assert result.seconds > 0


# --------------------------------------------------------------------------
# The workloads of asyncio's own Python above the loop (Queue, locks,
# timeout, wait_for, cancellation), on each implementation; casyncio-accel
# is casyncio with casyncio.accelerate(), undone after the test.

ABOVE_THE_LOOP = [
    "queue_pipeline",
    "lock_contention",
    "semaphore_contention",
    "timeout_awaits",
    "wait_for_awaits",
    "cancel_storm",
]


@pytest.mark.parametrize("name", ABOVE_THE_LOOP)
@pytest.mark.parametrize("impl", ["casyncio", "casyncio-accel", "asyncio"])
def test_workloads_above_the_loop_check_their_results(name, impl):
    import casyncio

    try:
        factory, description = workloads.IMPLS[impl]()
        assert ("accelerated" in description) == (impl == "casyncio-accel")
        result = workloads.run_once(workloads.WORKLOADS[name], factory, 0.01)
    finally:
        casyncio.decelerate()
    assert result.ops > 0
    assert result.seconds > 0


def test_async_tree_table_gives_speedups_over_asyncio_and_uvloop():
    import async_tree

    times = {
        "none": {"asyncio": 0.4, "uvloop": 0.2, "casyncio": 0.1, "casyncio-accel": 0.05}
    }
    table = async_tree.render(times, list(async_tree.IMPLS)).splitlines()
    assert table[0].startswith("| benchmark | asyncio (ms) | uvloop (ms)")
    assert "casyncio-accel/casyncio" in table[0]
    assert table[2] == (
        "| async_tree_none | 400.0 | 200.0 | 100.0 | 50.0 | 2.00x | 4.00x | 8.00x"
        " | 2.00x | 4.00x | 2.00x |"
    )
    assert set(async_tree.VARIANTS) >= {
        "none",
        "io_tg",
        "cpu_io_mixed",
        "memoization_tg",
    }
