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

What is accelerated so far: ``gather``, ``shield`` and ``wait``; 3.12+'s
``wait_for``; ``timeout`` and ``timeout_at`` (whose Timeout reports
``asyncio.Timeout`` as its class); the classes ``Lock``, ``Event``,
``Semaphore``, ``BoundedSemaphore``, ``Condition`` (asyncio's Barrier
makes its Condition through ``asyncio.locks``), ``Queue``, ``LifoQueue``
and ``PriorityQueue``; ``TaskGroup``, whose per-task methods (create_task
and the tasks' done-callback) are in C over asyncio's own class.  The C
timeouts, locks, queues and wait_for follow asyncio as of 3.11.7 and
3.12.1: on 3.11.0-3.11.6 and 3.12.0, whose versions differ in their
details, those names stay asyncio's; so does TaskGroup where its
create_task is a variant casyncio does not know.
"""

import asyncio  # noqa: F401  (asyncio and asyncio.tasks are in sys.modules)
import asyncio.locks  # noqa: F401
import asyncio.queues  # noqa: F401
import asyncio.taskgroups
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
    "shield": (("asyncio", "asyncio.tasks"), _core.shield),
}

if sys.version_info >= (3, 14):
    # The stacks asyncio.graph captures list a task's coroutine frames, and
    # asyncio's wait() awaits its _wait(): two thin frames keep those stacks
    # as asyncio's; the work is the C wait's.
    async def _wait(fs: Any, timeout: Any, return_when: Any) -> Any:
        return await _core.wait(fs, timeout=timeout, return_when=return_when)

    async def wait(
        fs: Any, *, timeout: Any = None, return_when: Any = asyncio.tasks.ALL_COMPLETED
    ) -> Any:
        """asyncio.wait(): wait for the futures and tasks of fs (casyncio's C
        version under asyncio's two frames)."""
        return await _wait(fs, timeout, return_when)

    _NAMES["wait"] = (("asyncio", "asyncio.tasks"), wait)
else:
    _NAMES["wait"] = (("asyncio", "asyncio.tasks"), _core.wait)
if sys.version_info >= (3, 12, 1) or (3, 11, 7) <= sys.version_info < (3, 12):
    _NAMES["timeout"] = (("asyncio", "asyncio.timeouts"), _core.timeout)
    _NAMES["timeout_at"] = (("asyncio", "asyncio.timeouts"), _core.timeout_at)
    # asyncio's newer Condition.wait (3.12.x, 3.13+) notifies another waiter
    # when it fails; 3.11.7 and 3.12.1 have the older one
    _core._set_flag("condition_notify", hasattr(asyncio.locks.Condition, "_notify"))
    _classes: list[tuple[str, type]] = [
        ("asyncio.locks", cls)
        for cls in (
            _core.Lock,
            _core.Event,
            _core.Semaphore,
            _core.BoundedSemaphore,
            _core.Condition,
        )
    ] + [
        ("asyncio.queues", cls)
        for cls in (_core.Queue, _core.LifoQueue, _core.PriorityQueue)
    ]
    for _module, _cls in _classes:
        _NAMES[_cls.__name__] = (("asyncio", _module), _cls)
    if sys.version_info >= (3, 12):
        # 3.12+'s wait_for: `async with timeout(): return await fut` (3.11's
        # is another design and stays asyncio's)
        _core._set_helper("wait_for", asyncio.tasks.wait_for)
        _NAMES["wait_for"] = (("asyncio", "asyncio.tasks"), _core.wait_for)


# The names asyncio's TaskGroup.create_task and _on_task_done use, in the
# variants the C methods follow (3.11.7 to 3.15.2); flags from the names.
_TG_CREATE_NAMES = frozenset(
    "RuntimeError _aborting _entered _exiting _loop _on_task_done _tasks add "
    "add_done_callback create_task tasks _set_task_name done close _parent_task "
    "futures future_add_to_awaited_by cancel".split()
)
_TG_DONE_NAMES = frozenset(
    "_abort _aborting _base_error _errors _is_base_error _loop _on_completed_fut "
    "_parent_cancel_requested _parent_task _tasks append call_exception_handler "
    "cancel cancelled discard done exception set_result".split()
)
_TG_EDGE_NAMES = frozenset(("futures", "future_discard_from_awaited_by"))


def _taskgroup_flags(cls: type) -> int | None:
    """Which variant of create_task() and _on_task_done() asyncio's TaskGroup
    `cls` has, as taskgroup.c's CA_TG_* flags; None for one casyncio does
    not follow (TaskGroup then stays asyncio's)."""
    try:
        create = cls.create_task.__code__  # type: ignore[attr-defined]
        done = cls._on_task_done.__code__  # type: ignore[attr-defined]
    except AttributeError:
        return None
    names = frozenset(create.co_names)
    kwargs = bool(create.co_flags & 0x08)  # CO_VARKEYWORDS
    edges = "future_add_to_awaited_by" in names
    signature = create.co_varnames[: create.co_argcount + create.co_kwonlyargcount]
    if (
        not names <= _TG_CREATE_NAMES
        or frozenset(done.co_names)
        != (_TG_DONE_NAMES | _TG_EDGE_NAMES if edges else _TG_DONE_NAMES)
        or signature
        != (("self", "coro") if kwargs else ("self", "coro", "name", "context"))
        or kwargs != edges
    ):
        return None
    set_name = "_set_task_name" in names  # 3.11, 3.12.0-3.12.1
    shortcut = "done" in names and "cancel" not in names  # 3.12.0-3.13.1
    return (
        2 * set_name  # CA_TG_SET_NAME
        | 4 * kwargs  # CA_TG_KWARGS (3.14+)
        | 8 * ("close" in names)  # CA_TG_CLOSE
        | 16 * shortcut  # CA_TG_SHORTCUT
        | 32 * (set_name and not shortcut)  # CA_TG_CB_FIRST (3.11)
        | 64 * edges  # CA_TG_AWAITED_BY (3.14+)
        | 128 * ("cancel" in names)  # CA_TG_ABORT_LATE
    )


_tg_flags = _taskgroup_flags(asyncio.taskgroups.TaskGroup)
if _tg_flags is not None:
    _core._set_flag("taskgroup", _tg_flags)

    # (the C create_task takes what asyncio's of this Python takes)
    class TaskGroup(_core._TaskGroupMethods, asyncio.taskgroups.TaskGroup):  # type: ignore[misc]
        """asyncio.TaskGroup with its per-task methods (create_task and the
        tasks' done-callback) in C; entering and leaving the group are the
        running asyncio's own, inherited."""

    _NAMES["TaskGroup"] = (("asyncio", "asyncio.taskgroups"), TaskGroup)


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
