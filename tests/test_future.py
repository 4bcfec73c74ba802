"""casyncio.Future against asyncio's C and pure-Python futures.

Every test runs against three Future classes (the ``future_kind`` fixture:
"casyncio" = casyncio.Future, "cfuture" = asyncio.futures._CFuture,
"pyfuture" = asyncio.futures._PyFuture), each bound to both loops (the
``loop`` fixture: casyncio's loop and the stock selector loop).  A test that
passes on "cfuture" and "pyfuture" but fails on "casyncio" is a casyncio
bug.

Where the two stock futures legitimately differ, the test says so in a
comment marked "STOCK DIFFERENCE" and states which one casyncio follows.
"""

import asyncio
import contextvars
import gc
import re
import sys
import weakref
from asyncio import futures

import pytest

import casyncio

var = contextvars.ContextVar("var", default="unset")

FUTURE_CLASSES = {
    "casyncio": casyncio.Future,
    "cfuture": futures._CFuture,
    "pyfuture": futures._PyFuture,
}

PY313 = sys.version_info >= (3, 13)


@pytest.fixture(params=list(FUTURE_CLASSES))
def future_kind(request):
    """Which Future implementation: "casyncio", "cfuture" or "pyfuture"."""
    return request.param


@pytest.fixture
def Future(future_kind):  # noqa: N802 (a class, named like one)
    return FUTURE_CLASSES[future_kind]


@pytest.fixture
def fut(Future, loop):
    """A pending future of the class under test, bound to the loop."""
    return Future(loop=loop)


def run_once(loop):
    """Run everything queued so far (one loop iteration), then stop."""
    loop.call_soon(loop.stop)
    loop.run_forever()


def messages_like(future_kind):
    """STOCK DIFFERENCE: the C and the pure-Python futures word their
    InvalidStateError messages differently ('Result is not set.' and
    'invalid state' in C, 'Result is not ready.' and 'FINISHED: <repr>' in
    Python).  casyncio follows the C wording, the one programs meet."""
    return "pyfuture" if future_kind == "pyfuture" else "cfuture"


# ---- result / exception / states ----


def test_new_future_is_pending(fut):
    assert not fut.done()
    assert not fut.cancelled()
    assert fut._state == "PENDING"
    assert fut._result is None
    assert fut._exception is None
    assert fut._log_traceback is False
    assert fut._source_traceback is None  # loop not in debug mode


def test_result_of_pending_future_raises_invalid_state(fut, future_kind):
    expected = {
        "cfuture": r"^Result is not set\.$",
        "pyfuture": r"^Result is not ready\.$",
    }[messages_like(future_kind)]
    with pytest.raises(asyncio.InvalidStateError, match=expected):
        fut.result()


def test_exception_of_pending_future_raises_invalid_state(fut):
    with pytest.raises(asyncio.InvalidStateError, match=r"^Exception is not set\.$"):
        fut.exception()


def test_set_result(fut):
    value = object()
    assert fut.set_result(value) is None
    assert fut.done()
    assert not fut.cancelled()
    assert fut._state == "FINISHED"
    assert fut.result() is value
    assert fut._result is value
    assert fut.exception() is None


def test_set_result_twice_raises_invalid_state(fut, future_kind):
    fut.set_result(1)
    expected = {
        "cfuture": r"^invalid state$",
        "pyfuture": r"^FINISHED: <Future finished result=1>$",
    }[messages_like(future_kind)]
    with pytest.raises(asyncio.InvalidStateError, match=expected):
        fut.set_result(2)
    with pytest.raises(asyncio.InvalidStateError, match=expected):
        fut.set_exception(ValueError("late"))
    assert fut.result() == 1


def test_set_exception_twice_raises_invalid_state(fut, future_kind):
    exc = ValueError("first")
    fut.set_exception(exc)
    expected = {
        "cfuture": r"^invalid state$",
        "pyfuture": r"^FINISHED: <Future finished exception=ValueError\('first'\)>$",
    }[messages_like(future_kind)]
    with pytest.raises(asyncio.InvalidStateError, match=expected):
        fut.set_exception(ValueError("second"))
    with pytest.raises(asyncio.InvalidStateError, match=expected):
        fut.set_result(1)
    assert fut.exception() is exc


