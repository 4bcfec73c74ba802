"""casyncio.Task against asyncio's C and pure-Python tasks.

Every test runs against three Task classes (the ``task_kind`` fixture:
"casyncio" = casyncio.Task, "ctask" = asyncio.tasks._CTask, "pytask" =
asyncio.tasks._PyTask), each on both loops (the ``loop`` fixture: casyncio's
loop and the stock selector loop).  A test that passes on "ctask" and
"pytask" but fails on "casyncio" is a casyncio bug.

Where the two stock tasks legitimately differ, the test says so in a comment
marked "STOCK DIFFERENCE" and checks that casyncio follows the C task.
"""

import asyncio
import collections.abc
import contextvars
import gc
import io
import re
import sys
import types
import weakref
from asyncio import futures, tasks

import pytest

import casyncio

var = contextvars.ContextVar("var", default="unset")

TASK_CLASSES = {
    "casyncio": casyncio.Task,
    "ctask": tasks._CTask,
    "pytask": tasks._PyTask,
}

FUTURE_CLASSES = {
    "casyncio": casyncio.Future,
    "cfuture": futures._CFuture,
    "pyfuture": futures._PyFuture,
}

PY312 = sys.version_info >= (3, 12)
PY313 = sys.version_info >= (3, 13)
PY314 = sys.version_info >= (3, 14)

needs_eager = pytest.mark.skipif(not PY312, reason="eager tasks are 3.12+")


@pytest.fixture(params=list(TASK_CLASSES))
def task_kind(request):
    """Which Task implementation: "casyncio", "ctask" or "pytask"."""
    return request.param


@pytest.fixture
def Task(task_kind):  # noqa: N802 (a class, named like one)
    return TASK_CLASSES[task_kind]


# From 3.14 on asyncio.current_task() and all_tasks() are _asyncio's, which
# read the thread state and _asyncio's registries; _PyTask enters and
# registers itself only in asyncio's pure-Python ones, which the _py_
# functions read.  casyncio.Task and _CTask are seen by _asyncio's.
@pytest.fixture
def current_task(task_kind):
    if PY314 and task_kind == "pytask":
        return tasks._py_current_task
    return asyncio.current_task


@pytest.fixture
def all_tasks(task_kind):
    if PY314 and task_kind == "pytask":
        return tasks._py_all_tasks
    return asyncio.all_tasks


def run_once(loop):
    """Run everything queued so far (one loop iteration), then stop."""
    loop.call_soon(loop.stop)
    loop.run_forever()


async def wait_on(fut):
    return await fut


async def return_after_yield(value):
    await asyncio.sleep(0)
    return value


async def forever(loop):
    await loop.create_future()


def collect_handler_calls(loop):
    calls = []
    loop.set_exception_handler(lambda lp, ctx: calls.append(ctx))
    return calls


# ---- results and exceptions ----


def test_task_returns_coroutine_result(Task, loop):
    task = Task(return_after_yield("result"), loop=loop)
    assert not task.done()
    assert loop.run_until_complete(task) == "result"
    assert task.done()
    assert not task.cancelled()
    assert task.result() == "result"
    assert task.exception() is None
    assert task._state == "FINISHED"


def test_task_is_a_future(Task, loop):
    task = Task(return_after_yield(1), loop=loop)
    assert asyncio.isfuture(task)
    assert task.get_loop() is loop
    assert task._asyncio_future_blocking is False
    loop.run_until_complete(task)


def test_task_does_not_start_before_the_loop_runs(Task, loop):
    ran = []

    async def coro():
        ran.append("ran")

    task = Task(coro(), loop=loop)
    assert ran == []
    loop.run_until_complete(task)
    assert ran == ["ran"]


def test_task_exception_propagates(Task, loop):
    async def fail():
        await asyncio.sleep(0)
        raise ValueError("task failed")

    task = Task(fail(), loop=loop)
    with pytest.raises(ValueError, match="^task failed$"):
        loop.run_until_complete(task)
    assert task.done()
    assert not task.cancelled()
    assert type(task.exception()) is ValueError
    with pytest.raises(ValueError, match="^task failed$"):
        task.result()


def test_task_without_loop_uses_running_loop(Task, loop):
    async def main():
        t = Task(return_after_yield("inner"))
        assert t.get_loop() is asyncio.get_running_loop()
        return await t

    assert loop.run_until_complete(main()) == "inner"


def test_task_awaiting_a_task(Task, loop):
    async def outer():
        inner = Task(return_after_yield(21), loop=loop)
        return 2 * await inner

    assert loop.run_until_complete(Task(outer(), loop=loop)) == 42


@pytest.mark.parametrize("future_kind", list(FUTURE_CLASSES))
def test_task_awaits_each_future_kind(Task, loop, future_kind):
    fut = FUTURE_CLASSES[future_kind](loop=loop)
    task = Task(wait_on(fut), loop=loop)
    run_once(loop)
    assert task._fut_waiter is fut
    loop.call_soon(fut.set_result, "from " + future_kind)
    assert loop.run_until_complete(task) == "from " + future_kind
    assert task._fut_waiter is None


