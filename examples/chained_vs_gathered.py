"""Chained awaits run one after another; gather runs coroutines concurrently.

Awaiting coroutines one by one takes the sum of their delays, while
asyncio.gather starts them all together and takes only as long as the
slowest one.
"""

import asyncio
import os
import time

# Every delay is multiplied by this factor (the tests run with a small one).
SCALE = float(os.environ.get("CASYNCIO_EXAMPLE_SCALE", "1"))


async def fetch(name, delay):
    # Pretend to wait for some I/O, then return a result.
    print(f"{name}: start (needs {delay}s)")
    await asyncio.sleep(delay * SCALE)
    print(f"{name}: done")
    return f"{name} result"


async def chained():
    # Each await finishes before the next coroutine even starts.
    a = await fetch("A", 1)
    b = await fetch("B", 2)
    c = await fetch("C", 3)
    return [a, b, c]


async def gathered():
    # gather wraps each coroutine in a task, so all three wait at the same time.
    # The results come back in argument order, not in completion order.
    return await asyncio.gather(fetch("A", 1), fetch("B", 2), fetch("C", 3))


async def main():
    for label, variant in [("chained", chained), ("gathered", gathered)]:
        print(f"--- {label}")
        start = time.perf_counter()
        results = await variant()
        elapsed = (time.perf_counter() - start) / SCALE
        print(f"{label} results: {results}")
        print(f"{label} took {elapsed:.1f}s")


if __name__ == "__main__":
    asyncio.run(main())
