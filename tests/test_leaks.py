"""Nothing accumulates over a million operations: tasks, futures with
done-callbacks, call_later + cancel, loops opened and closed, 100,000 TCP
connections opened, echoed over and closed, and 10,000 subprocesses.

Each test runs a warm-up batch, takes a snapshot (resident memory, the
number of objects the garbage collector tracks, open fds), runs the rest in
batches, and checks that the figures are flat within a stated tolerance.
Written once and run on casyncio and on stock asyncio, as every loop test.

CASYNCIO_LEAK_N sets the number of operations on casyncio (default one
million; CASYNCIO_LEAK_CONNECTIONS, 100,000, for connections;
CASYNCIO_LEAK_SUBPROCESSES, 10,000, for subprocesses); stock asyncio, the baseline that shows the tests and tolerances
are sound, does a fifth of it, to keep the suite's time down.
CASYNCIO_LEAK_RSS=0 leaves resident memory out (the AddressSanitizer run of
.ci/run sets it: freed memory waits in the sanitizer's quarantine there);
object counts and fds are still checked, and the debug build's live-object
counters with them.
"""

import asyncio
import gc
import os

import pytest
from conftest import make_loop

N = int(os.environ.get("CASYNCIO_LEAK_N", "1000000"))
BATCH = 10_000
WARMUP_BATCHES = 5

# Tolerances after the warm-up.  Freed memory is not always given back to
# the system (arenas, malloc's heap), so resident memory may move a little;
# stock asyncio's own figure moves by up to 5 MiB here over N = 1M, while a
# leak of one small object (32 bytes) per operation would be 30 MiB.
MAX_RSS_GROWTH = 8 * 1024 * 1024  # bytes
MAX_OBJECT_GROWTH = 200  # objects tracked by the GC
CHECK_RSS = os.environ.get("CASYNCIO_LEAK_RSS", "1") != "0"


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def open_fds():
    return len(os.listdir("/proc/self/fd"))


class Snapshot:
    def __init__(self):
        gc.collect()
        self.rss = rss_bytes()
        self.objects = len(gc.get_objects())
        self.fds = open_fds()

    def assert_flat(self, what):
        now = Snapshot()
        grew_rss = now.rss - self.rss
        grew_objects = now.objects - self.objects
        # Shown with -s; the README's reliability figures come from here.
        print(
            f"\n{what}: resident memory {self.rss / 2**20:.1f} -> "
            f"{now.rss / 2**20:.1f} MiB, GC-tracked objects {self.objects} -> "
            f"{now.objects}, open fds {self.fds} -> {now.fds}"
        )
        assert grew_rss <= MAX_RSS_GROWTH or not CHECK_RSS, (
            f"{what}: resident memory grew by {grew_rss / 2**20:.1f} MiB"
        )
        assert grew_objects <= MAX_OBJECT_GROWTH, (
            f"{what}: {grew_objects} more objects tracked by the GC"
        )
        assert now.fds == self.fds, f"{what}: {now.fds - self.fds} more open fds"


def batches(loop, n=N, batch=BATCH):
    """How many batches of `batch` make n operations on casyncio (a fifth of
    them on stock asyncio), warm-up included."""
    n = n if type(loop).__module__.startswith("casyncio") else n // 5
    return max(n // batch, WARMUP_BATCHES + 1)


async def in_windows(make_one, batch, window):
    """make_one(i) for i in range(batch), `window` at a time; the sum of
    their results."""
    total = 0
    for start in range(0, batch, window):
        total += sum(await asyncio.gather(*map(make_one, range(start, start + window))))
    return total


def run_batches(loop, make_batch, n=N, batch=BATCH):
    """Run the warm-up batches, snapshot, run the rest; return the snapshot
    and the sum of what the batches returned."""
    total = 0
    snapshot = None
    for i in range(batches(loop, n, batch)):
        if i == WARMUP_BATCHES:
            snapshot = Snapshot()
        total += loop.run_until_complete(make_batch())
    return snapshot, total


def test_a_million_tasks(loop):
    async def work(i):
        await asyncio.sleep(0)
        return i

    async def batch():
        tasks = [loop.create_task(work(i)) for i in range(BATCH)]
        results = await asyncio.gather(*tasks)
        return sum(results)

    snapshot, total = run_batches(loop, batch)
    assert total == batches(loop) * (BATCH * (BATCH - 1) // 2)
    snapshot.assert_flat(f"{batches(loop) * BATCH} tasks")
    assert not asyncio.all_tasks(loop)


def test_a_million_futures_with_callbacks(loop):
    async def batch():
        seen = []
        futs = []
        for _ in range(BATCH):
            fut = loop.create_future()
            fut.add_done_callback(lambda f: seen.append(f.result()))
            fut.add_done_callback(lambda f: None)
            futs.append(fut)
        for i, fut in enumerate(futs):
            if i % 3 == 0:
                fut.cancel()
            else:
                fut.set_result(i)
        await asyncio.sleep(0)
        cancelled = sum(1 for f in futs if f.cancelled())
        assert sorted(seen) == [i for i in range(BATCH) if i % 3]
        return cancelled

    # f.result() raises CancelledError in the first callback of each
    # cancelled future: the exception handler gets those, and counts them.
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(type(ctx["exception"])))
    snapshot, cancelled = run_batches(loop, batch)
    assert cancelled == batches(loop) * len(range(0, BATCH, 3))
    assert len(errors) == cancelled
    assert set(errors) == {asyncio.CancelledError}
    snapshot.assert_flat(f"{batches(loop) * BATCH} futures")


def test_a_million_call_later_and_cancel(loop):
    async def batch():
        fired = []
        handles = [loop.call_later(3600 + i, fired.append, i) for i in range(BATCH)]
        for h in handles:
            h.cancel()
        keep = [loop.call_later(0, fired.append, i) for i in range(10)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert all(not h.cancelled() for h in keep)
        return len(fired)

    snapshot, fired = run_batches(loop, batch)
    assert fired == batches(loop) * 10
    snapshot.assert_flat(f"{batches(loop) * BATCH} call_later + cancel")


CONNECTIONS = int(os.environ.get("CASYNCIO_LEAK_CONNECTIONS", "100000"))
CONN_BATCH = 1000  # connections per batch, CONN_WINDOW at a time
CONN_WINDOW = 100


class EchoServer(asyncio.Protocol):
    """Echoes; a message ending in b"!" asks the server to close first."""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)
        if data.endswith(b"!"):
            self.transport.close()


class EchoClient(asyncio.Protocol):
    def __init__(self, message, done):
        self.message = message
        self.received = b""
        self.done = done

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.message)

    def data_received(self, data):
        self.received += data
        if len(self.received) == len(self.message) and not self.message.endswith(b"!"):
            self.transport.close()

    def connection_lost(self, exc):
        self.done.set_result(self.received == self.message)


