"""Loop-level task and future creation: create_task, the task factory,
create_future."""

import asyncio
import contextvars

import pytest

var = contextvars.ContextVar("var", default="unset")


async def return_value(value):
    await asyncio.sleep(0)
    return value


# ---- create_task ----


def test_create_task_runs_the_coroutine(loop):
    ran = []

    async def coro():
        ran.append("ran")
        return "result"

    task = loop.create_task(coro())
    assert ran == []  # not started before the loop runs
    assert loop.run_until_complete(task) == "result"
    assert ran == ["ran"]
    assert task.done()
    assert task.result() == "result"


def test_create_task_returns_task_bound_to_loop(loop):
    task = loop.create_task(return_value(1))
    assert asyncio.isfuture(task)
    assert task.get_loop() is loop
    loop.run_until_complete(task)


def test_create_task_honours_name(loop):
    task = loop.create_task(return_value(1), name="my-task")
    assert task.get_name() == "my-task"
    loop.run_until_complete(task)


def test_create_task_default_name_is_task_n(loop):
    task = loop.create_task(return_value(1))
    assert task.get_name().startswith("Task-")
    loop.run_until_complete(task)


def test_create_task_honours_context(loop):
    ctx = contextvars.Context()
    ctx.run(var.set, "task-context")

    async def read_and_set():
        seen = var.get()
        var.set("set-in-task")
        return seen

    task = loop.create_task(read_and_set(), context=ctx)
    assert loop.run_until_complete(task) == "task-context"
    assert ctx[var] == "set-in-task"
    assert var.get() == "unset"


def test_create_task_default_context_is_copy_of_current(loop):
    async def read_and_set():
        seen = var.get()
        var.set("set-in-task")
        return seen

    token = var.set("outer")
    try:
        task = loop.create_task(read_and_set())
        assert loop.run_until_complete(task) == "outer"
        assert var.get() == "outer"
    finally:
        var.reset(token)


def test_create_task_after_close_raises(loop):
    loop.close()
    coro = return_value(1)
    try:
        with pytest.raises(RuntimeError, match=r"^Event loop is closed$"):
            loop.create_task(coro)
    finally:
        coro.close()


# ---- task factory ----


def test_task_factory_defaults_to_none(loop):
    assert loop.get_task_factory() is None


@pytest.mark.parametrize("bad", [1, "factory"])
def test_set_task_factory_non_callable_raises_type_error(loop, bad):
    with pytest.raises(TypeError, match=r"^task factory must be a callable or None$"):
        loop.set_task_factory(bad)
    assert loop.get_task_factory() is None


def test_get_task_factory_returns_factory_set(loop):
    def factory(lp, coro, **kwargs):
        return asyncio.Task(coro, loop=lp, **kwargs)

    loop.set_task_factory(factory)
    assert loop.get_task_factory() is factory
    loop.set_task_factory(None)
    assert loop.get_task_factory() is None


def test_task_factory_is_called_with_loop_and_coro(loop):
    calls = []

    def factory(lp, coro, **kwargs):
        calls.append((lp, coro, kwargs))
        return asyncio.Task(coro, loop=lp, **kwargs)

    loop.set_task_factory(factory)
    coro = return_value("made by factory")
    task = loop.create_task(coro)
    assert calls == [(loop, coro, {})]
    assert loop.run_until_complete(task) == "made by factory"


def test_task_factory_gets_context_keyword_when_given(loop):
    calls = []

    def factory(lp, coro, **kwargs):
        calls.append((lp, coro, kwargs))
        return asyncio.Task(coro, loop=lp, **kwargs)

    loop.set_task_factory(factory)
    ctx = contextvars.Context()
    ctx.run(var.set, "factory-context")

    async def read():
        return var.get()

    coro = read()
    task = loop.create_task(coro, context=ctx)
    assert calls == [(loop, coro, {"context": ctx})]
    assert loop.run_until_complete(task) == "factory-context"


def test_task_factory_result_gets_name(loop):
    def factory(lp, coro, **kwargs):
        return asyncio.Task(coro, loop=lp, **kwargs)

    loop.set_task_factory(factory)
    task = loop.create_task(return_value(1), name="named-by-loop")
    assert task.get_name() == "named-by-loop"
    loop.run_until_complete(task)


def test_task_factory_result_is_returned_by_create_task(loop):
    made = []

    def factory(lp, coro, **kwargs):
        task = asyncio.Task(coro, loop=lp, **kwargs)
        made.append(task)
        return task

    loop.set_task_factory(factory)
    task = loop.create_task(return_value(1))
    assert made == [task]
    loop.run_until_complete(task)


def test_task_factory_is_used_by_run_until_complete_of_coroutine(loop):
    calls = []

    def factory(lp, coro, **kwargs):
        calls.append(coro)
        return asyncio.Task(coro, loop=lp, **kwargs)

    loop.set_task_factory(factory)
    coro = return_value("wrapped")
    assert loop.run_until_complete(coro) == "wrapped"
    assert calls == [coro]


# ---- create_future ----


def test_create_future_returns_pending_future_bound_to_loop(loop):
    fut = loop.create_future()
    assert asyncio.isfuture(fut)
    assert not fut.done()
    assert not fut.cancelled()
    assert fut.get_loop() is loop


def test_create_future_result_can_be_awaited(loop):
    fut = loop.create_future()

    async def waiter():
        return await fut

    loop.call_soon(fut.set_result, "value")
    assert loop.run_until_complete(waiter()) == "value"


def test_create_future_returns_new_future_each_call(loop):
    assert loop.create_future() is not loop.create_future()


def test_create_task_and_create_future_use_the_classes_in_place(loop, monkeypatch):
    """asyncio's loop makes its tasks with asyncio.tasks.Task and its futures
    with asyncio.futures.Future, looked up at each call: a program that puts
    its own classes there gets them (on casyncio too), and asyncio's again
    once they are put back."""
    from asyncio import futures, tasks

    class MyFuture(futures._PyFuture):
        pass

    class MyTask(tasks._PyTask):
        pass

    async def main():
        before = (type(loop.create_future()), type(loop.create_task(return_value(1))))
        monkeypatch.setattr(tasks, "Task", MyTask)
        monkeypatch.setattr(futures, "Future", MyFuture)
        mine = (loop.create_future(), loop.create_task(return_value(2), name="mine"))
        monkeypatch.undo()
        after = (type(loop.create_future()), type(loop.create_task(return_value(3))))
        return before, mine, after, await mine[1]

    before, mine, after, result = loop.run_until_complete(main())
    assert (type(mine[0]), type(mine[1])) == (MyFuture, MyTask)
    assert mine[1].get_name() == "mine" and result == 2
    assert before == after
    assert MyTask not in before and MyFuture not in before