@pytest.mark.parametrize("future_kind", list(FUTURE_CLASSES))
def test_task_cancel_reaches_each_future_kind(Task, loop, future_kind):
    fut = FUTURE_CLASSES[future_kind](loop=loop)
    task = Task(wait_on(fut), loop=loop)
    run_once(loop)
    assert task.cancel("to the future")
    assert fut.cancelled()
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert task.cancelled()


def test_task_accepts_a_coroutine_abc_object(Task, loop):
    class ManualCoro(collections.abc.Coroutine):
        def __init__(self):
            self.sent = []

        def send(self, value):
            self.sent.append(value)
            if len(self.sent) == 1:
                return None  # a bare yield: step again soon
            raise StopIteration("manual")

        def throw(self, typ, val=None, tb=None):
            raise typ if val is None else val

        def close(self):
            pass

        def __await__(self):
            return iter(())

    coro = ManualCoro()
    task = Task(coro, loop=loop)
    assert loop.run_until_complete(task) == "manual"
    assert coro.sent == [None, None]


@pytest.mark.parametrize("bad", [1, "not a coroutine", return_after_yield])
def test_non_coroutine_raises_type_error(Task, loop, bad):
    with pytest.raises(TypeError, match=r"^a coroutine was expected, got "):
        Task(bad, loop=loop)


def test_set_result_and_set_exception_raise_runtime_error(Task, loop):
    task = Task(return_after_yield(1), loop=loop)
    with pytest.raises(
        RuntimeError, match=r"^Task does not support set_result operation$"
    ):
        task.set_result(2)
    with pytest.raises(
        RuntimeError, match=r"^Task does not support set_exception operation$"
    ):
        task.set_exception(ValueError())
    assert loop.run_until_complete(task) == 1


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_keyboard_interrupt_and_system_exit_propagate(Task, loop, exc_type):
    after = []

    async def interrupted():
        await asyncio.sleep(0)
        raise exc_type()

    task = Task(interrupted(), loop=loop)
    loop.call_later(0.5, after.append, "loop kept running")
    with pytest.raises(exc_type):
        loop.run_until_complete(task)
    assert after == []
    assert task.done()
    assert type(task.exception()) is exc_type
    assert not loop.is_running()


def test_result_of_pending_task_raises_invalid_state(Task, task_kind, loop):
    task = Task(return_after_yield(1), loop=loop)
    # STOCK DIFFERENCE: 'Result is not set.' (C) vs 'Result is not ready.'
    # (Python); casyncio uses the C wording, like casyncio.Future.
    expected = "ready" if task_kind == "pytask" else "set"
    with pytest.raises(
        asyncio.InvalidStateError, match=rf"^Result is not {expected}\.$"
    ):
        task.result()
    with pytest.raises(asyncio.InvalidStateError, match=r"^Exception is not set\.$"):
        task.exception()
    loop.run_until_complete(task)


def test_exception_after_catching_cancellation(Task, loop):
    fut = loop.create_future()

    async def coro():
        try:
            await fut
        except asyncio.CancelledError:
            raise LookupError("raised while cancelled") from None

    task = Task(coro(), loop=loop)
    run_once(loop)
    task.cancel()
    with pytest.raises(LookupError):
        loop.run_until_complete(task)
    assert not task.cancelled()
    assert type(task.exception()) is LookupError


# ---- cancellation ----


def test_cancel_before_start(Task, loop):
    ran = []

    async def coro():
        ran.append("started")

    task = Task(coro(), loop=loop)
    assert task.cancel() is True
    assert task._must_cancel is True
    assert not task.done()
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert ran == []
    assert task.cancelled()
    assert task._state == "CANCELLED"
    assert task._must_cancel is False
    assert task.cancel() is False


def test_cancel_before_start_with_message(Task, loop):
    seen = []

    async def coro():
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError as e:
            seen.append(e.args)
            raise

    task = Task(coro(), loop=loop)
    task.cancel("early")
    with pytest.raises(asyncio.CancelledError) as info:
        loop.run_until_complete(task)
    assert info.value.args == ("early",)
    # The coroutine never got to its try block: the CancelledError was
    # thrown in at its first step.
    assert seen == []


def test_cancel_while_awaiting_future(Task, loop):
    fut = loop.create_future()
    task = Task(wait_on(fut), loop=loop)
    run_once(loop)
    assert task._fut_waiter is fut
    assert task.cancel() is True
    assert fut.cancelled()
    assert task._must_cancel is False  # the waiter took the cancellation
    assert not task.done()
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert task.cancelled()


@pytest.mark.parametrize("keyword", [False, True], ids=["positional", "keyword"])
def test_cancel_message_reaches_the_coroutine(Task, loop, keyword):
    seen = []
    fut = loop.create_future()

    async def coro():
        try:
            await fut
        except asyncio.CancelledError as e:
            seen.append(e.args)
            raise

    task = Task(coro(), loop=loop)
    run_once(loop)
    if keyword:
        task.cancel(msg="the message")
    else:
        task.cancel("the message")
    with pytest.raises(asyncio.CancelledError) as info:
        loop.run_until_complete(task)
    assert seen == [("the message",)]
    assert info.value.args == ("the message",)
    # Later calls build a fresh CancelledError; stock tasks (C and Python,
    # 3.11-3.13) cancel themselves with msg=None once the coroutine has
    # raised, so the message is not repeated.
    with pytest.raises(asyncio.CancelledError) as info:
        task.result()
    assert info.value.args == ()