def test_set_result_on_cancelled_future_raises_invalid_state(fut, future_kind):
    fut.cancel()
    expected = {
        "cfuture": r"^invalid state$",
        "pyfuture": r"^CANCELLED: <Future cancelled>$",
    }[messages_like(future_kind)]
    with pytest.raises(asyncio.InvalidStateError, match=expected):
        fut.set_result(1)
    with pytest.raises(asyncio.InvalidStateError, match=expected):
        fut.set_exception(ValueError())


def test_set_exception_instance(fut):
    exc = ValueError("boom")
    assert fut.set_exception(exc) is None
    assert fut.done()
    assert fut._state == "FINISHED"
    assert fut._exception is exc
    assert fut.exception() is exc
    with pytest.raises(ValueError, match="^boom$") as info:
        fut.result()
    assert info.value is exc


def test_set_exception_class_is_instantiated(fut):
    fut.set_exception(KeyError)
    exc = fut.exception()
    assert type(exc) is KeyError
    assert exc.args == ()
    with pytest.raises(KeyError):
        fut.result()


def test_result_reraises_with_original_traceback(fut):
    def raiser():
        raise ValueError("with tb")

    try:
        raiser()
    except ValueError as e:
        exc = e
    fut.set_exception(exc)
    with pytest.raises(ValueError) as info:
        fut.result()
    names = [entry.name for entry in info.traceback]
    assert "raiser" in names


def test_result_traceback_does_not_grow_across_calls(fut, future_kind):
    def raiser():
        raise ValueError("with tb")

    try:
        raiser()
    except ValueError as e:
        exc = e
    fut.set_exception(exc)

    def frames():
        try:
            fut.result()
        except ValueError as e:
            tb = e.__traceback__
            names = []
            while tb is not None:
                names.append(tb.tb_frame.f_code.co_name)
                tb = tb.tb_next
            return names

    first = frames()
    assert "raiser" in first
    for _ in range(3):
        again = frames()
        assert len(again) <= len(first)
        if future_kind != "cfuture":
            # STOCK DIFFERENCE: _CFuture re-attaches the saved traceback only
            # on the first result() call (later calls lose the 'raiser'
            # frame); _PyFuture re-attaches it every time.  casyncio follows
            # _PyFuture (checklist A7: "result() re-attaches the saved
            # exception_tb").
            assert again == first


def test_set_exception_non_exception_raises_type_error(fut, future_kind):
    if future_kind == "pyfuture":
        # STOCK DIFFERENCE: the pure-Python Future does not type-check and
        # fails on `exception.__traceback__`; C (and casyncio) raise
        # TypeError('invalid exception object').
        with pytest.raises(AttributeError):
            fut.set_exception(1)
        return
    with pytest.raises(TypeError, match=r"^invalid exception object$"):
        fut.set_exception(1)
    with pytest.raises(TypeError, match=r"^invalid exception object$"):
        fut.set_exception(int)
    assert not fut.done()


STOP_MSG = (
    "StopIteration interacts badly with generators and cannot be raised into a Future"
)


@pytest.mark.parametrize("as_class", [False, True], ids=["instance", "class"])
def test_set_exception_stop_iteration(fut, as_class):
    stop = StopIteration if as_class else StopIteration("stopped")
    if not PY313:
        # 3.11/3.12: rejected with TypeError, the future stays pending.
        with pytest.raises(TypeError, match="^" + re.escape(STOP_MSG) + "$"):
            fut.set_exception(stop)
        assert not fut.done()
        return
    # 3.13+: wrapped in a RuntimeError whose cause and context are the
    # StopIteration.
    fut.set_exception(stop)
    assert fut.done()
    exc = fut.exception()
    assert type(exc) is RuntimeError
    assert exc.args == (STOP_MSG,)
    assert type(exc.__cause__) is StopIteration
    assert exc.__context__ is exc.__cause__
    if not as_class:
        assert exc.__cause__ is stop
    with pytest.raises(RuntimeError, match="^" + re.escape(STOP_MSG) + "$"):
        fut.result()


# ---- cancel ----


def test_cancel_pending_future(fut):
    assert fut.cancel() is True
    assert fut.cancelled()
    assert fut.done()
    assert fut._state == "CANCELLED"
    assert fut.cancel() is False  # already cancelled
    with pytest.raises(asyncio.CancelledError) as info:
        fut.result()
    assert info.value.args == ()
    with pytest.raises(asyncio.CancelledError):
        fut.exception()


