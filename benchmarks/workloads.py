#!/usr/bin/env python3
"""casyncio benchmark workloads; each run happens in a child process of run.py.

    python benchmarks/workloads.py --impl casyncio --workload call_soon
    python benchmarks/workloads.py --list
    python benchmarks/workloads.py --probe casyncio,asyncio,uvloop
    python benchmarks/workloads.py --impl limit --workload sleep0   # its floor

A child runs one workload on one implementation: a short warm-up at a small
size, then the measured run, and prints one JSON line on stdout:

    {"impl": "casyncio", "workload": "call_soon", "value": 2.1e6, "unit": "ops/s", ...}

Adding a workload is one decorated function:

    @workload
    def my_workload(new_loop, scale):
        '''One line saying what is measured (shown by --list and run.py).'''
        n = scaled(100_000, scale)
        loop = new_loop()                 # the harness closes it afterwards
        ...                               # schedule the work
        result, seconds = timed(loop, main())  # or timed(loop) for run_forever
        check(result == expected, "what went wrong")  # verify: never trust speed
        return Result(ops=n, seconds=seconds)

`new_loop()` makes a loop of the implementation under test; errors that reach
the loop's exception handler stop the loop and fail the run. `scale` comes from
CASYNCIO_BENCH_SCALE (default 1.0; the warm-up uses a twentieth of it).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import gc
import importlib.machinery
import json
import math
import os
import platform
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import roundrobin

REPO_ROOT = Path(__file__).resolve().parent.parent
SCALE_ENV = "CASYNCIO_BENCH_SCALE"
WARMUP_FRACTION = 0.05


# --------------------------------------------------------------------------
# The registry and the helpers workloads use


class BenchError(Exception):
    """A workload's result is wrong: the implementation is broken."""


def check(condition: object, message: str) -> None:
    """Verify a workload's result (unlike assert, also under python -O)."""
    if not condition:
        raise BenchError(message)


@dataclass
class Result:
    ops: int  # how many operations the measured run did
    seconds: float  # the time it took (only the work, see timed())


@dataclass
class Workload:
    name: str
    fn: Callable[[Callable[[], asyncio.AbstractEventLoop], float], Result]
    unit: str
    doc: str


WORKLOADS: dict[str, Workload] = {}


def workload(fn=None, *, name: str | None = None, unit: str = "ops/s"):
    """Register a workload: `fn(new_loop, scale) -> Result`.

    Usable bare (@workload) or with arguments (@workload(name="x")).
    The figure reported is ops/seconds ("ops/s", higher is better).
    """

    def register(f):
        wname = name or f.__name__
        if wname in WORKLOADS:
            raise ValueError(f"workload {wname!r} registered twice")
        doc = " ".join((f.__doc__ or "").strip().split("\n\n")[0].split())
        WORKLOADS[wname] = Workload(wname, f, unit, doc)
        return f

    return register(fn) if fn is not None else register


# The "limit" implementation: for some workloads, the same work done without
# a loop (fn(scale) -> Result), the floor an implementation is measured
# against. Only these workloads can run with --impl limit.
LIMIT = "limit"
LIMITS: dict[str, Callable[[float], Result]] = {}


def limit_of(name: str):
    """Register `fn(scale) -> Result` as the limit of workload `name`."""

    def register(fn):
        if name in LIMITS:
            raise ValueError(f"workload {name!r} has a limit already")
        LIMITS[name] = fn
        return fn

    return register


def scaled(n: int, scale: float, minimum: int = 1) -> int:
    """`n` scaled by `scale`, at least `minimum`."""
    return max(minimum, round(n * scale))


def timed(loop: asyncio.AbstractEventLoop, main=None) -> tuple[Any, float]:
    """Run `main` (a coroutine or future) to completion, or run_forever() if
    `main` is None; return (its result, the seconds taken by that call only)."""
    if main is None:
        t0 = time.perf_counter()
        loop.run_forever()
        t1 = time.perf_counter()
        return None, t1 - t0
    t0 = time.perf_counter()
    result = loop.run_until_complete(main)
    t1 = time.perf_counter()
    return result, t1 - t0


# --------------------------------------------------------------------------
# Loop-level workloads


@workload
def call_soon(new_loop, scale):
    """A chain of 1,000,000 call_soon callbacks, each scheduling the next:
    one callback per loop iteration, so this measures the iteration itself."""
    n = scaled(1_000_000, scale)
    loop = new_loop()
    schedule = loop.call_soon
    count = 0

    def cb():
        nonlocal count
        count += 1
        if count < n:
            schedule(cb)
        else:
            loop.stop()

    schedule(cb)
    _, seconds = timed(loop)
    check(count == n, f"{count} callbacks ran, expected {n}")
    return Result(n, seconds)