def test_cancel_while_awaiting_another_task(Task, loop):
    events = []
    fut = loop.create_future()

    async def inner_coro():
        try:
            await fut
        except asyncio.CancelledError as e:
            events.append(("inner", e.args))
            raise

    inner = Task(inner_coro(), loop=loop)

    async def outer_coro():
        try:
            await inner
        except asyncio.CancelledError as e:
            events.append(("outer", e.args))
            raise

    outer = Task(outer_coro(), loop=loop)
    run_once(loop)
    run_once(loop)
    assert outer._fut_waiter is inner
    assert inner._fut_waiter is fut
    assert outer.cancel("stop both") is True
    assert inner.cancelling() == 1  # propagated
    assert fut.cancelled()
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(outer)
    assert inner.cancelled()
    assert outer.cancelled()
    assert events == [("inner", ("stop both",)), ("outer", ("stop both",))]


def test_catching_cancelled_error_and_returning(Task, loop):
    fut = loop.create_future()

    async def coro():
        try:
            await fut
        except asyncio.CancelledError:
            return "survived"

    task = Task(coro(), loop=loop)
    run_once(loop)
    task.cancel()
    assert loop.run_until_complete(task) == "survived"
    assert not task.cancelled()
    assert task.cancelling() == 1


def test_cancel_done_task_returns_false(Task, loop):
    task = Task(return_after_yield(1), loop=loop)
    loop.run_until_complete(task)
    assert task.cancel() is False
    assert task.cancelling() == 0
    assert task.result() == 1


def test_cancelling_and_uncancel_counters(Task, loop):
    fut = loop.create_future()
    task = Task(wait_on(fut), loop=loop)
    run_once(loop)  # waiting on fut: the first cancel() cancels it
    assert task.cancelling() == 0
    assert task.uncancel() == 0  # never below zero
    task.cancel()
    task.cancel()
    assert task.cancelling() == 2
    assert task.uncancel() == 1
    assert task.cancelling() == 1
    assert task.uncancel() == 0
    assert task.uncancel() == 0
    assert task.cancelling() == 0
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)


def test_uncancel_to_zero_and_must_cancel(Task, loop):
    task = Task(return_after_yield("ran to completion"), loop=loop)
    task.cancel()
    assert task._must_cancel is True
    assert task.uncancel() == 0
    if PY313:
        # 3.13+: reaching zero clears the pending cancellation.
        assert task._must_cancel is False
        assert loop.run_until_complete(task) == "ran to completion"
        assert not task.cancelled()
    else:
        assert task._must_cancel is True
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(task)
        assert task.cancelled()


def test_uncancel_not_to_zero_keeps_must_cancel(Task, loop):
    task = Task(return_after_yield(1), loop=loop)
    task.cancel()
    task.cancel()
    assert task.uncancel() == 1
    assert task._must_cancel is True
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)


def test_cancel_right_before_return_cancels(Task, current_task, loop):
    # A cancel() that arrives while the task is in its last step (no waiter
    # to pass it to) leaves the task cancelled, not finished.
    async def coro():
        current_task().cancel()
        return "ignored"

    task = Task(coro(), loop=loop)
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert task.cancelled()


def test_cancel_during_bare_yield(Task, loop):
    events = []

    async def coro():
        try:
            await asyncio.sleep(0)
            events.append("not reached")
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    task = Task(coro(), loop=loop)
    run_once(loop)  # now suspended on a bare yield, no waiter
    assert task._fut_waiter is None
    task.cancel()
    assert task._must_cancel is True
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert events == ["cancelled"]


# ---- coro, context, name ----


def test_get_coro_and_coro_attribute(Task, loop):
    coro = return_after_yield(1)
    task = Task(coro, loop=loop)
    assert task.get_coro() is coro
    assert task._coro is coro
    loop.run_until_complete(task)


@pytest.mark.skipif(not PY312, reason="get_context is 3.12+")
def test_get_context(Task, loop):
    ctx = contextvars.Context()
    task = Task(return_after_yield(1), loop=loop, context=ctx)
    assert task.get_context() is ctx
    loop.run_until_complete(task)

    token = var.set("copied")
    try:
        task = Task(return_after_yield(1), loop=loop)
    finally:
        var.reset(token)
    task_ctx = task.get_context()
    assert isinstance(task_ctx, contextvars.Context)
    assert task_ctx[var] == "copied"
    loop.run_until_complete(task)


def test_task_runs_in_a_copy_of_the_creators_context(Task, loop):
    async def read_and_set():
        seen = var.get()
        var.set("set in task")
        await asyncio.sleep(0)
        return seen, var.get()

    token = var.set("creator")
    try:
        task = Task(read_and_set(), loop=loop)
        var.set("changed after creation")
        assert loop.run_until_complete(task) == ("creator", "set in task")
        assert var.get() == "changed after creation"
    finally:
        var.reset(token)