def test_a_hundred_thousand_connections(loop):
    """Connections opened, echoed over and closed (by the client or, for
    every other one, by the server first) leave nothing behind."""
    server = loop.run_until_complete(loop.create_server(EchoServer, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]

    async def connection(i):
        done = loop.create_future()
        message = b"x" * (1 + i % 2000) + (b"!" if i % 2 else b".")
        await loop.create_connection(
            lambda: EchoClient(message, done), "127.0.0.1", port
        )
        return await done

    def batch():
        return in_windows(connection, CONN_BATCH, CONN_WINDOW)

    snapshot, total = run_batches(loop, batch, CONNECTIONS, CONN_BATCH)
    nbatches = batches(loop, CONNECTIONS, CONN_BATCH)
    assert total == nbatches * CONN_BATCH
    snapshot.assert_flat(f"{nbatches * CONN_BATCH} connections")
    server.close()
    loop.run_until_complete(server.wait_closed())


SUBPROCESSES = int(os.environ.get("CASYNCIO_LEAK_SUBPROCESSES", "10000"))
PROC_BATCH = 200  # children per batch, PROC_WINDOW at a time
PROC_WINDOW = 50


def test_ten_thousand_subprocesses(loop):
    """Children spawned with pipes, their output read and their exit
    status collected, leave no memory, fds or zombies behind."""
    pids = []

    async def child(i):
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            f"echo {i}; exit {i % 3}",
            stdout=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )
        out, _ = await proc.communicate()
        pids.append(proc.pid)
        return out == f"{i}\n".encode() and proc.returncode == i % 3

    def batch():
        return in_windows(child, PROC_BATCH, PROC_WINDOW)

    snapshot, total = run_batches(loop, batch, SUBPROCESSES, PROC_BATCH)
    nbatches = batches(loop, SUBPROCESSES, PROC_BATCH)
    assert total == nbatches * PROC_BATCH
    snapshot.assert_flat(f"{nbatches * PROC_BATCH} subprocesses")
    assert len(pids) == total
    for pid in pids[-PROC_BATCH:]:  # reaped already: no zombie left
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_loops_opened_and_closed_release_their_fds(impl):
    def cycle(count):
        for _ in range(count):
            lp = make_loop(impl)
            lp.call_soon(lp.stop)
            lp.call_soon_threadsafe(lambda: None)
            lp.run_forever()
            lp.close()

    cycle(20)
    snapshot = Snapshot()
    cycle(500)
    snapshot.assert_flat("500 loops")


@pytest.mark.parametrize("when", ["running", "stopped"])
def test_close_releases_pending_callbacks_and_timers(new_loop, when):
    """Callbacks, timers and their arguments still queued when the loop is
    closed are released with it."""
    import weakref

    class Payload:
        pass

    lp = new_loop()
    payloads = [Payload() for _ in range(3)]
    refs = [weakref.ref(p) for p in payloads]
    lp.call_soon(lambda p: None, payloads[0])
    lp.call_later(3600, lambda p: None, payloads[1])
    lp.call_at(lp.time() + 7200, lambda p: None, payloads[2])
    if when == "running":
        lp.call_soon(lp.stop)
        lp.call_soon(lambda p=payloads[0]: lp.call_soon(lambda q: None, p))
        lp.run_forever()
    del payloads
    lp.close()
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