def test_cancel_done_future_returns_false(fut):
    fut.set_result(1)
    assert fut.cancel() is False
    assert not fut.cancelled()
    assert fut.result() == 1


def test_cancel_message_positional(fut):
    assert fut.cancel("positional")
    assert fut._cancel_message == "positional"
    with pytest.raises(asyncio.CancelledError) as info:
        fut.result()
    assert info.value.args == ("positional",)
    with pytest.raises(asyncio.CancelledError) as info:
        fut.exception()
    assert info.value.args == ("positional",)


def test_cancel_message_keyword(fut):
    assert fut.cancel(msg="keyword")
    assert fut._cancel_message == "keyword"
    with pytest.raises(asyncio.CancelledError) as info:
        fut.result()
    assert info.value.args == ("keyword",)


def test_cancel_message_can_be_any_object(fut):
    msg = ("not", "a", "string")
    fut.cancel(msg)
    with pytest.raises(asyncio.CancelledError) as info:
        fut.result()
    assert info.value.args == (msg,)


def test_cancel_message_getter_and_setter(fut):
    assert fut._cancel_message is None
    fut._cancel_message = "set directly"
    assert fut._cancel_message == "set directly"
    fut.cancel()  # cancel(msg=None) replaces the message
    assert fut._cancel_message is None
    fut._cancel_message = "changed later"
    err = fut._make_cancelled_error()
    assert type(err) is asyncio.CancelledError
    assert err.args == ("changed later",)


def test_make_cancelled_error(fut):
    fut.cancel("why")
    err = fut._make_cancelled_error()
    assert isinstance(err, asyncio.CancelledError)
    assert err.args == ("why",)
    # A fresh error each time.
    assert fut._make_cancelled_error() is not err


def test_make_cancelled_error_without_message(fut):
    fut.cancel()
    err = fut._make_cancelled_error()
    assert isinstance(err, asyncio.CancelledError)
    assert err.args == ()


# ---- done callbacks ----


def test_callbacks_run_in_order_through_the_loop(fut):
    calls = []
    fut.add_done_callback(lambda f: calls.append(("a", f)))
    fut.add_done_callback(lambda f: calls.append(("b", f)))
    fut.add_done_callback(lambda f: calls.append(("c", f)))
    fut.set_result(1)
    assert calls == []  # never inline
    run_once(fut.get_loop())
    assert calls == [("a", fut), ("b", fut), ("c", fut)]


@pytest.mark.parametrize("how", ["exception", "cancel"])
def test_callbacks_run_on_exception_and_cancel(fut, how):
    calls = []
    fut.add_done_callback(calls.append)
    if how == "exception":
        fut.set_exception(ValueError())
        fut.exception()
    else:
        fut.cancel()
    assert calls == []
    run_once(fut.get_loop())
    assert calls == [fut]


def test_callbacks_are_scheduled_with_call_soon_order(fut, loop):
    # Callbacks are queued at completion time, so they run after handles
    # that were already queued, and before handles queued afterwards.
    calls = []
    loop.call_soon(calls.append, "before")
    fut.add_done_callback(lambda f: calls.append("cb1"))
    fut.add_done_callback(lambda f: calls.append("cb2"))
    fut.set_result(None)
    loop.call_soon(calls.append, "after")
    run_once(loop)
    assert calls == ["before", "cb1", "cb2", "after"]


def test_callbacks_run_once(fut, loop):
    calls = []
    fut.add_done_callback(calls.append)
    fut.set_result(None)
    run_once(loop)
    run_once(loop)
    assert calls == [fut]


def test_add_done_callback_on_done_future_schedules_soon(fut, loop):
    calls = []
    fut.set_result("done")
    fut.add_done_callback(calls.append)
    assert calls == []
    run_once(loop)
    assert calls == [fut]


def test_add_done_callback_context_is_honoured(fut, loop):
    ctx = contextvars.Context()
    ctx.run(var.set, "in ctx")
    seen = []

    def cb(f):
        seen.append(var.get())
        var.set("set by callback")

    fut.add_done_callback(cb, context=ctx)
    fut.set_result(None)
    run_once(loop)
    assert seen == ["in ctx"]
    assert ctx[var] == "set by callback"
    assert var.get() == "unset"