def test_task_context_is_honoured(Task, loop):
    ctx = contextvars.Context()
    ctx.run(var.set, "given")
    fut = loop.create_future()

    async def read_and_set():
        first = var.get()
        var.set("set in task")
        await fut  # woken up in the same context
        return first, var.get()

    task = Task(read_and_set(), loop=loop, context=ctx)
    loop.call_soon(fut.set_result, None)
    assert loop.run_until_complete(task) == ("given", "set in task")
    assert ctx[var] == "set in task"
    assert var.get() == "unset"


def test_default_names_are_task_n(Task, loop):
    t1 = Task(return_after_yield(1), loop=loop)
    t2 = Task(return_after_yield(2), loop=loop)
    m1 = re.match(r"^Task-(\d+)$", t1.get_name())
    m2 = re.match(r"^Task-(\d+)$", t2.get_name())
    assert m1 and m2
    assert int(m2.group(1)) == int(m1.group(1)) + 1
    loop.run_until_complete(asyncio.gather(t1, t2))


def test_name_argument_and_set_name(Task, loop):
    task = Task(return_after_yield(1), loop=loop, name="given name")
    assert task.get_name() == "given name"
    task.set_name("renamed")
    assert task.get_name() == "renamed"
    task.set_name(42)
    assert task.get_name() == "42"
    task.set_name(("a", 1))
    assert task.get_name() == "('a', 1)"
    loop.run_until_complete(task)


def test_non_str_name_argument_is_converted(Task, loop):
    task = Task(return_after_yield(1), loop=loop, name=123)
    assert task.get_name() == "123"
    loop.run_until_complete(task)


def test_none_name_argument_gives_default(Task, loop):
    task = Task(return_after_yield(1), loop=loop, name=None)
    assert re.match(r"^Task-\d+$", task.get_name())
    loop.run_until_complete(task)


# ---- private attributes ----


def test_fut_waiter_is_set_while_awaiting(Task, loop):
    fut = loop.create_future()
    task = Task(wait_on(fut), loop=loop)
    assert task._fut_waiter is None
    run_once(loop)
    assert task._fut_waiter is fut
    fut.set_result("x")
    assert loop.run_until_complete(task) == "x"
    assert task._fut_waiter is None


def test_log_destroy_pending_is_read_write(Task, loop):
    task = Task(return_after_yield(1), loop=loop)
    assert task._log_destroy_pending is True
    task._log_destroy_pending = False
    assert task._log_destroy_pending is False
    task._log_destroy_pending = True
    assert task._log_destroy_pending is True
    loop.run_until_complete(task)


def test_log_traceback_on_task(Task, loop):
    async def fail():
        raise ValueError()

    task = Task(fail(), loop=loop)
    with pytest.raises(ValueError):
        loop.run_until_complete(task)
    assert task._log_traceback is False  # retrieved by run_until_complete
    with pytest.raises(ValueError, match=r"^_log_traceback can only be set to False$"):
        task._log_traceback = True


# ---- stack ----


def test_get_stack_and_print_stack(Task, loop):
    fut = loop.create_future()

    async def suspended_in_here():
        await fut

    task = Task(suspended_in_here(), loop=loop, name="stacked")
    run_once(loop)
    stack = task.get_stack()
    assert stack
    assert stack[-1].f_code.co_name == "suspended_in_here"
    assert len(task.get_stack(limit=1)) == 1
    buf = io.StringIO()
    task.print_stack(file=buf)
    text = buf.getvalue()
    assert text.startswith("Stack for <Task pending name='stacked'")
    assert "suspended_in_here" in text
    assert __file__ in text
    fut.set_result(None)
    loop.run_until_complete(task)


def test_get_stack_of_finished_task_is_empty(Task, loop):
    task = Task(return_after_yield(1), loop=loop)
    loop.run_until_complete(task)
    assert task.get_stack() == []
    buf = io.StringIO()
    task.print_stack(file=buf)
    assert buf.getvalue().startswith("No stack for <Task finished ")


def test_print_stack_of_failed_task(Task, loop):
    async def failing_here():
        raise ValueError("stack me")

    task = Task(failing_here(), loop=loop)
    with pytest.raises(ValueError):
        loop.run_until_complete(task)
    buf = io.StringIO()
    task.print_stack(file=buf)
    text = buf.getvalue()
    assert "ValueError: stack me" in text


# ---- repr ----


def wakeup_name(task_kind):
    # STOCK DIFFERENCE: the C task's wake-up callback is 'task_wakeup', the
    # pure-Python one's is '__wakeup'.  casyncio follows C.
    return "__wakeup" if task_kind == "pytask" else "task_wakeup"


def test_repr_pending_not_started(Task, loop):
    task = Task(return_after_yield(1), loop=loop, name="r1")
    assert re.match(
        r"^<Task pending name='r1' coro=<return_after_yield\(\) running at "
        + re.escape(__file__)
        + r":\d+>>$",
        repr(task),
    ), repr(task)
    loop.run_until_complete(task)


