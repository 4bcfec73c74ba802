"""Each task runs in its own copy of the context variables.

A ContextVar behaves like a global whose value depends on the task reading
it. A task starts with a copy of its creator's context, so it sees values
set before it was created, but what it sets stays private to it.
"""

import asyncio
import contextvars
import os
import time

SCALE = float(os.environ.get("CASYNCIO_EXAMPLE_SCALE", "1"))

request_id = contextvars.ContextVar("request_id", default="unset")


async def log(message):
    # A helper deep in the call stack reads the value without any argument.
    print(f"[request {request_id.get()}] {message}")


async def handle(uid):
    request_id.set(f"r{uid}")
    await log("started")
    # While this task sleeps, the others set their own values.
    await asyncio.sleep(uid * SCALE)
    await log(f"finished after {uid}s")


async def main():
    start = time.perf_counter()
    await asyncio.gather(handle(1), handle(2), handle(3))
    print(f"gather took {(time.perf_counter() - start) / SCALE:.1f}s")

    # The tasks' values did not leak out into main.
    await log("main after the gather")

    # A task inherits the value main had when the task was created...
    request_id.set("main")
    child = asyncio.create_task(log("child task sees main's value"))
    await child

    # ...and any later change made by the task stays inside the task.
    async def change():
        request_id.set("changed-by-child")
        await log("child task changed it")

    await asyncio.create_task(change())
    await log("main still has its own value")

    # A task can also be given an explicit context to run in.
    ctx = contextvars.copy_context()
    ctx.run(request_id.set, "explicit")
    await asyncio.create_task(log("task with an explicit context"), context=ctx)
    print(f"the explicit context now holds: {ctx[request_id]}")


if __name__ == "__main__":
    asyncio.run(main())
