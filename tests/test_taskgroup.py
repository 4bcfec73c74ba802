"""asyncio.TaskGroup: asyncio's and casyncio's (casyncio.accelerate(): the
per-task methods in C over asyncio's own class), each on casyncio's loop and
on stock asyncio's.

Every test makes its groups through ``asyncio.TaskGroup``, which the
``groups`` fixture leaves as asyncio's ("stock") or makes casyncio's
("accelerated"); with the ``impl`` fixture that gives the four pairings,
and each expected value, written once, must hold for all of them.
"""

import asyncio
import contextvars
import gc
import sys

import pytest
from conftest import accelerated_with
from test_leaks import BATCH, batches, run_batches

import casyncio
from casyncio import _accel

# asyncio's own class, whichever is bound now
STOCK = (
    _accel.TaskGroup.__bases__[1] if hasattr(_accel, "TaskGroup") else asyncio.TaskGroup
)
# 3.12.2+: create_task closes a coroutine it refuses
CLOSES_REFUSED = "close" in STOCK.create_task.__code__.co_names


@pytest.fixture
def groups(accel):
    """accel (conftest), with TaskGroup among the names accelerated."""
    return accelerated_with(accel, "TaskGroup")


def test_accelerate_rebinds_the_class(groups, run):
    fast = groups == "accelerated"
    for module in (asyncio, asyncio.taskgroups):
        assert (module.TaskGroup is not STOCK) == fast
    assert issubclass(asyncio.TaskGroup, STOCK)

    async def main():
        async with asyncio.TaskGroup() as tg:
            assert isinstance(tg, STOCK)
            assert repr(tg) == "<TaskGroup entered>"
            t = tg.create_task(asyncio.sleep(0))
            assert repr(tg) == "<TaskGroup tasks=1 entered>"
        return type(tg).create_task, t.done()

    create_task, done = run(main())
    assert (create_task is not STOCK.create_task) == fast
    assert done


def test_fan_out_names_and_contexts(groups, run):
    var = contextvars.ContextVar("var", default="unset")

    async def child(i):
        await asyncio.sleep(0)
        return i, var.get(), asyncio.current_task().get_name()

    async def main():
        ctx = contextvars.copy_context()
        ctx.run(var.set, "in ctx")
        async with asyncio.TaskGroup() as tg:
            plain = [tg.create_task(child(i)) for i in range(100)]
            named = tg.create_task(child(100), name="the one")
            in_ctx = tg.create_task(child(101), context=ctx)
            by_kw = tg.create_task(coro=child(102), name="kw")
        assert sum(t.result()[0] for t in plain) == 4950
        return named.result(), in_ctx.result()[:2], by_kw.result()

    assert run(main()) == (
        (100, "unset", "the one"),
        (101, "in ctx"),
        (102, "unset", "kw"),
    )


def test_bad_arguments(groups, run):
    async def main():
        errors = []
        async with asyncio.TaskGroup() as tg:
            coros = [asyncio.sleep(0), asyncio.sleep(0)]
            for call in (
                lambda: tg.create_task(),
                lambda: tg.create_task(*coros),
                lambda: tg._on_task_done(),
            ):
                with pytest.raises(TypeError) as info:
                    call()
                errors.append(str(info.value))
            for coro in coros:
                coro.close()
            coro = asyncio.sleep(0)
            with pytest.raises(TypeError):
                tg.create_task(coro, bogus=1)
            coro.close()
            with pytest.raises(TypeError, match="a coroutine was expected"):
                tg.create_task(42)
        return errors

    assert run(main()) == [
        "TaskGroup.create_task() missing 1 required positional argument: 'coro'",
        "TaskGroup.create_task() takes 2 positional arguments but 3 were given",
        "TaskGroup._on_task_done() missing 1 required positional argument: 'task'",
    ]


