"""Debug mode: get_debug/set_debug, PYTHONASYNCIODEBUG and -X dev, and the
slow-callback warning."""

import logging
import os
import time

import pytest
import support

NEW_LOOP = {
    "casyncio": "import casyncio; loop = casyncio.new_event_loop()",
    "asyncio": "import asyncio; loop = asyncio.new_event_loop()",
}


def debug_of_new_loop(impl, args=(), env=None):
    """get_debug() of a new loop of impl in a fresh interpreter."""
    code = (
        f"{support.path_prelude()}{NEW_LOOP[impl]}; "
        "print(loop.get_debug()); loop.close()"
    )
    full_env = support.subprocess_env(
        {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE")
        }
    )
    full_env.update(env or {})
    proc = support.run_python([*args, "-c", code], env=full_env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


# ---- get_debug / set_debug ----


def test_set_debug_true_makes_get_debug_true(loop):
    loop.set_debug(True)
    assert loop.get_debug() is True


def test_set_debug_false_makes_get_debug_false(loop):
    loop.set_debug(True)
    loop.set_debug(False)
    assert loop.get_debug() is False


def test_set_debug_while_running_takes_effect(loop):
    seen = []

    def toggle():
        loop.set_debug(True)
        seen.append(loop.get_debug())
        loop.stop()

    loop.set_debug(False)
    loop.call_soon(toggle)
    loop.run_forever()
    assert seen == [True]
    assert loop.get_debug() is True


def test_new_loop_debug_is_off_by_default(impl):
    assert debug_of_new_loop(impl) == "False"


def test_pythonasynciodebug_turns_debug_on(impl):
    assert debug_of_new_loop(impl, env={"PYTHONASYNCIODEBUG": "1"}) == "True"


def test_dev_mode_turns_debug_on(impl):
    assert debug_of_new_loop(impl, args=["-X", "dev"]) == "True"


def test_pythonasynciodebug_is_ignored_with_dash_e(impl):
    # -E ignores PYTHON* environment variables (PYTHONPATH too: the
    # subprocess finds casyncio through support.path_prelude()).
    out = debug_of_new_loop(impl, args=["-E"], env={"PYTHONASYNCIODEBUG": "1"})
    assert out == "False"


# ---- slow callbacks ----


def test_slow_callback_duration_defaults_to_a_tenth_of_a_second(loop):
    assert loop.slow_callback_duration == pytest.approx(0.1)


def test_slow_callback_duration_is_settable(loop):
    loop.slow_callback_duration = 0.5
    assert loop.slow_callback_duration == 0.5


def slow_callback_for_test():
    time.sleep(0.03)


def test_slow_callback_in_debug_mode_logs_warning(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01
    loop.call_soon(slow_callback_for_test)
    loop.call_soon(loop.stop)
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.run_forever()
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "asyncio" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1, warnings
    message = warnings[0]
    assert message.startswith("Executing <Handle")
    assert "slow_callback_for_test" in message
    assert "took" in message


def test_slow_timer_callback_in_debug_mode_logs_warning(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01
    loop.call_later(0.001, slow_callback_for_test)
    loop.call_later(0.01, loop.stop)
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.run_forever()
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "asyncio" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("Executing <TimerHandle")
    assert "slow_callback_for_test" in warnings[0]
    assert "took" in warnings[0]


def test_fast_callback_in_debug_mode_logs_no_warning(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 10
    loop.call_soon(slow_callback_for_test)
    loop.call_soon(loop.stop)
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.run_forever()
    assert not [r for r in caplog.records if r.name == "asyncio"]


def test_slow_callback_without_debug_mode_logs_no_warning(loop, caplog):
    loop.set_debug(False)
    loop.slow_callback_duration = 0.01
    loop.call_soon(slow_callback_for_test)
    loop.call_soon(loop.stop)
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.run_forever()
    assert not [r for r in caplog.records if r.name == "asyncio"]


def test_debug_mode_handle_repr_names_where_it_was_created(loop):
    loop.set_debug(True)
    handle = loop.call_soon(print)
    assert "created at" in repr(handle)
    assert __file__ in repr(handle) or os.path.basename(__file__) in repr(handle)
    handle.cancel()
