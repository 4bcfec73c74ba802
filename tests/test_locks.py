"""asyncio.Lock, Event, Semaphore, BoundedSemaphore and Condition: asyncio's and
casyncio's C versions (casyncio.accelerate()), each on casyncio's loop and
on stock asyncio's.

Every test makes its primitives through ``asyncio.<Name>``, which the
``locks`` fixture leaves as asyncio's ("stock") or makes casyncio's
("accelerated"); with the ``impl`` fixture that gives the four pairings,
and each expected value, written once, must hold for all of them.
"""

import asyncio
import gc
import re

import pytest
from conftest import accelerated_with
from test_leaks import BATCH, batches, run_batches

import casyncio
from casyncio import _core

NAMES = ("Lock", "Event", "Semaphore", "BoundedSemaphore", "Condition")
REPR = re.compile(r"<(\S+) object at 0x[0-9a-f]+ \[(.*)\]>")


@pytest.fixture
def locks(accel):
    """accel (conftest), with Lock among the names accelerated."""
    return accelerated_with(accel, "Lock")


def extra(obj):
    """The bracketed part of a lock's repr."""
    m = REPR.fullmatch(repr(obj))
    assert m, repr(obj)
    return m.group(2)


def test_accelerate_rebinds_the_classes(locks, run):
    fast = locks == "accelerated"
    for name in NAMES:
        for module in (asyncio, asyncio.locks):
            assert (getattr(module, name) is getattr(_core, name)) == fast
    assert issubclass(asyncio.BoundedSemaphore, asyncio.Semaphore)

    async def main():
        # asyncio's own users of the classes make them through asyncio.locks
        barrier = asyncio.Barrier(1)
        queue = asyncio.Queue()
        return type(barrier._cond), type(barrier._cond._lock), type(queue._finished)

    cond_type, lock_type, event_type = run(main())
    assert (cond_type is _core.Condition) == fast
    assert (lock_type is _core.Lock) == fast
    assert (event_type is _core.Event) == fast


def test_lock_hands_over_in_fifo_order(locks, run):
    async def main():
        lock = asyncio.Lock()
        order = []
        assert extra(lock) == "unlocked" and not lock.locked()

        async def worker(i):
            async with lock as entered:
                assert entered is None
                order.append(i)
                await asyncio.sleep(0)

        await lock.acquire()
        tasks = [asyncio.create_task(worker(i)) for i in range(4)]
        await asyncio.sleep(0)
        assert extra(lock) == "locked, waiters:4"
        lock.release()
        await asyncio.gather(*tasks)
        with pytest.raises(RuntimeError, match=r"^Lock is not acquired\.$"):
            lock.release()
        return order, extra(lock)

    assert run(main()) == ([0, 1, 2, 3], "unlocked")


def test_lock_a_woken_waiter_keeps_its_turn(locks, run):
    async def main():
        lock = asyncio.Lock()
        await lock.acquire()
        got = []

        async def waiter(name):
            await lock.acquire()
            got.append(name)

        first = asyncio.create_task(waiter("first"))
        await asyncio.sleep(0)
        lock.release()  # first is woken, but has not run yet
        assert lock.locked() is False
        # A newcomer must not jump the queue: its acquire() waits.
        newcomer = lock.acquire()
        fut = newcomer.send(None)
        assert isinstance(fut, asyncio.Future) and not fut.done()
        newcomer.close()
        await first
        return got, lock.locked(), len(lock._waiters)

    assert run(main()) == (["first"], True, 0)