@workload
def call_soon_batch(new_loop, scale):
    """1,000,000 call_soon callbacks scheduled 1000 at a time by a producer
    callback that checks the previous batch all ran first (FIFO)."""
    n = scaled(1_000_000, scale)
    batch = 1000
    loop = new_loop()
    schedule = loop.call_soon
    count = 0
    scheduled = 0

    def cb():
        nonlocal count
        count += 1

    def producer():
        nonlocal scheduled
        check(count == scheduled, f"{count} callbacks ran before the next batch")
        if scheduled >= n:
            loop.stop()
            return
        k = min(batch, n - scheduled)
        for _ in range(k):
            schedule(cb)
        scheduled += k
        schedule(producer)

    schedule(producer)
    _, seconds = timed(loop)
    check(count == n, f"{count} callbacks ran, expected {n}")
    return Result(n, seconds)


@workload
def call_soon_args(new_loop, scale):
    """1,000,000 call_soon(cb, i, tag) callbacks with 2 positional arguments,
    scheduled 1000 at a time; each checks it runs in FIFO order with its
    own arguments."""
    n = scaled(1_000_000, scale)
    batch = 1000
    loop = new_loop()
    schedule = loop.call_soon
    tag = object()
    expected = 0
    scheduled = 0

    def cb(i, t):
        nonlocal expected
        if i != expected or t is not tag:
            raise BenchError(f"callback got ({i}, {t!r}), expected ({expected}, tag)")
        expected = i + 1

    def producer():
        nonlocal scheduled
        if scheduled >= n:
            loop.stop()
            return
        k = min(batch, n - scheduled)
        for i in range(scheduled, scheduled + k):
            schedule(cb, i, tag)
        scheduled += k
        schedule(producer)

    schedule(producer)
    _, seconds = timed(loop)
    check(expected == n, f"{expected} callbacks ran in order, expected {n}")
    return Result(n, seconds)


@workload
def call_later(new_loop, scale):
    """200,000 timers, half call_later(d, ...) and half call_at(now + d, ...),
    with delays mixed from 0 to 2 ms; all fire, counted and summed."""
    n = scaled(200_000, scale)
    delays = (0.0, 0.002, 0.0005, 0.0001, 0.001, 0.0)
    loop = new_loop()
    fired = 0
    total = 0

    def cb(i):
        nonlocal fired, total
        fired += 1
        total += i
        if fired == n:
            loop.stop()

    def schedule_all():
        later = loop.call_later
        at = loop.call_at
        now = loop.time()
        nd = len(delays)
        for i in range(n):
            d = delays[i % nd]
            if i & 1:
                at(now + d, cb, i)
            else:
                later(d, cb, i)

    loop.call_soon(schedule_all)
    _, seconds = timed(loop)
    check(fired == n, f"{fired} timers fired, expected {n}")
    check(total == n * (n - 1) // 2, "timer callbacks got wrong arguments")
    return Result(n, seconds)


@workload
def call_later_cancel(new_loop, scale):
    """Timer churn: 200,000 call_later(10, ...) scheduled 1000 per loop
    iteration and cancelled one iteration later, among 20,000 call_later(0,
    ...) that fire; only the uncancelled may run."""
    n = scaled(200_000, scale)
    chunk = 1000
    fire_every = 10
    loop = new_loop()
    later = loop.call_later
    never_ran = 0
    fired = 0
    fire_expected = 0
    scheduled = 0
    done = False
    pending: list = []

    def never():
        nonlocal never_ran
        never_ran += 1

    def fire():
        nonlocal fired
        fired += 1
        if done and fired == fire_expected:
            loop.stop()

    def step():
        nonlocal scheduled, fire_expected, pending, done
        for h in pending:
            h.cancel()
        for h in pending:
            if not h.cancelled():
                raise BenchError("a cancelled TimerHandle says it is not cancelled")
        if scheduled >= n:
            pending = []
            done = True
            if fired == fire_expected:
                loop.stop()
            return
        k = min(chunk, n - scheduled)
        pending = [later(10.0 + (i % 7) * 0.001, never) for i in range(k)]
        for _ in range(0, k, fire_every):
            later(0, fire)
            fire_expected += 1
        scheduled += k
        loop.call_soon(step)

    loop.call_soon(step)
    _, seconds = timed(loop)
    check(never_ran == 0, f"{never_ran} cancelled timers ran")
    check(fired == fire_expected, f"{fired} timers fired, expected {fire_expected}")
    check(scheduled == n, f"{scheduled} timers scheduled, expected {n}")
    return Result(n + fire_expected, seconds)


@workload
def call_soon_threadsafe(new_loop, scale):
    """4 threads each make 50,000 call_soon_threadsafe calls into the running
    loop; the total and each thread's FIFO order are checked."""
    nthreads = 4
    per_thread = scaled(50_000, scale)
    total = nthreads * per_thread
    loop = new_loop()
    seen = [0] * nthreads
    count = 0

    def cb(t, i):
        nonlocal count
        if seen[t] != i:
            raise BenchError(f"thread {t}: call {i} ran, expected call {seen[t]}")
        seen[t] = i + 1
        count += 1
        if count == total:
            loop.stop()

    def producer(t):
        call = loop.call_soon_threadsafe
        for i in range(per_thread):
            call(cb, t, i)

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(nthreads)]

    def start():
        for th in threads:
            th.start()

    loop.call_soon(start)
    _, seconds = timed(loop)
    for th in threads:
        th.join()
    check(count == total, f"{count} callbacks ran, expected {total}")
    check(seen == [per_thread] * nthreads, f"per-thread counts {seen}")
    return Result(total, seconds)


