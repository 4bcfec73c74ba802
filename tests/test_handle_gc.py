"""Handles waiting in a loop's ready queue or timer heap, and the collector.

casyncio keeps the Handles that call_soon, call_soon_threadsafe, call_later
and call_at queue out of the cyclic GC while the loop holds them (see
src/handle.h): the loop's traversal stands in for them, and a gc.callbacks
hook tracks, before every full collection, those that something else holds
too.  These tests build the reference cycles programs make through handles
(an object that keeps the handle of a callback bound to itself, a loop
abandoned with callbacks pending) and check that one gc.collect() frees
exactly what stock asyncio frees, and nothing that is still reachable.

They also cover the reuse of freed handles: a handle from the free list must
behave as a new one.
"""

import asyncio
import gc
import warnings
import weakref

import pytest
from conftest import make_loop


class Owner:
    """Keeps the handle of a callback bound to itself: a cycle."""

    def __init__(self):
        self.calls = 0
        self.handle = None

    def method(self, *args):
        self.calls += 1


def collect_unclosed():
    """One gc.collect(), as asyncio needs; asyncio's loops warn in __del__
    when they were not closed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


SCHEDULERS = {
    "call_soon": lambda loop, cb: loop.call_soon(cb),
    "call_soon_threadsafe": lambda loop, cb: loop.call_soon_threadsafe(cb),
    "call_later": lambda loop, cb: loop.call_later(3600, cb),
    "call_at": lambda loop, cb: loop.call_at(loop.time() + 3600, cb),
}


@pytest.fixture(params=list(SCHEDULERS))
def schedule(request):
    return SCHEDULERS[request.param]


def test_abandoned_loop_with_a_pending_callback_on_itself_is_collected(impl, schedule):
    loop = make_loop(impl)
    schedule(loop, loop.stop)  # loop -> queue -> handle -> loop.stop -> loop
    ref = weakref.ref(loop)
    del loop
    collect_unclosed()
    assert ref() is None


def test_abandoned_loop_with_a_kept_handle_in_a_cycle_is_collected(impl, schedule):
    loop = make_loop(impl)
    owner = Owner()
    owner.loop = loop
    owner.handle = schedule(loop, owner.method)  # owner -> handle -> owner
    loop_ref, owner_ref = weakref.ref(loop), weakref.ref(owner)
    del loop, owner
    collect_unclosed()
    assert loop_ref() is None
    assert owner_ref() is None


def test_kept_handle_in_a_cycle_is_collected_after_it_ran(loop):
    owner = Owner()
    owner.handle = loop.call_soon(owner.method, 1)
    timer_owner = Owner()
    timer_owner.handle = loop.call_later(0, timer_owner.method)
    refs = [weakref.ref(owner), weakref.ref(timer_owner)]
    del owner, timer_owner
    loop.run_until_complete(asyncio.sleep(0.01))
    assert [r().calls for r in refs] == [1, 1]
    gc.collect()
    assert [r() for r in refs] == [None, None]


def test_kept_handle_in_a_cycle_is_collected_after_cancel(loop, schedule):
    owner = Owner()
    owner.handle = schedule(loop, owner.method)
    owner.handle.cancel()
    ref = weakref.ref(owner)
    del owner
    loop.run_until_complete(asyncio.sleep(0))
    gc.collect()
    assert ref() is None


def test_pending_handle_keeps_what_it_calls_alive(loop, schedule):
    """Whatever the collector is shown, a callback the loop will still run,
    and what it refers to, must survive collections."""
    owner, kept = Owner(), Owner()
    kept.handle = schedule(loop, kept.method)  # a cycle, the handle kept
    schedule(loop, owner.method)  # only the loop refers to owner
    refs = [weakref.ref(owner), weakref.ref(kept)]
    del owner, kept
    for _ in range(3):
        gc.collect()
    assert [r() is not None for r in refs] == [True, True]
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()  # drops the timers that did not run
    gc.collect()
    assert [r() for r in refs] == [None, None]


def test_pending_callbacks_run_after_collections(loop):
    """Callbacks that only the loop refers to, whose arguments form cycles,
    run with those arguments intact after full collections."""
    seen = []

    class Node:
        def __init__(self, i):
            self.i = i
            self.me = self

    for i in range(1000):
        loop.call_soon(lambda node: seen.append(node.i), Node(i))
        loop.call_later(0, lambda node: seen.append(node.i), Node(1000 + i))
    gc.collect()
    gc.collect()
    loop.run_until_complete(asyncio.sleep(0.01))
    assert sorted(seen) == list(range(2000))


def test_get_context_of_a_queued_handle_is_usable(loop):
    handle = loop.call_soon(lambda: None)
    ctx = handle._context
    if hasattr(handle, "get_context"):  # asyncio's from 3.12
        assert handle.get_context() is ctx
    assert ctx.run(lambda: 42) == 42
    gc.collect()
    loop.run_until_complete(asyncio.sleep(0))
    del ctx, handle
    gc.collect()


def test_exception_handler_may_keep_the_handle(loop):
    kept = []
    loop.set_exception_handler(lambda lp, context: kept.append(context))
    owner = Owner()

    def fail():
        raise ValueError("boom")

    owner.handle = loop.call_soon(fail)
    loop.run_until_complete(asyncio.sleep(0))
    gc.collect()
    assert len(kept) == 1
    assert kept[0]["handle"] is owner.handle
    assert isinstance(kept[0]["exception"], ValueError)
    assert owner.handle.cancelled() is False


def test_reused_handles_behave_as_new(loop):
    """Thousands of handles made and freed: each has its own callback,
    arguments, context, cancelled state and weak references."""
    order = []
    for round_ in range(3):
        handles = [loop.call_soon(order.append, (round_, i)) for i in range(600)]
        for h in handles[::3]:
            h.cancel()
        refs = [weakref.ref(h) for h in handles[:10]]
        timers = [
            loop.call_later(0, order.append, (round_, "t", i)) for i in range(300)
        ]
        assert all(not t.cancelled() for t in timers)
        assert [t.when() for t in timers] == sorted(t.when() for t in timers)
        del handles, timers
        loop.run_until_complete(asyncio.sleep(0.01))
        gc.collect()
        assert [r() for r in refs] == [None] * 10
    expected = []
    for round_ in range(3):
        expected += [(round_, i) for i in range(600) if i % 3]
        expected += [(round_, "t", i) for i in range(300)]
    assert order == expected
    fresh = loop.call_soon(order.append, "x")
    assert fresh.cancelled() is False
    assert "append" in repr(fresh)
    fresh.cancel()


# Handles keep up to two arguments in themselves and more in a tuple
# (src/handle.h); each test below runs on both sides of that line.
ARG_COUNTS = [1, 2, 3]

SCHEDULERS_WITH_ARGS = {
    "call_soon": lambda loop, cb, *args: loop.call_soon(cb, *args),
    "call_later": lambda loop, cb, *args: loop.call_later(3600, cb, *args),
}


@pytest.fixture(params=list(SCHEDULERS_WITH_ARGS))
def schedule_args(request):
    return SCHEDULERS_WITH_ARGS[request.param]


def ignore(*args):
    pass


@pytest.mark.parametrize("nargs", ARG_COUNTS)
def test_abandoned_loop_in_a_pending_callbacks_arguments_is_collected(
    impl, schedule_args, nargs
):
    loop = make_loop(impl)
    schedule_args(loop, ignore, *[loop] * nargs)  # loop -> handle -> args -> loop
    ref = weakref.ref(loop)
    del loop
    collect_unclosed()
    assert ref() is None


@pytest.mark.parametrize("nargs", ARG_COUNTS)
def test_kept_handle_in_a_cycle_through_its_arguments_is_collected(
    loop, schedule_args, nargs
):
    owner, cancelled = Owner(), Owner()
    owner.handle = schedule_args(loop, ignore, *[owner] * nargs)
    cancelled.handle = schedule_args(loop, ignore, *[cancelled] * nargs)
    cancelled.handle.cancel()
    refs = [weakref.ref(owner), weakref.ref(cancelled)]
    del owner, cancelled
    for _ in range(2):
        gc.collect()
    assert refs[0]() is not None  # still pending: the loop will run it
    assert refs[1]() is None
    loop.close()  # drops what did not run
    gc.collect()
    assert refs[0]() is None


@pytest.mark.parametrize("nargs", ARG_COUNTS)
def test_pending_callbacks_arguments_survive_collections(loop, nargs):
    seen = []

    class Node:
        def __init__(self, i):
            self.i = i
            self.me = self

    def record(*nodes):
        seen.append(tuple(n.i for n in nodes))

    for i in range(300):
        loop.call_soon(record, *[Node(i)] * nargs)
        loop.call_later(0, record, *[Node(1000 + i)] * nargs)
    for _ in range(2):
        gc.collect()
    loop.run_until_complete(asyncio.sleep(0.01))
    expected = [(i,) * nargs for i in range(300)]
    expected += [(1000 + i,) * nargs for i in range(300)]
    assert sorted(seen) == expected


def test_reused_handles_keep_their_own_arguments(loop):
    """Freed handles with 0-4 arguments reused for calls with a different
    number: each call gets exactly its own."""
    got = []
    for round_ in range(3):
        for i in range(500):
            args = tuple(range(round_ + i % 5))
            handle = loop.call_soon(lambda *a: got.append(a), *args)
            assert handle._args == args
        loop.run_until_complete(asyncio.sleep(0))
    expected = [tuple(range(round_ + i % 5)) for round_ in range(3) for i in range(500)]
    assert got == expected
