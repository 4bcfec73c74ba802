"""Async generator hooks and shutdown_asyncgens."""

import asyncio
import gc
import sys

import pytest


def make_agen(log, name="agen"):
    async def agen():
        try:
            yield 1
            yield 2
        finally:
            # An await in the finally block: closing must happen on the loop.
            await asyncio.sleep(0)
            log.append(f"{name} finalised")

    return agen()


def test_shutdown_asyncgens_finalises_unexhausted_generators(loop):
    log = []
    keep = []

    async def main():
        for name in ("first", "second"):
            gen = make_agen(log, name)
            keep.append(gen)
            assert await gen.__anext__() == 1

    loop.run_until_complete(main())
    assert log == []
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert sorted(log) == ["first finalised", "second finalised"]


def test_shutdown_asyncgens_skips_exhausted_generators(loop):
    log = []
    keep = []

    async def main():
        gen = make_agen(log)
        keep.append(gen)
        assert [x async for x in gen] == [1, 2]

    loop.run_until_complete(main())
    assert log == ["agen finalised"]
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert log == ["agen finalised"]


def test_shutdown_asyncgens_with_no_generators_returns(loop):
    assert loop.run_until_complete(loop.shutdown_asyncgens()) is None


def test_shutdown_asyncgens_reports_error_in_finally_to_exception_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    keep = []

    async def bad_agen():
        try:
            yield 1
        finally:
            raise ValueError("error while closing")

    async def main():
        gen = bad_agen()
        keep.append(gen)
        await gen.__anext__()

    loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert len(contexts) == 1
    context = contexts[0]
    assert context["message"].startswith(
        "an error occurred during closing of asynchronous generator"
    )
    assert isinstance(context["exception"], ValueError)
    assert context["asyncgen"] is keep[0]


def test_runner_closes_unexhausted_generators(run):
    log = []
    keep = []

    async def main():
        gen = make_agen(log)
        keep.append(gen)
        await gen.__anext__()
        return "main done"

    assert run(main()) == "main done"
    assert log == ["agen finalised"]


def test_generator_dropped_while_loop_runs_is_finalised_on_the_loop(loop):
    log = []

    async def main():
        gen = make_agen(log)
        await gen.__anext__()
        del gen
        gc.collect()
        for _ in range(5):
            await asyncio.sleep(0)
        return list(log)

    assert loop.run_until_complete(main()) == ["agen finalised"]


def test_asyncgen_hooks_are_installed_while_running(loop):
    seen = []
    loop.call_soon(lambda: seen.append(sys.get_asyncgen_hooks()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen[0].firstiter is not None
    assert seen[0].finalizer is not None


@pytest.fixture
def custom_hooks():
    """Install recognisable async generator hooks, restore the old ones."""
    saved = sys.get_asyncgen_hooks()

    def firstiter(agen):
        pass

    def finalizer(agen):
        pass

    sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalizer)
    try:
        yield firstiter, finalizer
    finally:
        sys.set_asyncgen_hooks(*saved)


def test_asyncgen_hooks_restored_after_run_forever_returns(loop, custom_hooks):
    firstiter, finalizer = custom_hooks
    seen = []
    loop.call_soon(lambda: seen.append(sys.get_asyncgen_hooks()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen[0].firstiter is not firstiter
    assert seen[0].finalizer is not finalizer
    hooks = sys.get_asyncgen_hooks()
    assert hooks.firstiter is firstiter
    assert hooks.finalizer is finalizer


def test_asyncgen_hooks_restored_after_run_forever_raises(loop, custom_hooks):
    firstiter, finalizer = custom_hooks

    def interrupt():
        raise KeyboardInterrupt

    loop.call_soon(interrupt)
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    hooks = sys.get_asyncgen_hooks()
    assert hooks.firstiter is firstiter
    assert hooks.finalizer is finalizer


def test_asyncgen_hooks_restored_after_run_until_complete(loop, custom_hooks):
    firstiter, finalizer = custom_hooks
    loop.run_until_complete(asyncio.sleep(0))
    hooks = sys.get_asyncgen_hooks()
    assert hooks.firstiter is firstiter
    assert hooks.finalizer is finalizer
