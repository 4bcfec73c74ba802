"""loop.run_in_executor with a thread pool and a process pool.

Blocking I/O belongs in a ThreadPoolExecutor: the threads spend their time
waiting, so they overlap well. CPU-bound work belongs in a
ProcessPoolExecutor: separate processes are not held back by the GIL. In
both cases the coroutine awaits a future while the loop stays free.
"""

import asyncio
import concurrent.futures
import os
import time
from functools import partial

SCALE = float(os.environ.get("CASYNCIO_EXAMPLE_SCALE", "1"))


def blocking_io(job_id, seconds):
    # Stands in for a blocking read or a call to a synchronous client.
    time.sleep(seconds * SCALE)
    return f"io job {job_id} done"


def cpu_bound(job_id, n):
    # A small CPU-bound computation. It runs in a child process, so it must
    # be a module-level function that can be pickled.
    return job_id, sum(i * i for i in range(n))


async def main():
    loop = asyncio.get_running_loop()

    # The process pool comes first, before any thread has been started,
    # because forking a process that already runs threads is discouraged.
    print("--- cpu-bound work in a process pool")
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
        jobs = [loop.run_in_executor(pool, cpu_bound, i, 20_000 * i) for i in range(4)]
        for job_id, total in await asyncio.gather(*jobs):
            print(f"cpu job {job_id}: {total}")

    print("--- blocking io in a thread pool")
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        start = time.perf_counter()
        # run_in_executor passes positional arguments only; use
        # functools.partial to pass keyword arguments.
        jobs = [
            loop.run_in_executor(pool, partial(blocking_io, i, seconds=2))
            for i in range(4)
        ]
        print(await asyncio.gather(*jobs))
        # Four 2-second jobs on four threads take 2 seconds, not 8.
        print(
            f"4 io jobs on 4 threads took {(time.perf_counter() - start) / SCALE:.1f}s"
        )


if __name__ == "__main__":
    asyncio.run(main())
