"""casyncio's loop and Task under asyncio's high-level API.

Each test runs a whole program through the ``run`` fixture (asyncio.Runner
with the loop of the implementation under test).  On the casyncio loop,
create_task() makes casyncio Tasks and create_future() casyncio Futures, so
these tests check that stock asyncio (current_task, all_tasks, Runner,
TaskGroup, timeout, gather, shield, wait, wait_for, as_completed, the
synchronisation primitives, queues, threads) works with them; the stock
loop runs the same programs for comparison.
"""

import asyncio
import concurrent.futures
import contextvars
import threading
import time

import pytest

import casyncio

var = contextvars.ContextVar("var", default="unset")


def expected_task_type(impl):
    return casyncio.Task if impl == "casyncio" else asyncio.Task


# ---- isinstance ----


def test_tasks_futures_and_handles_are_instances_of_asyncio_types(run, impl):
    # Libraries check isinstance(x, asyncio.Future) (anyio trusts a task's
    # _fut_waiter only then, and lost items of a memory stream without it).
    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        task = asyncio.current_task()
        assert isinstance(fut, asyncio.Future)
        assert not isinstance(fut, asyncio.Task)
        assert isinstance(task, asyncio.Task)
        assert isinstance(task, asyncio.Future)
        assert not isinstance(fut, concurrent.futures.Future)
        assert asyncio.isfuture(fut) and asyncio.isfuture(task)
        waiter = loop.create_future()
        child = asyncio.create_task(asyncio.wait_for(waiter, None))
        await asyncio.sleep(0)
        assert isinstance(child._fut_waiter, asyncio.Future)
        child.cancel()
        assert child._fut_waiter.cancelled()
        with pytest.raises(asyncio.CancelledError):
            await child
        if impl == "casyncio":
            # type() is still casyncio's; __class__ names the asyncio type
            # for the exact types only.
            assert type(fut) is casyncio.Future
            assert type(task) is casyncio.Task
            assert fut.__class__ is asyncio.Future
            assert task.__class__ is asyncio.Task
            assert isinstance(fut, casyncio.Future)
            assert not isinstance(asyncio.Future(), casyncio.Future)

            class MyFuture(casyncio.Future):
                pass

            mine = MyFuture()
            assert mine.__class__ is MyFuture
            assert not isinstance(mine, asyncio.Future)
            mine.cancel()
        handle = loop.call_soon(print)
        timer = loop.call_later(10, print)
        assert isinstance(handle, asyncio.Handle)
        assert not isinstance(handle, asyncio.TimerHandle)
        assert isinstance(timer, asyncio.TimerHandle)
        assert isinstance(timer, asyncio.Handle)
        handle.cancel()
        timer.cancel()
        fut.cancel()

    run(main())


# ---- current_task / all_tasks ----


def test_current_task_is_the_running_task(run, impl):
    async def child():
        return asyncio.current_task()

    async def main():
        me = asyncio.current_task()
        assert type(me) is expected_task_type(impl)
        t = asyncio.create_task(child())
        assert type(t) is expected_task_type(impl)
        seen_by_child = await t
        assert asyncio.current_task() is me
        return me, t, seen_by_child

    me, t, seen_by_child = run(main())
    assert seen_by_child is t
    assert me is not t


def test_current_task_outside_tasks_is_none(run):
    results = []

    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def callback():
            results.append(asyncio.current_task())
            done.set_result(None)

        loop.call_soon(callback)
        await done

    run(main())
    assert results == [None]


def test_all_tasks_has_running_tasks_not_finished_ones(run):
    async def sleeper(ev):
        await ev.wait()

    async def quick():
        return 1

    async def main():
        ev = asyncio.Event()
        running = [asyncio.create_task(sleeper(ev)) for _ in range(3)]
        finished = asyncio.create_task(quick())
        await finished
        await asyncio.sleep(0)
        tasks = asyncio.all_tasks()
        assert asyncio.current_task() in tasks
        assert all(t in tasks for t in running)
        assert finished not in tasks
        assert len(tasks) == 4
        ev.set()
        await asyncio.gather(*running)
        assert asyncio.all_tasks() == {asyncio.current_task()}
        return "ok"

    assert run(main()) == "ok"


# ---- Runner / asyncio.run ----


def test_run_cancels_leftover_tasks(run):
    events = []

    async def stuck():
        try:
            events.append("started")
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        finally:
            events.append("finally")

    async def main():
        asyncio.create_task(stuck())
        await asyncio.sleep(0)
        return "main done"

    started = time.monotonic()
    assert run(main()) == "main done"
    assert events == ["started", "cancelled", "finally"]
    assert time.monotonic() - started < 5