def test_add_done_callback_default_context_is_a_copy(fut, loop):
    seen = []

    def cb(f):
        seen.append(var.get())
        var.set("set by callback")

    token = var.set("at add time")
    try:
        fut.add_done_callback(cb)
        var.set("changed after add")
        fut.set_result(None)
        run_once(loop)
        assert seen == ["at add time"]
        assert var.get() == "changed after add"
    finally:
        var.reset(token)


def test_add_done_callback_context_on_done_future(fut, loop):
    ctx = contextvars.Context()
    ctx.run(var.set, "late ctx")
    seen = []
    fut.set_result(None)
    fut.add_done_callback(lambda f: seen.append(var.get()), context=ctx)
    run_once(loop)
    assert seen == ["late ctx"]


def test_remove_done_callback_returns_count_and_keeps_order(fut, loop):
    calls = []

    def cb1(f):
        calls.append(1)

    def cb2(f):
        calls.append(2)

    def cb3(f):
        calls.append(3)

    for cb in (cb1, cb2, cb1, cb3, cb1):
        fut.add_done_callback(cb)
    assert fut.remove_done_callback(cb1) == 3
    assert fut.remove_done_callback(cb1) == 0
    assert [cb for cb, _ in fut._callbacks] == [cb2, cb3]
    fut.set_result(None)
    run_once(loop)
    assert calls == [2, 3]


def test_remove_done_callback_first_then_add(fut, loop):
    calls = []

    def first(f):
        calls.append("first")

    def second(f):
        calls.append("second")

    fut.add_done_callback(first)
    fut.add_done_callback(second)
    assert fut.remove_done_callback(first) == 1
    fut.add_done_callback(first)
    fut.set_result(None)
    run_once(loop)
    assert calls == ["second", "first"]


def test_remove_done_callback_uses_equality(fut, loop):
    calls = []

    class Target:
        def method(self, f):
            calls.append("method")

    target = Target()
    fut.add_done_callback(target.method)
    # A new bound method object each time, equal but not identical.
    assert target.method is not target.method
    assert fut.remove_done_callback(target.method) == 1
    fut.set_result(None)
    run_once(loop)
    assert calls == []


def test_remove_done_callback_on_done_future_returns_zero(fut, loop):
    fut.add_done_callback(print)
    fut.set_result(None)
    assert fut.remove_done_callback(print) == 0
    calls = []
    fut.add_done_callback(calls.append)
    assert fut.remove_done_callback(calls.append) == 0  # already scheduled
    run_once(loop)
    assert calls == [fut]


def test_remove_done_callback_survives_eq_mutating_callbacks(fut, loop):
    # An __eq__ that adds and removes callbacks while the list is being
    # compared must not crash (GH-97592); the outcome is not specified.
    class Evil:
        def __eq__(self, other):
            fut.remove_done_callback(other)
            fut.add_done_callback(print)
            return False

        def __hash__(self):
            return 0

    for _ in range(4):
        fut.add_done_callback(print)
    count = fut.remove_done_callback(Evil())
    assert isinstance(count, int)
    fut.remove_done_callback(print)
    assert not fut._callbacks


def test_done_callback_exception_goes_to_exception_handler(fut, loop):
    calls = collect_handler_calls(loop)
    ran = []

    def bad(f):
        raise ValueError("callback failed")

    fut.add_done_callback(bad)
    fut.add_done_callback(ran.append)
    fut.set_result(None)
    run_once(loop)
    assert ran == [fut]  # later callbacks still run
    assert len(calls) == 1
    assert calls[0]["message"].startswith("Exception in callback ")
    assert type(calls[0]["exception"]) is ValueError


def test_remove_done_callback_unknown_returns_zero(fut):
    fut.add_done_callback(print)
    assert fut.remove_done_callback(len) == 0
    assert fut.remove_done_callback(print) == 1


def test_callbacks_attribute_lists_callback_and_context(fut):
    ctx = contextvars.Context()

    def cb1(f):
        pass

    def cb2(f):
        pass

    fut.add_done_callback(cb1)
    fut.add_done_callback(cb2, context=ctx)
    cbs = fut._callbacks
    assert [cb for cb, _ in cbs] == [cb1, cb2]
    assert all(isinstance(c, contextvars.Context) for _, c in cbs)
    assert cbs[1][1] is ctx
    assert all(isinstance(item, tuple) and len(item) == 2 for item in cbs)


