"""The casyncio scheduler does not leak: no memory growth per task step on
the fast path (casyncio loop + casyncio Task + the loop's own futures), and
every finished Task is freed.

These tests run only on casyncio: they measure casyncio's own objects.
Futures are created per round trip, so the tests do not assert zero
allocations, only that nothing accumulates.
"""

import asyncio
import gc
import sys
import tracemalloc

import casyncio

ROUNDS = 10_000
WARMUP = 2_000
# Growth allowed over ROUNDS round trips: a small constant (caches, free
# lists, interned objects), far below one block per round trip.
MAX_BLOCK_GROWTH = 200
MAX_TRACED_GROWTH = 20_000  # bytes


class Channel:
    """A one-slot channel built on the loop's futures."""

    def __init__(self, loop):
        self.loop = loop
        self.fut = loop.create_future()

    def send(self, value):
        self.fut.set_result(value)

    async def recv(self):
        value = await self.fut
        self.fut = self.loop.create_future()
        return value


async def ping_pong(rounds):
    """Two tasks bouncing a value between two channels `rounds` times."""
    loop = asyncio.get_running_loop()
    a = Channel(loop)
    b = Channel(loop)

    async def ping():
        total = 0
        for i in range(rounds):
            a.send(i)
            total += await b.recv()
        return total

    async def pong():
        for _ in range(rounds):
            b.send(await a.recv())

    t1 = loop.create_task(ping())
    t2 = loop.create_task(pong())
    assert type(t1) is casyncio.Task
    assert type(a.fut) is casyncio.Future
    await t2
    return await t1


def run_on_casyncio(coro):
    loop = casyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def expected_total(rounds):
    return rounds * (rounds - 1) // 2


def test_ping_pong_allocated_blocks_do_not_grow():
    async def main():
        assert await ping_pong(WARMUP) == expected_total(WARMUP)
        gc.collect()
        before = sys.getallocatedblocks()
        assert await ping_pong(ROUNDS) == expected_total(ROUNDS)
        gc.collect()
        after = sys.getallocatedblocks()
        return before, after

    gc.collect()
    before, after = run_on_casyncio(main())
    growth = after - before
    assert growth < MAX_BLOCK_GROWTH, (
        f"{growth} blocks more after {ROUNDS} round trips ({before} -> {after})"
    )


def test_ping_pong_traced_memory_does_not_grow():
    async def main():
        assert await ping_pong(WARMUP) == expected_total(WARMUP)
        gc.collect()
        tracemalloc.start()
        try:
            await ping_pong(100)  # warm tracemalloc's own tables
            gc.collect()
            before, _ = tracemalloc.get_traced_memory()
            assert await ping_pong(ROUNDS) == expected_total(ROUNDS)
            gc.collect()
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return before, after

    before, after = run_on_casyncio(main())
    growth = after - before
    assert growth < MAX_TRACED_GROWTH, (
        f"{growth} bytes more after {ROUNDS} round trips ({before} -> {after})"
    )


def count_live(cls):
    return sum(1 for o in gc.get_objects() if type(o) is cls)


async def finish_many(n, batch=200):
    """Run n tasks to completion: results, exceptions and cancellations."""
    loop = asyncio.get_running_loop()

    async def ok(i):
        await asyncio.sleep(0)
        return i

    async def fail(i):
        await asyncio.sleep(0)
        raise ValueError(i)

    async def waits(fut):
        return await fut

    total = 0
    for start in range(0, n, batch):
        tasks = []
        futs = []
        for i in range(start, start + batch):
            kind = i % 4
            if kind in (0, 1):
                tasks.append(loop.create_task(ok(i)))
            elif kind == 2:
                tasks.append(loop.create_task(fail(i)))
            else:
                fut = loop.create_future()
                futs.append(fut)
                t = loop.create_task(waits(fut))
                tasks.append(t)
        await asyncio.sleep(0)
        for t in tasks[3::4]:
            t.cancel()
        for t in tasks:
            try:
                total += await t
            except ValueError:
                pass
            except asyncio.CancelledError:
                assert t.cancelled()
        assert all(f.cancelled() for f in futs)
    return total


def test_finished_tasks_are_freed():
    n = 20_000
    run_on_casyncio(finish_many(1_000))  # warm-up
    gc.collect()
    tasks_before = count_live(casyncio.Task)
    futures_before = count_live(casyncio.Future)

    expected = sum(i for i in range(n) if i % 4 in (0, 1))
    assert run_on_casyncio(finish_many(n)) == expected
    gc.collect()
    assert count_live(casyncio.Task) == tasks_before
    assert count_live(casyncio.Future) == futures_before


def test_finished_tasks_are_freed_without_gc():
    # Finished tasks that form no reference cycle go away by reference
    # counting alone, while the loop keeps running.
    async def main():
        loop = asyncio.get_running_loop()

        async def ok(i):
            await asyncio.sleep(0)
            return i

        for i in range(100):  # warm-up
            await loop.create_task(ok(i))
        gc.collect()
        gc.disable()
        try:
            before = count_live(casyncio.Task)
            total = 0
            for i in range(5_000):
                total += await loop.create_task(ok(i))
            after = count_live(casyncio.Task)
        finally:
            gc.enable()
        return total, before, after

    total, before, after = run_on_casyncio(main())
    assert total == sum(range(5_000))
    # Only the task currently running main() (and at most the last one
    # awaited) may still be alive.
    assert after - before <= 1


def test_ping_pong_result():
    assert run_on_casyncio(ping_pong(1_000)) == expected_total(1_000)