def test_repr_waiting(Task, task_kind, loop):
    fut = loop.create_future()
    task = Task(wait_on(fut), loop=loop, name="r2")
    run_once(loop)
    expected = (
        r"^<Task pending name='r2' coro=<wait_on\(\) running at "
        + re.escape(__file__)
        + r":\d+> wait_for=<Future pending cb=\[Task\."
        + re.escape(wakeup_name(task_kind))
        + r"\(\)\]>>$"
    )
    assert re.match(expected, repr(task)), repr(task)
    task.cancel()
    assert repr(task).startswith("<Task cancelling name='r2' coro=<wait_on() ")
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)


def test_repr_finished(Task, loop):
    task = Task(return_after_yield(5), loop=loop, name="r3")
    loop.run_until_complete(task)
    assert re.match(
        r"^<Task finished name='r3' coro=<return_after_yield\(\) done, defined at "
        + re.escape(__file__)
        + r":\d+> result=5>$",
        repr(task),
    ), repr(task)


def test_repr_exception(Task, loop):
    async def fail():
        raise ValueError("bad")

    task = Task(fail(), loop=loop, name="r4")
    with pytest.raises(ValueError):
        loop.run_until_complete(task)
    assert re.match(
        r"^<Task finished name='r4' coro=<.*fail\(\) done, defined at .+:\d+> "
        r"exception=ValueError\('bad'\)>$",
        repr(task),
    ), repr(task)


def test_repr_cancelled(Task, loop):
    task = Task(return_after_yield(5), loop=loop, name="r5")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert re.match(
        r"^<Task cancelled name='r5' coro=<return_after_yield\(\) done, defined at "
        r".+:\d+>>$",
        repr(task),
    ), repr(task)


def test_repr_same_as_ctask(Task, task_kind, loop):
    # Same scenario on asyncio's C task: same text, once the wake-up
    # callback's name (a legitimate stock difference) is normalised.
    results = []
    for cls in (Task, tasks._CTask):
        fut = loop.create_future()
        t = cls(wait_on(fut), loop=loop, name="same")
        run_once(loop)
        results.append(repr(t))
        fut.set_result(None)
        loop.run_until_complete(t)
        results.append(repr(t))
    normalised = [r.replace("__wakeup", "task_wakeup") for r in results]
    assert normalised[0] == normalised[2]
    assert normalised[1] == normalised[3]


# ---- finalizer ----


@pytest.mark.parametrize("log", [True, False], ids=["logged", "not_logged"])
def test_destroyed_pending_task_is_reported(Task, loop, log):
    calls = collect_handler_calls(loop)
    task = Task(forever(loop), loop=loop)
    task._log_destroy_pending = log
    run_once(loop)
    assert not task.done()
    del task
    gc.collect()
    if not log:
        assert calls == []
        return
    assert len(calls) == 1
    ctx = calls[0]
    assert ctx["message"] == "Task was destroyed but it is pending!"
    assert isinstance(ctx["task"], Task)
    assert "source_traceback" not in ctx


def test_destroyed_pending_task_kept_by_the_handler_leaves_all_tasks(
    Task, task_kind, all_tasks, loop
):
    """A pending task collected in a cycle leaves all_tasks() even when the
    exception handler keeps it (as CPython's test_log_destroyed_pending_task
    does with a Mock): the registry entry goes before the report, as a
    weakref entry is cleared before finalizers run."""
    calls = collect_handler_calls(loop)
    task = Task(forever(loop), loop=loop)
    run_once(loop)
    assert all_tasks(loop) == {task}
    del task
    gc.collect()
    assert len(calls) == 1
    assert calls[0]["message"] == "Task was destroyed but it is pending!"
    if not (PY314 and task_kind == "ctask"):
        # STOCK DIFFERENCE: from 3.14 on _CTask leaves its registry (a
        # per-thread list) only when it is freed, so the task the handler
        # kept stays in all_tasks(); casyncio.Task and _PyTask leave it.
        assert all_tasks(loop) == set()
    calls.clear()


def test_destroyed_pending_task_in_debug_mode_has_source_traceback(Task, loop):
    loop.set_debug(True)
    calls = collect_handler_calls(loop)
    task = Task(forever(loop), loop=loop)
    tb = task._source_traceback
    assert isinstance(tb, list) and tb
    run_once(loop)
    del task
    gc.collect()
    messages = [c["message"] for c in calls]
    assert "Task was destroyed but it is pending!" in messages
    ctx = calls[messages.index("Task was destroyed but it is pending!")]
    assert ctx["source_traceback"] == tb


def test_unretrieved_task_exception_is_reported(Task, loop):
    calls = collect_handler_calls(loop)

    async def fail():
        raise ValueError("nobody looked")

    task = Task(fail(), loop=loop)
    run_once(loop)
    assert task.done()
    del task
    gc.collect()
    assert len(calls) == 1
    assert calls[0]["message"] == "Task exception was never retrieved"
    assert type(calls[0]["exception"]) is ValueError
    assert isinstance(calls[0]["future"], Task)