# --------------------------------------------------------------------------
# Future and task workloads (with whatever Future/Task the loop creates)


SLEEP0_TASKS = 100


async def sleep0_worker(iters):
    """The coroutine of `sleep0` and of its limit: the same code object."""
    sleep = asyncio.sleep
    done = 0
    for _ in range(iters):
        await sleep(0)
        done += 1
    return done


@workload
def sleep0(new_loop, scale):
    """100 tasks each await asyncio.sleep(0) 10,000 times: 1,000,000 task
    steps, 100 per loop iteration."""
    iters = scaled(10_000, scale)
    loop = new_loop()

    async def main():
        create = asyncio.create_task
        tasks = [create(sleep0_worker(iters)) for _ in range(SLEEP0_TASKS)]
        return await asyncio.gather(*tasks)

    result, seconds = timed(loop, main())
    check(result == [iters] * SLEEP0_TASKS, "sleep(0) workers returned wrong counts")
    return Result(SLEEP0_TASKS * iters, seconds)


@limit_of("sleep0")
def sleep0_limit(scale):
    """The same 100 sleep0_worker coroutines resumed in turn by a bare C
    round-robin (roundrobin.py), with no loop, Task or Future."""
    run = roundrobin.build().run
    iters = scaled(10_000, scale)
    coros = [sleep0_worker(iters) for _ in range(SLEEP0_TASKS)]
    t0 = time.perf_counter()
    result = run(coros)
    t1 = time.perf_counter()
    check(result == [iters] * SLEEP0_TASKS, "sleep(0) workers returned wrong counts")
    return Result(SLEEP0_TASKS * iters, t1 - t0)


@workload
def gather_100k(new_loop, scale):
    """create_task 100,000 trivial coroutines and gather them; the results
    are checked in order."""
    n = scaled(100_000, scale)
    loop = new_loop()

    async def leaf(i):
        return i

    async def main():
        create = asyncio.get_running_loop().create_task
        return await asyncio.gather(*[create(leaf(i)) for i in range(n)])

    result, seconds = timed(loop, main())
    check(result == list(range(n)), "gather returned wrong results")
    return Result(n, seconds)


@workload
def queue_pingpong(new_loop, scale):
    """Two tasks pass 100,000 items back and forth over two asyncio.Queue(1);
    ops are round trips, each reply checked."""
    n = scaled(100_000, scale)
    loop = new_loop()

    async def main():
        q_ping: asyncio.Queue = asyncio.Queue(1)
        q_pong: asyncio.Queue = asyncio.Queue(1)

        async def ponger():
            for _ in range(n):
                x = await q_ping.get()
                await q_pong.put(x + 1)
            return n

        pong_task = asyncio.create_task(ponger())
        trips = 0
        for i in range(n):
            await q_ping.put(i)
            r = await q_pong.get()
            if r != i + 1:
                raise BenchError(f"round trip {i} returned {r}")
            trips += 1
        return trips, await pong_task

    result, seconds = timed(loop, main())
    check(result == (n, n), f"round trips {result}, expected {(n, n)}")
    return Result(n, seconds)


def _tree_depth(scale: float) -> int:
    # 6**depth leaves scale with `scale`: 1.0 -> 6, 0.05 -> 4, 0.01 -> 3.
    return max(1, round(6 + math.log(scale, 6)))


def _run_gather_tree(loop, scale):
    """Run the gather tree on `loop`; return (result, seconds, tasks)."""
    fanout = 6
    depth = _tree_depth(scale)

    async def node(d):
        if d == 0:
            await asyncio.sleep(0)
            return 1
        counts = await asyncio.gather(*[node(d - 1) for _ in range(fanout)])
        return sum(counts)

    result, seconds = timed(loop, node(depth))
    check(result == fanout**depth, f"{result} leaves, expected {fanout**depth}")
    return Result(sum(fanout**k for k in range(1, depth + 1)), seconds)


@workload
def gather_tree(new_loop, scale):
    """A recursive gather tree, fan-out 6 and depth 6 (46,656 leaves awaiting
    asyncio.sleep(0)); ops are the 55,986 tasks gather creates; the leaf count
    is checked."""
    return _run_gather_tree(new_loop(), scale)


@workload
def future_pingpong(new_loop, scale):
    """Two tasks alternately set results on loop.create_future() futures,
    100,000 round trips (2 futures, 2 set_result, 2 awaits each)."""
    n = scaled(100_000, scale)
    loop = new_loop()

    async def ponger(req):
        count = 0
        while True:
            msg = await req
            if msg is None:
                return count
            i, reply, req = msg
            reply.set_result(i + 1)
            count += 1

    async def main():
        create = loop.create_future
        req = create()
        pong_task = asyncio.create_task(ponger(req))
        trips = 0
        for i in range(n):
            reply = create()
            next_req = create()
            req.set_result((i, reply, next_req))
            r = await reply
            if r != i + 1:
                raise BenchError(f"round trip {i} returned {r}")
            trips += 1
            req = next_req
        req.set_result(None)
        return trips, await pong_task

    result, seconds = timed(loop, main())
    check(result == (n, n), f"round trips {result}, expected {(n, n)}")
    return Result(n, seconds)


