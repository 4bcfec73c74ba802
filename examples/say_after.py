"""The say_after examples: awaiting, creating tasks, and forgetting to await.

The same coroutine is used four ways: awaited directly (sequential),
wrapped in tasks created together (concurrent), wrapped in tasks that are
each awaited right after being created (sequential again), and started as
tasks that are never awaited (cancelled when asyncio.run finishes).
"""

import asyncio
import os
import time

SCALE = float(os.environ.get("CASYNCIO_EXAMPLE_SCALE", "1"))


async def say_after(delay, what):
    print(f"  start say_after({delay}, {what!r})")
    await asyncio.sleep(delay * SCALE)
    print(f"  {what}")


async def awaited_directly():
    # Each call runs to completion before the next one starts: 1 + 2 seconds.
    await say_after(1, "hello")
    await say_after(2, "world")


async def tasks_created_together():
    # Both tasks are scheduled before either is awaited: max(1, 2) seconds.
    task1 = asyncio.create_task(say_after(1, "hello"))
    task2 = asyncio.create_task(say_after(2, "world"))
    await task1
    await task2


async def tasks_awaited_one_by_one():
    # task2 does not exist yet while task1 runs, so this is sequential again.
    task1 = asyncio.create_task(say_after(1, "hello"))
    await task1
    task2 = asyncio.create_task(say_after(2, "world"))
    await task2


async def tasks_never_awaited():
    # The tasks are scheduled, but this coroutine returns at once. They get
    # to start only after it has finished, and asyncio.run cancels them
    # while they sleep, so "hello" and "world" are never said.
    PENDING.append(asyncio.create_task(say_after(1, "hello")))
    PENDING.append(asyncio.create_task(say_after(2, "world")))


PENDING: list[
    asyncio.Task[None]
] = []  # holds the tasks; the loop itself only keeps weak references


async def main():
    for variant in [awaited_directly, tasks_created_together, tasks_awaited_one_by_one]:
        print(f"--- {variant.__name__}")
        start = time.perf_counter()
        await variant()
        print(f"{variant.__name__} took {(time.perf_counter() - start) / SCALE:.1f}s")

    print("--- tasks_never_awaited (the last thing main() does)")
    start = time.perf_counter()
    await tasks_never_awaited()
    print(f"tasks_never_awaited took {(time.perf_counter() - start) / SCALE:.1f}s")


if __name__ == "__main__":
    asyncio.run(main())
