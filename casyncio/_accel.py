"""casyncio.accelerate(): asyncio's own hot Python functions and classes
replaced by casyncio's C versions, in this process, on request.

The C versions behave as asyncio's of the running Python (the same results,
exceptions, messages, reprs and order of wake-ups; CPython's own tests of
them run against them, see docs/conformance.md) and work on any loop,
stock ones included.  Acceleration rebinds module attributes: asyncio's own
modules look these names up at each call (``tasks.gather`` in
``asyncio.runners``, say), so they use the C versions, and so does code
that calls ``asyncio.gather``.  A name bound before (``from asyncio import
gather`` at import time) keeps asyncio's.

What is accelerated so far: ``gather``; ``timeout`` and ``timeout_at``
(whose Timeout reports ``asyncio.Timeout`` as its class; 3.12+'s
``wait_for`` uses them too); the classes ``Lock``, ``Event``,
``Semaphore`` and ``BoundedSemaphore`` (asyncio's Condition, Queue and
Barrier, which make them through ``asyncio.locks``, get the C ones).  The C
timeouts and locks follow asyncio as of 3.11.7 and 3.12.1: on 3.11.0-3.11.6
and 3.12.0, whose versions differ in their details, those names stay
asyncio's.
"""

import asyncio  # noqa: F401  (asyncio and asyncio.tasks are in sys.modules)
import asyncio.locks  # noqa: F401
import asyncio.queues  # noqa: F401
import asyncio.tasks  # noqa: F401
import asyncio.timeouts  # noqa: F401
import sys
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from . import _core

# name -> (the modules that hold it, casyncio's version)
_NAMES: dict[str, tuple[tuple[str, ...], Any]] = {
    "gather": (("asyncio", "asyncio.tasks"), _core.gather),
}
if sys.version_info >= (3, 12, 1) or (3, 11, 7) <= sys.version_info < (3, 12):
    _NAMES["timeout"] = (("asyncio", "asyncio.timeouts"), _core.timeout)
    _NAMES["timeout_at"] = (("asyncio", "asyncio.timeouts"), _core.timeout_at)
    _classes: list[tuple[str, type]] = [
        ("asyncio.locks", cls)
        for cls in (_core.Lock, _core.Event, _core.Semaphore, _core.BoundedSemaphore)
    ] + [
        ("asyncio.queues", cls)
        for cls in (_core.Queue, _core.LifoQueue, _core.PriorityQueue)
    ]
    for _module, _cls in _classes:
        _NAMES[_cls.__name__] = (("asyncio", _module), _cls)


async def _cm_aenter(self: Any) -> None:
    """__aenter__ of a subclass of the C Lock or Semaphore that overrides
    acquire(): asyncio's _ContextManagerMixin.__aenter__."""
    await self.acquire()


async def _queue_join(self: Any) -> None:
    """The C Queue's join(), asyncio's (it runs once per join: not hot)."""
    if self._unfinished_tasks > 0:
        await self._finished.wait()


_core._set_helper("cm_aenter", _cm_aenter)
_core._set_helper("queue_join", _queue_join)

# (module, name) -> asyncio's object, for decelerate()
_saved: dict[tuple[str, str], Any] = {}


def _modules(names: Iterable[str]) -> list[tuple[ModuleType, str]]:
    return [(sys.modules[m], m) for m in names]


def accelerate() -> list[str]:
    """Put casyncio's C versions in place of asyncio's, process-wide.
    Idempotent; returns the names accelerated."""
    for name, (modules, fast) in _NAMES.items():
        for module, mname in _modules(modules):
            current = getattr(module, name)
            if current is not fast:
                _saved[(mname, name)] = current
                setattr(module, name, fast)
    return accelerated()


def decelerate() -> None:
    """Put back what accelerate() replaced (asyncio's own versions)."""
    for name, (modules, fast) in _NAMES.items():
        for module, mname in _modules(modules):
            stock = _saved.pop((mname, name), None)
            if stock is not None and getattr(module, name) is fast:
                setattr(module, name, stock)


def accelerated() -> list[str]:
    """The names whose asyncio binding is casyncio's C version now, sorted:
    [] when acceleration is off."""
    return sorted(
        name
        for name, (modules, fast) in _NAMES.items()
        if all(getattr(m, name) is fast for m, _ in _modules(modules))
    )
