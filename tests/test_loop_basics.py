"""Running and stopping a loop, run_until_complete, close, running-loop
registration and the clock, as stock asyncio does them."""

import asyncio
import time

import pytest

# ---- run_forever / stop ----


def test_stop_in_callback_makes_run_forever_return(loop):
    ran = []
    loop.call_soon(ran.append, "a")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert ran == ["a"]
    assert not loop.is_running()


def test_stop_before_run_forever_runs_exactly_one_iteration(loop):
    ran = []

    def first():
        ran.append("first")
        loop.call_soon(ran.append, "second")

    loop.call_soon(first)
    loop.stop()
    loop.run_forever()
    # "second" was scheduled during the only iteration: it has not run.
    assert ran == ["first"]

    loop.stop()
    loop.run_forever()
    assert ran == ["first", "second"]


def test_stop_before_run_forever_with_nothing_scheduled_returns(loop):
    loop.stop()
    t0 = time.monotonic()
    loop.run_forever()
    assert time.monotonic() - t0 < 1.0
    assert not loop.is_running()


def test_callbacks_scheduled_by_running_callback_run_in_next_iteration(loop):
    ran = []

    def first():
        ran.append("first")
        loop.call_soon(ran.append, "scheduled-by-first")
        loop.stop()

    loop.call_soon(first)
    loop.call_soon(ran.append, "already-queued")
    loop.run_forever()
    # stop() ends the loop after the current iteration: the callback queued
    # before the iteration started runs, the one queued during it does not.
    assert ran == ["first", "already-queued"]

    loop.call_soon(loop.stop)
    loop.run_forever()
    assert ran == ["first", "already-queued", "scheduled-by-first"]


def test_run_forever_can_be_run_again_after_stop(loop):
    ran = []
    for i in range(3):
        loop.call_soon(ran.append, i)
        loop.call_soon(loop.stop)
        loop.run_forever()
    assert ran == [0, 1, 2]


# ---- run_until_complete ----


def test_run_until_complete_returns_coroutine_result(loop):
    async def coro():
        await asyncio.sleep(0)
        return 42

    assert loop.run_until_complete(coro()) == 42


def test_run_until_complete_returns_future_result(loop):
    fut = loop.create_future()
    loop.call_soon(fut.set_result, "done")
    assert loop.run_until_complete(fut) == "done"


def test_run_until_complete_propagates_exception(loop):
    async def coro():
        await asyncio.sleep(0)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        loop.run_until_complete(coro())


def test_run_until_complete_propagates_future_exception(loop):
    fut = loop.create_future()
    loop.call_soon(fut.set_exception, KeyError("k"))
    with pytest.raises(KeyError):
        loop.run_until_complete(fut)


def test_run_until_complete_of_cancelled_future_raises_cancelled_error(loop):
    fut = loop.create_future()
    loop.call_soon(fut.cancel)
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(fut)


def test_run_until_complete_stopped_early_raises_runtime_error(loop):
    fut = loop.create_future()
    loop.call_soon(loop.stop)
    with pytest.raises(
        RuntimeError, match=r"^Event loop stopped before Future completed\.$"
    ):
        loop.run_until_complete(fut)
    assert not fut.done()
    fut.cancel()


def test_run_until_complete_wraps_coroutine_into_task(loop):
    seen = {}

    async def coro():
        task = asyncio.current_task()
        seen["task"] = task
        seen["loop"] = task.get_loop() if task is not None else None
        return "ok"

    assert loop.run_until_complete(coro()) == "ok"
    assert seen["task"] is not None
    assert asyncio.isfuture(seen["task"])
    assert seen["loop"] is loop
    assert seen["task"].done()


def test_run_until_complete_future_of_another_loop_raises_value_error(new_loop):
    loop = new_loop()
    other = new_loop()
    fut = other.create_future()
    with pytest.raises(ValueError, match="different loop"):
        loop.run_until_complete(fut)
    assert not loop.is_running()


def test_run_until_complete_does_not_leave_loop_running(loop):
    loop.run_until_complete(asyncio.sleep(0))
    assert not loop.is_running()
    assert not loop.is_closed()


# ---- is_running / is_closed ----


