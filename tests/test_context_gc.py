"""The contexts tasks and done-callbacks run in, and the garbage collector.

casyncio leaves the empty context copies it makes for tasks and
done-callbacks out of the cyclic GC while nothing else can reach them (see
src/handle.h).  These tests reach them every way Python code can (a Token,
get_context(), _callbacks, gc.get_referents, a value that refers back) and
check that reference cycles through them are still collected and that
nothing is freed twice or too early.  Each runs against casyncio's Task and
Future and asyncio's C and pure-Python ones, on both loops, inside an empty
context (the case casyncio optimises: under pytest the thread's context
already holds decimal's variable).
"""

import asyncio
import contextvars
import functools
import gc
import sys
import weakref

import pytest
from test_task import FUTURE_CLASSES, TASK_CLASSES

var = contextvars.ContextVar("var", default="unset")


class Holder:
    """Something a context variable can hold that refers back."""

    def __init__(self, ref=None):
        self.ref = ref


@pytest.fixture(params=list(TASK_CLASSES))
def Task(request):  # noqa: N802 (a class, named like one)
    return TASK_CLASSES[request.param]


@pytest.fixture(params=list(FUTURE_CLASSES))
def Future(request):  # noqa: N802 (a class, named like one)
    return FUTURE_CLASSES[request.param]


def in_empty_context(test):
    """Runs the test in a new, empty Context."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return contextvars.Context().run(test, *args, **kwargs)

    return wrapper


def collect():
    gc.collect()


@in_empty_context
def test_cycle_through_a_variable_the_task_set_is_collected(Task, loop):
    refs = []

    async def body():
        holder = Holder(asyncio.current_task())
        refs.append(weakref.ref(holder))
        var.set(holder)  # task -> context -> holder -> task
        await asyncio.sleep(0)
        return var.get() is holder

    task = Task(body(), loop=loop)
    assert loop.run_until_complete(task) is True
    del task
    collect()
    assert refs[0]() is None


@in_empty_context
def test_token_that_outlives_its_task_keeps_the_context_alive(Task, loop):
    tokens = []

    async def body():
        token = var.set("inside")
        tokens.append(token)
        var.reset(token)  # the context is empty again, but the token refers to it
        await asyncio.sleep(0)
        return var.get()

    task = Task(body(), loop=loop)
    assert loop.run_until_complete(task) == "unset"
    task_ref = weakref.ref(task)
    del task
    collect()
    assert task_ref() is None
    assert tokens[0].var is var
    assert tokens[0].old_value is contextvars.Token.MISSING
    tokens.clear()  # frees the task's context last
    collect()


@in_empty_context
def test_context_handed_out_by_get_context(Task, loop):
    if not hasattr(Task, "get_context"):
        pytest.skip("Task.get_context() is 3.12+")
    refs = []

    async def body():
        await asyncio.sleep(0)
        return var.get()

    task = Task(body(), loop=loop)
    ctx = task.get_context()
    holder = Holder(task)  # context -> holder -> task -> context
    refs.append(weakref.ref(holder))
    ctx.run(var.set, holder)
    del holder, ctx
    assert loop.run_until_complete(task) is refs[0]()
    del task
    collect()
    assert refs[0]() is None


@in_empty_context
def test_referents_of_a_pending_task_stay_usable(Task, loop):
    async def body():
        return var.get()

    task = Task(body(), loop=loop)
    referents = gc.get_referents(task)
    assert loop.run_until_complete(task) == "unset"
    del task
    collect()
    contexts = [r for r in referents if isinstance(r, contextvars.Context)]
    for ctx in contexts:  # asyncio's tasks show theirs; it stays valid
        assert ctx.run(var.set, "later") is not None
        assert ctx[var] == "later"
    del referents, contexts
    collect()


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@in_empty_context
def test_pending_task_in_a_cycle_is_collected_after_close(Task, new_loop):
    loop = new_loop()
    reports = []
    # Only the message is kept: a handler that keeps the context keeps the
    # task (3.15's collector then also keeps the weakref to it alive).
    loop.set_exception_handler(lambda lp, context: reports.append(context["message"]))

    async def body(holder):
        return len(holder)

    holder = []
    task = Task(body(holder), loop=loop)
    holder.append(task)  # task -> coroutine -> holder -> task; never started
    task_ref = weakref.ref(task)
    del task, holder
    loop.close()
    collect()
    assert task_ref() is None
    assert reports == ["Task was destroyed but it is pending!"]


@in_empty_context
def test_cycle_through_a_done_callback_context_is_collected(Future, loop):
    refs = []
    fut = Future(loop=loop)
    fut.add_done_callback(lambda f: None)
    ((_, ctx),) = fut._callbacks
    holder = Holder(fut)  # future -> callback's context -> holder -> future
    refs.append(weakref.ref(holder))
    ctx.run(var.set, holder)
    del holder, ctx, fut
    collect()
    assert refs[0]() is None


@in_empty_context
def test_token_made_by_a_done_callback_outlives_it(Future, loop):
    tokens = []

    def callback(fut):
        token = var.set(fut.result())
        tokens.append(token)
        var.reset(token)

    fut = Future(loop=loop)
    fut.add_done_callback(callback)
    fut.set_result("value")
    loop.run_until_complete(asyncio.sleep(0))
    assert len(tokens) == 1
    del fut
    collect()
    assert tokens[0].var is var
    tokens.clear()
    collect()


@in_empty_context
def test_done_callbacks_of_a_dropped_future_are_released(Future, loop):
    calls = []
    fut = Future(loop=loop)
    for i in range(3):
        fut.add_done_callback(lambda f, i=i: calls.append(i))
    fut.remove_done_callback(fut._callbacks[1][0])
    fut_ref = weakref.ref(fut)
    del fut
    collect()
    assert fut_ref() is None
    assert calls == []


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks are 3.12+")
@in_empty_context
def test_eager_task_keeps_its_token(Task, loop):
    tokens = []

    async def body():
        token = var.set("eager")
        tokens.append(token)
        var.reset(token)
        return var.get()

    async def main():
        task = Task(body(), loop=loop, eager_start=True)
        assert task.done()
        return await task

    assert loop.run_until_complete(main()) == "unset"
    collect()
    tokens.clear()
    collect()
