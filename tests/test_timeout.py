"""asyncio.timeout() and timeout_at(): asyncio's and casyncio's C versions
(casyncio.accelerate()), each on casyncio's loop and on stock asyncio's.

Every test calls ``asyncio.timeout`` / ``asyncio.timeout_at`` by their
module attributes, which the ``timeouts`` fixture leaves as asyncio's
("stock") or makes casyncio's ("accelerated"); with the ``impl`` fixture
that gives the four pairings, and each expected value, written once, must
hold for all of them.
"""

import asyncio
import re
import sys
import warnings

import pytest
from conftest import accelerated_with
from test_leaks import BATCH, batches, run_batches

from casyncio import _core

PY313 = sys.version_info >= (3, 13)


@pytest.fixture
def timeouts(accel):
    """accel (conftest), with timeout among the names accelerated."""
    return accelerated_with(accel, "timeout")


def test_accelerate_rebinds_the_names_asyncio_uses(timeouts, run):
    fast = timeouts == "accelerated"
    for module in (asyncio, asyncio.timeouts):
        assert (module.timeout is _core.timeout) == fast
        assert (module.timeout_at is _core.timeout_at) == fast
    # asyncio.Timeout stays asyncio's class, and the C one passes for it.
    assert asyncio.Timeout is asyncio.timeouts.Timeout

    async def main():
        cm = asyncio.timeout(1)
        return isinstance(cm, asyncio.Timeout), cm.__class__, type(cm)

    is_timeout, cls, tp = run(main())
    assert is_timeout and cls is asyncio.Timeout
    assert (tp is _core.Timeout) == fast


def test_expiry_raises_timeout_error_from_the_cancellation(timeouts, run):
    async def main():
        cm = asyncio.timeout(0.01)
        assert repr(cm) == "<Timeout [created]>"
        with pytest.raises(TimeoutError) as info:
            async with cm as entered:
                assert entered is cm
                assert re.fullmatch(r"<Timeout \[active\] when=\d+\.\d+>", repr(cm))
                await asyncio.sleep(10)
        exc = info.value
        assert isinstance(exc.__cause__, asyncio.CancelledError)
        assert exc.__context__ is exc.__cause__
        assert cm.expired()
        assert repr(cm) == "<Timeout [expired]>"
        return asyncio.current_task().cancelling()

    assert run(main()) == 0


def test_no_expiry(timeouts, run):
    async def main():
        loop = asyncio.get_running_loop()
        async with asyncio.timeout_at(loop.time() + 10) as cm:
            await asyncio.sleep(0)
            when = cm.when()
        assert when > loop.time()
        assert not cm.expired()
        assert repr(cm) == "<Timeout [finished]>"
        # nothing left scheduled: the loop goes idle at once
        return asyncio.current_task().cancelling()

    assert run(main()) == 0


def test_none_never_expires_until_rescheduled(timeouts, run):
    async def main():
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(None) as cm:
            assert repr(cm) == "<Timeout [active] when=None>"
            assert cm.when() is None
            await asyncio.sleep(0.01)
        assert not cm.expired()
        t0 = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(None) as cm:
                cm.reschedule(loop.time() + 0.02)
                await asyncio.sleep(10)
        assert 0.01 < loop.time() - t0 < 5
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(10) as cm:
                cm.reschedule(loop.time() - 1)  # past: at the next iteration
                await asyncio.sleep(10)
        async with asyncio.timeout(0.001) as cm:
            cm.reschedule(None)
            await asyncio.sleep(0.01)
        return cm.expired(), cm.when()

    assert run(main()) == (False, None)


@pytest.mark.parametrize("delay", [0, -1])
def test_zero_and_negative_expire_at_the_first_await(timeouts, run, delay):
    async def main():
        steps = []
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(delay):
                steps.append("in")
                await asyncio.sleep(0)
                steps.append("after")
        return steps

    assert run(main()) == ["in"]


def test_nested_only_the_expired_one_converts(timeouts, run):
    async def main():
        seen = []
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01) as outer:
                try:
                    async with asyncio.timeout(10) as inner:
                        await asyncio.sleep(10)
                except asyncio.CancelledError:
                    seen.append("inner let the cancellation through")
                    raise
        seen.append((outer.expired(), inner.expired(), repr(inner)))
        async with asyncio.timeout(10) as outer:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.01) as inner:
                    await asyncio.sleep(10)
        seen.append((outer.expired(), inner.expired()))
        return seen

    assert run(main()) == [
        "inner let the cancellation through",
        (True, False, "<Timeout [finished]>"),
        (False, True),
    ]


