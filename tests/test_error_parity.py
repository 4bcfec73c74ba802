"""The exception type and message casyncio gives for bad use of the loop,
Future and Task, against stock asyncio's on the running Python: wrong
types, a closed loop, the wrong thread, a re-entrant run, done and
uninitialised futures.  Each case runs on both, and the two outcomes must
be equal; a new difference shows up here as a failing case.

Messages are compared after naming what legitimately differs the same way:
object addresses, the loop's and the types' class names ("casyncio.Future"
and "_asyncio.Future" are both "Future").  An error about how a method was
called (arity, unknown keyword) is compared by type only: its wording comes
from how the method is written (a C method, a Python function, Argument
Clinic) and changes between Python versions.

DELIBERATE lists where casyncio answers differently on purpose, with why;
those cases assert casyncio's own outcome.
"""

import asyncio
import gc
import re
import sys
import threading
import warnings

import pytest

import casyncio

PY314 = sys.version_info >= (3, 14)


async def coro():
    return 1


def cb(*args):
    pass


class Env:
    """What a case works with, for one implementation."""

    def __init__(self, impl):
        self.impl = impl
        if impl == "casyncio":
            self.Future, self.Task = casyncio.Future, casyncio.Task
            self.new_loop = casyncio.new_event_loop
        else:
            self.Future, self.Task = asyncio.Future, asyncio.Task
            self.new_loop = asyncio.SelectorEventLoop
        self.loop = self.new_loop()
        self.closed = self.new_loop()
        self.closed.close()

    def close(self):
        self.loop.close()

    def future(self):
        return self.Future(loop=self.loop)

    def done_future(self):
        f = self.future()
        f.set_result(1)
        return f

    def cancelled_future(self):
        f = self.future()
        f.cancel("why")
        return f

    def task(self):
        t = self.Task(coro(), loop=self.loop)
        t._log_destroy_pending = False
        return t

    def in_loop(self, fn):
        """fn() called from a coroutine running on the loop."""

        async def main():
            return fn()

        return self.loop.run_until_complete(main())

    def in_thread(self, fn):
        """fn() called from another thread while the loop runs (debug)."""
        self.loop.set_debug(True)
        box = {}

        def other():
            try:
                box["result"] = fn()
            except BaseException as exc:  # carried back to the caller
                box["error"] = exc
            self.loop.call_soon_threadsafe(self.loop.stop)

        self.loop.call_soon(threading.Thread(target=other).start)
        self.loop.run_forever()
        if "error" in box:
            raise box["error"]
        return box.get("result")


def uninitialised(cls):
    return cls.__new__(cls)


def create_task_or_close(loop):
    """loop.create_task(coro()), closing the coroutine if it raises."""
    c = coro()
    try:
        return loop.create_task(c)
    except BaseException:
        c.close()
        raise


def run_another_loop(env):
    other = env.new_loop()
    try:
        return other.run_until_complete(coro())
    finally:
        other.close()