def test_finished_tasks_are_not_reported(Task, loop):
    calls = collect_handler_calls(loop)
    task = Task(return_after_yield(1), loop=loop)
    loop.run_until_complete(task)
    del task
    gc.collect()
    assert calls == []


# ---- step errors ----


@types.coroutine
def yield_value(value):
    yield value


def test_bad_yield(Task, loop):
    async def coro():
        await yield_value(1)

    task = Task(coro(), loop=loop)
    with pytest.raises(RuntimeError, match=r"^Task got bad yield: 1$"):
        loop.run_until_complete(task)


def test_bad_yield_error_is_thrown_into_the_coroutine(Task, loop):
    async def coro():
        try:
            await yield_value("bad")
        except RuntimeError as e:
            return "caught: " + str(e)

    task = Task(coro(), loop=loop)
    assert loop.run_until_complete(task) == "caught: Task got bad yield: 'bad'"


def test_bare_yield_reschedules(Task, loop):
    order = []

    async def coro():
        order.append("step 1")
        loop.call_soon(order.append, "queued before the yield")
        await yield_value(None)
        order.append("step 2")
        return "done"

    task = Task(coro(), loop=loop)
    assert loop.run_until_complete(task) == "done"
    assert order == ["step 1", "queued before the yield", "step 2"]


def test_yield_instead_of_yield_from(Task, loop):
    fut = loop.create_future()

    async def coro():
        await yield_value(fut)  # yields the future without blocking=True

    task = Task(coro(), loop=loop)
    with pytest.raises(
        RuntimeError, match=r"^yield was used instead of yield from in task "
    ):
        loop.run_until_complete(task)


def test_yield_of_generator(Task, loop):
    def gen():
        yield

    g = gen()

    async def coro():
        await yield_value(g)

    task = Task(coro(), loop=loop)
    with pytest.raises(
        RuntimeError,
        match=r"^yield was used instead of yield from for generator in task ",
    ):
        loop.run_until_complete(task)


def test_future_of_another_loop(Task, loop, new_loop):
    other = new_loop()
    fut = other.create_future()
    task = Task(wait_on(fut), loop=loop)
    with pytest.raises(
        RuntimeError, match=r"^Task .* got Future .* attached to a different loop$"
    ):
        loop.run_until_complete(task)
    assert fut._callbacks in (None, [])
    assert task._fut_waiter is None


def test_task_awaiting_itself(Task, loop):
    holder = []

    async def coro():
        await holder[0]

    task = Task(coro(), loop=loop)
    holder.append(task)
    with pytest.raises(RuntimeError, match=r"^Task cannot await on itself: <Task "):
        loop.run_until_complete(task)


# ---- subclassing, weak references ----


def test_subclass_with_extra_attributes_and_overrides(Task, loop):
    class MyTask(Task):
        def __init__(self, coro, *, loop, label):
            super().__init__(coro, loop=loop)
            self.label = label
            self.log = []

        def cancel(self, msg=None):
            self.log.append(("cancel", msg))
            return super().cancel(msg)

        def get_name(self):
            return "my:" + super().get_name()

    fut = loop.create_future()
    task = MyTask(wait_on(fut), loop=loop, label="mine")
    assert isinstance(task, Task)
    assert asyncio.isfuture(task)
    assert task.label == "mine"
    assert task.get_name().startswith("my:Task-")
    assert repr(task).startswith("<MyTask pending name='my:Task-")
    run_once(loop)
    assert task.cancel("sub") is True
    assert task.log == [("cancel", "sub")]
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert task.cancelled()


def test_awaiting_a_subclass_task_uses_its_add_done_callback(Task, loop):
    added = []

    class MyTask(Task):
        def add_done_callback(self, fn, *, context=None):
            added.append(context)
            return super().add_done_callback(fn, context=context)

    inner = MyTask(return_after_yield("from subclass"), loop=loop)

    async def outer():
        return await inner

    outer_task = Task(outer(), loop=loop)
    assert loop.run_until_complete(outer_task) == "from subclass"
    # The waiting task passes its own context.
    assert len(added) == 1
    assert isinstance(added[0], contextvars.Context)


def test_weakref(Task, loop):
    task = Task(return_after_yield(1), loop=loop)
    ref = weakref.ref(task)
    assert ref() is task
    loop.run_until_complete(task)
    del task
    gc.collect()
    assert ref() is None


def test_instance_attributes(Task, loop):
    task = Task(return_after_yield(1), loop=loop)
    task.custom = "value"
    assert task.custom == "value"
    loop.run_until_complete(task)


def test_class_getitem(Task):
    alias = Task[int]
    assert alias.__origin__ is Task
    assert alias.__args__ == (int,)


# ---- the task registry (all_tasks) ----


def _foreign_task_registry():
    """3.14+: _asyncio's WeakSet of the tasks that are not _asyncio.Task
    (its module state), where casyncio's register."""
    import _asyncio

    (weakset,) = [
        o for o in gc.get_referents(_asyncio) if isinstance(o, weakref.WeakSet)
    ]
    return weakset


