"""run_in_executor, to_thread, the default executor and its shutdown."""

import asyncio
import concurrent.futures
import contextvars
import os
import signal
import sys
import threading
import time

import pytest
import support

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


# ---- the default executor's own behaviour (a C pool on casyncio) ----


def _default_max_workers():
    """ThreadPoolExecutor's default number of workers."""
    cpus = os.process_cpu_count() if sys.version_info >= (3, 13) else os.cpu_count()
    return min(32, (cpus or 1) + 4)


class _Gate:
    """Blocks `n` executor jobs until released, and tells when all started."""

    def __init__(self, n):
        self.n = n
        self.started = threading.Semaphore(0)
        self.release = threading.Event()

    def job(self, value=None):
        self.started.release()
        assert self.release.wait(10)
        return value

    def wait_started(self):
        for _ in range(self.n):
            assert self.started.acquire(timeout=10)


def test_default_executor_threads_are_named_asyncio_n(run):
    async def main():
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: threading.current_thread())

    thread = run(main())
    assert thread.name.startswith("asyncio_")
    assert thread.name.removeprefix("asyncio_").isdigit()
    assert not thread.daemon


def test_default_executor_result_and_exception_types(run):
    class Stop(BaseException):
        pass

    def fail(exc):
        raise exc

    async def main():
        loop = asyncio.get_running_loop()
        outcomes = [await loop.run_in_executor(None, divmod, 7, 2)]
        for exc in (ValueError("v"), Stop("base")):
            try:
                await loop.run_in_executor(None, fail, exc)
            except BaseException as caught:  # noqa: BLE001
                outcomes.append(caught)
        return outcomes

    result, value_error, stop = run(main())
    assert result == (3, 1)
    assert type(value_error) is ValueError and value_error.args == ("v",)
    assert type(stop) is Stop and stop.args == ("base",)


def test_default_executor_runs_without_the_callers_context(run):
    """run_in_executor (unlike to_thread) does not carry contextvars over."""

    async def main():
        var.set("in coroutine")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, var.get)

    assert run(main()) == "unset"


def test_cancel_before_a_worker_takes_the_item_never_runs_fn(loop):
    gate = _Gate(_default_max_workers())
    ran = []

    async def main():
        busy = [loop.run_in_executor(None, gate.job, i) for i in range(gate.n)]
        gate.wait_started()  # blocks the loop, not the workers
        fut = loop.run_in_executor(None, ran.append, "ran")
        assert fut.cancel()
        await asyncio.sleep(0.02)  # asyncio cancels the concurrent future here
        gate.release.set()
        assert await asyncio.gather(*busy) == list(range(gate.n))
        # One more round trip: every worker has taken what was queued.
        await asyncio.gather(*[loop.run_in_executor(None, int) for _ in range(gate.n)])
        return fut

    fut = loop.run_until_complete(main())
    assert fut.cancelled()
    assert ran == []


def test_cancel_while_fn_runs_drops_its_outcome(loop):
    started = threading.Event()
    release = threading.Event()
    finished = []

    def job():
        started.set()
        assert release.wait(10)
        finished.append(True)
        return "dropped"

    async def main():
        fut = loop.run_in_executor(None, job)
        assert await loop.run_in_executor(None, started.wait, 10)
        assert fut.cancel()
        release.set()
        while not finished:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)  # the outcome's delivery comes and goes
        return fut

    fut = loop.run_until_complete(main())
    assert finished == [True]
    assert fut.cancelled()


def test_more_calls_than_workers_all_complete(run):
    names = set()

    def job(i):
        names.add(threading.current_thread().name)
        time.sleep(0.001)
        return i * i

    async def main():
        n = 4 * _default_max_workers() + 3
        calls = [asyncio.to_thread(job, i) for i in range(n)]
        return n, await asyncio.gather(*calls)

    n, results = run(main())
    assert results == [i * i for i in range(n)]
    assert 1 <= len(names) <= _default_max_workers()


def test_to_thread_contextvars_are_a_copy(run):
    def change():
        seen = var.get()
        var.set("changed in thread")
        return seen

    async def main():
        var.set("outer")
        seen = await asyncio.to_thread(change)
        return seen, var.get()

    assert run(main()) == ("outer", "outer")


def test_close_with_work_running_and_queued(new_loop):
    """Closing the loop lets queued and running work finish (as
    ThreadPoolExecutor.shutdown(wait=False) does); the outcomes are dropped
    and the futures stay pending."""
    loop = new_loop()
    gate = _Gate(_default_max_workers())
    ran = []

    busy = [loop.run_in_executor(None, gate.job, i) for i in range(gate.n)]
    gate.wait_started()
    queued = [loop.run_in_executor(None, ran.append, i) for i in range(5)]
    workers = [t for t in threading.enumerate() if t.name.startswith("asyncio_")]
    loop.close()
    gate.release.set()
    for t in workers:
        t.join(10)
    assert not any(t.is_alive() for t in workers)
    assert sorted(ran) == list(range(5))
    assert not any(f.done() for f in busy + queued)
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.run_in_executor(None, int)


