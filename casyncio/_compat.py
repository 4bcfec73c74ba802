"""What differs between the Python versions casyncio runs on (3.11-3.15),
for the Python side of the package; the C side uses PY_VERSION_HEX.

From 3.14 on, asyncio deprecates its policy system (to be removed in 3.16)
and asyncio.iscoroutinefunction; asyncio's own code uses private names that
do not warn, and so does casyncio.
"""

import sys
from asyncio import coroutines, events, unix_events
from collections.abc import Callable
from typing import Any

# asyncio.DefaultEventLoopPolicy on Unix, under a name that does not warn.
DefaultPolicy = unix_events._UnixDefaultEventLoopPolicy

iscoroutinefunction: Callable[[Any], bool]
if sys.version_info >= (3, 14):
    iscoroutinefunction = coroutines._iscoroutinefunction  # type: ignore[attr-defined]
    get_event_loop_policy = events._get_event_loop_policy
    set_event_loop_policy = events._set_event_loop_policy
else:
    iscoroutinefunction = coroutines.iscoroutinefunction
    get_event_loop_policy = events.get_event_loop_policy
    set_event_loop_policy = events.set_event_loop_policy


def install_call_graph_hooks(core):
    """3.14+: asyncio's gather, TaskGroup, shield, wait, as_completed and
    staggered_race record call-graph edges (asyncio.graph) through
    futures.future_add_to_awaited_by() and its discard twin, which _asyncio
    implements for its own futures only.  casyncio's versions do the same
    for casyncio's futures and hand _asyncio's to _asyncio: put in place of
    asyncio's (and of the _c_ names CPython's tests restore), so that
    asyncio.capture_call_graph() shows casyncio's tasks as it does stock
    ones."""
    import asyncio
    from asyncio import futures

    for name in ("future_add_to_awaited_by", "future_discard_from_awaited_by"):
        fn = getattr(core, name)
        setattr(futures, name, fn)
        setattr(asyncio, name, fn)
        if hasattr(futures, "_c_" + name):
            setattr(futures, "_c_" + name, fn)