CASES = {
    # ---- Future ----
    "Future.result() pending": lambda e: e.future().result(),
    "Future.exception() pending": lambda e: e.future().exception(),
    "Future.set_result() done": lambda e: e.done_future().set_result(2),
    "Future.set_exception() done": lambda e: e.done_future().set_exception(
        ValueError()
    ),
    "Future.set_exception(StopIteration())": lambda e: e.future().set_exception(
        StopIteration()
    ),
    "Future.set_exception(1)": lambda e: e.future().set_exception(1),
    "Future.set_exception(int)": lambda e: e.future().set_exception(int),
    "Future.result() cancelled": lambda e: e.cancelled_future().result(),
    "Future.exception() cancelled": lambda e: e.cancelled_future().exception(),
    "Future.add_done_callback() no callback": lambda e: e.future().add_done_callback(),
    "Future.add_done_callback(cb, bogus=)": lambda e: e.future().add_done_callback(
        cb, bogus=1
    ),
    "Future.remove_done_callback()": lambda e: e.future().remove_done_callback(),
    "Future.cancel(1, 2)": lambda e: e.future().cancel(1, 2),
    "Future(1)": lambda e: e.Future(1),
    "Future(loop=1).get_loop()": lambda e: e.Future(loop=1).get_loop(),
    "Future._log_traceback = True": lambda e: setattr(
        e.future(), "_log_traceback", True
    ),
    "del Future._log_traceback": lambda e: delattr(e.future(), "_log_traceback"),
    "del Future._asyncio_future_blocking": lambda e: delattr(
        e.future(), "_asyncio_future_blocking"
    ),
    "uninitialised Future.result()": lambda e: uninitialised(e.Future).result(),
    "uninitialised Future.exception()": lambda e: uninitialised(e.Future).exception(),
    "uninitialised Future.get_loop()": lambda e: uninitialised(e.Future).get_loop(),
    "uninitialised Future.set_result()": lambda e: uninitialised(e.Future).set_result(
        1
    ),
    "uninitialised Future.add_done_callback()": lambda e: uninitialised(
        e.Future
    ).add_done_callback(cb),
    "uninitialised Future.done()": lambda e: uninitialised(e.Future).done(),
    # ---- Task ----
    "Task(1)": lambda e: e.Task(1, loop=e.loop),
    "Task(coroutine function)": lambda e: e.Task(coro, loop=e.loop),
    "Task(coro, 1)": lambda e: e.Task(coro(), 1),
    "Task(coro, bogus=)": lambda e: e.Task(coro(), loop=e.loop, bogus=1),
    "Task.set_result()": lambda e: e.task().set_result(1),
    "Task.set_exception()": lambda e: e.task().set_exception(ValueError()),
    "Task.result() pending": lambda e: e.task().result(),
    "Task.cancel(1, 2)": lambda e: e.task().cancel(1, 2),
    "Task.get_stack(limit='x')": lambda e: e.task().get_stack(limit="x"),
    "Task.set_name()": lambda e: e.task().set_name(),
    "del Task._log_destroy_pending": lambda e: delattr(
        e.task(), "_log_destroy_pending"
    ),
    "Task._must_cancel = True": lambda e: setattr(e.task(), "_must_cancel", True),
    "uninitialised Task.get_name()": lambda e: uninitialised(e.Task).get_name(),
    # ---- the loop: wrong types ----
    "call_soon(non-callable), debug": lambda e: (
        e.loop.set_debug(True),
        e.loop.call_soon(42),
    ),
    "call_soon(coroutine function), debug": lambda e: (
        e.loop.set_debug(True),
        e.loop.call_soon(coro),
    ),
    "call_later('1', cb)": lambda e: e.loop.call_later("1", cb),
    "call_later(None, cb)": lambda e: e.loop.call_later(None, cb),
    "call_at(None, cb)": lambda e: e.loop.call_at(None, cb),
    "call_at('x', cb)": lambda e: e.loop.call_at("x", cb),
    "create_task(1)": lambda e: e.loop.create_task(1),
    "run_until_complete(5)": lambda e: e.loop.run_until_complete(5),
    "add_reader('x', cb)": lambda e: e.loop.add_reader("x", cb),
    "add_reader(-1, cb)": lambda e: e.loop.add_reader(-1, cb),
    "remove_writer(-1)": lambda e: e.loop.remove_writer(-1),
    "set_task_factory(1)": lambda e: e.loop.set_task_factory(1),
    "set_exception_handler(1)": lambda e: e.loop.set_exception_handler(1),
    "set_default_executor(1)": lambda e: e.loop.set_default_executor(1),
    "run_in_executor(None, 1), debug": lambda e: (
        e.loop.set_debug(True),
        e.loop.run_in_executor(None, 1),
    ),
    "add_signal_handler(0, cb)": lambda e: e.loop.add_signal_handler(0, cb),
    "add_signal_handler(SIGINT, coroutine function)": lambda e: (
        e.loop.add_signal_handler(2, coro)
    ),
    "remove_signal_handler('x')": lambda e: e.loop.remove_signal_handler("x"),
    "sock_recv(5, 10)": lambda e: e.loop.run_until_complete(e.loop.sock_recv(5, 10)),
    "sock_recv_into(5, buf)": lambda e: e.loop.run_until_complete(
        e.loop.sock_recv_into(5, bytearray(4))
    ),
    "sock_sendall(5, b'x')": lambda e: e.loop.run_until_complete(
        e.loop.sock_sendall(5, b"x")
    ),
    "sock_accept(5)": lambda e: e.loop.run_until_complete(e.loop.sock_accept(5)),
    "sock_recvfrom(5, 10)": lambda e: e.loop.run_until_complete(
        e.loop.sock_recvfrom(5, 10)
    ),
    "sock_sendto(5, b'x', addr)": lambda e: e.loop.run_until_complete(
        e.loop.sock_sendto(5, b"x", ("127.0.0.1", 1))
    ),
    "sock_connect(5, addr)": lambda e: e.loop.run_until_complete(
        e.loop.sock_connect(5, ("127.0.0.1", 1))
    ),
    # ---- a closed loop ----
    "closed: call_soon": lambda e: e.closed.call_soon(cb),
    "closed: call_later": lambda e: e.closed.call_later(1, cb),
    "closed: call_at": lambda e: e.closed.call_at(1, cb),
    "closed: call_soon_threadsafe": lambda e: e.closed.call_soon_threadsafe(cb),
    "closed: create_task": lambda e: e.closed.create_task(coro()),
    "closed: run_forever": lambda e: e.closed.run_forever(),
    "closed: run_until_complete": lambda e: e.closed.run_until_complete(coro()),
    "closed: add_reader": lambda e: e.closed.add_reader(0, cb),
    "closed: run_in_executor": lambda e: e.closed.run_in_executor(None, cb),
    "closed: close again": lambda e: e.closed.close(),
    # ---- re-entrant runs ----
    "running: run_until_complete": lambda e: e.in_loop(
        lambda: e.loop.run_until_complete(coro())
    ),
    "running: run_forever": lambda e: e.in_loop(e.loop.run_forever),
    "running: close": lambda e: e.in_loop(e.loop.close),
    "another loop running: run_until_complete": lambda e: e.in_loop(
        lambda: run_another_loop(e)
    ),
    # ---- the wrong thread (debug mode) ----
    "other thread: call_soon": lambda e: e.in_thread(lambda: e.loop.call_soon(cb)),
    "other thread: call_later": lambda e: e.in_thread(lambda: e.loop.call_later(0, cb)),
    "other thread: create_task": lambda e: e.in_thread(
        lambda: create_task_or_close(e.loop)
    ),
}

