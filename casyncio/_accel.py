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

What is accelerated so far: ``gather``.
"""

import asyncio  # noqa: F401  (asyncio and asyncio.tasks are in sys.modules)
import asyncio.tasks  # noqa: F401
import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from . import _core

# name -> (the modules that hold it, casyncio's version)
_NAMES: dict[str, tuple[tuple[str, ...], Callable[..., Any]]] = {
    "gather": (("asyncio", "asyncio.tasks"), _core.gather),
}

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