def test_callbacks_attribute_when_empty(fut, future_kind, loop):
    # STOCK DIFFERENCE: _CFuture reports no callbacks as None, _PyFuture as
    # an empty list.  casyncio follows _CFuture.
    empty = [] if future_kind == "pyfuture" else None
    assert fut._callbacks == empty
    fut.add_done_callback(print)
    fut.set_result(None)
    assert fut._callbacks == empty  # handed over to the loop on completion
    fut.remove_done_callback(print)


# ---- await ----


def test_await_future_in_task(fut, loop):
    async def waiter():
        return await fut

    task = loop.create_task(waiter())
    run_once(loop)
    assert not task.done()
    loop.call_soon(fut.set_result, "awaited")
    assert loop.run_until_complete(task) == "awaited"


def test_await_future_exception_propagates(fut, loop):
    async def waiter():
        return await fut

    task = loop.create_task(waiter())
    loop.call_soon(fut.set_exception, ValueError("from future"))
    with pytest.raises(ValueError, match="^from future$"):
        loop.run_until_complete(task)
    fut.exception()


def test_await_cancelled_future_cancels_task(fut, loop):
    async def waiter():
        return await fut

    task = loop.create_task(waiter())
    loop.call_soon(fut.cancel, "fut cancelled")
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert task.cancelled()


def test_await_done_future_returns_immediately(fut, loop):
    fut.set_result("ready")

    async def waiter():
        return await fut

    assert loop.run_until_complete(waiter()) == "ready"


def test_run_until_complete_of_future(fut, loop):
    loop.call_soon(fut.set_result, 7)
    assert loop.run_until_complete(fut) == 7


def test_future_without_loop_uses_running_loop(Future, loop):
    async def main():
        f = Future()
        assert f.get_loop() is asyncio.get_running_loop()
        loop.call_soon(f.set_result, "from running loop")
        return await f

    assert loop.run_until_complete(main()) == "from running loop"


def test_await_protocol_yields_self_then_returns_result(fut):
    it = fut.__await__()
    assert iter(it) is it
    assert next(it) is fut
    assert fut._asyncio_future_blocking is True
    fut._asyncio_future_blocking = False  # what a Task does
    fut.set_result("value")
    with pytest.raises(StopIteration) as info:
        next(it)
    assert info.value.value == "value"


def test_await_protocol_via_send(fut):
    it = fut.__await__()
    assert it.send(None) is fut
    fut._asyncio_future_blocking = False
    fut.set_result(3)
    with pytest.raises(StopIteration) as info:
        it.send(None)
    assert info.value.value == 3


def test_await_protocol_without_yield_from_raises(fut):
    it = fut.__await__()
    assert next(it) is fut
    # Resumed while still pending and still blocking: not driven by a Task.
    with pytest.raises(RuntimeError, match=r"^await wasn't used with future$"):
        next(it)


def test_iter_is_await(fut):
    it = iter(fut)
    assert next(it) is fut
    fut._asyncio_future_blocking = False
    fut.set_result("iter")
    with pytest.raises(StopIteration) as info:
        next(it)
    assert info.value.value == "iter"


def test_await_protocol_on_done_future_raises_exception(fut):
    fut.set_exception(ValueError("done already"))
    it = fut.__await__()
    with pytest.raises(ValueError, match="^done already$"):
        next(it)


def test_await_protocol_throw(fut):
    it = fut.__await__()
    assert next(it) is fut
    with pytest.raises(KeyError, match="thrown"):
        it.throw(KeyError("thrown"))
    assert not fut.done()


def test_await_iterator_is_an_iterator(fut):
    import collections.abc

    it = fut.__await__()
    assert isinstance(it, collections.abc.Iterator)
    assert iter(it) is it
    fut.set_result(1)
    with pytest.raises(StopIteration):
        next(it)


def test_ensure_future_and_wrap_future_return_the_future(fut, loop):
    assert asyncio.ensure_future(fut) is fut
    assert asyncio.ensure_future(fut, loop=loop) is fut
    assert asyncio.wrap_future(fut) is fut
    assert futures._get_loop(fut) is loop


def test_asyncio_future_blocking(Future, fut):
    assert hasattr(Future, "_asyncio_future_blocking")
    assert fut._asyncio_future_blocking is False
    assert asyncio.isfuture(fut)
    fut._asyncio_future_blocking = True
    assert fut._asyncio_future_blocking is True
    fut._asyncio_future_blocking = False
    assert fut._asyncio_future_blocking is False