def test_casyncio_run_cancels_leftover_tasks():
    events = []

    async def stuck():
        try:
            await asyncio.sleep(3600)
        finally:
            events.append("finally")

    async def main():
        asyncio.create_task(stuck())
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    assert casyncio.run(main()) is casyncio.Loop
    assert events == ["finally"]


def test_run_returns_result_and_propagates_exception(run):
    async def ok():
        await asyncio.sleep(0)
        return {"answer": 42}

    async def fail():
        await asyncio.sleep(0)
        raise LookupError("from main")

    assert run(ok()) == {"answer": 42}
    with pytest.raises(LookupError, match="^from main$"):
        run(fail())


# ---- TaskGroup ----


def test_task_group_success(run):
    async def work(n):
        await asyncio.sleep(0.001 * (3 - n))
        return n * 10

    async def main():
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(work(n)) for n in range(3)]
        return [t.result() for t in tasks]

    assert run(main()) == [0, 10, 20]


def test_task_group_failure_cancels_siblings(run):
    events = []

    async def sibling(n):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append(f"sibling {n} cancelled")
            raise

    async def failing():
        await asyncio.sleep(0.001)
        raise ValueError("group member failed")

    async def main():
        siblings = []
        with pytest.raises(ExceptionGroup) as info:
            async with asyncio.TaskGroup() as tg:
                siblings = [tg.create_task(sibling(n)) for n in range(2)]
                tg.create_task(failing())
        assert all(t.cancelled() for t in siblings)
        return info.value

    group = run(main())
    assert len(group.exceptions) == 1
    assert type(group.exceptions[0]) is ValueError
    assert str(group.exceptions[0]) == "group member failed"
    assert sorted(events) == ["sibling 0 cancelled", "sibling 1 cancelled"]


def test_task_group_body_cancelled_by_member_failure(run):
    events = []

    async def failing():
        raise KeyError("k")

    async def main():
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(failing())
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    events.append("body cancelled")
                    raise
        except* KeyError as eg:
            events.append(("caught", len(eg.exceptions)))
        # The group's own cancellation was consumed: the task is not
        # left cancelling.
        events.append(("cancelling", asyncio.current_task().cancelling()))

    run(main())
    assert events == ["body cancelled", ("caught", 1), ("cancelling", 0)]


# ---- timeout ----


def test_timeout_expires(run):
    events = []

    async def main():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01) as cm:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    events.append("inner cancelled")
                    raise
        assert cm.expired()
        assert asyncio.current_task().cancelling() == 0
        events.append("after timeout")

    run(main())
    assert events == ["inner cancelled", "after timeout"]


def test_timeout_not_expired(run):
    async def main():
        async with asyncio.timeout(10) as cm:
            await asyncio.sleep(0)
            value = "in time"
        assert not cm.expired()
        return value

    assert run(main()) == "in time"


def test_timeout_at_reschedule(run):
    async def main():
        loop = asyncio.get_running_loop()
        async with asyncio.timeout_at(loop.time() + 0.005) as cm:
            cm.reschedule(loop.time() + 10)
            await asyncio.sleep(0.02)
        return cm.expired()

    assert run(main()) is False


# ---- gather ----


def test_gather_results_in_argument_order(run):
    async def delayed(value, delay):
        await asyncio.sleep(delay)
        return value

    async def main():
        return await asyncio.gather(
            delayed("a", 0.03), delayed("b", 0.0), delayed("c", 0.015)
        )

    assert run(main()) == ["a", "b", "c"]


def test_gather_propagates_first_exception(run):
    async def fail():
        await asyncio.sleep(0)
        raise ValueError("gather failure")

    async def ok():
        await asyncio.sleep(0.01)
        return 1

    async def main():
        with pytest.raises(ValueError, match="^gather failure$"):
            await asyncio.gather(ok(), fail())
        return "handled"

    assert run(main()) == "handled"


def test_gather_return_exceptions(run):
    async def fail(exc):
        await asyncio.sleep(0)
        raise exc

    async def ok(v):
        return v

    async def main():
        return await asyncio.gather(
            ok(1),
            fail(ValueError("x")),
            ok(3),
            fail(KeyError("y")),
            return_exceptions=True,
        )

    results = run(main())
    assert results[0] == 1
    assert type(results[1]) is ValueError and results[1].args == ("x",)
    assert results[2] == 3
    assert type(results[3]) is KeyError and results[3].args == ("y",)


def test_cancelling_gather_cancels_children(run):
    events = []

    async def child(n):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError as e:
            events.append((n, e.args))
            raise

    async def main():
        children = [asyncio.create_task(child(n)) for n in range(3)]
        g = asyncio.gather(*children)
        await asyncio.sleep(0)
        assert g.cancel("stop gather")
        with pytest.raises(asyncio.CancelledError):
            await g
        assert all(c.cancelled() for c in children)

    run(main())
    assert sorted(events) == [(n, ("stop gather",)) for n in range(3)]


