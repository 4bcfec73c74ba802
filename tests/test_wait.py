"""asyncio.wait(): asyncio's and casyncio's C version (casyncio.accelerate()),
each on casyncio's loop and on stock asyncio's.

Every test calls ``asyncio.wait`` by its module attribute, which the
``wait`` fixture leaves as asyncio's ("stock") or makes casyncio's
("accelerated"); with the ``impl`` fixture that gives the four pairings,
and an expected value written once must hold for all of them.
"""

import asyncio
import gc
import sys

import pytest
from conftest import accelerated_with
from test_leaks import BATCH, batches, run_batches

import casyncio


@pytest.fixture
def wait(accel):
    """accel (conftest), with wait among the names accelerated."""
    return accelerated_with(accel, "wait")


def test_accelerate_rebinds_the_name(wait):
    fast = wait == "accelerated"
    # 3.14+: casyncio._accel.wait, two frames over the C wait (asyncio.graph's
    # stacks list them, as asyncio's wait and _wait)
    ours = casyncio._accel._NAMES["wait"][1]
    assert ours is (
        casyncio._accel.wait if sys.version_info >= (3, 14) else casyncio._core.wait
    )
    for module in (asyncio, asyncio.tasks):
        assert (module.wait is ours) == fast


async def fail(delay):
    await asyncio.sleep(delay)
    raise ValueError(delay)


def test_return_when(wait, run):
    async def main():
        out = []
        for when in (
            asyncio.FIRST_COMPLETED,
            asyncio.FIRST_EXCEPTION,
            asyncio.ALL_COMPLETED,
        ):
            quick = asyncio.create_task(asyncio.sleep(0, "quick"))
            failing = asyncio.create_task(fail(0.01))
            slow = asyncio.create_task(asyncio.sleep(0.05, "slow"))
            done, pending = await asyncio.wait([quick, failing, slow], return_when=when)
            names = {quick: "quick", failing: "failing", slow: "slow"}
            out.append(
                (sorted(names[t] for t in done), sorted(names[t] for t in pending))
            )
            for t in pending:
                t.cancel()
            await asyncio.gather(quick, failing, slow, return_exceptions=True)
        return out

    assert run(main()) == [
        (["quick"], ["failing", "slow"]),
        (["failing", "quick"], ["slow"]),
        (["failing", "quick", "slow"], []),
    ]


def test_timeout_and_callbacks_taken_off(wait, run):
    async def main():
        loop = asyncio.get_running_loop()
        futs = [loop.create_future() for _ in range(3)]
        futs[0].set_result(0)
        done, pending = await asyncio.wait(futs, timeout=0.01)
        # wait() has taken its callbacks off the pending futures again
        watched = ["cb=" in repr(f) for f in futs[1:]]
        for f in futs[1:]:
            f.set_result(1)
        await asyncio.sleep(0)
        done_again, _ = await asyncio.wait(futs, timeout=0)
        return len(done), len(pending), len(done_again), watched

    assert run(main()) == (1, 2, 3, [False, False])


def test_generators_and_duplicates(wait, run):
    async def main():
        loop = asyncio.get_running_loop()
        f = loop.create_future()
        loop.call_soon(f.set_result, None)
        # 3.11's asyncio takes a generator for a coroutine
        fs = (x for x in (f, f)) if sys.version_info >= (3, 12) else [f, f]
        done, pending = await asyncio.wait(fs)
        return len(done), len(pending)

    assert run(main()) == (1, 0)


def test_bad_input(wait, run):
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        fut.set_result(None)
        coro = asyncio.sleep(0)
        errors = []
        for args, kwargs in (
            ([], {}),
            (fut, {}),
            ([coro], {}),
            ([fut], {"return_when": "SOMETIMES"}),
        ):
            aw = asyncio.wait(args, **kwargs)
            try:
                await aw
            except (TypeError, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
        coro.close()
        with pytest.raises(TypeError):
            asyncio.wait([fut], bogus=1)
        with pytest.raises(TypeError):
            asyncio.wait()
        return errors

    assert run(main()) == [
        "ValueError: Set of Tasks/Futures is empty.",
        "TypeError: expect a list of futures, not Future",
        "TypeError: Passing coroutines is forbidden, use tasks explicitly.",
        "ValueError: Invalid return_when value: SOMETIMES",
    ]


def test_cancelled_while_waiting(wait, run):
    async def main():
        loop = asyncio.get_running_loop()
        futs = [loop.create_future() for _ in range(2)]

        async def waiter():
            return await asyncio.wait(futs)

        task = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the futures are untouched and no longer watched
        return [f.cancelled() for f in futs], ["cb=" in repr(f) for f in futs]

    assert run(main()) == ([False, False], [False, False])


def test_no_running_loop(wait):
    aw = asyncio.wait([object()])
    with pytest.raises(RuntimeError, match="no running event loop"):
        aw.send(None)
    aw.close()


@pytest.mark.skipif(sys.version_info < (3, 14), reason="the call graph is 3.14+")
def test_call_graph_edges(wait, run):
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        me = asyncio.current_task()
        seen = []
        loop.call_soon(lambda: seen.append(me in (fut._asyncio_awaited_by or ())))
        loop.call_soon(fut.set_result, None)
        await asyncio.wait([fut])
        return seen, me in (fut._asyncio_awaited_by or ())

    assert run(main()) == ([True], False)


def test_a_million_waited_futures_leave_memory_flat(wait, loop):
    async def batch():
        lp = asyncio.get_running_loop()
        total = 0
        for _ in range(BATCH // 10):
            futs = [lp.create_future() for _ in range(10)]
            for f in futs:
                lp.call_soon(f.set_result, 1)
            done, pending = await asyncio.wait(futs)
            total += sum(f.result() for f in done) + len(pending)
        return total

    snapshot, total = run_batches(loop, batch)
    assert total == batches(loop) * BATCH
    gc.collect()
    snapshot.assert_flat("waited futures")
