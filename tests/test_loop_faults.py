"""Faults around the loop: threads hammering call_soon_threadsafe while the
loop stops and closes, callbacks that stop or close their own loop, and a
fork from inside a running loop with a new loop in the child.  Written once
and run on casyncio and on stock asyncio.
"""

import asyncio
import os
import sys
import threading

import pytest
from support import UNDER_ASAN

THREADS = 8


def test_threadsafe_calls_from_8_threads_while_the_loop_stops_and_closes(new_loop):
    loop = new_loop()
    accepted = [0] * THREADS
    refused = [0] * THREADS
    ran = []
    go = threading.Event()
    errors = []

    def hammer(i):
        go.wait()
        while True:
            try:
                loop.call_soon_threadsafe(ran.append, i)
            except RuntimeError as exc:
                if str(exc) != "Event loop is closed":
                    errors.append(exc)
                refused[i] += 1
                return
            accepted[i] += 1

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    loop.call_soon(go.set)
    # Run a few passes, stop, run again, then close under the threads' fire.
    loop.call_later(0.05, loop.stop)
    loop.run_forever()
    loop.call_later(0.05, loop.stop)
    loop.run_forever()
    loop.close()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert refused == [1] * THREADS
    assert 0 < len(ran) <= sum(accepted)
    # Every thread's callbacks ran in the order that thread made them: the
    # ones that ran are a prefix of what each thread had accepted.
    for i in range(THREADS):
        assert ran.count(i) <= accepted[i]


def test_callback_that_stops_then_closes_its_loop(new_loop):
    loop = new_loop()
    calls = []

    def first():
        calls.append("first")
        loop.stop()

    loop.call_soon(first)
    loop.call_soon(calls.append, "same pass")
    loop.call_later(3600, calls.append, "never")
    loop.run_forever()
    assert calls == ["first", "same pass"]
    # close() from one of its own callbacks is refused; the error goes to
    # the exception handler and the loop goes on.
    handled = []
    loop.set_exception_handler(lambda lp, ctx: handled.append(ctx["exception"]))
    loop.call_soon(loop.close)
    loop.call_soon(calls.append, "after the refused close")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert [str(e) for e in handled] == ["Cannot close a running event loop"]
    assert type(handled[0]) is RuntimeError
    assert calls[-1] == "after the refused close"
    assert not loop.is_closed()
    loop.close()
    assert loop.is_closed()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.call_soon(calls.append, "after close")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
# ASan's runtime can deadlock in a child forked while other threads run.
@pytest.mark.skipif(UNDER_ASAN, reason="fork of a threaded process under ASan")
# 3.12+ warns when forking while other threads (an earlier test's executor
# workers, exiting) are alive; the child here only uses threads it starts.
@pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)
def test_fork_from_a_running_loop_then_a_new_loop_in_the_child(new_loop, impl):
    """The child of a fork made inside a running loop is not in a running
    loop; it makes a new loop of the same implementation and runs
    coroutines, timers and a thread on it."""
    loop = new_loop()
    loop_type = type(loop)

    async def child_main():
        assert asyncio.get_running_loop() is not loop
        assert type(asyncio.get_running_loop()) is loop_type
        await asyncio.sleep(0.01)
        return await asyncio.to_thread(sum, [1, 2, 3])

    def child():
        try:
            assert asyncio._get_running_loop() is None
            with asyncio.Runner(loop_factory=loop_type) as runner:
                code = 0 if runner.run(child_main()) == 6 else 3
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 2
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    status = []

    async def parent_main():
        pid = os.fork()
        if pid == 0:
            child()
        _, st = await asyncio.to_thread(os.waitpid, pid, 0)
        status.append(os.waitstatus_to_exitcode(st))
        # The parent's loop goes on as before.
        await asyncio.sleep(0.01)
        return "parent ok"

    assert loop.run_until_complete(parent_main()) == "parent ok"
    assert status == [0]
