"""asyncio.shield(): asyncio's and casyncio's C version (casyncio.accelerate()),
each on casyncio's loop and on stock asyncio's.

Every test calls ``asyncio.shield`` by its module attribute, which the
``shield`` fixture leaves as asyncio's ("stock") or makes casyncio's
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
def shield(accel):
    """accel (conftest), with shield among the names accelerated."""
    return accelerated_with(accel, "shield")


def test_accelerate_rebinds_the_name(shield):
    fast = shield == "accelerated"
    for module in (asyncio, asyncio.tasks):
        assert (module.shield is casyncio._core.shield) == fast


def test_outcomes_pass_through(shield, run):
    async def main():
        loop = asyncio.get_running_loop()
        out = []
        done = loop.create_future()
        done.set_result(1)
        out.append(asyncio.shield(done) is done)
        for settle in ("result", "exception", "cancel"):
            inner = loop.create_future()
            outer = asyncio.shield(inner)
            out.append(outer is not inner and not outer.done())
            if settle == "result":
                loop.call_soon(inner.set_result, "r")
            elif settle == "exception":
                loop.call_soon(inner.set_exception, ValueError("e"))
            else:
                loop.call_soon(inner.cancel)
            try:
                out.append(await outer)
            except (ValueError, asyncio.CancelledError) as exc:
                out.append(type(exc).__name__)
        out.append(await asyncio.shield(asyncio.sleep(0, "coroutine")))
        out.append(await asyncio.shield(arg=asyncio.sleep(0, "by keyword")))
        return out

    assert run(main()) == [
        True,
        True,
        "r",
        True,
        "ValueError",
        True,
        "CancelledError",
        "coroutine",
        "by keyword",
    ]


def test_cancelling_the_outer_future_spares_the_inner(shield, run):
    async def main():
        inner = asyncio.create_task(asyncio.sleep(0.01, "inner result"))

        async def wait_shielded():
            return await asyncio.shield(inner)

        waiter = asyncio.create_task(wait_shielded())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return inner.cancelled(), await inner

    assert run(main()) == (False, "inner result")


def test_failure_as_the_outer_is_cancelled(shield, new_loop):
    """The inner future fails before the cancelled outer one's callback has
    run: 3.11-3.13 mark the exception retrieved, as nobody can see it;
    3.14+ leave it to be reported."""
    loop = new_loop()
    reported = []
    loop.set_exception_handler(lambda lp, ctx: reported.append(ctx["message"]))

    async def main():
        inner = loop.create_future()
        outer = asyncio.shield(inner)
        outer.cancel()
        inner.set_exception(ValueError("late"))
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    loop.run_until_complete(main())
    gc.collect()
    loop.close()
    logged = sys.version_info >= (3, 14)
    assert reported == (["Future exception was never retrieved"] if logged else [])


def test_bad_input(shield, run):
    async def main():
        errors = []
        for call in (lambda: asyncio.shield(42), lambda: asyncio.shield()):
            with pytest.raises(TypeError) as info:
                call()
            errors.append(type(info.value))
        return errors

    assert run(main()) == [TypeError, TypeError]


@pytest.mark.skipif(sys.version_info < (3, 14), reason="the call graph is 3.14+")
def test_call_graph_edge_while_shielded(shield, run):
    async def main():
        loop = asyncio.get_running_loop()
        inner = loop.create_future()
        outer = asyncio.shield(inner)
        me = asyncio.current_task()
        during = me in (inner._asyncio_awaited_by or ())
        inner.set_result(None)
        await outer
        after = me in (inner._asyncio_awaited_by or ())
        return during, after

    assert run(main()) == (True, False)


def test_a_million_shields_leave_memory_flat(shield, loop):
    async def batch():
        total = 0
        lp = asyncio.get_running_loop()
        for i in range(BATCH):
            inner = lp.create_future()
            outer = asyncio.shield(inner)
            if i % 2:
                outer.cancel()
                inner.set_result(0)
            else:
                lp.call_soon(inner.set_result, 1)
                total += await outer
        return total * 2

    snapshot, total = run_batches(loop, batch)
    assert total == batches(loop) * BATCH
    gc.collect()
    snapshot.assert_flat("shields")