def test_shutdown_default_executor_waits_for_queued_work(loop):
    n = 2 * _default_max_workers()
    done = []

    def job(i):
        time.sleep(0.005)
        done.append(i)

    async def main():
        futs = [loop.run_in_executor(None, job, i) for i in range(n)]
        await loop.shutdown_default_executor()
        finished = sorted(done)
        await asyncio.gather(*futs)
        return finished

    assert loop.run_until_complete(main()) == list(range(n))
    assert not [t for t in threading.enumerate() if t.name.startswith("asyncio_")]


def test_set_default_executor_after_the_default_pool_was_used(run):
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="switched"
    )

    def name():
        return threading.current_thread().name

    async def main():
        loop = asyncio.get_running_loop()
        before = await loop.run_in_executor(None, name)
        loop.set_default_executor(pool)
        after = await loop.run_in_executor(None, name)
        return before, after

    try:
        before, after = run(main())
    finally:
        pool.shutdown(wait=True)
    assert before.startswith("asyncio_")
    assert after.startswith("switched")


_EXIT_SCRIPT = """
import asyncio, sys, time
impl = sys.argv[1]
if impl == "casyncio":
    import casyncio
    loop = casyncio.new_event_loop()
else:
    loop = asyncio.SelectorEventLoop()
asyncio.set_event_loop(loop)

def slow():
    time.sleep(0.2)
    print("slow job finished", flush=True)

async def main():
    # Several idle workers, and one job still running when main returns.
    await asyncio.gather(*[asyncio.to_thread(time.sleep, 0.01) for _ in range(4)])
    loop.run_in_executor(None, slow)

loop.run_until_complete(main())
print("main done", flush=True)
"""


def _run_script(script, impl):
    """Run `script` in a fresh interpreter with the implementation's name as
    its argument; the CompletedProcess, output captured as text."""
    return support.run_python(["-c", script, impl])


def test_exit_with_an_idle_pool_is_prompt_and_finishes_running_work(impl):
    started = time.monotonic()
    proc = _run_script(_EXIT_SCRIPT, impl)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["main done", "slow job finished"]
    assert elapsed < 10


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.skipif(support.UNDER_ASAN, reason="fork of a threaded process under ASan")
@pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)
def test_fork_child_can_use_to_thread(new_loop, impl):
    """A child forked while the parent's default executor has idle workers
    uses to_thread on a new loop; the parent's pool goes on working."""
    loop = new_loop()
    loop_type = type(loop)
    loop.run_until_complete(asyncio.to_thread(int))

    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            with asyncio.Runner(loop_factory=loop_type) as runner:
                code = 0 if runner.run(asyncio.to_thread(sum, [1, 2, 3])) == 6 else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert loop.run_until_complete(asyncio.to_thread(int, "8")) == 8


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.skipif(support.UNDER_ASAN, reason="fork of a threaded process under ASan")
@pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)
def test_fork_child_reuses_the_parents_loop_default_pool():
    """casyncio only: stock asyncio's ThreadPoolExecutor hangs here (its idle
    semaphore counts the parent's workers, so the child starts none).  The
    C pool notices the new pid and starts the child's own workers."""
    import casyncio

    loop = casyncio.new_event_loop()
    try:
        assert loop.run_until_complete(loop.run_in_executor(None, int, "4")) == 4
        pid = os.fork()
        if pid == 0:
            code = 2
            try:
                signal.alarm(10)
                fut = loop.run_in_executor(None, threading.current_thread)
                thread = loop.run_until_complete(fut)
                loop.run_until_complete(loop.shutdown_default_executor())
                code = 0 if thread.name == "asyncio_0" and not thread.is_alive() else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert loop.run_until_complete(loop.run_in_executor(None, int, "6")) == 6
    finally:
        loop.close()


def test_concurrent_cancelled_error_arrives_as_asyncio_cancelled_error(run):
    """As wrap_future converts it: the future is done with the exception,
    not cancelled."""

    def fail():
        raise concurrent.futures.CancelledError("from worker")

    async def main():
        fut = asyncio.get_running_loop().run_in_executor(None, fail)
        try:
            await fut
        except asyncio.CancelledError as exc:
            return (
                type(exc),
                exc.args,
                fut.cancelled(),
                asyncio.current_task().cancelling(),
            )

    assert run(main()) == (asyncio.CancelledError, ("from worker",), False, 0)


_LATE_SUBMIT_SCRIPT = """
import asyncio, sys, threading, time
impl = sys.argv[1]
if impl == "casyncio":
    import casyncio
    new_loop = casyncio.new_event_loop
else:
    new_loop = asyncio.SelectorEventLoop
used, fresh = new_loop(), new_loop()
used.run_until_complete(used.run_in_executor(None, int))

def late():
    # Runs on while the main thread exits: after threading's exit hooks.
    time.sleep(0.3)
    for loop in (used, fresh):
        try:
            loop.run_in_executor(None, int)
        except RuntimeError as exc:
            print(exc, flush=True)

threading.Thread(target=late).start()
"""


def test_submit_after_interpreter_exit_began_is_refused_as_by_stock(impl):
    proc = _run_script(_LATE_SUBMIT_SCRIPT, impl)
    assert proc.returncode == 0, proc.stderr
    # The loop whose pool existed says "after shutdown" (ThreadPoolExecutor's
    # workers mark it shut down as they leave); a new pool says why.
    assert proc.stdout.splitlines() == [
        "cannot schedule new futures after shutdown",
        "cannot schedule new futures after interpreter shutdown",
    ]