def test_refused_tasks(groups, run):
    async def main():
        seen = []
        tg = asyncio.TaskGroup()
        for when in ("before", "after"):
            coro = asyncio.sleep(0)
            with pytest.raises(RuntimeError) as info:
                tg.create_task(coro)
            seen.append((str(info.value), coro.cr_frame is None))
            coro.close()
            if when == "before":
                async with tg:
                    pass
        tg = asyncio.TaskGroup()
        with pytest.raises(ExceptionGroup):
            async with tg:
                tg.create_task(fail_soon())
                with pytest.raises(asyncio.CancelledError):
                    await asyncio.sleep(1)
                coro = asyncio.sleep(0)
                with pytest.raises(RuntimeError) as info:
                    tg.create_task(coro)
                seen.append((str(info.value), coro.cr_frame is None))
                coro.close()
        return seen

    assert run(main()) == [
        ("TaskGroup <TaskGroup> has not been entered", CLOSES_REFUSED),
        ("TaskGroup <TaskGroup entered> is finished", CLOSES_REFUSED),
        ("TaskGroup <TaskGroup errors=1 cancelling> is shutting down", CLOSES_REFUSED),
    ]


async def fail_soon():
    await asyncio.sleep(0)
    raise ValueError("boom")


def test_a_failure_cancels_the_others_and_the_body(groups, run):
    async def main():
        cancelled = []

        async def sibling(i):
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.append(i)
                raise

        me = asyncio.current_task()
        with pytest.raises(ExceptionGroup) as info:
            async with asyncio.TaskGroup() as tg:
                for i in range(3):
                    tg.create_task(sibling(i))
                tg.create_task(fail_soon())
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    cancelled.append("body")
                    raise
        (err,) = info.value.exceptions
        return sorted(map(str, cancelled)), repr(err), me.cancelling()

    assert run(main()) == (["0", "1", "2", "body"], "ValueError('boom')", 0)


def test_parent_cancellation(groups, run):
    async def main():
        out = []
        started = asyncio.Event()

        async def body():
            async with asyncio.TaskGroup() as tg:
                tg.create_task(asyncio.sleep(10))
                started.set()
                await asyncio.sleep(10)

        outer = asyncio.create_task(body())
        await started.wait()
        outer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outer
        out.append(outer.cancelling())
        return out

    assert run(main()) == [1]


def test_cancelled_while_waiting_in_aexit(groups, run):
    async def main():
        cancelled = []
        started = asyncio.Event()

        async def child():
            started.set()
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.append("child")
                raise

        async def body():
            async with asyncio.TaskGroup() as tg:
                tg.create_task(child())
            return "finished"

        task = asyncio.create_task(body())
        await started.wait()
        await asyncio.sleep(0)  # body waits in __aexit__
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return cancelled

    assert run(main()) == ["child"]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks: 3.12+")
def test_eager_tasks(groups, impl, run):
    factory = (
        casyncio.eager_task_factory
        if impl == "casyncio"
        else asyncio.eager_task_factory
    )

    async def at_once(i):
        return i

    async def main():
        asyncio.get_running_loop().set_task_factory(factory)
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(at_once(i)) for i in range(10)]
            assert all(t.done() for t in tasks)
        results = [t.result() for t in tasks]

        async def fails_at_once():
            raise ValueError("eager")

        with pytest.raises(ExceptionGroup) as info:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(fails_at_once())
                await asyncio.sleep(0)
        return results, [repr(e) for e in info.value.exceptions]

    assert run(main()) == (list(range(10)), ["ValueError('eager')"])


def test_subclass_with_its_own_done_callback(groups, run):
    async def main():
        seen = []

        class Recording(asyncio.TaskGroup):
            def _on_task_done(self, task):
                seen.append(task.get_name())
                super()._on_task_done(task)

        async with Recording() as tg:
            tg.create_task(asyncio.sleep(0), name="a")
            tg.create_task(asyncio.sleep(0), name="b")
        return sorted(seen)

    assert run(main()) == ["a", "b"]


def test_unknown_taskgroup_code_stays_stock():
    class Other(STOCK):
        def create_task(self, coro, *, name=None, context=None, extra=None):
            return super().create_task(coro, name=name, context=context)

    assert _accel._taskgroup_flags(Other) is None
    assert _accel._taskgroup_flags(STOCK) is not None


def test_a_million_tasks_in_groups_leave_memory_flat(groups, loop):
    async def child():
        await asyncio.sleep(0)
        return 1

    async def batch():
        total = 0
        for _ in range(BATCH // 1000):
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(child()) for _ in range(1000)]
            total += sum(t.result() for t in tasks)
        return total

    snapshot, total = run_batches(loop, batch)
    assert total == batches(loop) * BATCH
    gc.collect()
    snapshot.assert_flat("tasks in task groups")
