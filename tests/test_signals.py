"""add_signal_handler / remove_signal_handler, on both implementations.

Signals are sent to the test process itself (os.kill(os.getpid(), ...));
every test puts the dispositions of the signals it uses and the wakeup fd
back as they were.  Ctrl-C (SIGINT) runs in a fresh interpreter.
"""

import asyncio
import contextvars
import os
import signal
import subprocess
import sys
import textwrap
import threading
import warnings

import pytest
import support

USED = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGINT, signal.SIGCHLD)
var = contextvars.ContextVar("var", default="unset")


@pytest.fixture(autouse=True)
def restore_signals():
    saved = {sig: signal.getsignal(sig) for sig in USED}
    wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    signal.set_wakeup_fd(wakeup)


def kill_self(sig):
    os.kill(os.getpid(), sig)


def run_until(loop, predicate, timeout=5.0):
    """Run the loop until predicate() holds (checked every 10 ms)."""

    async def waiter():
        deadline = loop.time() + timeout
        while not predicate():
            assert loop.time() < deadline, "condition never became true"
            await asyncio.sleep(0.01)

    loop.run_until_complete(waiter())


def test_handler_runs_with_its_args_in_its_context(loop):
    got = []

    def handler(*args):
        got.append((args, var.get()))

    token = var.set("at add time")
    try:
        loop.add_signal_handler(signal.SIGUSR1, handler, "a", 2)
    finally:
        var.reset(token)
    loop.call_soon(kill_self, signal.SIGUSR1)
    run_until(loop, lambda: got)
    assert got == [(("a", 2), "at add time")]
    assert signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, signal.SIG_IGN)


def test_handler_runs_in_the_loop_not_in_the_signal_handler(loop):
    seen = []

    def handler():
        seen.append(asyncio.get_running_loop() is loop)

    loop.add_signal_handler(signal.SIGUSR1, handler)
    loop.call_soon(kill_self, signal.SIGUSR1)
    run_until(loop, lambda: seen)
    assert seen == [True]


def test_signal_from_another_thread_wakes_a_sleeping_loop(loop):
    got = []
    loop.add_signal_handler(signal.SIGUSR1, lambda: (got.append(1), loop.stop()))
    timer = threading.Timer(0.1, kill_self, (signal.SIGUSR1,))
    timer.start()
    guard = loop.call_later(10, loop.stop)
    loop.run_forever()
    guard.cancel()
    timer.join()
    assert got == [1]


def test_signal_between_runs_is_handled_at_the_next_run(loop):
    got = []
    loop.add_signal_handler(signal.SIGUSR1, got.append, "usr1")
    loop.run_until_complete(asyncio.sleep(0))
    kill_self(signal.SIGUSR1)  # the loop is not running
    assert got == []
    run_until(loop, lambda: got)
    assert got == ["usr1"]


def test_several_signals_at_once_each_run_their_handler(loop):
    got = []
    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP):
        loop.add_signal_handler(sig, got.append, sig)

    def send_all():
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP):
            kill_self(sig)

    loop.call_soon(send_all)
    run_until(loop, lambda: len(got) == 3)
    loop.run_until_complete(asyncio.sleep(0.05))
    assert sorted(got) == sorted([signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP])


def test_each_delivery_runs_the_handler(loop):
    got = []
    loop.add_signal_handler(signal.SIGUSR1, got.append, 1)
    for n in range(1, 4):
        loop.call_soon(kill_self, signal.SIGUSR1)
        run_until(loop, lambda n=n: len(got) == n)
    assert got == [1, 1, 1]


def test_replacing_a_handler(loop):
    got = []
    loop.add_signal_handler(signal.SIGUSR1, got.append, "first")
    loop.add_signal_handler(signal.SIGUSR1, got.append, "second")
    loop.call_soon(kill_self, signal.SIGUSR1)
    run_until(loop, lambda: got)
    loop.run_until_complete(asyncio.sleep(0.05))
    assert got == ["second"]


def test_remove_restores_the_default_and_says_whether_there_was_one(loop):
    loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert loop.remove_signal_handler(signal.SIGUSR1) is False
    assert loop.remove_signal_handler(signal.SIGUSR2) is False


def test_remove_sigint_restores_keyboard_interrupt(loop):
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    assert loop.remove_signal_handler(signal.SIGINT) is True
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_removed_handler_does_not_run(loop):
    got = []
    loop.add_signal_handler(signal.SIGUSR1, got.append, 1)
    loop.add_signal_handler(signal.SIGUSR2, got.append, 2)
    loop.remove_signal_handler(signal.SIGUSR1)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # SIG_DFL would kill us
    loop.call_soon(kill_self, signal.SIGUSR1)
    loop.call_soon(kill_self, signal.SIGUSR2)
    run_until(loop, lambda: got)
    loop.run_until_complete(asyncio.sleep(0.05))
    assert got == [2]