def test_cancelling_task_awaiting_gather(run):
    events = []

    async def child(n):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append(n)
            raise

    async def waiter():
        await asyncio.gather(child(0), child(1))

    async def main():
        t = asyncio.create_task(waiter())
        await asyncio.sleep(0.001)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        assert t.cancelled()

    run(main())
    assert sorted(events) == [0, 1]


# ---- shield ----


def test_shield_protects_inner(run):
    events = []

    async def inner(go):
        await go.wait()
        events.append("inner finished")
        return "inner result"

    async def outer(inner_task):
        return await asyncio.shield(inner_task)

    async def main():
        go = asyncio.Event()
        inner_task = asyncio.create_task(inner(go))
        outer_task = asyncio.create_task(outer(inner_task))
        await asyncio.sleep(0)
        outer_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outer_task
        events.append("outer cancelled")
        assert not inner_task.cancelled()
        go.set()
        return await inner_task

    assert run(main()) == "inner result"
    assert events == ["outer cancelled", "inner finished"]


# ---- wait / wait_for / as_completed ----


def test_wait_first_completed(run):
    async def delayed(v, d):
        await asyncio.sleep(d)
        return v

    async def main():
        fast = asyncio.create_task(delayed("fast", 0.001))
        slow = asyncio.create_task(delayed("slow", 3600))
        done, pending = await asyncio.wait(
            {fast, slow}, return_when=asyncio.FIRST_COMPLETED
        )
        assert done == {fast}
        assert pending == {slow}
        slow.cancel()
        return fast.result()

    assert run(main()) == "fast"


def test_wait_all_completed(run):
    async def delayed(v, d):
        await asyncio.sleep(d)
        return v

    async def main():
        tasks = [asyncio.create_task(delayed(i, 0.001 * i)) for i in range(4)]
        done, pending = await asyncio.wait(tasks)
        assert pending == set()
        assert done == set(tasks)
        return [t.result() for t in tasks]

    assert run(main()) == [0, 1, 2, 3]


def test_wait_first_exception(run):
    async def fail():
        await asyncio.sleep(0.001)
        raise ValueError()

    async def main():
        bad = asyncio.create_task(fail())
        slow = asyncio.create_task(asyncio.sleep(3600))
        done, pending = await asyncio.wait(
            [bad, slow], return_when=asyncio.FIRST_EXCEPTION
        )
        slow.cancel()
        assert type(bad.exception()) is ValueError
        return done == {bad}, pending == {slow}

    assert run(main()) == (True, True)


def test_wait_for_times_out(run):
    events = []

    async def slow():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append("slow cancelled")
            raise

    async def main():
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow(), 0.01)
        events.append("timed out")
        assert asyncio.current_task().cancelling() == 0

    run(main())
    assert events == ["slow cancelled", "timed out"]


def test_wait_for_succeeds(run):
    async def quick():
        await asyncio.sleep(0)
        return "quick"

    async def main():
        return await asyncio.wait_for(quick(), 10)

    assert run(main()) == "quick"


def test_as_completed_yields_in_completion_order(run):
    async def after_yields(v, n):
        for _ in range(n):
            await asyncio.sleep(0)
        return v

    async def main():
        order = []
        aws = [after_yields("c", 10), after_yields("a", 0), after_yields("b", 5)]
        for next_done in asyncio.as_completed(aws):
            order.append(await next_done)
        return order

    assert run(main()) == ["a", "b", "c"]


# ---- threads ----


def test_run_coroutine_threadsafe_from_another_thread(run):
    async def on_loop(x):
        await asyncio.sleep(0)
        return (x * 2, threading.get_ident())

    async def main():
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()
        results = []

        def worker():
            cf = asyncio.run_coroutine_threadsafe(on_loop(21), loop)
            results.append(cf.result(timeout=10))

        thread = threading.Thread(target=worker)
        thread.start()
        while not results:
            await asyncio.sleep(0.001)
        thread.join()
        value, ran_on = results[0]
        assert ran_on == loop_thread
        return value

    assert run(main()) == 42


def test_run_coroutine_threadsafe_exception(run):
    async def fail():
        raise ValueError("threadsafe failure")

    async def main():
        loop = asyncio.get_running_loop()
        return await asyncio.to_thread(
            lambda: asyncio.run_coroutine_threadsafe(fail(), loop).exception(10)
        )

    exc = run(main())
    assert type(exc) is ValueError
    assert exc.args == ("threadsafe failure",)


def test_wrap_future_of_concurrent_future(run):
    def blocking(x):
        time.sleep(0.01)
        return x + 1, threading.get_ident()

    async def main():
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            cf = pool.submit(blocking, 41)
            fut = asyncio.wrap_future(cf)
            assert asyncio.isfuture(fut)
            assert fut.get_loop() is asyncio.get_running_loop()
            value, tid = await fut
        assert tid != threading.get_ident()
        return value

    assert run(main()) == 42


