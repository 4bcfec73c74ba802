"""The exception handler API: set/get_exception_handler,
call_exception_handler and default_exception_handler."""

import contextvars
import logging
import sys

import pytest

var = contextvars.ContextVar("var", default="unset")


def asyncio_errors(caplog):
    return [
        r for r in caplog.records if r.name == "asyncio" and r.levelno == logging.ERROR
    ]


# ---- set / get ----


def test_exception_handler_defaults_to_none(new_loop):
    assert new_loop().get_exception_handler() is None


def test_get_exception_handler_returns_the_handler_set(loop):
    def handler(lp, ctx):
        pass

    loop.set_exception_handler(handler)
    assert loop.get_exception_handler() is handler


def test_set_exception_handler_none_restores_default(loop):
    loop.set_exception_handler(lambda lp, ctx: None)
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None


@pytest.mark.parametrize("bad", [1, "handler", object()])
def test_set_exception_handler_non_callable_raises_type_error(loop, bad):
    before = loop.get_exception_handler()
    with pytest.raises(TypeError, match=r"^A callable object or None is expected"):
        loop.set_exception_handler(bad)
    assert loop.get_exception_handler() is before


# ---- call_exception_handler ----


def test_call_exception_handler_passes_loop_and_context_to_custom_handler(loop):
    calls = []
    loop.set_exception_handler(lambda lp, ctx: calls.append((lp, ctx)))
    context = {"message": "something happened", "extra": 1}
    loop.call_exception_handler(context)
    assert len(calls) == 1
    assert calls[0][0] is loop
    assert calls[0][1] == {"message": "something happened", "extra": 1}


def test_call_exception_handler_without_custom_handler_logs(loop, caplog):
    loop.set_exception_handler(None)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.call_exception_handler({"message": "reported via default"})
    records = asyncio_errors(caplog)
    assert len(records) == 1
    assert records[0].getMessage() == "reported via default"


def test_exception_in_custom_handler_is_logged_by_default_handler(loop, caplog):
    error = ZeroDivisionError("handler failed")

    def bad_handler(lp, ctx):
        raise error

    loop.set_exception_handler(bad_handler)
    context = {"message": "original problem"}
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.call_exception_handler(context)
    records = asyncio_errors(caplog)
    assert len(records) == 1
    message = records[0].getMessage()
    assert message.startswith("Unhandled error in exception handler")
    assert "context: " in message
    assert "original problem" in message
    assert records[0].exc_info[1] is error


def test_exception_in_custom_handler_for_callback_error_keeps_loop_running(
    loop, caplog
):
    ran = []

    def bad_handler(lp, ctx):
        raise RuntimeError("handler failed")

    def boom():
        raise ValueError("callback failed")

    loop.set_exception_handler(bad_handler)
    loop.call_soon(boom)
    loop.call_soon(ran.append, "after")
    loop.call_soon(loop.stop)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.run_forever()
    assert ran == ["after"]
    records = asyncio_errors(caplog)
    assert len(records) == 1
    assert records[0].getMessage().startswith("Unhandled error in exception handler")


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_base_exception_in_custom_handler_propagates(loop, exc_type):
    def handler(lp, ctx):
        raise exc_type()

    loop.set_exception_handler(handler)
    with pytest.raises(exc_type):
        loop.call_exception_handler({"message": "x"})


@pytest.mark.skipif(
    sys.version_info < (3, 12),
    reason="the handler runs in the handle's context from 3.12",
)
def test_custom_handler_runs_in_context_of_failing_callback(loop):
    seen = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(var.get()))
    ctx = contextvars.Context()
    ctx.run(var.set, "callback-context")

    def boom():
        raise ValueError

    loop.call_soon(boom, context=ctx)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["callback-context"]


# ---- default_exception_handler ----


def test_default_exception_handler_logs_message_exception_and_keys(loop, caplog):
    try:
        raise ValueError("the error")
    except ValueError as exc:
        error = exc
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.default_exception_handler(
            {"message": "Boom", "exception": error, "zeta": 42, "alpha": "x"}
        )
    records = asyncio_errors(caplog)
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.ERROR
    assert record.name == "asyncio"
    # The other keys follow the message as 'key: repr(value)', sorted.
    assert record.getMessage() == "Boom\nalpha: 'x'\nzeta: 42"
    assert record.exc_info[0] is ValueError
    assert record.exc_info[1] is error
    assert record.exc_info[2] is error.__traceback__


def test_default_exception_handler_without_exception_logs_no_exc_info(loop, caplog):
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.default_exception_handler({"message": "Only a message", "n": [1, 2]})
    records = asyncio_errors(caplog)
    assert len(records) == 1
    assert records[0].getMessage() == "Only a message\nn: [1, 2]"
    assert not records[0].exc_info


def test_default_exception_handler_without_message_uses_generic_one(loop, caplog):
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.default_exception_handler({"key": "value"})
    records = asyncio_errors(caplog)
    assert len(records) == 1
    assert records[0].getMessage() == "Unhandled exception in event loop\nkey: 'value'"


def test_callback_exception_with_default_handler_is_logged(loop, caplog):
    loop.set_exception_handler(None)

    def failing_callback():
        raise KeyError("missing")

    loop.call_soon(failing_callback)
    loop.call_soon(loop.stop)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.run_forever()
    records = asyncio_errors(caplog)
    assert len(records) == 1
    message = records[0].getMessage()
    assert message.startswith("Exception in callback")
    assert "failing_callback" in message
    assert "handle: <Handle" in message
    assert isinstance(records[0].exc_info[1], KeyError)
    # The record's traceback holds the loop; pytest keeps the records until
    # after the module's live-object check has run (tests/conftest.py).
    caplog.clear()
