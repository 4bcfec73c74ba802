"""asyncio.TaskGroup (Python 3.11+) waits for all of its tasks.

Leaving the `async with` block waits until every task created in the group
has finished. If one task fails, the group cancels the others and raises
an ExceptionGroup, which `except*` can pick apart.
"""

import asyncio
import os
import time

SCALE = float(os.environ.get("CASYNCIO_EXAMPLE_SCALE", "1"))


async def count(name, n):
    # Count to n, one step per second.
    for i in range(1, n + 1):
        await asyncio.sleep(1 * SCALE)
        print(f"{name}: {i}/{n}")
    return n


async def fail_after(delay):
    await asyncio.sleep(delay * SCALE)
    print("failing task: raising ValueError")
    raise ValueError("something went wrong")


async def slow_worker():
    try:
        await asyncio.sleep(3 * SCALE)
        print("slow worker: finished")  # never reached
    except asyncio.CancelledError:
        print("slow worker: cancelled by the task group")
        raise  # always let cancellation propagate


async def main():
    print("--- all tasks succeed")
    start = time.perf_counter()
    # The seed notes wrote `with asyncio.TaskGroup()`; it must be `async with`.
    async with asyncio.TaskGroup() as tg:
        # The steps are offset by half a second so their output never ties.
        short = tg.create_task(count("short", 2))
        await asyncio.sleep(0.5 * SCALE)
        long = tg.create_task(count("long", 3))
    # Both tasks have completed here.
    print(f"results: {short.result()}, {long.result()}")
    print(f"group took {(time.perf_counter() - start) / SCALE:.1f}s")

    print("--- one task fails")
    start = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(slow_worker())
            tg.create_task(fail_after(1))
    except* ValueError as group:
        for exc in group.exceptions:
            print(f"caught: {type(exc).__name__}: {exc}")
    print(f"failing group took {(time.perf_counter() - start) / SCALE:.1f}s")


if __name__ == "__main__":
    asyncio.run(main())