# Where casyncio answers differently on purpose: the case's outcome on
# casyncio, and why.
DELIBERATE = {
    "call_at('x', cb)": (
        ("TypeError", "when must be a real number, not 'str'"),
        "asyncio takes a when it cannot compare and then fails on every loop "
        "iteration, when its heap compares it; casyncio refuses it at the call",
    ),
}

_ARITY = re.compile(
    r"takes (no|exactly|at most|at least|from)|positional argument|"
    r"missing \d+ required|unexpected keyword argument|takes \d+ |"
    r"is an invalid keyword argument"
)


def _normalise(text):
    text = re.sub(r"0x[0-9a-fA-F]+", "0x..", text)
    text = re.sub(r"<(Loop|_UnixSelectorEventLoop|SelectorEventLoop) ", "<LOOP ", text)
    text = re.sub(r"\b(casyncio|_asyncio|asyncio\.futures|asyncio\.tasks)\.", "", text)
    return text


def outcome(impl, case):
    env = Env(impl)
    # Warnings ignored throughout: a case makes coroutines it never runs,
    # which warn when collected (here, with the exception's frames).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = CASES[case](env)
            got = ("returned", type(result).__name__)
            if asyncio.iscoroutine(result):
                result.close()
            del result
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            message = str(exc)
            if isinstance(exc, TypeError) and _ARITY.search(message):
                message = "<how it was called>"
            got = (type(exc).__name__, _normalise(message))
        finally:
            env.close()
        gc.collect()
    return got


@pytest.mark.parametrize("case", list(CASES))
def test_same_exception_and_message_as_asyncio(case):
    ours = outcome("casyncio", case)
    if case in DELIBERATE:
        expected, _why = DELIBERATE[case]
        assert ours == expected
        return
    assert ours == outcome("asyncio", case)
