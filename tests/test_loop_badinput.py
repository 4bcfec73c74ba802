"""Bad input to the loop's public methods: casyncio answers as stock asyncio
does (same exception type, at the same moment: at the call, when the loop
runs, or through the exception handler), and the loop stays usable.

Each case runs on stock asyncio and on casyncio, with debug mode off and on
(asyncio checks callbacks only in debug mode), and the outcomes are
compared.  Where casyncio deliberately fails earlier than asyncio (asyncio
accepts a value and breaks later, in the middle of a loop iteration), the
case says so and asserts casyncio's behaviour.
"""

import asyncio
import math
import os
import tempfile

import pytest

import casyncio


def cb(*args):
    pass


async def coro():
    return 1


def closed_fd():
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    return r


CASES = {
    "call_soon(non-callable)": lambda loop: loop.call_soon(42),
    "call_soon() without callback": lambda loop: loop.call_soon(),
    "call_soon(cb, unknown keyword)": lambda loop: loop.call_soon(cb, bogus=1),
    "call_later(None, cb)": lambda loop: loop.call_later(None, cb),
    "call_later('1', cb)": lambda loop: loop.call_later("1", cb),
    "call_later(NaN, cb)": lambda loop: loop.call_later(math.nan, cb),
    "call_later(-inf, cb)": lambda loop: loop.call_later(-math.inf, cb),
    "call_later(inf, cb)": lambda loop: loop.call_later(math.inf, cb),
    "call_later(0, non-callable)": lambda loop: loop.call_later(0, 42),
    "call_at(None, cb)": lambda loop: loop.call_at(None, cb),
    "call_at(NaN, cb)": lambda loop: loop.call_at(math.nan, cb),
    "call_soon_threadsafe(non-callable)": lambda loop: loop.call_soon_threadsafe(42),
    "create_task(int)": lambda loop: loop.create_task(123),
    "create_task(coroutine function)": lambda loop: loop.create_task(coro),
    "run_until_complete(int)": lambda loop: loop.run_until_complete(5),
    "add_reader(-1)": lambda loop: loop.add_reader(-1, cb),
    "add_reader(closed fd)": lambda loop: loop.add_reader(closed_fd(), cb),
    "add_reader('x')": lambda loop: loop.add_reader("x", cb),
    "add_writer(-1)": lambda loop: loop.add_writer(-1, cb),
    "remove_reader(-1)": lambda loop: loop.remove_reader(-1),
    "remove_writer(unwatched fd)": lambda loop: loop.remove_writer(1000),
    "set_default_executor(object)": lambda loop: loop.set_default_executor(object()),
    "set_exception_handler(int)": lambda loop: loop.set_exception_handler(42),
    "set_task_factory(int)": lambda loop: loop.set_task_factory(42),
    # Awaited: otherwise whether the TypeError reaches the future before the
    # loop stops (and is then logged as never retrieved) is a race between
    # the worker and the loop, which casyncio's faster pool usually wins.
    "run_in_executor(None, non-callable)": lambda loop: loop.run_until_complete(
        loop.run_in_executor(None, 42)
    ),
    "create_future(1)": lambda loop: loop.create_future(1),
    "time(1)": lambda loop: loop.time(1),
}


def add_reader_regular_file(loop):
    with tempfile.TemporaryFile() as f:
        loop.add_reader(f.fileno(), cb)


CASES["add_reader(regular file)"] = add_reader_regular_file


def runs_a_callback(loop):
    """Whether the loop still runs a callback (one pass of run_forever)."""
    ran = []
    loop.call_soon(ran.append, "after")
    loop.call_soon(loop.stop)
    loop.run_forever()
    return ran == ["after"]


def assert_still_runs(loop):
    assert runs_a_callback(loop), "the loop no longer runs callbacks"


def outcome(make_loop, case, debug):
    """What a bad call does: raise at once, break the next run, or reach the
    exception handler; and whether the loop still runs a callback after."""
    loop = make_loop()
    loop.set_debug(debug)
    handled = []
    loop.set_exception_handler(
        lambda lp, ctx: handled.append(type(ctx.get("exception")).__name__)
    )
    try:
        try:
            CASES[case](loop)
        except Exception as exc:
            at_call = type(exc).__name__
        else:
            at_call = None
        try:
            loop.call_soon(loop.stop)
            loop.run_forever()
        except Exception as exc:
            at_run = type(exc).__name__
        else:
            at_run = None
        return at_call, at_run, tuple(handled), runs_a_callback(loop)
    finally:
        loop.close()


@pytest.mark.parametrize("debug", [False, True], ids=["release", "debug"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_answered_as_stock_asyncio(case, debug):
    expected = outcome(asyncio.SelectorEventLoop, case, debug)
    actual = outcome(casyncio.new_event_loop, case, debug)
    assert actual == expected
    assert actual[3], "the loop must still run callbacks after the bad call"


def test_call_at_with_a_string_fails_at_the_call():
    """asyncio accepts call_at('1', cb) and then raises TypeError out of
    run_forever() when its timer heap compares the string; casyncio raises
    the TypeError at the call and keeps the loop usable."""
    loop = casyncio.new_event_loop()
    try:
        with pytest.raises(TypeError):
            loop.call_at("1", cb)
        assert_still_runs(loop)
    finally:
        loop.close()


def test_call_soon_with_a_non_context_reports_through_the_handler():
    """call_soon(cb, context='x'): both loops accept it and report the error
    through the exception handler when the callback is due (the Handle
    calls 'x'.run, an AttributeError), and go on running."""
    for make_loop, kind in (
        (asyncio.SelectorEventLoop, AttributeError),
        (casyncio.new_event_loop, AttributeError),
    ):
        loop = make_loop()
        contexts = []
        loop.set_exception_handler(lambda lp, ctx, c=contexts: c.append(ctx))
        try:
            loop.call_soon(cb, context="x")
            loop.call_soon(loop.stop)
            loop.run_forever()
            assert len(contexts) == 1
            assert type(contexts[0]["exception"]) is kind
        finally:
            loop.close()


def test_slow_callback_duration_must_be_a_number():
    """asyncio stores any value and fails in debug mode when it compares a
    callback's duration with it; casyncio refuses a non-number at once."""
    loop = casyncio.new_event_loop()
    try:
        with pytest.raises(TypeError):
            loop.slow_callback_duration = "x"
        loop.slow_callback_duration = 0.5
        assert loop.slow_callback_duration == 0.5
    finally:
        loop.close()


@pytest.mark.parametrize(
    "make_loop",
    [asyncio.SelectorEventLoop, casyncio.new_event_loop],
    ids=["asyncio", "casyncio"],
)
@pytest.mark.parametrize("method", ["call_soon", "call_later", "call_at"])
def test_scheduling_from_another_thread_in_debug_mode(make_loop, method):
    """In debug mode, call_soon & co. from a thread other than the running
    loop's raise RuntimeError (call_soon_threadsafe is the way), and the
    loop goes on."""
    import threading

    loop = make_loop()
    loop.set_debug(True)
    errors = []
    started = threading.Event()

    def other_thread():
        started.wait()
        try:
            args = {"call_soon": (cb,), "call_later": (0, cb), "call_at": (0, cb)}
            getattr(loop, method)(*args[method])
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.call_soon_threadsafe(loop.stop)

    thread = threading.Thread(target=other_thread)
    thread.start()
    loop.call_soon(started.set)
    try:
        loop.run_forever()
        thread.join()
        assert errors == [
            "Non-thread-safe operation invoked on an event loop other than "
            "the current one"
        ]
        assert_still_runs(loop)
    finally:
        loop.close()