# ---- private attributes ----


def test_log_traceback_can_only_be_set_false(fut):
    assert fut._log_traceback is False
    fut._log_traceback = False
    assert fut._log_traceback is False
    with pytest.raises(ValueError, match=r"^_log_traceback can only be set to False$"):
        fut._log_traceback = True
    assert fut._log_traceback is False


def test_log_traceback_is_set_by_exception_and_cleared_by_retrieval(fut):
    fut.set_exception(ValueError())
    assert fut._log_traceback is True
    fut.exception()
    assert fut._log_traceback is False


def test_log_traceback_cleared_by_result(fut):
    fut.set_exception(ValueError())
    with pytest.raises(ValueError):
        fut.result()
    assert fut._log_traceback is False


def test_state_strings(Future, loop):
    pending = Future(loop=loop)
    finished = Future(loop=loop)
    finished.set_result(None)
    failed = Future(loop=loop)
    failed.set_exception(ValueError())
    failed.exception()
    cancelled = Future(loop=loop)
    cancelled.cancel()
    assert pending._state == "PENDING"
    assert finished._state == "FINISHED"
    assert failed._state == "FINISHED"
    assert cancelled._state == "CANCELLED"


def test_get_loop(fut, loop):
    assert fut.get_loop() is loop
    assert fut._loop is loop


# ---- repr ----


def test_repr_pending(fut):
    assert repr(fut) == "<Future pending>"


def test_repr_pending_with_callbacks(fut, loop):
    def on_done(f):
        pass

    fut.add_done_callback(on_done)
    assert re.match(r"^<Future pending cb=\[.*on_done\(\) at .+:\d+\]>$", repr(fut))
    # Same scenario on asyncio's C Future: identical text.
    ref = futures._CFuture(loop=loop)
    ref.add_done_callback(on_done)
    assert repr(fut) == repr(ref)


def test_repr_finished_result(fut):
    fut.set_result([1, 2])
    assert repr(fut) == "<Future finished result=[1, 2]>"


def test_repr_finished_long_result_is_abbreviated(fut, loop):
    fut.set_result("x" * 1000)
    ref = futures._CFuture(loop=loop)
    ref.set_result("x" * 1000)
    assert repr(fut) == repr(ref)
    assert len(repr(fut)) < 200


def test_repr_finished_exception(fut):
    fut.set_exception(ValueError("boom"))
    assert repr(fut) == "<Future finished exception=ValueError('boom')>"
    fut.exception()


def test_repr_cancelled(fut):
    fut.cancel()
    assert repr(fut) == "<Future cancelled>"


def test_repr_subclass_uses_class_name(Future, loop):
    class MyFuture(Future):
        pass

    f = MyFuture(loop=loop)
    assert repr(f) == "<MyFuture pending>"
    f.set_result(1)
    assert repr(f) == "<MyFuture finished result=1>"


def test_repr_in_debug_mode_says_where_created(Future, loop):
    loop.set_debug(True)
    f = Future(loop=loop)
    assert re.match(
        r"^<Future pending created at " + re.escape(__file__) + r":\d+>$", repr(f)
    )


# ---- typing, weak references, subclassing ----


def test_class_getitem(Future):
    alias = Future[int]
    assert alias.__origin__ is Future
    assert alias.__args__ == (int,)
    assert type(alias) is type(list[int])


def test_weakref(Future, loop):
    f = Future(loop=loop)
    ref = weakref.ref(f)
    assert ref() is f
    del f
    gc.collect()
    assert ref() is None


def test_instance_attributes(fut):
    fut.custom = "value"
    assert fut.custom == "value"


def test_subclass_with_extra_attributes_and_overrides(Future, loop):
    class MyFuture(Future):
        def __init__(self, *, loop, label):
            super().__init__(loop=loop)
            self.label = label
            self.log = []

        def set_result(self, result):
            self.log.append(("set_result", result))
            super().set_result(result * 2)

        def cancel(self, msg=None):
            self.log.append(("cancel", msg))
            return super().cancel(msg)

    f = MyFuture(loop=loop, label="mine")
    assert isinstance(f, Future)
    assert asyncio.isfuture(f)
    assert f.label == "mine"
    calls = []
    f.add_done_callback(calls.append)
    f.set_result(21)
    assert f.result() == 42
    assert f.log == [("set_result", 21)]
    run_once(loop)
    assert calls == [f]

    g = MyFuture(loop=loop, label="other")
    assert g.cancel("stop") is True
    assert g.log == [("cancel", "stop")]
    assert g.cancelled()


