"""run_in_executor, to_thread, the default executor and its shutdown."""

import asyncio
import concurrent.futures
import contextvars
import sys
import threading
import time

import pytest

var = contextvars.ContextVar("var", default="unset")

needs_timeout_param = pytest.mark.skipif(
    sys.version_info < (3, 12),
    reason="shutdown_default_executor(timeout) is 3.12+",
)


def test_run_in_executor_returns_result(run):
    async def main():
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, pow, 2, 10)

    assert run(main()) == 1024


def test_run_in_executor_runs_in_another_thread(run):
    async def main():
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, threading.get_ident)

    assert run(main()) != threading.get_ident()


def test_run_in_executor_returns_asyncio_future(loop):
    fut = loop.run_in_executor(None, int, "7")
    assert asyncio.isfuture(fut)
    assert loop.run_until_complete(fut) == 7


def test_run_in_executor_propagates_exception(run):
    def fail(message):
        raise ValueError(message)

    async def main():
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, fail, "from thread")

    with pytest.raises(ValueError, match="from thread"):
        run(main())


def test_run_in_executor_with_explicit_executor_uses_it(run):
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="explicit-pool"
    ) as pool:

        async def main():
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                pool, lambda: threading.current_thread().name
            )

        assert run(main()).startswith("explicit-pool")


def test_to_thread_returns_result(run):
    async def main():
        return await asyncio.to_thread(lambda a, b=0: a + b, 40, b=2)

    assert run(main()) == 42


def test_to_thread_propagates_contextvars(run):
    async def main():
        var.set("from coroutine")
        return await asyncio.to_thread(var.get)

    assert run(main()) == "from coroutine"


def test_to_thread_propagates_exception(run):
    def fail():
        raise KeyError("in thread")

    async def main():
        await asyncio.to_thread(fail)

    with pytest.raises(KeyError):
        run(main())


def test_set_default_executor_is_used(run):
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="my-default"
    )

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(pool)
        return await loop.run_in_executor(None, lambda: threading.current_thread().name)

    try:
        assert run(main()).startswith("my-default")
    finally:
        pool.shutdown(wait=True)


def test_set_default_executor_is_used_by_to_thread(run):
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="to-thread-default"
    )

    async def main():
        asyncio.get_running_loop().set_default_executor(pool)
        return await asyncio.to_thread(lambda: threading.current_thread().name)

    try:
        assert run(main()).startswith("to-thread-default")
    finally:
        pool.shutdown(wait=True)


def test_set_default_executor_non_thread_pool_raises_type_error(loop):
    class NotAThreadPool(concurrent.futures.Executor):
        pass

    with pytest.raises(
        TypeError, match=r"^executor must be ThreadPoolExecutor instance$"
    ):
        loop.set_default_executor(NotAThreadPool())


def test_run_in_executor_after_shutdown_default_executor_raises(loop):
    loop.run_until_complete(loop.run_in_executor(None, int))
    loop.run_until_complete(loop.shutdown_default_executor())
    with pytest.raises(RuntimeError, match=r"^Executor shutdown has been called$"):
        loop.run_in_executor(None, int)


def test_shutdown_default_executor_before_any_use_blocks_later_use(loop):
    loop.run_until_complete(loop.shutdown_default_executor())
    with pytest.raises(RuntimeError, match=r"^Executor shutdown has been called$"):
        loop.run_in_executor(None, int)


def test_explicit_executor_still_usable_after_default_shutdown(loop):
    loop.run_until_complete(loop.shutdown_default_executor())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        assert loop.run_until_complete(loop.run_in_executor(pool, int, "5")) == 5


def test_shutdown_default_executor_waits_for_running_jobs(loop):
    done = []

    def job():
        time.sleep(0.05)
        done.append(True)

    async def main():
        loop.run_in_executor(None, job)
        await loop.shutdown_default_executor()
        return list(done)

    assert loop.run_until_complete(main()) == [True]


@needs_timeout_param
def test_shutdown_default_executor_accepts_timeout_keyword(loop):
    done = []

    def job():
        time.sleep(0.02)
        done.append(True)

    async def main():
        loop.run_in_executor(None, job)
        return await loop.shutdown_default_executor(timeout=5)

    assert loop.run_until_complete(main()) is None
    assert done == [True]
    with pytest.raises(RuntimeError):
        loop.run_in_executor(None, int)


@needs_timeout_param
def test_shutdown_default_executor_accepts_timeout_positionally(loop):
    loop.run_until_complete(loop.run_in_executor(None, int))
    assert loop.run_until_complete(loop.shutdown_default_executor(5)) is None
    with pytest.raises(RuntimeError):
        loop.run_in_executor(None, int)


@pytest.mark.skipif(
    sys.version_info < (3, 13),
    reason="3.12.1's shutdown_default_executor waits for the executor whatever "
    "the timeout, and only then joins its thread with it (never warns)",
)
def test_shutdown_default_executor_timeout_expiry_warns(loop):
    release = threading.Event()
    threads_before = set(threading.enumerate())

    async def main():
        loop.run_in_executor(None, release.wait, 5)
        await loop.shutdown_default_executor(timeout=0.02)

    try:
        with pytest.warns(RuntimeWarning, match="did not finishing joining"):
            loop.run_until_complete(main())
    finally:
        release.set()
        # Let the worker and the loop's joining thread finish (they report
        # to the loop) before the fixture closes the loop.
        for thread in set(threading.enumerate()) - threads_before:
            thread.join(5)
        loop.run_until_complete(asyncio.sleep(0.01))


def test_runner_joins_default_executor_threads(run):
    workers = []

    async def main():
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            None, lambda: workers.append(threading.current_thread())
        )

    run(main())
    assert len(workers) == 1
    assert not workers[0].is_alive()