def test_wrap_future_exception_and_cancel(run):
    async def main():
        cf = concurrent.futures.Future()
        fut = asyncio.wrap_future(cf)
        threading.Thread(target=cf.set_exception, args=(KeyError("cf"),)).start()
        with pytest.raises(KeyError):
            await fut

        cf2 = concurrent.futures.Future()
        fut2 = asyncio.wrap_future(cf2)
        fut2.cancel()
        await asyncio.sleep(0)
        return cf2.cancelled()

    assert run(main()) is True


def test_to_thread(run):
    def in_thread(a, *, b):
        return a + b, var.get(), threading.get_ident()

    async def main():
        var.set("propagated")
        value, seen, tid = await asyncio.to_thread(in_thread, 1, b=2)
        assert tid != threading.get_ident()
        return value, seen

    assert run(main()) == (3, "propagated")


def test_run_in_executor_default(run):
    async def main():
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(
            *(loop.run_in_executor(None, pow, 2, n) for n in range(5))
        )
        return results

    assert run(main()) == [1, 2, 4, 8, 16]


# ---- queues and synchronisation primitives ----


def test_queue_producer_consumer(run):
    async def producer(q, n):
        for i in range(n):
            await q.put(i)
            if i % 3 == 0:
                await asyncio.sleep(0)
        await q.put(None)

    async def consumer(q, out):
        while (item := await q.get()) is not None:
            out.append(item)
            q.task_done()
        q.task_done()

    async def main():
        q = asyncio.Queue(maxsize=2)
        out = []
        await asyncio.gather(producer(q, 50), consumer(q, out))
        await q.join()
        return out

    assert run(main()) == list(range(50))


def test_queue_get_blocks_until_put(run):
    async def main():
        q = asyncio.Queue()
        getter = asyncio.create_task(q.get())
        await asyncio.sleep(0)
        assert not getter.done()
        q.put_nowait("item")
        return await getter

    assert run(main()) == "item"


def test_lock_mutual_exclusion(run):
    async def main():
        lock = asyncio.Lock()
        inside = 0
        max_inside = 0
        order = []

        async def worker(n):
            nonlocal inside, max_inside
            async with lock:
                inside += 1
                max_inside = max(max_inside, inside)
                order.append(n)
                await asyncio.sleep(0.001)
                inside -= 1

        await asyncio.gather(*(worker(n) for n in range(5)))
        assert not lock.locked()
        return max_inside, order

    max_inside, order = run(main())
    assert max_inside == 1
    assert order == [0, 1, 2, 3, 4]  # FIFO


def test_event(run):
    async def main():
        ev = asyncio.Event()
        woken = []

        async def waiter(n):
            await ev.wait()
            woken.append(n)

        tasks = [asyncio.create_task(waiter(n)) for n in range(3)]
        await asyncio.sleep(0)
        assert woken == []
        ev.set()
        await asyncio.gather(*tasks)
        return woken

    assert run(main()) == [0, 1, 2]


def test_semaphore_limits_concurrency(run):
    async def main():
        sem = asyncio.Semaphore(2)
        active = 0
        peak = 0

        async def worker():
            nonlocal active, peak
            async with sem:
                active += 1
                peak = max(peak, active)
                await asyncio.sleep(0.001)
                active -= 1

        await asyncio.gather(*(worker() for _ in range(8)))
        return peak

    assert run(main()) == 2


def test_condition_notify(run):
    async def main():
        cond = asyncio.Condition()
        items = []
        got = []

        async def consumer(n):
            async with cond:
                await cond.wait_for(lambda: items)
                got.append((n, items.pop(0)))

        consumers = [asyncio.create_task(consumer(n)) for n in range(2)]
        await asyncio.sleep(0)
        for value in ("first", "second"):
            async with cond:
                items.append(value)
                cond.notify(1)
            await asyncio.sleep(0)
        await asyncio.gather(*consumers)
        return got

    assert run(main()) == [(0, "first"), (1, "second")]


def test_barrier(run):
    async def main():
        barrier = asyncio.Barrier(3)
        passed = []

        async def party(n):
            await barrier.wait()
            passed.append(n)

        tasks = [asyncio.create_task(party(n)) for n in range(3)]
        await asyncio.gather(*tasks)
        return sorted(passed)

    assert run(main()) == [0, 1, 2]


# ---- contextvars across the API ----


def test_tasks_inherit_context_at_creation(run):
    async def child():
        seen = var.get()
        var.set("child")
        return seen

    async def main():
        var.set("main")
        results = await asyncio.gather(child(), child())
        assert var.get() == "main"
        async with asyncio.TaskGroup() as tg:
            t = tg.create_task(child())
        return results + [t.result()]

    assert run(main()) == ["main", "main", "main"]