def test_last_removal_releases_the_wakeup_fd(loop):
    loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    assert signal.set_wakeup_fd(-1) != -1
    loop.add_signal_handler(signal.SIGUSR1, lambda: None)  # sets it again
    loop.remove_signal_handler(signal.SIGUSR1)
    assert signal.set_wakeup_fd(-1) == -1


def test_cancelled_handle_is_removed_when_its_signal_arrives(loop):
    got = []
    loop.add_signal_handler(signal.SIGUSR1, got.append, 1)
    loop.add_signal_handler(signal.SIGUSR2, got.append, 2)
    loop._signal_handlers[signal.SIGUSR1].cancel()
    loop.call_soon(kill_self, signal.SIGUSR1)
    loop.call_soon(kill_self, signal.SIGUSR2)
    run_until(loop, lambda: got)
    loop.run_until_complete(asyncio.sleep(0.05))
    assert got == [2]
    assert signal.SIGUSR1 not in loop._signal_handlers
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_handler_that_raises_goes_to_the_exception_handler(loop):
    reports = []
    got = []
    loop.set_exception_handler(lambda lp, ctx: reports.append(ctx))

    def bad():
        raise ZeroDivisionError("in handler")

    loop.add_signal_handler(signal.SIGUSR1, bad)
    loop.add_signal_handler(signal.SIGUSR2, got.append, "next")
    loop.call_soon(kill_self, signal.SIGUSR1)
    run_until(loop, lambda: reports)
    loop.call_soon(kill_self, signal.SIGUSR2)
    run_until(loop, lambda: got)
    assert len(reports) == 1
    assert isinstance(reports[0]["exception"], ZeroDivisionError)
    assert reports[0]["message"].startswith("Exception in callback")
    assert reports[0]["handle"] is not None
    assert got == ["next"]


# ---- errors, as asyncio gives them ----


@pytest.mark.parametrize("sig", ["1", 1.0, None])
def test_non_int_signal_is_a_type_error(loop, sig):
    with pytest.raises(TypeError, match="sig must be an int"):
        loop.add_signal_handler(sig, lambda: None)
    with pytest.raises(TypeError, match="sig must be an int"):
        loop.remove_signal_handler(sig)


@pytest.mark.parametrize("sig", [0, -1, signal.NSIG, 1000])
def test_invalid_signal_number_is_a_value_error(loop, sig):
    with pytest.raises(ValueError, match=f"invalid signal number {sig}"):
        loop.add_signal_handler(sig, lambda: None)
    with pytest.raises(ValueError, match=f"invalid signal number {sig}"):
        loop.remove_signal_handler(sig)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP])
def test_uncatchable_signal_is_a_runtime_error(loop, sig):
    with pytest.raises(RuntimeError, match=f"sig {sig} cannot be caught"):
        loop.add_signal_handler(sig, lambda: None)
    assert sig not in loop._signal_handlers
    assert signal.set_wakeup_fd(-1) == -1  # released again
    assert loop.remove_signal_handler(sig) is False


def test_coroutine_function_is_refused(loop):
    async def handler():
        pass

    with pytest.raises(
        TypeError, match=r"coroutines cannot be used with add_signal_handler\(\)"
    ):
        loop.add_signal_handler(signal.SIGUSR1, handler)
    coro = handler()
    with pytest.raises(TypeError, match="coroutines cannot be used"):
        loop.add_signal_handler(signal.SIGUSR1, coro)
    coro.close()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_closed_loop(new_loop):
    loop = new_loop()
    loop.close()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    # asyncio checks the arguments first.
    with pytest.raises(ValueError):
        loop.add_signal_handler(0, lambda: None)
    assert loop.remove_signal_handler(signal.SIGUSR1) is False


def test_not_on_the_main_thread(loop):
    outcome = []

    def other_thread():
        try:
            loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        except BaseException as exc:
            outcome.append(exc)

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert len(outcome) == 1
    assert type(outcome[0]) is RuntimeError
    assert "main thread" in str(outcome[0])
    assert signal.SIGUSR1 not in loop._signal_handlers
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_close_removes_every_handler(new_loop):
    loop = new_loop()
    loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    loop.close()
    assert loop._signal_handlers == {}
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.set_wakeup_fd(-1) == -1


def test_handlers_added_while_running_survive_the_run(loop):
    got = []

    async def main():
        loop.add_signal_handler(signal.SIGUSR1, got.append, 1)

    loop.run_until_complete(main())
    kill_self(signal.SIGUSR1)
    run_until(loop, lambda: got)
    assert got == [1]


