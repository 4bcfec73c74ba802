"""Ctrl-C (SIGINT) on a running loop, in a fresh interpreter each time.

Under asyncio.run (and casyncio.run) the runner turns the first SIGINT into
a cancellation of the main task and then raises KeyboardInterrupt; a plain
run_forever() with Python's default SIGINT handler lets KeyboardInterrupt
propagate out of run_forever.
"""

import textwrap

import pytest
import support

TIMEOUT = 30  # seconds, per subprocess

PRELUDE = """
import asyncio, os, signal, sys, threading, time

# As in a program started from a terminal: a shell's background jobs (and
# so some CI runners) start with SIGINT ignored, which asyncio.run respects.
signal.signal(signal.SIGINT, signal.default_int_handler)

IMPL = sys.argv[1]
SENDER = sys.argv[2]


def new_loop():
    if IMPL == "casyncio":
        import casyncio
        return casyncio.new_event_loop()
    return asyncio.SelectorEventLoop()


def run(main):
    if IMPL == "casyncio":
        import casyncio
        return casyncio.run(main)
    return asyncio.run(main)


def send_sigint_later(loop):
    # From a helper thread, or from a callback on the loop itself.
    if SENDER == "thread":
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
    else:
        loop.call_later(0.1, os.kill, os.getpid(), signal.SIGINT)
"""


def run_script(body, impl, sender):
    code = PRELUDE + textwrap.dedent(body)
    return support.run_python(["-c", code, impl, sender], timeout=TIMEOUT)


SENDERS = pytest.mark.parametrize("sender", ["thread", "call_later"])


@SENDERS
def test_sigint_under_run_cancels_main_task_then_raises_keyboard_interrupt(
    impl, sender
):
    proc = run_script(
        """
        async def main():
            send_sigint_later(asyncio.get_running_loop())
            try:
                await asyncio.sleep(20)
            except asyncio.CancelledError:
                print("main task cancelled", flush=True)
                raise
            print("main task finished its sleep", flush=True)

        start = time.monotonic()
        try:
            run(main())
        finally:
            print(f"elapsed {time.monotonic() - start:.1f}", flush=True)
        """,
        impl,
        sender,
    )
    assert "main task cancelled" in proc.stdout, proc.stderr
    assert "main task finished its sleep" not in proc.stdout
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in proc.stderr
    assert "Traceback (most recent call last)" in proc.stderr
    elapsed = float(proc.stdout.split("elapsed ")[1].split()[0])
    assert elapsed < 10


@SENDERS
def test_sigint_under_run_lets_main_task_clean_up(impl, sender):
    proc = run_script(
        """
        async def main():
            send_sigint_later(asyncio.get_running_loop())
            try:
                await asyncio.sleep(20)
            finally:
                # The main task may still await during its clean-up.
                await asyncio.sleep(0.01)
                print("clean-up done", flush=True)

        try:
            run(main())
        except KeyboardInterrupt:
            print("KeyboardInterrupt out of run", flush=True)
        """,
        impl,
        sender,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "clean-up done",
        "KeyboardInterrupt out of run",
    ]


@SENDERS
def test_sigint_interrupts_plain_run_forever(impl, sender):
    proc = run_script(
        """
        loop = new_loop()
        send_sigint_later(loop)
        start = time.monotonic()
        try:
            loop.run_forever()
        except KeyboardInterrupt:
            print("KeyboardInterrupt out of run_forever", flush=True)
        print(f"running after: {loop.is_running()}", flush=True)
        print(f"quick: {time.monotonic() - start < 10}", flush=True)
        loop.close()
        """,
        impl,
        sender,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "KeyboardInterrupt out of run_forever",
        "running after: False",
        "quick: True",
    ]


def test_plain_run_forever_can_run_again_after_sigint(impl):
    proc = run_script(
        """
        loop = new_loop()
        send_sigint_later(loop)
        try:
            loop.run_forever()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        print(loop.run_until_complete(asyncio.sleep(0.01, "ran again")), flush=True)
        loop.close()
        """,
        impl,
        "thread",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["interrupted", "ran again"]
