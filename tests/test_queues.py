"""asyncio.Queue, LifoQueue and PriorityQueue: asyncio's and casyncio's C
versions (casyncio.accelerate()), each on casyncio's loop and on stock
asyncio's.

Every test makes its queues through ``asyncio.<Name>``, which the
``queues`` fixture leaves as asyncio's ("stock") or makes casyncio's
("accelerated"); with the ``impl`` fixture that gives the four pairings,
and each expected value, written once, must hold for all of them.
"""

import asyncio
import re
import sys

import pytest
from conftest import accelerated_with
from test_leaks import BATCH, batches, run_batches

from casyncio import _core

PY313 = sys.version_info >= (3, 13)


@pytest.fixture
def queues(accel):
    """accel (conftest), with Queue among the names accelerated."""
    return accelerated_with(accel, "Queue")


def test_accelerate_rebinds_the_classes(queues, run):
    fast = queues == "accelerated"
    for name in ("Queue", "LifoQueue", "PriorityQueue"):
        for module in (asyncio, asyncio.queues):
            assert (getattr(module, name) is getattr(_core, name)) == fast
    assert issubclass(asyncio.LifoQueue, asyncio.Queue)
    assert issubclass(asyncio.PriorityQueue, asyncio.Queue)
    alias = asyncio.Queue[int]
    assert alias.__origin__ is asyncio.Queue and alias.__args__ == (int,)

    async def main():
        q = asyncio.Queue()
        return type(q._finished), type(q._queue).__name__, q.maxsize

    event_type, storage, maxsize = run(main())
    assert (event_type is _core.Event) == fast
    assert (storage, maxsize) == ("deque", 0)


def test_orders(queues, run):
    async def main():
        out = []
        for cls in (asyncio.Queue, asyncio.LifoQueue, asyncio.PriorityQueue):
            q = cls()
            for item in (3, 1, 2):
                await q.put(item)
            out.append([await q.get() for _ in range(3)])
        return out

    assert run(main()) == [[3, 1, 2], [2, 1, 3], [1, 2, 3]]


def test_bounded_put_waits_and_nowait_errors(queues, run):
    async def main():
        q = asyncio.Queue(maxsize=2)
        assert q.empty() and not q.full()
        q.put_nowait("a")
        await q.put("b")
        assert q.full() and q.qsize() == 2
        with pytest.raises(asyncio.QueueFull):
            q.put_nowait("c")
        putter = asyncio.create_task(q.put("c"))
        await asyncio.sleep(0)
        assert not putter.done() and len(q._putters) == 1
        assert await q.get() == "a"  # frees a slot: wakes the putter
        await putter
        got = [q.get_nowait(), q.get_nowait()]
        with pytest.raises(asyncio.QueueEmpty):
            q.get_nowait()
        # A float maxsize compares as in Python: 1.5 holds two items.
        f = asyncio.Queue(maxsize=1.5)
        f.put_nowait(1)
        f.put_nowait(2)
        return got, f.full(), f.qsize()

    assert run(main()) == (["b", "c"], True, 2)


def test_repr_and_str(queues, run):
    async def main():
        q = asyncio.Queue(maxsize=3)
        await q.put(1)
        getter_q = asyncio.Queue()
        waiter = asyncio.create_task(getter_q.get())
        await asyncio.sleep(0)
        r, s, g = repr(q), str(q), repr(getter_q)
        waiter.cancel()
        return r, s, g

    r, s, g = run(main())
    assert re.fullmatch(r"<Queue at 0x[0-9a-f]+ maxsize=3 _queue=\[1\] tasks=1>", r), r
    assert s == "<Queue maxsize=3 _queue=[1] tasks=1>"
    assert re.fullmatch(r"<Queue at 0x[0-9a-f]+ maxsize=0 _getters\[1\]>", g), g