def test_is_running_is_true_only_while_running(loop):
    seen = []
    assert loop.is_running() is False
    loop.call_soon(lambda: seen.append(loop.is_running()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [True]
    assert loop.is_running() is False


def test_is_closed_is_true_only_after_close(loop):
    assert loop.is_closed() is False
    loop.close()
    assert loop.is_closed() is True


# ---- close ----


def test_close_while_running_raises_runtime_error(loop):
    errors = []

    def try_close():
        try:
            loop.close()
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.stop()

    loop.call_soon(try_close)
    loop.run_forever()
    assert errors == ["Cannot close a running event loop"]
    assert not loop.is_closed()


def test_close_is_idempotent(loop):
    loop.close()
    loop.close()
    assert loop.is_closed()


def test_call_soon_after_close_raises(loop):
    loop.close()
    with pytest.raises(RuntimeError, match=r"^Event loop is closed$"):
        loop.call_soon(print)


def test_call_later_after_close_raises(loop):
    loop.close()
    with pytest.raises(RuntimeError, match=r"^Event loop is closed$"):
        loop.call_later(0.01, print)


def test_call_at_after_close_raises(loop):
    loop.close()
    with pytest.raises(RuntimeError, match=r"^Event loop is closed$"):
        loop.call_at(loop.time() + 0.01, print)


def test_run_forever_after_close_raises(loop):
    loop.close()
    with pytest.raises(RuntimeError, match=r"^Event loop is closed$"):
        loop.run_forever()


def test_run_until_complete_after_close_raises(loop):
    async def coro():
        return 1

    loop.close()
    c = coro()
    try:
        with pytest.raises(RuntimeError, match=r"^Event loop is closed$"):
            loop.run_until_complete(c)
    finally:
        c.close()


# ---- running-loop registration ----


def test_get_running_loop_inside_callback_returns_the_loop(loop):
    seen = []
    loop.call_soon(lambda: seen.append(asyncio.get_running_loop()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [loop]
    assert seen[0] is loop


def test_get_running_loop_inside_coroutine_returns_the_loop(loop):
    async def coro():
        return asyncio.get_running_loop()

    assert loop.run_until_complete(coro()) is loop


def test_no_running_loop_after_run_forever_returns(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert asyncio._get_running_loop() is None
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_running_another_loop_while_one_runs_raises(new_loop):
    loop = new_loop()
    other = new_loop()
    errors = []

    def run_other():
        try:
            other.run_forever()
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.stop()

    loop.call_soon(run_other)
    loop.run_forever()
    assert errors == ["Cannot run the event loop while another loop is running"]
    assert not other.is_running()


def test_run_until_complete_of_another_loop_while_one_runs_raises(new_loop):
    loop = new_loop()
    other = new_loop()
    errors = []

    def run_other():
        fut = other.create_future()
        try:
            other.run_until_complete(fut)
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.stop()

    loop.call_soon(run_other)
    loop.run_forever()
    assert errors == ["Cannot run the event loop while another loop is running"]


def test_run_forever_reentrancy_raises(loop):
    errors = []

    def reenter():
        try:
            loop.run_forever()
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.stop()

    loop.call_soon(reenter)
    loop.run_forever()
    assert errors == ["This event loop is already running"]
    assert not loop.is_running()


def test_run_until_complete_reentrancy_raises(loop):
    errors = []

    def reenter():
        fut = loop.create_future()
        try:
            loop.run_until_complete(fut)
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.stop()

    loop.call_soon(reenter)
    loop.run_forever()
    assert errors == ["This event loop is already running"]


def test_loop_runs_after_a_previous_loop_finished(new_loop):
    first = new_loop()
    second = new_loop()
    assert first.run_until_complete(asyncio.sleep(0, "one")) == "one"
    assert second.run_until_complete(asyncio.sleep(0, "two")) == "two"


# ---- type and clock ----


def test_loop_is_an_abstract_event_loop(loop):
    assert isinstance(loop, asyncio.AbstractEventLoop)


def test_time_is_monotonic(loop):
    samples = [loop.time() for _ in range(1000)]
    assert samples == sorted(samples)
    assert isinstance(samples[0], float)


def test_time_is_comparable_to_time_monotonic(loop):
    before = time.monotonic()
    now = loop.time()
    after = time.monotonic()
    assert before - 0.1 <= now <= after + 0.1


def test_time_advances_with_wall_clock(loop):
    t0 = loop.time()
    time.sleep(0.02)
    assert loop.time() - t0 >= 0.015
