"""call_soon, Handle, callback contexts and exceptions raised by callbacks."""

import contextvars
import functools
import gc
import sys
import weakref

import pytest

var = contextvars.ContextVar("var", default="unset")


def run_once(loop):
    """Run everything queued so far, then stop."""
    loop.call_soon(loop.stop)
    loop.run_forever()


# ---- order and arguments ----


def test_call_soon_runs_callbacks_in_fifo_order(loop):
    ran = []
    for i in range(100):
        loop.call_soon(ran.append, i)
    run_once(loop)
    assert ran == list(range(100))


def test_call_soon_passes_positional_args(loop):
    got = []
    loop.call_soon(lambda *args: got.append(args), 1, "two", None)
    run_once(loop)
    assert got == [(1, "two", None)]


def test_call_soon_with_no_args_calls_without_args(loop):
    got = []
    loop.call_soon(lambda *args: got.append(args))
    run_once(loop)
    assert got == [()]


@pytest.mark.parametrize("nargs", [0, 1, 2, 3, 5])
def test_handle_args_attribute_as_asyncio(loop, nargs):
    """Handle._args (what asyncio's formatting and debuggers read): the
    arguments as a tuple, the same after the call, None once cancelled."""
    args = tuple(f"a{i}" for i in range(nargs))
    got = []
    handle = loop.call_soon(lambda *a: got.append(a), *args)
    assert handle._args == args
    assert handle._args is handle._args
    assert "lambda" in repr(handle)  # (3.13 shows the arguments in debug mode only)
    run_once(loop)
    assert got == [args]
    assert handle._args == args
    handle.cancel()
    assert handle._args is None
    timer = loop.call_later(3600, print, *args)
    assert timer._args == args
    timer.cancel()
    assert timer._args is None


@pytest.mark.parametrize("nargs", [1, 2, 3])
def test_callback_cancelling_its_own_handle_keeps_its_arguments(loop, nargs):
    """cancel() drops the handle's references to the arguments; the call in
    progress keeps its own until it returns, and then lets them go."""
    holder = {}
    refs = []

    class Arg:
        def __init__(self, i):
            self.i = i

    def callback(*objs):
        refs.extend(weakref.ref(o) for o in objs)
        holder["handle"].cancel()
        assert holder["handle"]._args is None
        assert [o.i for o in objs] == list(range(nargs))

    # functools.partial: a C caller between the loop and the function.
    holder["handle"] = loop.call_soon(
        functools.partial(callback), *[Arg(i) for i in range(nargs)]
    )
    run_once(loop)
    assert len(refs) == nargs
    gc.collect()
    assert [r() for r in refs] == [None] * nargs


# ---- Handle ----


def test_call_soon_returns_handle_not_cancelled(loop):
    handle = loop.call_soon(print)
    assert handle.cancelled() is False
    handle.cancel()


def test_handle_cancel_marks_it_cancelled(loop):
    handle = loop.call_soon(print)
    handle.cancel()
    assert handle.cancelled() is True


def test_handle_cancel_twice_stays_cancelled(loop):
    handle = loop.call_soon(print)
    handle.cancel()
    handle.cancel()
    assert handle.cancelled() is True


def test_cancelled_handle_does_not_run(loop):
    ran = []
    loop.call_soon(ran.append, 1)
    handle = loop.call_soon(ran.append, 2)
    loop.call_soon(ran.append, 3)
    handle.cancel()
    run_once(loop)
    assert ran == [1, 3]


def test_handle_cancelled_by_earlier_callback_in_same_iteration_does_not_run(loop):
    ran = []
    handles = []
    loop.call_soon(lambda: handles[0].cancel())
    handles.append(loop.call_soon(ran.append, "cancelled"))
    loop.call_soon(ran.append, "kept")
    run_once(loop)
    assert ran == ["kept"]


def test_handle_is_not_cancelled_after_running(loop):
    handle = loop.call_soon(int)
    run_once(loop)
    assert handle.cancelled() is False


def test_handle_repr_contains_callback_name(loop):
    def my_callback_name():
        pass

    handle = loop.call_soon(my_callback_name)
    text = repr(handle)
    assert text.startswith("<Handle")
    assert "my_callback_name" in text
    handle.cancel()
    assert "cancelled" in repr(handle)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Handle.get_context is 3.12+")
def test_handle_get_context_returns_given_context(loop):
    ctx = contextvars.Context()
    handle = loop.call_soon(print, context=ctx)
    assert handle.get_context() is ctx
    handle.cancel()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Handle.get_context is 3.12+")
def test_handle_get_context_defaults_to_copy_of_current_context(loop):
    token = var.set("current")
    try:
        handle = loop.call_soon(print)
    finally:
        var.reset(token)
    ctx = handle.get_context()
    assert isinstance(ctx, contextvars.Context)
    assert ctx[var] == "current"
    handle.cancel()


# ---- contexts ----