def test_lock_cancelled_waiters(locks, run):
    async def main():
        lock = asyncio.Lock()
        await lock.acquire()
        got = []

        async def waiter(name):
            async with lock:
                got.append(name)

        a = asyncio.create_task(waiter("a"))
        b = asyncio.create_task(waiter("b"))
        c = asyncio.create_task(waiter("c"))
        await asyncio.sleep(0)
        a.cancel()  # cancelled while waiting
        await asyncio.sleep(0)
        assert len(lock._waiters) == 2
        lock.release()  # wakes b ...
        b.cancel()  # ... which is cancelled before it runs: c gets it
        results = await asyncio.gather(a, b, c, return_exceptions=True)
        return (
            [type(r).__name__ for r in results],
            got,
            lock.locked(),
            len(lock._waiters),
        )

    assert run(main()) == (
        ["CancelledError", "CancelledError", "NoneType"],
        ["c"],
        False,
        0,
    )


def test_event(locks, run):
    async def main():
        ev = asyncio.Event()
        assert extra(ev) == "unset" and not ev.is_set()
        woken = []

        async def waiter(i):
            assert await ev.wait() is True
            woken.append(i)

        tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
        await asyncio.sleep(0)
        assert extra(ev) == "unset, waiters:3"
        ev.set()
        ev.set()  # idempotent
        await asyncio.gather(*tasks)
        assert extra(ev) == "set"
        assert await ev.wait() is True  # set: no wait
        ev.clear()
        t = asyncio.create_task(ev.wait())
        await asyncio.sleep(0)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        return woken, len(ev._waiters), ev.is_set()

    assert run(main()) == ([0, 1, 2], 0, False)


def test_semaphore(locks, run):
    async def main():
        sem = asyncio.Semaphore(2)
        assert extra(sem) == "unlocked, value:2"
        inside = peak = 0
        order = []

        async def worker(i):
            nonlocal inside, peak
            async with sem:
                inside += 1
                peak = max(peak, inside)
                order.append(i)
                await asyncio.sleep(0)
                inside -= 1

        await asyncio.gather(*(worker(i) for i in range(6)))
        assert extra(sem) == "unlocked, value:2"
        await sem.acquire()
        await sem.acquire()
        assert sem.locked() and extra(sem) == "locked"
        t = asyncio.create_task(sem.acquire())
        await asyncio.sleep(0)
        assert extra(sem) == "locked, waiters:1"
        sem.release()  # wakes t ...
        t.cancel()  # ... cancelled before it runs: the unit comes back
        with pytest.raises(asyncio.CancelledError):
            await t
        return peak, order, sem._value

    assert run(main()) == (2, [0, 1, 2, 3, 4, 5], 1)


def test_semaphore_bad_input_and_bounds(locks, run):
    async def main():
        with pytest.raises(ValueError, match="^Semaphore initial value must be >= 0$"):
            asyncio.Semaphore(-1)
        for cls in (
            asyncio.Lock,
            asyncio.Event,
            asyncio.Semaphore,
            asyncio.BoundedSemaphore,
        ):
            with pytest.raises(
                TypeError,
                match=rf"^{cls.__name__}\.__init__\(\) got an unexpected keyword argument 'loop'$",
            ):
                cls(loop=asyncio.get_running_loop())
        bsem = asyncio.BoundedSemaphore(1)
        await bsem.acquire()
        bsem.release()
        with pytest.raises(
            ValueError, match="^BoundedSemaphore released too many times$"
        ):
            bsem.release()
        sem = asyncio.Semaphore(0)
        sem.release()  # unbounded
        return sem._value, bsem._value, asyncio.Semaphore()._value

    assert run(main()) == (1, 1, 1)


def test_bound_to_one_loop(locks, new_loop):
    lock = asyncio.Lock()

    async def hold_and_wait():
        await lock.acquire()
        other = asyncio.create_task(lock.acquire())  # waits: binds the loop
        await asyncio.sleep(0)
        other.cancel()
        lock.release()

    new_loop().run_until_complete(hold_and_wait())

    async def elsewhere():
        await lock.acquire()
        with pytest.raises(RuntimeError, match="is bound to a different event loop"):
            await lock.acquire()

    new_loop().run_until_complete(elsewhere())