def test_a_cancel_from_outside_is_not_converted(timeouts, run):
    async def main():
        async def body(started):
            async with asyncio.timeout(0) as cm:
                started.set_result(cm)
                await asyncio.sleep(10)

        loop = asyncio.get_running_loop()
        started = loop.create_future()
        task = asyncio.create_task(body(started))
        cm = await started
        # The deadline's call_soon is queued; a second cancel() joins it.
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return cm.expired(), repr(cm), task.cancelling()

    assert run(main()) == (True, "<Timeout [expired]>", 1)


def test_entered_while_already_cancelling(timeouts, run):
    # gh-102780: a timeout inside the handler of a cancellation works.
    async def main():
        task = asyncio.current_task()
        task.cancel()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            assert task.cancelling() == 1
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.01):
                    await asyncio.sleep(10)
            assert task.cancelling() == 1
            task.uncancel()
        return task.cancelling()

    assert run(main()) == 0


def test_state_errors(timeouts, run):
    async def main():
        loop = asyncio.get_running_loop()
        messages = []

        def catch(fn, *args):
            with pytest.raises(RuntimeError) as info:
                fn(*args)
            messages.append(str(info.value))

        cm = asyncio.timeout_at(loop.time() + 10)
        catch(cm.reschedule, None)
        async with cm:
            pass
        catch(cm.reschedule, 1.0)
        with pytest.raises(RuntimeError) as info:
            async with cm:
                pass
        messages.append(str(info.value))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0) as cm:
                await asyncio.sleep(1)
        catch(cm.reschedule, None)
        return messages

    assert run(main()) == [
        "Timeout has not been entered",
        "Cannot change state of finished Timeout",
        "Timeout has already been entered",
        "Cannot change state of expired Timeout",
    ]


def test_outside_a_loop_and_outside_a_task(timeouts, new_loop):
    with pytest.raises(RuntimeError, match="no running event loop"):
        asyncio.timeout(1)
    cm = asyncio.timeout_at(None)  # needs no loop
    assert repr(cm) == "<Timeout [created]>"
    loop = new_loop()
    errors = []

    def in_a_callback():
        coro = cm.__aenter__()
        try:
            coro.send(None)
        except RuntimeError as exc:
            errors.append(str(exc))
        # a second step: as a coroutine that has finished
        try:
            coro.send(None)
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.stop()

    loop.call_soon(in_a_callback)
    loop.run_forever()
    assert errors == [
        "Timeout should be used inside a task",
        "cannot reuse already awaited coroutine",
    ]
    assert repr(cm) == "<Timeout [created]>"


def test_the_awaitables_follow_the_coroutine_protocol(timeouts, run):
    async def main():
        cm = asyncio.timeout(None)
        out = []
        coro = cm.__aenter__()
        with pytest.raises(TypeError, match="can't send non-None value"):
            coro.send(1)
        coro.close()
        coro = cm.__aenter__()
        coro.close()
        with pytest.raises(RuntimeError, match="cannot reuse already awaited"):
            coro.send(None)
        out.append(repr(cm))  # closing did not enter it
        coro = cm.__aenter__()
        with pytest.raises(ValueError):
            coro.throw(ValueError("x"))
        out.append(repr(cm))
        coro = cm.__aenter__()
        with pytest.raises(StopIteration) as info:
            coro.send(None)
        out.append(info.value.value is cm)
        coro = cm.__aexit__(None, None, None)
        with pytest.raises(StopIteration) as info:
            coro.send(None)
        out.append((info.value.value, repr(cm)))
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # never-awaited coroutines
        assert run(main()) == [
            "<Timeout [created]>",
            "<Timeout [created]>",
            True,
            (None, "<Timeout [finished]>"),
        ]


