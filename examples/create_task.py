"""Coroutine objects are lazy; tasks start running as soon as they are created.

Calling a coroutine function only builds a coroutine object: nothing runs
until it is awaited, so awaiting two of them in turn is sequential.
asyncio.create_task schedules the coroutine on the event loop right away, so
two tasks wait concurrently, whichever order they are awaited in.
"""

import asyncio
import os
import time

SCALE = float(os.environ.get("CASYNCIO_EXAMPLE_SCALE", "1"))


async def fetch_data(param):
    print(f"  do something with {param}")
    await asyncio.sleep(param * SCALE)
    print(f"  done with {param}")
    return f"result of {param}"


async def plain_coroutines():
    # These are only coroutine objects: neither has started yet.
    coro1 = fetch_data(1)
    coro2 = fetch_data(2)
    result1 = await coro1  # coro1 runs to the end here...
    print("  coroutine 1 fully completed")
    result2 = await coro2  # ...and only then does coro2 begin.
    print("  coroutine 2 fully completed")
    return [result1, result2]


async def tasks_awaited_in_order():
    # Both tasks are scheduled now and start at the next chance the loop gets.
    task1 = asyncio.create_task(fetch_data(1))
    task2 = asyncio.create_task(fetch_data(2))
    result1 = await task1
    print("  task 1 fully completed")
    # task2 has already been waiting for a second, so this takes one more.
    result2 = await task2
    print("  task 2 fully completed")
    return [result1, result2]


async def tasks_awaited_in_reverse():
    # The loop runs whatever is ready: task1 still finishes first, but main
    # only learns about it after task2, because that is what it awaits first.
    task1 = asyncio.create_task(fetch_data(1))
    task2 = asyncio.create_task(fetch_data(2))
    result2 = await task2
    print("  task 2 fully completed")
    result1 = await task1
    print("  task 1 fully completed")
    return [result1, result2]


async def main():
    variants = [plain_coroutines, tasks_awaited_in_order, tasks_awaited_in_reverse]
    for variant in variants:
        print(f"--- {variant.__name__}")
        start = time.perf_counter()
        results = await variant()
        elapsed = (time.perf_counter() - start) / SCALE
        print(f"{results}")
        print(f"{variant.__name__} took {elapsed:.1f}s")


if __name__ == "__main__":
    asyncio.run(main())
