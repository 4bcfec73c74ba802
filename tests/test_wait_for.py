"""asyncio.wait_for(): asyncio's and casyncio's C version (3.12+,
casyncio.accelerate()), each on casyncio's loop and on stock asyncio's.

Every test calls ``asyncio.wait_for`` by its module attribute, which the
``wait_for`` fixture leaves as asyncio's ("stock") or makes casyncio's
("accelerated"; on 3.11 there is none, and those pairings are skipped);
an expected value written once must hold for all the pairings.
"""

import asyncio
import gc
import sys
import types

import pytest
from conftest import accelerated_with
from test_leaks import BATCH, batches, run_batches

import casyncio


@pytest.fixture
def wait_for(accel):
    """accel (conftest), with wait_for among the names accelerated."""
    if accel == "accelerated" and sys.version_info < (3, 12):
        pytest.skip("3.11's wait_for stays asyncio's")
    return accelerated_with(accel, "wait_for")


def test_accelerate_rebinds_the_name(wait_for):
    fast = wait_for == "accelerated"
    for module in (asyncio, asyncio.tasks):
        assert (module.wait_for is getattr(casyncio._core, "wait_for", None)) == fast


async def slow(delay=10, value="slow"):
    await asyncio.sleep(delay)
    return value


def test_results_timeouts_and_the_zero_path(wait_for, run):
    async def main():
        loop = asyncio.get_running_loop()
        out = [await asyncio.wait_for(asyncio.sleep(0, "coroutine"), 1)]
        out.append(await asyncio.wait_for(slow(0, "no timeout"), None))
        task = asyncio.create_task(slow())
        with pytest.raises(TimeoutError) as info:
            await asyncio.wait_for(task, 0.01)
        out.append((task.cancelled(), type(info.value.__cause__).__name__))
        done = loop.create_future()
        done.set_result("done")
        out.append(await asyncio.wait_for(done, 0))
        pending = loop.create_future()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pending, 0)
        out.append(pending.cancelled())
        out.append(await asyncio.wait_for(fut=done, timeout=-1))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow(0, "a coroutine at 0"), 0)
        return out

    assert run(main()) == [
        "coroutine",
        "no timeout",
        (True, "CancelledError"),
        "done",
        True,
        "done",
    ]


def test_the_coroutine_runs_in_the_calling_task(wait_for, run):
    async def main():
        me = asyncio.current_task()

        async def where():
            return asyncio.current_task() is me

        return await asyncio.wait_for(where(), 1)

    # 3.12+ run it in place; 3.11 in a task of its own
    assert run(main()) is (sys.version_info >= (3, 12))


def test_errors_pass_through_and_bad_input(wait_for, run):
    async def main():
        async def fails():
            await asyncio.sleep(0)
            raise ValueError("inner")

        out = []
        with pytest.raises(ValueError, match="inner"):
            await asyncio.wait_for(fails(), 1)
        with pytest.raises(TypeError) as info:
            await asyncio.wait_for(42, 1)
        out.append(type(info.value).__name__)
        coro = asyncio.sleep(0)
        with pytest.raises(TypeError):
            asyncio.wait_for(coro)
        with pytest.raises(TypeError):
            await asyncio.wait_for(coro, "soon")
        coro.close()
        return out

    assert run(main()) == ["TypeError"]


def test_cancelled_from_outside(wait_for, run):
    async def main():
        started = asyncio.Event()
        finalised = []

        async def inner():
            started.set()
            try:
                await asyncio.sleep(10)
            finally:
                finalised.append(True)

        task = asyncio.create_task(asyncio.wait_for(inner(), 5))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return finalised, task.cancelled()

    assert run(main()) == ([True], True)


def test_generator_based_coroutines_and_awaitables(wait_for, run):
    @types.coroutine
    def legacy():
        yield
        return "legacy"

    class Awaitable:
        def __await__(self):
            return (yield from asyncio.sleep(0, "awaitable").__await__())

    async def main():
        return [
            await asyncio.wait_for(legacy(), 1),
            await asyncio.wait_for(Awaitable(), 1),
        ]

    assert run(main()) == ["legacy", "awaitable"]


def test_a_million_wait_fors_leave_memory_flat(wait_for, loop):
    async def batch():
        lp = asyncio.get_running_loop()
        total = 0
        for _ in range(BATCH):
            fut = lp.create_future()
            lp.call_soon(fut.set_result, 1)
            total += await asyncio.wait_for(fut, 60)
        return total

    snapshot, total = run_batches(loop, batch)
    assert total == batches(loop) * BATCH
    gc.collect()
    snapshot.assert_flat("wait_for awaits")