def _eager_factory(loop):
    """The eager task factory of the loop's implementation: casyncio's own
    for a casyncio loop, asyncio's for the others (3.12+)."""
    if type(loop).__module__.startswith("casyncio"):
        import casyncio

        return casyncio.eager_task_factory
    return asyncio.eager_task_factory


if sys.version_info >= (3, 12):

    @workload
    def gather_tree_eager(new_loop, scale):
        """The gather tree above (fan-out 6, depth 6) with the
        implementation's eager task factory: tasks that finish without
        suspending never reach the ready queue."""
        loop = new_loop()
        loop.set_task_factory(_eager_factory(loop))
        return _run_gather_tree(loop, scale)


@workload
def taskgroup_fanout(new_loop, scale):
    """100 rounds of an asyncio.TaskGroup fanning out to 1,000 tasks that
    each await asyncio.sleep(0) once; the results are summed and checked."""
    rounds = scaled(100, scale)
    width = 1000
    loop = new_loop()

    async def child(i):
        await asyncio.sleep(0)
        return i

    async def main():
        total = 0
        for _ in range(rounds):
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(child(i)) for i in range(width)]
            total += sum(t.result() for t in tasks)
        return total

    result, seconds = timed(loop, main())
    check(result == rounds * (width * (width - 1) // 2), "TaskGroup results wrong")
    return Result(rounds * width, seconds)


@workload
def contextvar_tasks(new_loop, scale):
    """50,000 tasks, each setting three ContextVars in its own context and
    reading them back across an await; none may see another task's values."""
    import contextvars

    n = scaled(50_000, scale)
    loop = new_loop()
    cvars = [contextvars.ContextVar(f"v{i}", default=-1) for i in range(3)]

    async def worker(i):
        for k, var in enumerate(cvars):
            var.set(i * 3 + k)
        await asyncio.sleep(0)
        return sum(var.get() for var in cvars)

    async def main():
        cvars[0].set(-100)  # the parent's value: the tasks must not change it
        results = await asyncio.gather(*[worker(i) for i in range(n)])
        return results, cvars[0].get()

    (results, parent), seconds = timed(loop, main())
    check(parent == -100, "a task changed its parent's context")
    check(results == [9 * i + 3 for i in range(n)], "a task saw another's values")
    return Result(n, seconds)


@workload
def to_thread_roundtrips(new_loop, scale):
    """20,000 asyncio.to_thread calls, 8 at a time: each hops to the default
    executor and back (on asyncio and uvloop a ThreadPoolExecutor, wrap_future
    and call_soon_threadsafe; on casyncio its C pool)."""
    n = scaled(20_000, scale)
    width = 8
    loop = new_loop()

    def work(i):
        return i * 2

    async def lane(start):
        total = 0
        for i in range(start, n, width):
            total += await asyncio.to_thread(work, i)
        return total

    async def main():
        return sum(await asyncio.gather(*[lane(k) for k in range(width)]))

    result, seconds = timed(loop, main())
    check(result == n * (n - 1), f"to_thread sum {result}, expected {n * (n - 1)}")
    return Result(n, seconds)


# --------------------------------------------------------------------------
# asyncio's own Python above the loop: Queue, locks, timeout, wait_for,
# cancellation (what casyncio.accelerate() is for: see casyncio-accel)


@workload
def queue_pipeline(new_loop, scale):
    """100 producers put 1,000 items each into an asyncio.Queue(maxsize=64)
    that 100 consumers drain (get, task_done); join() ends it: 100,000 items
    through a full queue, producers and consumers waiting in turn."""
    per = scaled(1_000, scale)
    width = 100
    loop = new_loop()

    async def main():
        queue = asyncio.Queue(maxsize=64)
        sums = [0] * width

        async def producer(p):
            for i in range(per):
                await queue.put(p * per + i)

        async def consumer(c):
            while True:
                item = await queue.get()
                sums[c] += item
                queue.task_done()

        consumers = [asyncio.ensure_future(consumer(c)) for c in range(width)]
        await asyncio.gather(*[producer(p) for p in range(width)])
        await queue.join()
        for task in consumers:
            task.cancel()
        await asyncio.gather(*consumers, return_exceptions=True)
        return sum(sums)

    result, seconds = timed(loop, main())
    n = width * per
    check(result == n * (n - 1) // 2, "the queue lost or duplicated items")
    return Result(n, seconds)


def _contended(new_loop, scale, make, name):
    """100 tasks take `make()` (a Lock or a Semaphore) 1,000 times each,
    yielding once while holding it, so that the others queue up."""
    per = scaled(1_000, scale)
    width = 100
    loop = new_loop()

    async def main():
        prim = make()
        inside = 0
        most = 0
        count = 0

        async def worker():
            nonlocal inside, most, count
            for _ in range(per):
                async with prim:
                    inside += 1
                    most = max(most, inside)
                    await asyncio.sleep(0)
                    inside -= 1
                    count += 1

        await asyncio.gather(*[worker() for _ in range(width)])
        return count, most

    (count, most), seconds = timed(loop, main())
    check(count == width * per, f"{name}: {count} acquisitions, expected {width * per}")
    return Result(width * per, seconds), most


@workload
def lock_contention(new_loop, scale):
    """100 tasks take one asyncio.Lock 1,000 times each, holding it across
    an asyncio.sleep(0): 100,000 acquisitions, 99 waiters most of the time."""
    result, most = _contended(new_loop, scale, asyncio.Lock, "Lock")
    check(most == 1, f"Lock: {most} tasks inside at once")
    return result


@workload
def semaphore_contention(new_loop, scale):
    """100 tasks take one asyncio.Semaphore(10) 1,000 times each, holding it
    across an asyncio.sleep(0): 100,000 acquisitions, 10 holders at a time."""
    result, most = _contended(new_loop, scale, lambda: asyncio.Semaphore(10), "Semaphore")
    check(most == 10, f"Semaphore(10): at most {most} tasks inside at once")
    return result


def await_future(loop, value):
    """A future completed with `value` by a call_soon callback."""
    fut = loop.create_future()
    loop.call_soon(fut.set_result, value)
    return fut


@workload
def timeout_awaits(new_loop, scale):
    """100 tasks each await 1,000 futures under `async with
    asyncio.timeout(60)` (completed by call_soon, never timing out):
    100,000 timeout scopes entered and left."""
    per = scaled(1_000, scale)
    width = 100
    loop = new_loop()

    async def worker():
        total = 0
        for i in range(per):
            async with asyncio.timeout(60):
                total += await await_future(loop, i)
        return total

    async def main():
        return sum(await asyncio.gather(*[worker() for _ in range(width)]))

    result, seconds = timed(loop, main())
    check(result == width * per * (per - 1) // 2, "timeout(): wrong results")
    return Result(width * per, seconds)


@workload
def wait_for_awaits(new_loop, scale):
    """100 tasks each await 1,000 futures through asyncio.wait_for(fut, 60)
    (completed by call_soon, never timing out): 100,000 wait_for calls."""
    per = scaled(1_000, scale)
    width = 100
    loop = new_loop()

    async def worker():
        total = 0
        for i in range(per):
            total += await asyncio.wait_for(await_future(loop, i), 60)
        return total

    async def main():
        return sum(await asyncio.gather(*[worker() for _ in range(width)]))

    result, seconds = timed(loop, main())
    check(result == width * per * (per - 1) // 2, "wait_for(): wrong results")
    return Result(width * per, seconds)


@workload
def cancel_storm(new_loop, scale):
    """100 rounds of 1,000 tasks waiting on an asyncio.Event, all cancelled
    at once and gathered with return_exceptions=True: 100,000 cancellations
    at an await point."""
    rounds = scaled(100, scale)
    width = 1000
    loop = new_loop()

    async def waiter(event):
        await event.wait()

    async def main():
        cancelled = 0
        for _ in range(rounds):
            event = asyncio.Event()
            tasks = [asyncio.ensure_future(waiter(event)) for _ in range(width)]
            await asyncio.sleep(0)
            for task in tasks:
                task.cancel()
            outcome = await asyncio.gather(*tasks, return_exceptions=True)
            cancelled += sum(isinstance(o, asyncio.CancelledError) for o in outcome)
        return cancelled

    result, seconds = timed(loop, main())
    check(result == rounds * width, f"{result} tasks cancelled, expected {rounds * width}")
    return Result(rounds * width, seconds)


# --------------------------------------------------------------------------
# Socket workloads

# The echo client: another process, so that it never competes with the loop
# under test for the GIL.  Blocking sockets in lockstep: each round sends one
# numbered message on every connection, then reads every echo back whole
# and checks it byte for byte.
_ECHO_CLIENT = r"""
import socket, sys
port, rounds, nconn, size = map(int, sys.argv[1:])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(nconn)]
for s in socks:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
pad = bytes(range(256)) * (size // 256 + 1)
for r in range(rounds):
    msgs = [(b"%08d:%04d:" % (r, i) + pad)[:size] for i in range(nconn)]
    for s, m in zip(socks, msgs):
        s.sendall(m)
    for s, m in zip(socks, msgs):
        got = b""
        while len(got) < size:
            chunk = s.recv(size - len(got))
            if not chunk:
                sys.exit("server closed early")
            got += chunk
        if got != m:
            sys.exit(f"round {r}: echo differs")
for s in socks:
    s.close()
print("ok")
"""


@workload
def sock_echo(new_loop, scale):
    """A TCP echo server written with sock_accept/sock_recv/sock_sendall
    (one task per connection) on the loop under test; a client process
    sends 100-byte messages on 25 connections in lockstep, 4,000 rounds,
    and checks every echo.  Ops are echoed messages (100,000)."""
    import socket
    import subprocess

    nconn, size = 25, 100
    rounds = scaled(4_000, scale)
    loop = new_loop()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(nconn)
    srv.setblocking(False)
    client = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _ECHO_CLIENT,
            str(srv.getsockname()[1]),
            str(rounds),
            str(nconn),
            str(size),
        ],
        stdout=subprocess.PIPE,
    )

    async def accept_all():
        conns = []
        for _ in range(nconn):
            conn, _ = await loop.sock_accept(srv)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns.append(conn)
        return conns

    async def echo(conn):
        echoed = 0
        with conn:
            while data := await loop.sock_recv(conn, 65536):
                await loop.sock_sendall(conn, data)
                echoed += len(data)
        return echoed

    async def main(conns):
        return await asyncio.gather(*[echo(c) for c in conns])

    try:
        conns = loop.run_until_complete(asyncio.wait_for(accept_all(), 30))
        counts, seconds = timed(loop, main(conns))
        out, _ = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        srv.close()
    check(
        client.returncode == 0 and out.strip() == b"ok",
        f"client failed: exit {client.returncode}, output {out!r}",
    )
    check(counts == [rounds * size] * nconn, f"bytes echoed per connection {counts}")
    return Result(rounds * nconn, seconds)


class _Lockstep:
    """The client side of a lockstep workload: sends one message at
    connection_made and the next at each trip_done(), until n are back."""

    def __init__(self, loop, n):
        self.n = n
        self.trips = 0
        self.done = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.send()

    def trip_done(self):
        self.trips += 1
        if self.trips < self.n:
            self.send()
        else:
            self.done.set_result(self.trips)


def _run_lockstep(loop, n, open_pair):
    """Times the n round trips of the client that `open_pair()` connects
    (it returns the server's transport, the client's and the client)."""

    async def main():
        st, ct, client = await open_pair()
        trips = await client.done
        ct.close()
        st.close()
        return trips

    trips, seconds = timed(loop, main())
    check(trips == n, f"round trips {trips}, expected {n}")
    return Result(n, seconds)


@workload
def protocol_pingpong(new_loop, scale):
    """Lockstep echo through the loop's own transports, both ends in one
    loop on a Unix socket pair: a client Protocol writes a 1 KiB message and
    writes the next only once the server Protocol's echo is back, 50,000
    round trips.  One message in flight: no batching that follows timing,
    so under callgrind the count per round trip is the same run to run
    (echo.py's many connections are not).  Ops are round trips."""
    import socket

    n = scaled(50_000, scale)
    size = 1024
    message = bytes(range(256)) * (size // 256)
    loop = new_loop()

    class Server(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    class Client(_Lockstep, asyncio.Protocol):
        def send(self):
            self.pending = size
            self.transport.write(message)

        def data_received(self, data):
            self.pending -= len(data)
            if not self.pending:
                self.trip_done()

    async def open_pair():
        a, b = socket.socketpair()
        st, _ = await loop.connect_accepted_socket(Server, a)
        ct, client = await loop.connect_accepted_socket(lambda: Client(loop, n), b)
        return st, ct, client

    return _run_lockstep(loop, n, open_pair)


@workload
def udp_pingpong(new_loop, scale):
    """Lockstep datagrams through the loop's datagram transports, both ends
    in one loop on 127.0.0.1: a client sends a 100-byte datagram and the
    next only once the server's echo is back, 50,000 round trips.  Ops are
    round trips."""
    n = scaled(50_000, scale)
    message = b"x" * 100
    loop = new_loop()

    class Server(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(data, addr)

    class Client(_Lockstep, asyncio.DatagramProtocol):
        def send(self):
            self.transport.sendto(message)

        def datagram_received(self, data, addr):
            self.trip_done()

    async def open_pair():
        st, _ = await loop.create_datagram_endpoint(Server, local_addr=("127.0.0.1", 0))
        addr = st.get_extra_info("sockname")
        ct, client = await loop.create_datagram_endpoint(
            lambda: Client(loop, n), remote_addr=addr
        )
        return st, ct, client

    return _run_lockstep(loop, n, open_pair)


# --------------------------------------------------------------------------
# Subprocess workloads


@workload
def subprocess_spawn(new_loop, scale):
    """2,000 children, /bin/true and /bin/false alternately, 16 at a time,
    through asyncio.create_subprocess_exec and Process.wait(); every return
    code is checked.  Measures the spawn, the child's exit watch and the
    reaping (the fork/exec itself costs the same on every loop)."""
    n = scaled(2_000, scale)
    width = 16
    loop = new_loop()
    programs = ("/bin/true", "/bin/false")

    async def lane(start):
        codes = []
        for i in range(start, n, width):
            proc = await asyncio.create_subprocess_exec(programs[i % 2])
            codes.append((i, await proc.wait()))
        return codes

    async def main():
        lanes = await asyncio.gather(*[lane(k) for k in range(width)])
        return sorted(c for codes in lanes for c in codes)

    result, seconds = timed(loop, main())
    check(result == [(i, i % 2) for i in range(n)], "wrong or missing return codes")
    return Result(n, seconds)


@workload(unit="MiB/s")
def tls_echo(new_loop, scale):
    """TLS echo inside the loop: a start_server(ssl=...) echo server and 8
    open_connection(ssl=...) clients, each sending 64 KiB messages and
    reading each echo back before the next (256 MiB each way in all); every
    echoed byte is checked.  Both ends' TLS runs on the loop under test, so
    this is the loop's TLS cost twice over (asyncio's SSL protocol on every
    implementation but uvloop, which has its own).  Certificates: CPython's
    test data (test.test_asyncio.utils)."""
    from test.test_asyncio import utils as test_utils

    server_ctx = test_utils.simple_server_sslcontext()
    client_ctx = test_utils.simple_client_sslcontext()
    size, nconn = 64 * 1024, 8
    rounds = scaled(512, scale, minimum=16)  # 16 rounds: 8 MiB
    loop = new_loop()
    messages = [bytes([i]) * size for i in range(nconn)]

    async def echo(reader, writer):
        while data := await reader.read(256 * 1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def client(port, message):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ctx
        )
        good = 0
        for _ in range(rounds):
            writer.write(message)
            good += await reader.readexactly(size) == message
        writer.close()
        return good

    async def main():
        server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        t0 = time.perf_counter()
        good = await asyncio.gather(*[client(port, m) for m in messages])
        seconds = time.perf_counter() - t0
        server.close()
        return good, seconds

    (good, seconds), _ = timed(loop, main())
    check(good == [rounds] * nconn, "an echo differed from what was sent")
    return Result(round(rounds * nconn * size / 2**20), seconds)


@workload(unit="MiB/s")
def pipe_throughput(new_loop, scale):
    """512 MiB through one os.pipe() inside the loop: a connect_write_pipe
    transport writes 64 KiB chunks, pausing at its high-water mark, and a
    connect_read_pipe transport reads them; the byte count and a sum over
    the first byte of every chunk received are checked."""
    chunk_size = 64 * 1024
    nchunks = scaled(8192, scale, minimum=16)  # 16 chunks: 1 MiB, one op
    loop = new_loop()
    chunks = [bytes([i % 251]) * chunk_size for i in range(251)]

    class Reader(asyncio.Protocol):
        def __init__(self):
            self.received = 0
            self.firsts = 0
            self.done = loop.create_future()

        def data_received(self, data):
            # A read may split or join chunks: sum the first byte of each
            # chunk by position.
            start = self.received
            self.received += len(data)
            first = -(-start // chunk_size) * chunk_size
            for pos in range(first, self.received, chunk_size):
                self.firsts += data[pos - start]

        def connection_lost(self, exc):
            self.done.set_result(exc)

    class Writer(asyncio.Protocol):
        def __init__(self):
            self.can_write = loop.create_future()
            self.can_write.set_result(None)

        def pause_writing(self):
            self.can_write = loop.create_future()

        def resume_writing(self):
            self.can_write.set_result(None)

    async def main():
        r, w = os.pipe()
        reader = Reader()
        await loop.connect_read_pipe(lambda: reader, os.fdopen(r, "rb", 0))
        wt, writer = await loop.connect_write_pipe(Writer, os.fdopen(w, "wb", 0))
        for i in range(nchunks):
            await writer.can_write
            wt.write(chunks[i % 251])
        wt.close()
        check(await reader.done is None, "the read pipe closed with an error")
        return reader.received, reader.firsts

    (received, firsts), seconds = timed(loop, main())
    check(received == nchunks * chunk_size, f"received {received} bytes")
    check(firsts == sum(i % 251 for i in range(nchunks)), "chunks out of order")
    return Result(nchunks * chunk_size // (1024 * 1024), seconds)


# --------------------------------------------------------------------------
# Implementations: name -> () -> (loop factory, description)


def _load_casyncio():
    # Prefer an in-tree build (python setup.py build_ext --inplace) that has
    # an extension for this interpreter; otherwise use an installed casyncio.
    pkg = REPO_ROOT / "casyncio"
    in_tree = any(
        (pkg / f"_core{suffix}").exists()
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
    )
    if in_tree and str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    try:
        import casyncio
    except ImportError as e:
        raise ImportError(
            f"{e} (build it in the tree with `python setup.py build_ext "
            "--inplace`, or install it with `pip install .`)"
        ) from e
    where = Path(casyncio.__file__).resolve().parent
    how = "in-tree build" if where == pkg.resolve() else "installed"
    version = getattr(casyncio, "__version__", "?")
    return casyncio.new_event_loop, f"casyncio {version} ({how}, {where})"


def _load_casyncio_accel():
    # casyncio's loop with casyncio.accelerate(): asyncio.gather & co. are
    # casyncio's C versions (the workloads call them as asyncio.<name>).
    factory, description = _load_casyncio()
    import casyncio

    names = ", ".join(casyncio.accelerate())
    return factory, f"{description}, accelerated: {names}"


def _load_asyncio():
    return asyncio.SelectorEventLoop, "asyncio (SelectorEventLoop)"


def _load_uvloop():
    import uvloop

    return uvloop.new_event_loop, f"uvloop {uvloop.__version__}"


IMPLS: dict[str, Callable[[], tuple[Callable[[], Any], str]]] = {
    "casyncio": _load_casyncio,
    "casyncio-accel": _load_casyncio_accel,
    "asyncio": _load_asyncio,
    "uvloop": _load_uvloop,
}


# --------------------------------------------------------------------------
# Running one workload


def read_scale() -> float:
    raw = os.environ.get(SCALE_ENV, "1.0")
    try:
        scale = float(raw)
    except ValueError:
        scale = -1.0
    if not (scale > 0 and math.isfinite(scale)):
        raise SystemExit(f"{SCALE_ENV}={raw!r}: expected a positive number")
    return scale


def _format_context(context: dict) -> str:
    text = str(context.get("message", "unhandled error in the loop"))
    exc = context.get("exception")
    if exc is not None:
        text += "\n" + "".join(traceback.format_exception(exc)).rstrip()
    return text


def run_once(wl: Workload, factory: Callable[[], Any], scale: float) -> Result:
    """Run a workload once on loops made by `factory` and return its Result.

    Loops are given an exception handler that records the error and stops the
    loop (a callback that raised is a failure, not something to log and
    forget), and are closed afterwards.
    """
    loops: list = []
    errors: list[dict] = []

    def handler(loop, context):
        errors.append(context)
        loop.stop()

    def new_loop():
        loop = factory()
        loop.set_exception_handler(handler)
        loops.append(loop)
        return loop

    gc.collect()
    try:
        result = wl.fn(new_loop, scale)
    except BaseException as e:
        if errors:
            raise BenchError(
                "error reported to the loop's exception handler:\n"
                + _format_context(errors[0])
            ) from e
        raise
    finally:
        for loop in loops:
            if not loop.is_closed():
                loop.close()
    if errors:
        raise BenchError(
            "error reported to the loop's exception handler:\n"
            + _format_context(errors[0])
        )
    check(isinstance(result, Result), f"workload returned {result!r}, not a Result")
    check(result.ops > 0 and result.seconds > 0, f"bad result {result!r}")
    return result


def run_limit(name: str, scale: float) -> Result:
    result = LIMITS[name](scale)
    check(result.ops > 0 and result.seconds > 0, f"bad result {result!r}")
    return result


def run_child(impl: str, name: str) -> dict:
    wl = WORKLOADS[name]
    scale = read_scale()
    if impl == LIMIT:
        description = LIMITS[name].__doc__.split("(")[0].strip()
        run_limit(name, scale * WARMUP_FRACTION)
        result = run_limit(name, scale)
    else:
        factory, description = IMPLS[impl]()
        run_once(wl, factory, scale * WARMUP_FRACTION)
        result = run_once(wl, factory, scale)
    return {
        "impl": impl,
        "workload": name,
        "value": result.ops / result.seconds,
        "unit": wl.unit,
        "ops": result.ops,
        "seconds": result.seconds,
        "scale": scale,
        "impl_description": description,
        "python": platform.python_version(),
    }


def probe_limit() -> dict:
    """Whether the limits can be built here (they need a C compiler)."""
    try:
        roundrobin.build()
    except roundrobin.BuildError as e:
        return {"ok": False, "missing": True, "error": str(e)}
    return {
        "ok": True,
        "description": "the same coroutines without a loop, for "
        + ", ".join(LIMITS)
        + " (a C round-robin built with the system compiler)",
    }


def probe(names: list[str]) -> dict:
    """Whether each implementation imports and makes a loop here."""
    out = {}
    for name in names:
        if name == LIMIT:
            out[name] = probe_limit()
            continue
        try:
            factory, description = IMPLS[name]()
            factory().close()
            out[name] = {"ok": True, "description": description}
        except Exception as e:  # noqa: BLE001 - any failure means unusable
            out[name] = {
                "ok": False,
                "missing": isinstance(e, ModuleNotFoundError),
                "error": f"{type(e).__name__}: {e}",
            }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--impl", choices=sorted([*IMPLS, LIMIT]))
    p.add_argument("--workload", metavar="NAME")
    p.add_argument(
        "--timeout",
        type=float,
        default=0,
        help="dump all threads' tracebacks and exit after this many seconds",
    )
    p.add_argument("--list", action="store_true", help="list the workloads")
    p.add_argument("--probe", metavar="IMPLS", help="check these implementations")
    args = p.parse_args(argv)

    if args.list:
        for wl in WORKLOADS.values():
            print(f"{wl.name:<22} {wl.doc}")
        return 0
    if args.probe is not None:
        names = [s for s in args.probe.split(",") if s]
        unknown = [s for s in names if s not in IMPLS and s != LIMIT]
        if unknown:
            p.error(f"unknown implementations {unknown}; known: {sorted(IMPLS)}")
        print(json.dumps(probe(names)), flush=True)
        return 0
    if not args.impl or not args.workload:
        p.error("--impl and --workload are required (or --list / --probe)")
    if args.workload not in WORKLOADS:
        p.error(f"unknown workload {args.workload!r}; known: {', '.join(WORKLOADS)}")
    if args.impl == LIMIT and args.workload not in LIMITS:
        p.error(f"{args.workload} has no limit; these do: {', '.join(LIMITS)}")
    if args.timeout > 0:
        faulthandler.dump_traceback_later(args.timeout, exit=True)
    from servers import settle_malloc

    settle_malloc()  # glibc's malloc in the same state for every implementation
    record = run_child(args.impl, args.workload)
    faulthandler.cancel_dump_traceback_later()
    print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