def test_task_done_and_join(queues, run):
    async def main():
        q = asyncio.Queue()
        with pytest.raises(ValueError, match=r"^task_done\(\) called too many times$"):
            q.task_done()
        await q.join()  # nothing unfinished: at once
        done = []

        async def worker():
            while True:
                item = await q.get()
                done.append(item)
                q.task_done()

        workers = [asyncio.create_task(worker()) for _ in range(3)]
        for i in range(10):
            q.put_nowait(i)
        assert q._unfinished_tasks == 10
        await q.join()
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        return sorted(done), q._unfinished_tasks

    assert run(main()) == (list(range(10)), 0)


def test_cancelled_getter_passes_its_wakeup_on(queues, run):
    async def main():
        q = asyncio.Queue()
        a = asyncio.create_task(q.get())
        b = asyncio.create_task(q.get())
        c = asyncio.create_task(q.get())
        await asyncio.sleep(0)
        a.cancel()  # cancelled while waiting: leaves _getters
        await asyncio.sleep(0)
        assert len(q._getters) == 2
        q.put_nowait("x")  # wakes b ...
        b.cancel()  # ... cancelled before it runs: c gets the item
        results = await asyncio.gather(a, b, c, return_exceptions=True)
        return [r if isinstance(r, str) else type(r).__name__ for r in results], len(
            q._getters
        )

    assert run(main()) == (["CancelledError", "CancelledError", "x"], 0)


def test_cancelled_putter_leaves_the_queue(queues, run):
    async def main():
        q = asyncio.Queue(maxsize=1)
        q.put_nowait(0)
        p = asyncio.create_task(q.put(1))
        await asyncio.sleep(0)
        p.cancel()
        with pytest.raises(asyncio.CancelledError):
            await p
        return len(q._putters), q.qsize()

    assert run(main()) == (0, 1)


@pytest.mark.skipif(not PY313, reason="shutdown() is 3.13+")
def test_shutdown(queues, run):
    async def main():
        q = asyncio.Queue()
        q.put_nowait(1)
        getter = asyncio.Queue()
        waiting = asyncio.create_task(getter.get())
        await asyncio.sleep(0)
        getter.shutdown()
        with pytest.raises(asyncio.QueueShutDown):
            await waiting
        q.shutdown()
        assert str(q) == "<Queue maxsize=0 _queue=[1] tasks=1 shutdown>"
        with pytest.raises(asyncio.QueueShutDown):
            q.put_nowait(2)
        first = await q.get()  # not immediate: items can still be taken
        with pytest.raises(asyncio.QueueShutDown):
            await q.get()
        r = asyncio.Queue()
        r.put_nowait(1)
        r.put_nowait(2)
        r.shutdown(immediate=True)
        await r.join()  # the drained items count as done
        return first, r.qsize(), r._unfinished_tasks

    assert run(main()) == (1, 0, 0)


def test_a_subclass_with_its_own_storage(queues, run):
    async def main():
        class Dedup(asyncio.Queue):
            def _init(self, maxsize):
                self._queue = []
                self.seen = set()

            def _put(self, item):
                if item not in self.seen:
                    self.seen.add(item)
                    self._queue.append(item)

            def _get(self):
                return self._queue.pop(0)

        q = Dedup()
        for item in (1, 2, 1, 3, 2):
            await q.put(item)
        return [q.get_nowait() for _ in range(q.qsize())], q._unfinished_tasks

    assert run(main()) == ([1, 2, 3], 5)


def test_bad_maxsize(queues, run):
    async def main():
        q = asyncio.Queue(maxsize="x")  # accepted, as asyncio's
        with pytest.raises(TypeError):
            q.put_nowait(1)
        with pytest.raises(TypeError):
            asyncio.Queue(1, 2)
        return q.maxsize

    assert run(main()) == "x"


def test_a_million_items_leave_memory_flat(queues, loop):
    async def batch():
        q = asyncio.Queue(maxsize=16)
        total = 0

        async def producer():
            for i in range(BATCH):
                await q.put(i)
            await q.put(None)

        async def consumer():
            nonlocal total
            while (item := await q.get()) is not None:
                total += item
                q.task_done()
            q.task_done()

        await asyncio.gather(producer(), consumer(), q.join())
        return total

    snapshot, total = run_batches(loop, batch)
    assert total == batches(loop) * sum(range(BATCH))
    snapshot.assert_flat("queued items")
