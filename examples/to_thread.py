"""asyncio.to_thread runs a blocking function in a worker thread.

A plain blocking call (here time.sleep) inside a coroutine freezes the whole
event loop. asyncio.to_thread hands the call to a thread and gives back an
awaitable, so several blocking calls overlap and the loop stays responsive.
"""

import asyncio
import os
import time

SCALE = float(os.environ.get("CASYNCIO_EXAMPLE_SCALE", "1"))


def blocking_io(name, seconds):
    # An ordinary function that blocks, e.g. a legacy client library.
    # It does not print: output from threads would come in no fixed order.
    time.sleep(seconds * SCALE)
    return f"{name} slept {seconds}s"


async def heartbeat(beats):
    # Proves the loop keeps running while the threads are blocked.
    for i in range(1, beats + 1):
        await asyncio.sleep(0.5 * SCALE)
        print(f"heartbeat {i}")


async def main():
    print("--- blocking calls made directly in the coroutine")
    start = time.perf_counter()
    results = [blocking_io("A", 1), blocking_io("B", 2)]
    print(results)
    print(f"direct calls took {(time.perf_counter() - start) / SCALE:.1f}s")

    print("--- the same calls through asyncio.to_thread")
    start = time.perf_counter()
    # The seed notes misspelt this as asyncio.to_thead.
    _, a, b = await asyncio.gather(
        heartbeat(3),
        asyncio.to_thread(blocking_io, "A", 1),
        asyncio.to_thread(blocking_io, "B", 2),
    )
    print([a, b])
    print(f"to_thread calls took {(time.perf_counter() - start) / SCALE:.1f}s")


if __name__ == "__main__":
    asyncio.run(main())
