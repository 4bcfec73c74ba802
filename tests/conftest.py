"""Fixtures shared by the project's tests.

Every loop test is written once and runs against both implementations:
the ``impl`` fixture is parametrised over "casyncio" and "asyncio" (the stock
selector loop), so a behaviour that differs between them shows up as a test
that passes on one parameter and fails on the other.

Like uvloop's test base, the ``loop`` fixture fails a test whose loop called
its exception handler unexpectedly: a test that expects handler calls installs
its own handler with ``loop.set_exception_handler``.
"""

import asyncio
import gc
import os
import time

import pytest

# CASYNCIO_TEST_IMPLS=asyncio narrows the run to one implementation (useful
# while writing a test); CI always runs both.
IMPLS = tuple(os.environ.get("CASYNCIO_TEST_IMPLS", "casyncio,asyncio").split(","))


def make_loop(impl):
    if impl == "casyncio":
        import casyncio

        return casyncio.new_event_loop()
    if impl == "asyncio":
        return asyncio.SelectorEventLoop()
    raise ValueError(impl)


def loop_class(impl):
    if impl == "casyncio":
        import casyncio

        return casyncio.Loop
    return asyncio.SelectorEventLoop


@pytest.fixture(params=IMPLS)
def impl(request):
    """The implementation under test: "casyncio" or "asyncio"."""
    return request.param


@pytest.fixture(params=["stock", "accelerated"])
def accel(request):
    """asyncio's own primitives ("stock") or casyncio's C versions bound in
    their place by casyncio.accelerate() for the test ("accelerated")."""
    import casyncio

    if request.param == "accelerated":
        assert casyncio.accelerate() == casyncio.accelerated()
        yield request.param
        casyncio.decelerate()
        assert casyncio.accelerated() == []
    else:
        assert casyncio.accelerated() == []
        yield request.param


def accelerated_with(accel, name):
    """For the fixtures of one primitive's tests: accel, checked to include
    (when "accelerated") the name `name`; skips where this Python's asyncio
    is older than the C versions' model (casyncio._accel says which)."""
    import casyncio

    if accel == "accelerated" and name not in casyncio.accelerated():
        pytest.skip(f"this Python's asyncio predates the C {name}'s model")
    assert (name in casyncio.accelerated()) == (accel == "accelerated")
    return accel


@pytest.fixture
def new_loop(impl):
    """A factory of fresh loops of the implementation under test."""
    made = []

    def factory():
        loop = make_loop(impl)
        made.append(loop)
        return loop

    yield factory
    for loop in made:
        if not loop.is_closed() and not loop.is_running():
            loop.close()


@pytest.fixture
def loop(new_loop):
    """A fresh loop; the test fails if its exception handler was called
    without the test having installed a handler of its own."""
    loop = new_loop()
    unexpected = []

    def handler(lp, context):
        unexpected.append(context)

    loop.set_exception_handler(handler)
    yield loop
    if not loop.is_closed() and not loop.is_running():
        loop.close()
    gc.collect()
    if loop.get_exception_handler() is handler and unexpected:
        pytest.fail(f"unexpected exception handler calls: {unexpected!r}")


@pytest.fixture
def run(impl):
    """run(coro, debug=None): asyncio.run on the implementation under test."""

    def runner(coro, *, debug=None):
        with asyncio.Runner(debug=debug, loop_factory=lambda: make_loop(impl)) as r:
            return r.run(coro)

    return runner


def _live_counts():
    """The C module's live-object counters ({kind: count}) in a debug build
    (CASYNCIO_DEBUG=1), else None."""
    try:
        from casyncio import _core
    except ImportError:
        return None
    counts = getattr(_core, "_live_counts", None)
    return counts() if counts is not None else None


_current_item = [None]


@pytest.fixture(autouse=True)
def _track_item(request):
    _current_item[0] = request.node


@pytest.fixture(autouse=True, scope="module")
def _no_live_objects_after_module():
    """In a debug build, every object casyncio made (loops, handles, timers,
    futures, tasks, transports, servers, sock_* operations, reactor
    registrations, write buffers) is gone once a test module has finished
    and garbage is collected: a count left above zero is a leak."""
    yield
    if _live_counts() is None:
        return
    # This runs in the teardown of the module's last test, whose arguments
    # (its loop, say) pytest still holds until that teardown ends.
    item = _current_item[0]
    if item is not None and getattr(item, "funcargs", None):
        item.funcargs.clear()
    # An object a thread still holds (a default-executor worker finishing
    # after its loop closed) is not leaked: give threads a few seconds.
    deadline = time.monotonic() + 5
    while True:
        for _ in range(3):
            gc.collect()
        left = {kind: n for kind, n in _live_counts().items() if n}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, f"casyncio objects still alive after this module: {left}"


# Lines a test records with record_property("casyncio_summary", text), shown
# at the end of the run (the conformance figures): collected from the
# reports, so they come back from pytest-xdist's workers too.
_summaries = []


def pytest_runtest_logreport(report):
    if report.when == "call":
        _summaries.extend(
            v for k, v in report.user_properties if k == "casyncio_summary"
        )


def pytest_terminal_summary(terminalreporter):
    for text in _summaries:
        terminalreporter.section(text.splitlines()[0])
        for line in text.splitlines()[1:]:
            terminalreporter.write_line(line)
