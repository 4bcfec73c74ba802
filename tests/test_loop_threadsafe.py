"""call_soon_threadsafe: callbacks from other threads, and waking a loop
that is blocked in its poll with nothing else to do."""

import contextvars
import threading
import time

import pytest

var = contextvars.ContextVar("var", default="unset")

# A loop that does not stop by itself is stopped by this watchdog (a thread,
# not a timer, so the loop under test has no timers to wake it).
WATCHDOG_SECONDS = 10


class Watchdog:
    def __init__(self, loop):
        self.fired = False
        self._timer = threading.Timer(WATCHDOG_SECONDS, self._fire, (loop,))
        self._timer.daemon = True

    def _fire(self, loop):
        self.fired = True
        loop.call_soon_threadsafe(loop.stop)

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()
        self._timer.join()


def test_call_soon_threadsafe_from_many_threads_runs_all_in_per_thread_order(loop):
    n_threads, n_calls = 8, 1000
    received = []
    total = n_threads * n_calls
    start = threading.Event()

    def callback(tid, i):
        received.append((tid, i))
        if len(received) == total:
            loop.stop()

    def producer(tid):
        start.wait()
        for i in range(n_calls):
            loop.call_soon_threadsafe(callback, tid, i)

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()

    def release():
        # Let the loop go back to its poll (nothing scheduled, no timers)
        # before the producers start.
        threading.Timer(0.02, start.set).start()

    loop.call_soon(release)
    with Watchdog(loop) as watchdog:
        loop.run_forever()
    for t in threads:
        t.join()

    assert not watchdog.fired, f"only {len(received)} of {total} callbacks ran"
    assert len(received) == total
    for tid in range(n_threads):
        assert [i for t, i in received if t == tid] == list(range(n_calls))


def test_call_soon_threadsafe_wakes_loop_blocked_without_timers(loop):
    sent_at = []
    ran_at = []

    def callback():
        ran_at.append(time.monotonic())
        loop.stop()

    def from_thread():
        time.sleep(0.05)
        sent_at.append(time.monotonic())
        loop.call_soon_threadsafe(callback)

    thread = threading.Thread(target=from_thread)
    thread.start()
    with Watchdog(loop) as watchdog:
        loop.run_forever()
    thread.join()
    assert not watchdog.fired
    assert len(ran_at) == 1
    assert ran_at[0] - sent_at[0] < 1.0


def test_call_soon_threadsafe_wakes_loop_blocked_on_a_far_timer(loop):
    far = loop.call_later(60, loop.stop)
    ran = []

    def from_thread():
        time.sleep(0.02)
        loop.call_soon_threadsafe(lambda: (ran.append(True), loop.stop()))

    thread = threading.Thread(target=from_thread)
    thread.start()
    start = time.monotonic()
    loop.run_forever()
    thread.join()
    far.cancel()
    assert ran == [True]
    assert time.monotonic() - start < 5.0


def test_call_soon_threadsafe_stop_from_thread_stops_loop(loop):
    thread = threading.Timer(0.02, loop.call_soon_threadsafe, (loop.stop,))
    thread.start()
    with Watchdog(loop) as watchdog:
        loop.run_forever()
    thread.join()
    assert not watchdog.fired
    assert not loop.is_running()


def test_call_soon_threadsafe_from_loop_thread_runs_in_order_with_call_soon(loop):
    ran = []
    loop.call_soon(ran.append, 1)
    loop.call_soon_threadsafe(ran.append, 2)
    loop.call_soon(ran.append, 3)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert ran == [1, 2, 3]


def test_call_soon_threadsafe_returns_cancellable_handle(loop):
    ran = []
    handle = loop.call_soon_threadsafe(ran.append, "cancelled")
    loop.call_soon_threadsafe(ran.append, "kept")
    handle.cancel()
    assert handle.cancelled()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert ran == ["kept"]


def test_call_soon_threadsafe_runs_in_given_context(loop):
    ctx = contextvars.Context()
    ctx.run(var.set, "in-ctx")
    seen = []

    def from_thread():
        loop.call_soon_threadsafe(lambda: seen.append(var.get()), context=ctx)
        loop.call_soon_threadsafe(loop.stop)

    thread = threading.Thread(target=from_thread)
    loop.call_soon(thread.start)
    with Watchdog(loop):
        loop.run_forever()
    thread.join()
    assert seen == ["in-ctx"]


def test_call_soon_threadsafe_default_context_is_calling_threads(loop):
    seen = []

    def from_thread():
        var.set("thread-value")
        loop.call_soon_threadsafe(lambda: seen.append(var.get()))
        loop.call_soon_threadsafe(loop.stop)

    thread = threading.Thread(target=from_thread)
    loop.call_soon(thread.start)
    with Watchdog(loop):
        loop.run_forever()
    thread.join()
    assert seen == ["thread-value"]
    assert var.get() == "unset"


def test_call_soon_threadsafe_after_close_raises(loop):
    loop.close()
    with pytest.raises(RuntimeError, match=r"^Event loop is closed$"):
        loop.call_soon_threadsafe(print)


def test_call_soon_threadsafe_from_thread_after_close_raises(loop):
    loop.close()
    errors = []

    def from_thread():
        try:
            loop.call_soon_threadsafe(print)
        except RuntimeError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=from_thread)
    thread.start()
    thread.join()
    assert errors == ["Event loop is closed"]