def _registry(task_kind):
    """The WeakSet a pending task of this kind is in, or None where there
    is none to see (3.14's _CTask: a per-thread list in C)."""
    if PY314:
        if task_kind == "ctask":
            return None
        return (
            tasks._scheduled_tasks
            if task_kind == "pytask"
            else (_foreign_task_registry())
        )
    return tasks._scheduled_tasks if PY312 else tasks._all_tasks


def test_registry_has_pending_task_and_answers_membership(
    Task, task_kind, all_tasks, loop
):
    if PY314 and task_kind == "pytask":
        register, unregister = tasks._py_register_task, tasks._py_unregister_task
    else:
        register, unregister = tasks._register_task, tasks._unregister_task
    reg = _registry(task_kind)

    async def main():
        t = Task(forever(loop), loop=loop)
        await asyncio.sleep(0)
        assert t in all_tasks()
        if reg is not None:
            assert t in reg
            assert t in list(reg)
        unregister(t)
        assert t not in all_tasks()
        register(t)
        register(t)  # twice: still one entry
        assert t in all_tasks()
        if reg is not None:
            assert sum(1 for x in reg if x is t) == 1
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        assert t not in all_tasks()

    loop.run_until_complete(main())


def test_registry_entries_of_finished_tasks_go_away(Task, task_kind, all_tasks, loop):
    async def main():
        ts = [Task(return_after_yield(i), loop=loop) for i in range(5)]
        assert set(ts) <= all_tasks()
        assert await asyncio.gather(*ts) == list(range(5))
        assert not set(ts) & all_tasks()

    loop.run_until_complete(main())
    gc.collect()
    reg = _registry(task_kind)
    assert all(t.get_loop() is not loop for t in reg or ())


def test_registry_forgets_a_dropped_pending_task(Task, task_kind, loop):
    reg = _registry(task_kind)
    if reg is None:
        pytest.skip("no registry to look at: 3.14's _CTask is in a C list")
    t = Task(forever(loop), loop=loop)
    t._log_destroy_pending = False
    run_once(loop)
    assert t in reg
    ref = weakref.ref(t)
    del t
    gc.collect()
    assert ref() is None
    # No entry may point at the dead task (iterating calls each entry).
    assert all(x is not None for x in reg)
    assert all(x.get_loop() is not loop for x in reg)


def test_casyncio_task_registers_without_a_python_call(loop):
    """casyncio's Task puts its entry straight into the registry's set
    (on 3.14+ _asyncio's own WeakSet, found at import) rather than calling
    WeakSet.add, a Python method, for every task."""
    reg = _registry("casyncio")
    added = []
    real_add = type(reg).add
    type(reg).add = lambda self, item: (added.append(item), real_add(self, item))
    try:
        t = casyncio.Task(forever(loop), loop=loop)
    finally:
        type(reg).add = real_add
    try:
        assert t in reg
        assert added == []
    finally:
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(t)


# ---- eager start (3.12+) ----


@needs_eager
def test_eager_start_runs_first_step_synchronously(Task, all_tasks, loop):
    async def main():
        events = []

        async def child():
            events.append("child started")
            await asyncio.sleep(0)
            events.append("child resumed")
            return "child"

        t = Task(child(), loop=loop, eager_start=True)
        events.append("after construction")
        assert not t.done()
        assert t in all_tasks()
        result = await t
        return events, result

    events, result = loop.run_until_complete(main())
    assert result == "child"
    assert events == ["child started", "after construction", "child resumed"]


@needs_eager
def test_eager_task_completes_without_loop_iteration(Task, task_kind, loop):
    async def quick():
        return "quick"

    async def main():
        marker = []
        loop.call_soon(marker.append, "iterated")
        t = Task(quick(), loop=loop, eager_start=True)
        assert marker == []  # no loop iteration happened
        assert t.done()
        assert t.result() == "quick"
        assert t._coro is None
        if not (task_kind == "ctask" and sys.version_info[:2] == (3, 12)):
            # (3.12's _CTask.get_coro() crashes on an eagerly completed task.)
            assert t.get_coro() is None
        assert t not in asyncio.all_tasks()
        return await t

    assert loop.run_until_complete(main()) == "quick"


@needs_eager
def test_eager_task_failing_immediately(Task, loop):
    async def fail():
        raise ValueError("eager failure")

    async def main():
        t = Task(fail(), loop=loop, eager_start=True)
        assert t.done()
        assert type(t.exception()) is ValueError
        return "ok"

    assert loop.run_until_complete(main()) == "ok"


@needs_eager
def test_current_task_inside_eager_step(Task, current_task, loop):
    async def main():
        parent = current_task()
        seen = []

        async def child():
            seen.append(current_task())
            await asyncio.sleep(0)
            seen.append(current_task())

        t = Task(child(), loop=loop, eager_start=True)
        assert seen == [t]
        assert current_task() is parent
        await t
        assert seen == [t, t]
        assert current_task() is parent
        return parent

    main_task = Task(main(), loop=loop)
    assert loop.run_until_complete(main_task) is main_task


