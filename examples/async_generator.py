"""Async generators produce values that are consumed with `async for`.

An `async def` function containing `yield` is an asynchronous generator: it
can await between values, so the loop runs other work while the consumer
waits for the next item. The example also shows async comprehensions,
closing a generator early, and the loop cleaning up an abandoned one.
"""

import asyncio
import contextlib
import os
import time

SCALE = float(os.environ.get("CASYNCIO_EXAMPLE_SCALE", "1"))


async def ticker(count, delay=1):
    # Yield count numbers, one every `delay` seconds.
    try:
        for i in range(count):
            await asyncio.sleep(delay * SCALE)  # simulate an I/O-bound wait
            yield i
    finally:
        # Runs when the generator is exhausted, closed or garbage-collected.
        print(f"  ticker({count}) cleaned up")


async def main():
    print("--- async for")
    start = time.perf_counter()
    async for item in ticker(3):
        print(f"received: {item}")
    print(f"async for took {(time.perf_counter() - start) / SCALE:.1f}s")

    print("--- async comprehension")
    squares = [i * i async for i in ticker(4, delay=0.5) if i % 2 == 0]
    print(f"squares of the even items: {squares}")

    print("--- stopping early")
    # aclosing() closes the generator as soon as the block is left, so its
    # cleanup happens here and not at some later point.
    async with contextlib.aclosing(ticker(10, delay=0.5)) as gen:
        async for item in gen:
            print(f"received: {item}")
            if item == 1:
                break
    print("left the loop early")

    print("--- abandoned generator")
    # This generator is paused mid-way and never closed. asyncio.run keeps
    # track of such generators and closes them when main() returns.
    abandoned = ticker(5, delay=0.5)
    print(f"first item: {await anext(abandoned)}")
    ABANDONED.append(abandoned)  # keep it alive until the loop shuts down
    print("main() returns")


ABANDONED: list[object] = []

if __name__ == "__main__":
    asyncio.run(main())
