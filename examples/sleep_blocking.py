"""time.sleep blocks the whole event loop; asyncio.sleep does not.

Two tasks are started and should finish after 1 and 2 seconds. If the main
coroutine then calls time.sleep(3), the loop cannot run anything during
those 3 seconds, so both tasks only finish once it returns. With
await asyncio.sleep(3) instead, the tasks finish on time.
"""

import asyncio
import os
import time

SCALE = float(os.environ.get("CASYNCIO_EXAMPLE_SCALE", "1"))


async def say_after(start, delay, what):
    print(f"  start say_after({delay}, {what!r})")
    await asyncio.sleep(delay * SCALE)
    # The time is measured from the start of the whole run.
    print(f"  {what}: took {(time.perf_counter() - start) / SCALE:.1f}s to be said")


async def run(blocking):
    start = time.perf_counter()
    task1 = asyncio.create_task(say_after(start, 1, "hello"))
    task2 = asyncio.create_task(say_after(start, 2, "world"))
    # Yield to the loop once so that both tasks get to start.
    await asyncio.sleep(0)
    if blocking:
        # Wrong: nothing else can run while time.sleep blocks the thread.
        time.sleep(3 * SCALE)  # noqa: ASYNC251
    else:
        # Right: the loop runs the two tasks while main waits.
        await asyncio.sleep(3 * SCALE)
    print("  main coroutine resumes")
    await task1
    await task2
    print(f"  total: took {(time.perf_counter() - start) / SCALE:.1f}s")


async def main():
    print("--- with time.sleep(3)")
    await run(blocking=True)
    print("--- with await asyncio.sleep(3)")
    await run(blocking=False)


if __name__ == "__main__":
    asyncio.run(main())
