"""asyncio.gather(): asyncio's and casyncio's C version (casyncio.accelerate()),
each on casyncio's loop and on stock asyncio's.

Every test calls ``asyncio.gather`` by its module attribute, which the
``gather`` fixture leaves as asyncio's ("stock") or makes casyncio's
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
def gather(accel):
    """accel (conftest), with gather among the names accelerated."""
    return accelerated_with(accel, "gather")


async def value(x, delay=0):
    await asyncio.sleep(delay)
    return x


async def fail(exc, delay=0):
    await asyncio.sleep(delay)
    raise exc


def test_accelerate_rebinds_the_names_asyncio_uses(gather):
    fast = gather == "accelerated"
    assert (asyncio.gather is casyncio._core.gather) == fast
    assert (asyncio.tasks.gather is casyncio._core.gather) == fast


def test_results_in_argument_order_with_duplicates(gather, run):
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.call_later(0.01, fut.set_result, "f")
        coro = value("c", 0.02)
        return await asyncio.gather(value(1, 0.03), fut, coro, fut, value(2))

    assert run(main()) == [1, "f", "c", "f", 2]


def test_gather_of_nothing(gather, run):
    async def main():
        outer = asyncio.gather()
        assert outer.done()
        return await outer

    assert run(main()) == []


def test_first_exception_propagates_and_others_keep_running(gather, run):
    async def main():
        slow = asyncio.ensure_future(value("slow", 0.02))
        with pytest.raises(ValueError, match="boom"):
            await asyncio.gather(fail(ValueError("boom")), slow)
        assert not slow.done()
        return await slow

    assert run(main()) == "slow"


def test_return_exceptions_collects_errors_and_cancellations(gather, run):
    # A cancelled future gives CancelledError(its message); a cancelled
    # task, CancelledError('') (a task keeps no message once it is done).
    async def main():
        task = asyncio.ensure_future(value("never", 1))
        fut = asyncio.get_running_loop().create_future()
        outer = asyncio.gather(
            value(1), fail(KeyError("k")), task, fut, return_exceptions=True
        )
        await asyncio.sleep(0)
        task.cancel("why")
        fut.cancel("because")
        results = await outer
        names = [
            type(r).__name__ if isinstance(r, BaseException) else r for r in results
        ]
        return names, [r.args for r in results[2:]]

    names, args = run(main())
    assert names == [1, "KeyError", "CancelledError", "CancelledError"]
    assert args == [("",), ("because",)]


def test_cancelled_child_without_return_exceptions(gather, run):
    async def main():
        victim = asyncio.ensure_future(value("never", 1))
        other = asyncio.ensure_future(value("other", 0.01))
        outer = asyncio.gather(victim, other)
        await asyncio.sleep(0)
        victim.cancel("msg")
        with pytest.raises(asyncio.CancelledError):
            await outer
        # The child's cancellation is outer's exception, not a cancel().
        assert not outer.cancelled()
        assert await other == "other"

    run(main())


def test_cancel_cancels_every_child(gather, run):
    async def main():
        children = [asyncio.ensure_future(value(i, 1)) for i in range(3)]
        outer = asyncio.gather(*children, return_exceptions=True)
        await asyncio.sleep(0)
        assert outer.cancel("stop") is True
        assert outer._cancel_requested
        assert not outer.done()  # settled by its last child, as a Task
        with pytest.raises(asyncio.CancelledError) as info:
            await outer
        assert all(c.cancelled() for c in children)
        # Done with the CancelledError as its exception, not cancelled.
        assert not outer.cancelled()
        assert outer.cancel() is False
        return info.value.args

    assert run(main()) == ("stop",)


def test_cancel_after_done_is_refused(gather, run):
    async def main():
        outer = asyncio.gather(value(1))
        assert await outer == [1]
        return outer.cancel()

    assert run(main()) is False


def test_cancel_refused_when_every_child_is_done(gather, run):
    # The children are done but their callbacks have not run yet: no child
    # takes the request, so gather() is not cancelled and returns results.
    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        done.set_result(1)
        pending = loop.create_future()
        outer = asyncio.gather(done, pending)
        pending.set_result(2)
        assert not outer.done()
        assert outer.cancel() is False
        assert not outer._cancel_requested
        return await outer

    assert run(main()) == [1, 2]


def test_the_task_awaiting_gather_is_cancelled(gather, run):
    async def main():
        children = [asyncio.ensure_future(value(i, 1)) for i in range(2)]

        async def waiter():
            return await asyncio.gather(*children)

        task = asyncio.ensure_future(waiter())
        await asyncio.sleep(0.01)
        task.cancel("bye")
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
        return [c.cancelled() for c in children]

    assert run(main()) == [True, True]


def test_type_repr_and_isinstance(gather, run):
    async def main():
        outer = asyncio.gather(value(1, 0.01))
        seen = (
            isinstance(outer, asyncio.Future),
            asyncio.isfuture(outer),
            outer.__class__ is asyncio.tasks._GatheringFuture,
            repr(outer),
            outer.get_loop() is asyncio.get_running_loop(),
        )
        await outer
        return seen, repr(outer)

    seen, done_repr = run(main())
    assert seen == (True, True, True, "<_GatheringFuture pending>", True)
    assert done_repr == "<_GatheringFuture finished result=[1]>"


def test_children_of_other_future_types(gather, run):
    class MyFuture(asyncio.Future):
        pass

    async def main():
        loop = asyncio.get_running_loop()
        mine = MyFuture(loop=loop)
        pyfut = asyncio.futures._PyFuture(loop=loop)
        loop.call_soon(mine.set_result, "mine")
        loop.call_soon(pyfut.set_exception, OSError("py"))
        return await asyncio.gather(mine, pyfut, return_exceptions=True)

    results = run(main())
    assert results[0] == "mine"
    assert isinstance(results[1], OSError)


def test_bad_arguments(gather, run):
    async def main():
        with pytest.raises(
            TypeError,
            match="An asyncio.Future, a coroutine or an awaitable is required",
        ):
            asyncio.gather(value(1), 42)
        coro = value(2)
        with pytest.raises(TypeError, match="unexpected keyword argument 'loop'"):
            asyncio.gather(coro, loop=None)
        coro.close()
        other = asyncio.new_event_loop()
        try:
            foreign = other.create_future()
            with pytest.raises(ValueError, match="different loop"):
                asyncio.gather(asyncio.sleep(0), foreign)
        finally:
            other.close()

    run(main())


def test_unretrieved_exception_is_reported(gather, new_loop):
    loop = new_loop()
    reports = []
    loop.set_exception_handler(lambda lp, ctx: reports.append(ctx))

    async def main():
        outer = asyncio.gather(fail(RuntimeError("lost")))
        await asyncio.sleep(0.01)
        assert outer.done()

    loop.run_until_complete(main())
    gc.collect()
    messages = [r["message"] for r in reports]
    assert messages == ["_GatheringFuture exception was never retrieved"]
    assert isinstance(reports[0]["exception"], RuntimeError)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks are 3.12+")
def test_children_done_eagerly_settle_gather_at_once(gather, new_loop):
    loop = new_loop()
    loop.set_task_factory(asyncio.eager_task_factory)

    async def now(x):
        return x

    async def main():
        outer = asyncio.gather(now(1), now(2))
        assert outer.done()
        return await outer

    assert loop.run_until_complete(main()) == [1, 2]


def test_runner_cancels_leftover_tasks_through_gather(gather, run):
    # asyncio.run() cancels what is left with tasks.gather(...,
    # return_exceptions=True): the accelerated name serves it too.
    started = []

    async def forever():
        started.append(1)
        await asyncio.sleep(3600)

    async def main():
        asyncio.ensure_future(forever())
        await asyncio.sleep(0)

    run(main())
    assert started == [1]


@pytest.mark.parametrize("point", range(4))
def test_cancellation_at_every_await_point(gather, run, point):
    # The caller is cancelled at each of its await points: 0, its sleep
    # before gather() (the children are not its to cancel yet, and finish);
    # 1-3, while it awaits gather() and the children are at their 1st-3rd
    # sleep (every child is cancelled).  Nothing is reported.
    async def child(i):
        for _ in range(5):
            await asyncio.sleep(0)
        return i

    async def caller(children):
        await asyncio.sleep(0)
        return await asyncio.gather(*children)

    async def main():
        children = [asyncio.ensure_future(child(i)) for i in range(3)]
        task = asyncio.ensure_future(caller(children))
        for _ in range(point + 1):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        outcome = await asyncio.gather(*children, return_exceptions=True)
        return [
            type(r).__name__ if isinstance(r, BaseException) else r for r in outcome
        ]

    expected = [0, 1, 2] if point == 0 else ["CancelledError"] * 3
    assert run(main()) == expected


def test_a_million_waits_leave_memory_flat(gather, loop):
    # A hundred thousand gathers of ten futures each on casyncio (a fifth
    # on stock asyncio): no object or memory left behind.
    per = 10

    async def batch():
        total = 0
        for _ in range(BATCH // per):
            futs = [loop.create_future() for _ in range(per)]
            outer = asyncio.gather(*futs)
            for i, fut in enumerate(futs):
                fut.set_result(i)
            total += sum(await outer)
        return total

    snapshot, total = run_batches(loop, batch)
    assert total == batches(loop) * (BATCH // per) * sum(range(per))
    snapshot.assert_flat(f"{batches(loop) * BATCH} gathered futures")