def test_subclass_is_awaitable_by_task(Future, loop):
    class MyFuture(Future):
        added = 0

        def add_done_callback(self, fn, *, context=None):
            type(self).added += 1
            return super().add_done_callback(fn, context=context)

    f = MyFuture(loop=loop)

    async def waiter():
        return await f

    task = loop.create_task(waiter())
    loop.call_soon(f.set_result, "sub")
    assert loop.run_until_complete(task) == "sub"
    # A Task waits on a subclass through its add_done_callback method.
    assert MyFuture.added >= 1


def test_cancel_of_waiting_task_uses_subclass_cancel(Future, loop):
    cancels = []

    class MyFuture(Future):
        def cancel(self, msg=None):
            cancels.append(msg)
            return super().cancel(msg)

    f = MyFuture(loop=loop)

    async def waiter():
        return await f

    task = loop.create_task(waiter())
    run_once(loop)
    task.cancel("from task")
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert cancels == ["from task"]
    assert f.cancelled()


# ---- "exception was never retrieved" ----


def collect_handler_calls(loop):
    calls = []
    loop.set_exception_handler(lambda lp, ctx: calls.append(ctx))
    return calls


def test_unretrieved_exception_is_reported(Future, loop):
    calls = collect_handler_calls(loop)
    f = Future(loop=loop)
    exc = ValueError("never retrieved")
    f.set_exception(exc)
    del f
    gc.collect()
    assert len(calls) == 1
    ctx = calls[0]
    assert ctx["message"] == "Future exception was never retrieved"
    assert ctx["exception"] is exc
    assert isinstance(ctx["future"], Future)
    assert "source_traceback" not in ctx  # not in debug mode
    assert {"message", "exception", "future"} <= set(ctx)


def test_unretrieved_exception_message_uses_class_name(Future, loop):
    class MyFuture(Future):
        pass

    calls = collect_handler_calls(loop)
    f = MyFuture(loop=loop)
    f.set_exception(ValueError())
    del f
    gc.collect()
    assert [c["message"] for c in calls] == ["MyFuture exception was never retrieved"]


@pytest.mark.parametrize("retrieve", ["exception", "result", "log_traceback"])
def test_retrieved_exception_is_not_reported(Future, loop, retrieve):
    calls = collect_handler_calls(loop)
    f = Future(loop=loop)
    f.set_exception(ValueError("retrieved"))
    if retrieve == "exception":
        f.exception()
    elif retrieve == "result":
        with pytest.raises(ValueError):
            f.result()
    else:
        f._log_traceback = False
    del f
    gc.collect()
    assert calls == []


def test_result_and_cancelled_futures_are_not_reported(Future, loop):
    calls = collect_handler_calls(loop)
    a = Future(loop=loop)
    a.set_result(ValueError("a result, not an exception"))
    b = Future(loop=loop)
    b.cancel()
    c = Future(loop=loop)  # left pending
    del a, b, c
    gc.collect()
    assert calls == []


def test_unretrieved_exception_after_await_is_not_reported(Future, loop):
    calls = collect_handler_calls(loop)
    f = Future(loop=loop)

    async def waiter(fut):
        try:
            await fut
        except ValueError:
            return "caught"

    loop.call_soon(f.set_exception, ValueError())
    assert loop.run_until_complete(waiter(f)) == "caught"
    del f
    gc.collect()
    assert calls == []


# ---- debug mode ----


def test_source_traceback_in_debug_mode(Future, loop):
    loop.set_debug(True)
    f = Future(loop=loop)
    tb = f._source_traceback
    assert isinstance(tb, list)
    assert tb
    # The last frame is the code that created the future.
    assert tb[-1].name == "test_source_traceback_in_debug_mode"
    assert tb[-1].filename == __file__


def test_source_traceback_reported_in_debug_mode(Future, loop):
    loop.set_debug(True)
    calls = collect_handler_calls(loop)
    f = Future(loop=loop)
    f.set_exception(ValueError())
    tb = f._source_traceback
    del f
    gc.collect()
    assert len(calls) == 1
    assert calls[0]["source_traceback"] == tb
