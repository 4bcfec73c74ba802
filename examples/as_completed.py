"""asyncio.as_completed yields results in the order they finish.

gather returns results in argument order once everything is done; looping
over as_completed lets you handle each result as soon as it is ready.
"""

import asyncio
import os
import time

SCALE = float(os.environ.get("CASYNCIO_EXAMPLE_SCALE", "1"))


async def task(name, delay):
    await asyncio.sleep(delay * SCALE)
    return f"{name} completed"


def make_tasks():
    return [task("Task A", 2), task("Task B", 1), task("Task C", 3)]


async def main():
    print("--- gather: argument order, all at once")
    start = time.perf_counter()
    print(await asyncio.gather(*make_tasks()))
    print(f"gather took {(time.perf_counter() - start) / SCALE:.1f}s")

    print("--- as_completed: completion order, one by one")
    start = time.perf_counter()
    for i, next_done in enumerate(asyncio.as_completed(make_tasks()), 1):
        result = await next_done
        print(f"{i}: {result}")
    print(f"as_completed took {(time.perf_counter() - start) / SCALE:.1f}s")

    print("--- as_completed with a timeout")
    try:
        for next_done in asyncio.as_completed(make_tasks(), timeout=1.5 * SCALE):
            print(await next_done)
    except TimeoutError:
        # Tasks still running at the timeout are left running by as_completed;
        # they are cancelled here when asyncio.run finishes.
        print("timed out waiting for the rest")


if __name__ == "__main__":
    asyncio.run(main())