def test_call_soon_runs_callback_in_given_context(loop):
    ctx = contextvars.Context()
    ctx.run(var.set, "in-ctx")
    seen = []
    loop.call_soon(lambda: seen.append(var.get()), context=ctx)
    run_once(loop)
    assert seen == ["in-ctx"]


def test_changes_in_given_context_persist_in_that_context(loop):
    ctx = contextvars.Context()
    loop.call_soon(var.set, "set-by-callback", context=ctx)
    run_once(loop)
    assert ctx[var] == "set-by-callback"
    assert var.get() == "unset"


def test_default_context_is_a_copy_taken_at_call_soon(loop):
    seen = []
    token = var.set("at-call-soon")
    try:
        loop.call_soon(lambda: seen.append(var.get()))
        var.set("changed-later")
        run_once(loop)
    finally:
        var.reset(token)
    assert seen == ["at-call-soon"]


def test_changes_in_default_context_do_not_leak_out(loop):
    seen = []

    def callback():
        var.set("inside")
        seen.append(var.get())

    token = var.set("outside")
    try:
        loop.call_soon(callback)
        loop.call_soon(lambda: seen.append(var.get()))
        run_once(loop)
        assert var.get() == "outside"
    finally:
        var.reset(token)
    # Each callback got its own copy: the second did not see the first's set.
    assert seen == ["inside", "outside"]


# ---- argument checks in debug mode ----


def test_call_soon_non_callable_in_debug_mode_raises_type_error(loop):
    loop.set_debug(True)
    with pytest.raises(
        TypeError, match=r"^a callable object was expected by call_soon\(\), got 1"
    ):
        loop.call_soon(1)


def test_call_soon_coroutine_function_in_debug_mode_raises_type_error(loop):
    async def coro_func():
        pass

    loop.set_debug(True)
    with pytest.raises(
        TypeError, match=r"^coroutines cannot be used with call_soon\(\)"
    ):
        loop.call_soon(coro_func)


def test_call_soon_coroutine_object_in_debug_mode_raises_type_error(loop):
    async def coro_func():
        pass

    loop.set_debug(True)
    coro = coro_func()
    try:
        with pytest.raises(
            TypeError, match=r"^coroutines cannot be used with call_soon\(\)"
        ):
            loop.call_soon(coro)
    finally:
        coro.close()


# ---- exceptions raised by callbacks ----


def test_exception_in_callback_goes_to_exception_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append((lp, ctx)))
    error = ValueError("boom")

    def boom():
        raise error

    handle = loop.call_soon(boom)
    run_once(loop)
    assert len(contexts) == 1
    lp, ctx = contexts[0]
    assert lp is loop
    assert ctx["message"].startswith("Exception in callback")
    assert "boom" in ctx["message"]
    assert ctx["exception"] is error
    assert ctx["handle"] is handle


@pytest.mark.parametrize(
    ("name", "message", "cause"),
    [
        (
            "return_null_without_error",
            "returned NULL without setting an exception",
            None,
        ),
        (
            "return_result_with_error",
            "returned a result with an exception set",
            ValueError,
        ),
    ],
)
def test_c_callback_breaking_the_call_protocol_is_a_system_error(
    loop, name, message, cause
):
    """A C callable that returns NULL without an exception, or a result with
    one set, is reported as the SystemError CPython's call check raises, and
    the loop goes on with no exception left set."""
    callback = getattr(pytest.importorskip("_testcapi"), name)
    contexts = []
    ran = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    handle = loop.call_soon(callback)
    loop.call_soon(ran.append, "after")
    run_once(loop)
    assert ran == ["after"]
    assert len(contexts) == 1
    exc = contexts[0]["exception"]
    assert type(exc) is SystemError
    assert str(exc) == f"{callback!r} {message}"
    assert type(exc.__cause__) is (cause or type(None))
    assert contexts[0]["handle"] is handle


def test_loop_keeps_running_after_exception_in_callback(loop):
    contexts = []
    ran = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    def boom():
        raise RuntimeError("boom")

    loop.call_soon(boom)
    loop.call_soon(ran.append, "after")
    loop.call_soon(boom)
    loop.call_soon(ran.append, "after again")
    run_once(loop)
    assert ran == ["after", "after again"]
    assert len(contexts) == 2


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_base_exception_in_callback_propagates_out_of_run_forever(loop, exc_type):
    ran = []

    def interrupt():
        raise exc_type()

    loop.call_soon(ran.append, "before")
    loop.call_soon(interrupt)
    loop.call_soon(ran.append, "after")
    with pytest.raises(exc_type):
        loop.run_forever()
    assert ran == ["before"]
    assert not loop.is_running()

    # The callback queued behind the interrupting one is still queued.
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert ran == ["before", "after"]


def test_keyboard_interrupt_in_callback_does_not_reach_exception_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    def interrupt():
        raise KeyboardInterrupt

    loop.call_soon(interrupt)
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    assert contexts == []
