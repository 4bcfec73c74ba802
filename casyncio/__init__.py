"""casyncio: an asyncio event loop, Future and Task written in C.

Select it with any of:

    casyncio.run(main())
    asyncio.Runner(loop_factory=casyncio.new_event_loop)
    asyncio.run(main(), loop_factory=casyncio.new_event_loop)   # 3.12+
    casyncio.install()                                           # the policy
    python -m casyncio script.py
"""

import asyncio as _asyncio
import sys  # plain, not "as _sys": mypy only reads version checks on "sys"

try:
    from ._core import Future, Handle, Task, TimerHandle
except ModuleNotFoundError as _exc:  # pragma: no cover - depends on the set-up
    if _exc.name != __name__ + "._core":
        raise
    # The commonest way here: `python -m casyncio` run inside a source
    # checkout, whose unbuilt casyncio/ comes first on sys.path and shadows
    # the installed package.
    raise ImportError(
        f"casyncio's C extension is not built in {__path__[0]}: this is a "
        "source checkout that shadows the installed casyncio.  Run from "
        "another directory (or with `python -P`), or build in place with "
        "`python setup.py build_ext --inplace`.",
        name=__name__,
    ) from None
from . import _compat, _core
from ._accel import accelerate, accelerated, decelerate
from ._loop import Loop

if sys.version_info >= (3, 14):
    _compat.install_call_graph_hooks(_core)

__all__ = [
    "EventLoopPolicy",
    "Future",
    "Handle",
    "Loop",
    "Task",
    "TimerHandle",
    "accelerate",
    "accelerated",
    "decelerate",
    "install",
    "new_event_loop",
    "run",
]

if sys.version_info >= (3, 12):
    __all__ += ["eager_task_factory"]
    from ._core import eager_task_factory


__version__ = "0.1.0"


def new_event_loop():
    """Return a new casyncio event loop."""
    return Loop()


def run(main, *, debug=None):
    """Run the coroutine `main` on a new casyncio loop and return its result,
    as asyncio.run() does (same cancellation, async generator and executor
    shutdown)."""
    if sys.version_info >= (3, 12):
        return _asyncio.run(main, debug=debug, loop_factory=new_event_loop)
    if _asyncio.events._get_running_loop() is not None:
        raise RuntimeError("asyncio.run() cannot be called from a running event loop")
    with _asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
        return runner.run(main)


class EventLoopPolicy(_compat.DefaultPolicy):
    """asyncio's default policy, except that new loops are casyncio loops.
    asyncio deprecates policies from Python 3.14 on (removal in 3.16)."""

    def new_event_loop(self):
        return new_event_loop()


def install():
    """Make casyncio the loop of asyncio.run(), asyncio.new_event_loop() and
    asyncio.get_event_loop() in this process, by setting the policy.

    From Python 3.14 on this warns, as asyncio's policy functions do: use
    casyncio.run(main()) or asyncio.run(main(), loop_factory=...) instead."""
    if sys.version_info >= (3, 14):
        import warnings

        warnings.warn(
            "'casyncio.install' sets the event loop policy, which is deprecated "
            "and slated for removal in Python 3.16; use casyncio.run(main()) or "
            "asyncio.run(main(), loop_factory=casyncio.new_event_loop)",
            DeprecationWarning,
            stacklevel=2,
        )
    _compat.set_event_loop_policy(EventLoopPolicy())


def _select():
    """Make the loops that unchanged asyncio code asks for casyncio loops,
    for `python -m casyncio` and the pytest plugin; returns a function that
    undoes it.

    Before 3.14 this is the policy.  From 3.14 on, where policies are
    deprecated, it is asyncio.new_event_loop() itself (the module attribute
    that asyncio.run(), asyncio.Runner and IsolatedAsyncioTestCase call when
    given no loop factory, and scripts call), rebound to casyncio's."""
    if sys.version_info < (3, 14):
        saved = _compat.get_event_loop_policy()
        _compat.set_event_loop_policy(EventLoopPolicy())
        return lambda: _compat.set_event_loop_policy(saved)
    events = _asyncio.events
    saved = (events.new_event_loop, _asyncio.new_event_loop)
    events.new_event_loop = _asyncio.new_event_loop = new_event_loop

    def restore():
        events.new_event_loop, _asyncio.new_event_loop = saved

    return restore
