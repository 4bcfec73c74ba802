"""The running task and the task registry as asyncio's high-level code sees
them: current_task(), all_tasks(), and what relies on them (TaskGroup,
timeout, wait_for, staggered_race, asyncio.run's clean-up), on every
supported Python.  From 3.14 on asyncio keeps the running task in the thread
state and answers all_tasks() from _asyncio's own registry, so these are
where a loop with its own Task type can go wrong.  Also create_task's
keywords and eager tasks, as 3.14 passes them on."""

import asyncio
import sys
import threading

import pytest
from conftest import make_loop

PY314 = sys.version_info >= (3, 14)


async def _current():
    return asyncio.current_task()


def test_current_task_is_the_running_task(run):
    async def main():
        me = asyncio.current_task()
        child = asyncio.create_task(_current())
        assert await child is child
        return me

    task = None

    async def outer():
        nonlocal task
        task = asyncio.current_task()
        return await main()

    assert run(outer()) is task
    assert task is not None


def test_no_current_task_in_a_plain_callback(loop):
    seen = []

    async def main():
        loop.call_soon(lambda: seen.append(asyncio.current_task()))
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    loop.run_until_complete(main())
    assert seen == [None]


def test_current_task_of_a_loop_running_in_another_thread(impl):
    """current_task(loop) from a thread that does not run the loop."""
    started = threading.Event()
    release = threading.Event()
    box = {}

    def other():
        loop = make_loop(impl)

        async def main():
            await asyncio.sleep(0)
            box["task"] = asyncio.current_task()
            started.set()
            release.wait(10)  # blocks the step: the task stays entered

        box["loop"] = loop
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert started.wait(10)
        assert asyncio.current_task(box["loop"]) is box["task"]
    finally:
        release.set()
        thread.join(10)
    assert box["task"] is not None


def test_all_tasks_lists_the_pending_tasks_of_the_loop(run):
    async def main():
        gate = asyncio.Event()
        waiting = [asyncio.create_task(gate.wait()) for _ in range(3)]
        finished = asyncio.create_task(asyncio.sleep(0))
        await finished
        tasks = asyncio.all_tasks()
        gate.set()
        await asyncio.gather(*waiting)
        return tasks, waiting, finished, asyncio.all_tasks()

    tasks, waiting, finished, after = run(main())
    assert set(waiting) <= tasks
    assert finished not in tasks
    assert len(tasks) == 4  # the three and main
    assert len(after) == 1  # main only


def test_asyncio_run_cancels_the_tasks_left_pending(run):
    cancelled = []

    async def forever():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main():
        asyncio.create_task(forever())
        await asyncio.sleep(0)

    run(main())
    assert cancelled == [True]


def test_task_group_finds_its_parent_task(run):
    async def main():
        async with asyncio.TaskGroup() as tg:
            a = tg.create_task(asyncio.sleep(0, "a"))
            b = tg.create_task(asyncio.sleep(0, "b"))
        return a.result() + b.result()

    assert run(main()) == "ab"


def test_task_group_error_cancels_its_siblings(run):
    async def fail():
        await asyncio.sleep(0)
        raise ValueError("boom")

    async def main():
        sibling = None
        with pytest.raises(ExceptionGroup) as info:
            async with asyncio.TaskGroup() as tg:
                sibling = tg.create_task(asyncio.sleep(3600))
                tg.create_task(fail())
        return sibling, info.value

    sibling, group = run(main())
    assert sibling.cancelled()
    assert [type(e) for e in group.exceptions] == [ValueError]


def test_timeout_cancels_the_task_it_runs_in(run):
    async def main():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await asyncio.sleep(3600)
        return asyncio.current_task().cancelling()

    assert run(main()) == 0


def test_wait_for_times_out(run):
    async def main():
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(3600), 0.01)
        return await asyncio.wait_for(asyncio.sleep(0, "done"), 1)

    assert run(main()) == "done"


def test_staggered_race_picks_the_first_winner(run):
    from asyncio.staggered import staggered_race

    async def slow():
        await asyncio.sleep(1)
        return "slow"

    async def fast():
        await asyncio.sleep(0.01)
        return "fast"

    async def main():
        return await staggered_race([slow, fast], delay=0.01)

    winner, index, exceptions = run(main())
    assert (winner, index) == ("fast", 1)
    assert exceptions[0] is None or isinstance(exceptions[0], asyncio.CancelledError)