def test_signal_handlers_under_asyncio_run(run):
    got = []

    async def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR1, fut.set_result, "done")
        loop.call_later(0.05, kill_self, signal.SIGUSR1)
        got.append(await asyncio.wait_for(fut, 5))
        assert loop.remove_signal_handler(signal.SIGUSR1)

    run(main())
    assert got == ["done"]


# ---- Ctrl-C, in a fresh interpreter ----

CTRLC_PRELUDE = """
import asyncio, os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
IMPL = sys.argv[1]

def new_loop():
    if IMPL == "casyncio":
        import casyncio
        return casyncio.new_event_loop()
    return asyncio.SelectorEventLoop()
"""


def run_ctrlc_script(body, impl):
    return support.run_python(["-c", CTRLC_PRELUDE + textwrap.dedent(body), impl])


def test_sigint_handler_installed_by_the_program(impl):
    proc = run_ctrlc_script(
        """
        async def main():
            loop = asyncio.get_running_loop()
            stop = loop.create_future()
            hits = []

            def on_sigint(tag):
                hits.append(tag)
                if len(hits) == 2:
                    stop.set_result(None)

            loop.add_signal_handler(signal.SIGINT, on_sigint, "ctrl-c")
            loop.call_later(0.05, os.kill, os.getpid(), signal.SIGINT)
            loop.call_later(0.10, os.kill, os.getpid(), signal.SIGINT)
            await asyncio.wait_for(stop, 10)
            print("handled", hits, flush=True)
            loop.remove_signal_handler(signal.SIGINT)
            loop.call_later(0.05, os.kill, os.getpid(), signal.SIGINT)
            try:
                await asyncio.sleep(10)
            except KeyboardInterrupt:
                print("KeyboardInterrupt in the task", flush=True)
                raise

        loop = new_loop()
        start = time.monotonic()
        try:
            loop.run_until_complete(main())
        except KeyboardInterrupt:
            print("KeyboardInterrupt out of the loop", flush=True)
        print(f"quick: {time.monotonic() - start < 8}", flush=True)
        loop.close()
        """,
        impl,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "handled ['ctrl-c', 'ctrl-c']"
    assert lines[-2:] == ["KeyboardInterrupt out of the loop", "quick: True"]


def test_sigint_handler_under_run_replaces_the_runners(impl):
    proc = run_ctrlc_script(
        """
        def run(main):
            if IMPL == "casyncio":
                import casyncio
                return casyncio.run(main)
            return asyncio.run(main)

        async def main():
            loop = asyncio.get_running_loop()
            done = loop.create_future()
            loop.add_signal_handler(signal.SIGINT, done.set_result, "graceful")
            loop.call_later(0.05, os.kill, os.getpid(), signal.SIGINT)
            return await asyncio.wait_for(done, 10)

        print(run(main()), flush=True)
        """,
        impl,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["graceful"]


# ---- child watchers (3.11's policy API; deprecated later) ----

WATCHERS = [
    name for name in ("SafeChildWatcher", "FastChildWatcher") if hasattr(asyncio, name)
]


@pytest.mark.skipif(not WATCHERS, reason="no signal-based child watchers")
@pytest.mark.parametrize("watcher_name", WATCHERS)
def test_child_watcher_attached_to_the_loop(loop, watcher_name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        watcher = getattr(asyncio, watcher_name)()
        watcher.attach_loop(loop)
    try:
        assert signal.SIGCHLD in loop._signal_handlers
        exited = []
        with watcher:
            proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(7)"])
            watcher.add_child_handler(
                proc.pid, lambda pid, rc: exited.append((pid, rc))
            )
        run_until(loop, lambda: exited, timeout=20)
        assert exited == [(proc.pid, 7)]
        proc.returncode = 7  # reaped by the watcher
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            watcher.attach_loop(None)
            watcher.close()
    assert signal.SIGCHLD not in loop._signal_handlers


@pytest.mark.skipif(
    not hasattr(asyncio, "get_child_watcher"), reason="no policy watchers"
)
def test_get_child_watcher_with_a_loop_attached(impl, new_loop):
    loop = new_loop()
    policy = asyncio.get_event_loop_policy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = policy._watcher
        policy._watcher = None
        watcher = asyncio.SafeChildWatcher()
        asyncio.set_child_watcher(watcher)
        asyncio.set_event_loop(loop)  # attaches the watcher on the main thread
        try:
            assert asyncio.get_child_watcher() is watcher
            assert signal.SIGCHLD in loop._signal_handlers
            exited = []
            proc = subprocess.Popen([sys.executable, "-c", "pass"])
            watcher.add_child_handler(proc.pid, lambda pid, rc: exited.append(rc))
            run_until(loop, lambda: exited, timeout=20)
            assert exited == [0]
            proc.returncode = 0
        finally:
            asyncio.set_event_loop(None)
            watcher.attach_loop(None)
            asyncio.set_child_watcher(None)
            policy._watcher = old