@needs_eager
def test_eager_step_runs_in_the_task_context(Task, loop):
    async def main():
        var.set("parent")

        async def child():
            seen = var.get()
            var.set("child")
            return seen

        t = Task(child(), loop=loop, eager_start=True)
        assert t.result() == "parent"
        assert var.get() == "parent"

        ctx = contextvars.Context()
        ctx.run(var.set, "given")
        t2 = Task(child(), loop=loop, eager_start=True, context=ctx)
        assert t2.result() == "given"
        assert ctx[var] == "child"
        assert var.get() == "parent"
        return "ok"

    assert loop.run_until_complete(main()) == "ok"


@needs_eager
def test_eager_task_awaiting_done_future_completes_eagerly(Task, loop):
    async def main():
        fut = loop.create_future()
        fut.set_result("already")
        t = Task(wait_on(fut), loop=loop, eager_start=True, name="eager-name")
        assert t.done()
        assert t.get_name() == "eager-name"
        return t.result()

    assert loop.run_until_complete(main()) == "already"


@needs_eager
def test_eager_task_waiting_then_cancelled(Task, loop):
    async def main():
        fut = loop.create_future()
        t = Task(wait_on(fut), loop=loop, eager_start=True)
        assert not t.done()
        assert t._fut_waiter is fut
        t.cancel("eager cancel")
        with pytest.raises(asyncio.CancelledError) as info:
            await t
        assert info.value.args == ("eager cancel",)
        assert fut.cancelled()
        return t.cancelled()

    assert loop.run_until_complete(main()) is True


@needs_eager
def test_eager_task_cancelling_itself_in_first_step(Task, current_task, loop):
    async def self_cancel():
        current_task().cancel()
        await asyncio.sleep(0)
        return "not reached"

    async def main():
        t = Task(self_cancel(), loop=loop, eager_start=True)
        assert not t.done()
        with pytest.raises(asyncio.CancelledError):
            await t
        return t.cancelled()

    assert loop.run_until_complete(main()) is True


@needs_eager
def test_eager_start_on_loop_not_running_is_lazy(Task, loop):
    ran = []

    async def coro():
        ran.append("ran")
        return 1

    t = Task(coro(), loop=loop, eager_start=True)
    assert ran == []
    assert not t.done()
    assert loop.run_until_complete(t) == 1
    assert ran == ["ran"]


EAGER_FACTORIES = (
    {
        "casyncio": lambda: casyncio.eager_task_factory,
        "asyncio": lambda: asyncio.eager_task_factory,
    }
    if PY312
    else {}
)


@needs_eager
@pytest.mark.parametrize("factory_kind", ["casyncio", "asyncio"])
def test_eager_task_factory(loop, factory_kind):
    factory = EAGER_FACTORIES[factory_kind]()
    expected_type = casyncio.Task if factory_kind == "casyncio" else asyncio.Task
    loop.set_task_factory(factory)
    assert loop.get_task_factory() is factory
    events = []

    async def child(n):
        events.append(f"start {n}")
        await asyncio.sleep(0)
        events.append(f"end {n}")
        return n

    async def quick():
        return "quick"

    async def main():
        t1 = loop.create_task(child(1), name="eager-one")
        events.append("created 1")
        t2 = asyncio.create_task(child(2))
        events.append("created 2")
        assert type(t1) is expected_type
        assert type(t2) is expected_type
        assert t1.get_name() == "eager-one"
        q = loop.create_task(quick())
        assert q.done() and q.result() == "quick"
        return await asyncio.gather(t1, t2)

    assert loop.run_until_complete(main()) == [1, 2]
    assert events == ["start 1", "created 1", "start 2", "created 2", "end 1", "end 2"]


@needs_eager
@pytest.mark.parametrize("factory_kind", ["casyncio", "asyncio"])
def test_eager_task_factory_called_directly(loop, factory_kind):
    """The factory's own signature: (loop, coro, *, name=None, context=None),
    loop and coro also by keyword; bad calls raise TypeError."""
    factory = EAGER_FACTORIES[factory_kind]()
    ctx = contextvars.Context()
    ctx.run(var.set, "given")

    async def read():
        return var.get()

    async def main():
        by_position = factory(loop, read(), name="pos", context=ctx)
        by_keyword = factory(coro=read(), loop=loop)
        assert by_position.done() and by_keyword.done()
        return [
            (by_position.get_name(), by_position.result()),
            by_keyword.result(),
        ]

    assert loop.run_until_complete(main()) == [("pos", "given"), "unset"]
    coro = read()
    with pytest.raises(TypeError):
        factory(loop)
    with pytest.raises(TypeError):
        factory(loop, coro, None)
    with pytest.raises(TypeError):
        factory(loop, coro, eager=True)
    with pytest.raises(TypeError):
        factory(loop, coro, loop=loop)
    coro.close()


@needs_eager
@pytest.mark.parametrize("factory_kind", ["casyncio", "asyncio"])
def test_eager_task_factory_context(loop, factory_kind):
    loop.set_task_factory(EAGER_FACTORIES[factory_kind]())
    ctx = contextvars.Context()
    ctx.run(var.set, "factory ctx")

    async def read():
        return var.get()

    async def main():
        t = loop.create_task(read(), context=ctx)
        assert t.done()
        return t.result()

    assert loop.run_until_complete(main()) == "factory ctx"