def test_acquire_is_a_coroutine_with_cleanup_on_close(locks, run):
    async def main():
        lock = asyncio.Lock()
        await lock.acquire()
        probe = lock.acquire()
        assert asyncio.iscoroutine(probe)
        probe.close()
        coro = lock.acquire()
        fut = coro.send(None)  # waits: yields its future
        assert isinstance(fut, asyncio.Future) and len(lock._waiters) == 1
        coro.close()  # GeneratorExit at the await: the waiter leaves
        n = len(lock._waiters)
        task = asyncio.create_task(lock.acquire())  # a coroutine for create_task
        await asyncio.sleep(0)
        lock.release()
        return n, await task, lock.locked()

    assert run(main()) == (0, True, True)


def test_a_dropped_waiting_acquire_leaves_the_queue(locks, run):
    # A coroutine destroyed while it waits is closed: its cleanup runs.
    async def main():
        lock = asyncio.Lock()
        await lock.acquire()
        coro = lock.acquire()
        coro.send(None)
        n = len(lock._waiters)
        del coro
        gc.collect()
        return n, len(lock._waiters)

    assert run(main()) == (1, 0)


def test_subclass_with_its_own_acquire(locks, run):
    async def main():
        log = []

        class Logged(asyncio.Lock):
            async def acquire(self):
                log.append("acquire")
                return await super().acquire()

            def release(self):
                log.append("release")
                super().release()

        lock = Logged()
        async with lock as entered:
            log.append((entered, lock.locked()))
        return log, lock.locked()

    assert run(main()) == (["acquire", (None, True), "release"], False)


def test_condition_over_the_lock(locks, run):
    async def main():
        cond = asyncio.Condition()
        ready = []

        async def consumer():
            async with cond:
                await cond.wait_for(lambda: ready)
                return ready.pop()

        task = asyncio.create_task(consumer())
        await asyncio.sleep(0)
        async with cond:
            ready.append("item")
            cond.notify()
        return await task

    assert run(main()) == "item"


def test_condition_notify_wakes_in_order(locks, run):
    async def main():
        cond = asyncio.Condition()
        woken = []

        async def waiter(i):
            async with cond:
                assert await cond.wait() is True
                assert cond.locked()
                woken.append(i)

        tasks = [asyncio.create_task(waiter(i)) for i in range(4)]
        await asyncio.sleep(0)
        seen = [extra(cond)]
        async with cond:
            cond.notify(2)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        seen.append(list(woken))
        async with cond:
            cond.notify_all()
        await asyncio.gather(*tasks)
        seen.append(woken)
        async with cond:
            cond.notify(0)
            seen.append(extra(cond))
        return seen

    assert run(main()) == [
        "unlocked, waiters:4",
        [0, 1],
        [0, 1, 2, 3],
        "locked",
    ]


def test_condition_bad_use(locks, run):
    async def main():
        cond = asyncio.Condition()
        errors = []
        for call in (cond.notify, cond.notify_all):
            with pytest.raises(RuntimeError) as info:
                call()
            errors.append(str(info.value))
        with pytest.raises(RuntimeError) as info:
            await cond.wait()
        errors.append(str(info.value))
        other = asyncio.Lock()
        shared = asyncio.Condition(other)
        assert shared._lock is other and shared.locked() is False
        async with shared:
            assert other.locked()
        with pytest.raises(TypeError):
            asyncio.Condition(lock=other, extra=1)
        return errors

    assert run(main()) == [
        "cannot notify on un-acquired lock",
        "cannot notify on un-acquired lock",
        "cannot wait on un-acquired lock",
    ]


