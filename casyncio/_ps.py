"""`python -m casyncio ps PID` and `pstree PID` (Python 3.14+): the tasks
of a running casyncio process, in the table and tree that
`python -m asyncio ps|pstree` print.

asyncio's own tool cannot show them: it reads the target's memory from
outside (_remote_debugging), walking the per-thread lists of _asyncio.Task
objects and their C fields, and casyncio's tasks are not _asyncio.Task
objects.  So this one asks the process itself: sys.remote_exec() (PEP 768)
makes the target run snapshot(), which lists every task of every running
casyncio loop with its coroutine stack and what awaits it
(Future._asyncio_awaited_by, the edges asyncio.graph uses), and writes it to
a file; the tool then formats it with asyncio.tools, as asyncio's does.

The target runs the script the next time one of its threads runs Python
code: a loop idle in epoll_wait (no timer, no I/O) runs it at its next
event, so the tool waits up to --timeout seconds and says so if nothing
came.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import namedtuple

# The shapes asyncio.tools reads (_remote_debugging's AwaitedInfo, TaskInfo
# and CoroInfo), by the attribute names it reads.
AwaitedInfo = namedtuple("AwaitedInfo", "thread_id awaited_by")
TaskInfo = namedtuple("TaskInfo", "task_id task_name coroutine_stack awaited_by")
CoroInfo = namedtuple("CoroInfo", "call_stack task_name")


class Frame(str):
    """A frame as asyncio.tools prints it: "funcname file:line" in the tree
    (a str is printed as is), .funcname in the table."""

    __slots__ = ("funcname",)
    funcname: str

    def __new__(cls, funcname, filename, lineno):
        self = super().__new__(cls, f"{funcname} {filename}:{lineno}")
        self.funcname = funcname
        return self


# ---- in the target ----


def _coroutine_frames(task):
    """The frames of the task's coroutine chain, innermost first, as
    [funcname, filename, lineno]."""
    frames = []
    coro = task.get_coro() if hasattr(task, "get_coro") else None
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            code = frame.f_code
            frames.append([code.co_qualname, code.co_filename, frame.f_lineno])
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    frames.reverse()
    return frames


def snapshot():
    """Every pending task of every running casyncio loop of this process:
    [{"thread": id, "tasks": [{"id", "name", "stack", "awaited_by"}]}]."""
    import asyncio
    import threading

    from . import _loop

    # asyncio's tool shows the thread's native id.
    native = {t.ident: t.native_id for t in threading.enumerate()}
    threads = []
    for loop in list(_loop.running_loops):
        thread_id = native.get(loop._thread_id)
        if thread_id is None:
            continue
        tasks = []
        for task in asyncio.all_tasks(loop):
            waiters = getattr(task, "_asyncio_awaited_by", None) or ()
            tasks.append(
                {
                    "id": id(task),
                    "name": task.get_name(),
                    "stack": _coroutine_frames(task),
                    "awaited_by": [
                        {"id": id(w), "stack": _coroutine_frames(w)} for w in waiters
                    ],
                }
            )
        threads.append({"thread": thread_id, "tasks": tasks})
    return threads


def dump(path):
    """Write snapshot() (or the error it raised) to path, all at once."""
    try:
        data = {"threads": snapshot()}
    except Exception as exc:  # reported by the tool
        data = {"error": f"{type(exc).__name__}: {exc}"}
    tmp = path + ".part"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


# ---- in the tool ----


def _result(threads):
    """The snapshot in the shapes asyncio.tools reads."""

    def frames(stack):
        return [Frame(*entry) for entry in stack]

    return [
        AwaitedInfo(
            t["thread"],
            [
                TaskInfo(
                    task["id"],
                    task["name"],
                    [CoroInfo(frames(task["stack"]), task["id"])],
                    [CoroInfo(frames(w["stack"]), w["id"]) for w in task["awaited_by"]],
                )
                for task in t["tasks"]
            ],
        )
        for t in threads
    ]


def fetch(pid, timeout):
    """Run dump() in process pid and return its snapshot in asyncio.tools'
    shapes; exits with a message on failure."""
    if sys.version_info < (3, 14):
        raise RuntimeError("sys.remote_exec() is new in Python 3.14")
    workdir = tempfile.mkdtemp(prefix="casyncio-ps-")
    os.chmod(workdir, 0o755)  # the target may run as another user
    out = os.path.join(workdir, "tasks.json")
    script = os.path.join(workdir, "dump.py")
    with open(script, "w") as f:
        f.write(
            "try:\n"
            "    import casyncio._ps\n"
            f"    casyncio._ps.dump({out!r})\n"
            "except ImportError as exc:\n"
            "    import json\n"
            f"    json.dump({{'error': repr(exc)}}, open({out!r}, 'w'))\n"
        )
    os.chmod(script, 0o644)
    try:
        try:
            sys.remote_exec(pid, script)
        except PermissionError:
            sys.exit(
                f"Error: not allowed to attach to process {pid} (see "
                "https://docs.python.org/3/howto/remote_debugging.html)"
            )
        except ProcessLookupError:
            sys.exit(f"Error: process {pid} not found.")
        except (RuntimeError, OSError) as exc:
            sys.exit(f"Error: cannot run code in process {pid}: {exc}")
        deadline = time.monotonic() + timeout
        while not os.path.exists(out):
            if time.monotonic() > deadline:
                sys.exit(
                    f"Error: process {pid} did not report its tasks within "
                    f"{timeout:g} s.  It runs the request the next time one of "
                    "its threads runs Python code: an idle loop (no timer, no "
                    "I/O) does at its next event.  Try again, or with a longer "
                    "--timeout."
                )
            time.sleep(0.02)
        with open(out) as f:
            data = json.load(f)
    finally:
        for name in (out, script, out + ".part"):
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass
        os.rmdir(workdir)
    if "error" in data:
        sys.exit(f"Error: process {pid} could not list its tasks: {data['error']}")
    return _result(data["threads"])


def main(command, pid, timeout):
    """Print the table (ps) or tree (pstree) of process pid's tasks, in
    asyncio's format."""
    import importlib

    tools = importlib.import_module("asyncio.tools")  # 3.14+
    result = fetch(pid, timeout)
    # asyncio.tools formats what its get_all_awaited_by() returns.
    tools.get_all_awaited_by = lambda pid: result
    if command == "ps":
        tools.display_awaited_by_tasks_table(pid)
    else:
        tools.display_awaited_by_tasks_tree(pid)
    return 0