# ---- create_task's keywords and eager tasks ----

needs_314 = pytest.mark.skipif(not PY314, reason="create_task(**kwargs): 3.14+")


@needs_314
def test_create_task_eager_start(loop):
    order = []

    async def child():
        order.append(("child", asyncio.current_task().get_name()))

    async def main():
        task = loop.create_task(child(), eager_start=True, name="eager")
        order.append("after create_task")
        assert task.done()
        lazy = loop.create_task(child(), eager_start=False, name="lazy")
        assert not lazy.done()
        await lazy

    loop.run_until_complete(main())
    assert order == [("child", "eager"), "after create_task", ("child", "lazy")]


@needs_314
def test_task_constructor_eager_start(impl, loop):
    import casyncio

    task_class = casyncio.Task if impl == "casyncio" else asyncio.Task

    async def child():
        return asyncio.current_task()

    async def main():
        task = task_class(child(), loop=loop, eager_start=True)
        assert task.done()
        return task

    task = loop.run_until_complete(main())
    assert task.result() is task


@needs_314
def test_create_task_passes_keywords_to_the_task_factory(loop):
    received = []

    def factory(loop, coro, **kwargs):
        received.append(kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    async def main():
        loop.set_task_factory(factory)
        t = loop.create_task(asyncio.sleep(0), name="n", eager_start=False)
        await t
        return t.get_name()

    assert loop.run_until_complete(main()) == "n"
    assert received == [{"name": "n", "eager_start": False}]


@needs_314
def test_create_task_unknown_keyword(loop):
    coro = asyncio.sleep(0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        loop.create_task(coro, bogus=1)
    coro.close()


@pytest.mark.parametrize("factory", ["asyncio", "casyncio"])
@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks: 3.12+")
def test_eager_task_factories(loop, factory):
    import casyncio

    chosen = (
        asyncio.eager_task_factory
        if factory == "asyncio"
        else (casyncio.eager_task_factory)
    )
    steps = []

    async def child(n):
        steps.append(n)
        await asyncio.sleep(0)
        steps.append(-n)
        return asyncio.current_task().get_name()

    async def main():
        loop.set_task_factory(chosen)
        task = loop.create_task(child(1), name="first")
        steps.append(0)  # the child ran up to its first await already
        assert not task.done()
        assert task in asyncio.all_tasks()
        return await task

    assert loop.run_until_complete(main()) == "first"
    assert steps == [1, 0, -1]


# ---- call_soon_threadsafe's handle (3.14+) ----


@needs_314
def test_call_soon_threadsafe_handle_is_a_thread_safe_handle(loop):
    from asyncio import events

    handle = loop.call_soon_threadsafe(lambda: None)
    assert isinstance(handle, events._ThreadSafeHandle)
    assert isinstance(handle, asyncio.Handle)
    handle.cancel()
    assert handle.cancelled()


@needs_314
def test_threadsafe_cancel_waits_for_the_running_callback(loop):
    running = threading.Event()
    order = []

    def callback():
        running.set()
        # The other thread's cancel() must wait for this callback.
        threading.Event().wait(0.1)
        order.append("callback done")

    handle = loop.call_soon_threadsafe(callback)

    def canceller():
        running.wait(10)
        handle.cancel()
        order.append("cancelled")

    thread = threading.Thread(target=canceller)
    thread.start()
    loop.run_until_complete(asyncio.sleep(0.3))
    thread.join(10)
    assert order == ["callback done", "cancelled"]
    assert handle.cancelled()


@needs_314
def test_threadsafe_handle_cancelled_by_its_own_callback(loop):
    ran = []
    handle = None

    def callback():
        handle.cancel()  # re-entrant: must not deadlock
        ran.append(handle.cancelled())

    handle = loop.call_soon_threadsafe(callback)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert ran == [True]


@needs_314
def test_threadsafe_handle_cancelled_before_it_runs(loop):
    ran = []
    handle = loop.call_soon_threadsafe(ran.append, 1)
    handle.cancel()
    loop.run_until_complete(asyncio.sleep(0.01))
    assert ran == []