def test_condition_cancelled_waits_reacquire(locks, run):
    """A wait cancelled while waiting, or while taking the lock back,
    raises CancelledError with the lock held again; a notified waiter that
    is cancelled before it runs passes its turn on (3.13+'s asyncio, whose
    wait() notifies another waiter when it fails)."""

    async def main():
        cond = asyncio.Condition()
        log = []

        async def waiter(name):
            async with cond:
                try:
                    await cond.wait()
                    log.append(name)
                except asyncio.CancelledError:
                    log.append((name, "cancelled", cond.locked()))
                    raise

        a = asyncio.create_task(waiter("a"))
        await asyncio.sleep(0)
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a

        b = asyncio.create_task(waiter("b"))
        c = asyncio.create_task(waiter("c"))
        await asyncio.sleep(0)
        async with cond:
            cond.notify(1)  # b is notified, then cancelled while it re-takes the lock
            await asyncio.sleep(0)
            b.cancel()
        results = await asyncio.gather(
            b, asyncio.wait_for(c, 0.2), return_exceptions=True
        )
        return log, [type(r).__name__ for r in results], cond.locked()

    log, results, locked = run(main())
    stock = casyncio._accel._saved.get(
        ("asyncio.locks", "Condition"), asyncio.locks.Condition
    )
    passes_on = hasattr(stock, "_notify")
    assert log[:2] == [("a", "cancelled", True), ("b", "cancelled", True)]
    assert results[0] == "CancelledError"
    # without the pass-on, c waits until wait_for cancels it
    assert (log[2:], results[1]) == (
        (["c"], "NoneType")
        if passes_on
        else ([("c", "cancelled", True)], "TimeoutError")
    )
    assert locked is False


def test_condition_with_a_lock_subclass(locks, run):
    async def main():
        acquired = []

        class Counting(asyncio.Lock):
            async def acquire(self):
                acquired.append(1)
                return await super().acquire()

        cond = asyncio.Condition(Counting())

        async def waiter():
            async with cond:
                await cond.wait()

        task = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        async with cond:
            cond.notify()
        await task
        return len(acquired)

    # waiter: enter, re-take after the wait; main: enter
    assert run(main()) == 3


def test_barrier_over_the_condition(locks, run):
    async def main():
        barrier = asyncio.Barrier(3)
        indices = await asyncio.gather(*(barrier.wait() for _ in range(3)))
        return sorted(indices), barrier.n_waiting, barrier.broken

    assert run(main()) == ([0, 1, 2], 0, False)


def test_a_million_condition_waits_leave_memory_flat(locks, loop):
    async def batch():
        cond = asyncio.Condition()
        total = 0
        for _ in range(BATCH // 100):
            woken = []

            async def waiter(w=woken):
                async with cond:
                    await cond.wait()
                    w.append(1)

            tasks = [asyncio.ensure_future(waiter()) for _ in range(100)]
            await asyncio.sleep(0)
            async with cond:
                cond.notify_all()
            await asyncio.gather(*tasks)
            total += len(woken)
        return total

    snapshot, total = run_batches(loop, batch)
    assert total == batches(loop) * BATCH
    gc.collect()
    snapshot.assert_flat("condition waits")


def test_a_million_contended_acquires_leave_memory_flat(locks, loop):
    async def batch():
        lock = asyncio.Lock()
        sem = asyncio.Semaphore(2)
        done = 0

        async def worker(n):
            nonlocal done
            for _ in range(n):
                async with lock:
                    async with sem:
                        await asyncio.sleep(0)
                done += 1

        await asyncio.gather(*(worker(BATCH // 10) for _ in range(10)))
        return done

    # a million acquires of each on casyncio (a fifth on stock asyncio)
    snapshot, total = run_batches(loop, batch)
    assert total == batches(loop) * BATCH
    gc.collect()
    snapshot.assert_flat("contended lock and semaphore acquires")


def test_a_million_event_waits_leave_memory_flat(locks, loop):
    async def batch():
        total = 0
        for _ in range(BATCH // 100):
            ev = asyncio.Event()
            waiters = [asyncio.ensure_future(ev.wait()) for _ in range(100)]
            await asyncio.sleep(0)
            ev.set()
            total += sum(await asyncio.gather(*waiters))
        return total

    snapshot, total = run_batches(loop, batch)
    assert total == batches(loop) * BATCH
    snapshot.assert_flat("event waits")
