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
from ._loop import Loop

__all__ = [
    "EventLoopPolicy",
    "Future",
    "Handle",
    "Loop",
    "Task",
    "TimerHandle",
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


class EventLoopPolicy(_asyncio.DefaultEventLoopPolicy):
    """asyncio's default policy, except that new loops are casyncio loops."""

    def new_event_loop(self):
        return new_event_loop()


def install():
    """Make casyncio the loop of asyncio.run(), asyncio.new_event_loop() and
    asyncio.get_event_loop() in this process, by setting the policy."""
    _asyncio.set_event_loop_policy(EventLoopPolicy())