def test_bad_deadlines(timeouts, run):
    async def main():
        kinds = []
        with pytest.raises(TypeError):
            asyncio.timeout("soon")
        cm = asyncio.timeout_at("soon")
        with pytest.raises(TypeError):
            async with cm:
                pass
        # The state was set before reschedule() failed; round() fails too.
        with pytest.raises(TypeError):
            repr(cm)
        kinds.append((cm.when(), cm.expired()))
        with pytest.raises(TypeError):
            asyncio.timeout()
        with pytest.raises(TypeError):
            asyncio.timeout(1, 2)
        with pytest.raises(TypeError):
            asyncio.timeout_at(when=None, delay=1)
        kinds.append(repr(asyncio.timeout(delay=None)))
        kinds.append(repr(asyncio.timeout_at(when=None)))
        return kinds

    assert run(main()) == [
        ("soon", False),
        "<Timeout [created]>",
        "<Timeout [created]>",
    ]


def test_other_exceptions_in_an_expired_scope(timeouts, run):
    async def main():
        with pytest.raises(ValueError) as info:
            async with asyncio.timeout(0):
                try:
                    await asyncio.sleep(10)
                finally:
                    raise ValueError("cleanup failed")
        ctx = info.value.__context__
        chain = [type(ctx).__name__, type(ctx.__context__).__name__]
        group = None
        with pytest.raises(ExceptionGroup) as ginfo:
            async with asyncio.timeout(0):
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    raise ExceptionGroup("g", [KeyError(1)])  # noqa: B904 (the context is the point)
        group = ginfo.value
        return (
            chain,
            type(group.__context__).__name__,
            type(group.exceptions[0].__context__).__name__,
        )

    chain, group_ctx, member_ctx = run(main())
    if PY313:
        # 3.13+: a TimeoutError is put before the CancelledError
        assert chain == ["TimeoutError", "CancelledError"]
        assert group_ctx == "TimeoutError"
    else:
        assert chain == ["CancelledError", "NoneType"]
        assert group_ctx == "CancelledError"
    assert member_ctx == "NoneType"


def test_wait_for_uses_it(timeouts, run):
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(fut, 0.01)
        assert fut.cancelled()
        fut = loop.create_future()
        loop.call_soon(fut.set_result, 7)
        return await asyncio.wait_for(fut, 10)

    assert run(main()) == 7


def test_a_subclass_reschedule_is_called_at_entry(timeouts, run):
    async def main():
        base = type(asyncio.timeout_at(None))
        calls = []

        class Logged(base):
            def reschedule(self, when):
                calls.append(when)
                super().reschedule(when)

        async with Logged(None):
            await asyncio.sleep(0)
        return calls

    assert run(main()) == [None]


def test_cancelled_before_and_inside_the_scope(timeouts, run):
    # Cancellation at each point around the scope: before entry (the
    # cancel lands at the first await inside), inside, and in the exit.
    async def body(log, where):
        task = asyncio.current_task()
        if where == "before":
            task.cancel()
        try:
            async with asyncio.timeout(10) as cm:
                if where == "inside":
                    task.cancel()
                await asyncio.sleep(0)
                log.append("not reached")
        except asyncio.CancelledError:
            log.append(("cancelled", cm.expired(), repr(cm)))
            raise

    async def main():
        out = {}
        for where in ("before", "inside"):
            log = []
            task = asyncio.create_task(body(log, where))
            with pytest.raises(asyncio.CancelledError):
                await task
            out[where] = log
        return out

    assert run(main()) == {
        "before": [("cancelled", False, "<Timeout [finished]>")],
        "inside": [("cancelled", False, "<Timeout [finished]>")],
    }


def test_a_million_scopes_leave_memory_flat(timeouts, loop):
    async def batch():
        total = 0
        for i in range(BATCH):
            async with asyncio.timeout(60):
                total += i
        return total

    snapshot, total = run_batches(loop, batch)
    assert total == batches(loop) * sum(range(BATCH))
    snapshot.assert_flat(f"{batches(loop) * BATCH} timeout scopes")


def test_a_hundred_thousand_expiries_leave_memory_flat(timeouts, loop):
    async def batch():
        n = 0
        for _ in range(BATCH // 10):
            try:
                async with asyncio.timeout(0):
                    await asyncio.sleep(0)
            except TimeoutError:
                n += 1
        return n

    snapshot, total = run_batches(loop, batch, n=100_000, batch=BATCH // 10)
    assert total == batches(loop, 100_000, BATCH // 10) * (BATCH // 10)
    snapshot.assert_flat("timeout expiries")
