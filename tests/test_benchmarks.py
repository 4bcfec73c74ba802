"""Quick checks of the benchmarks' own machinery (nothing here is timed):
the sleep0 limit's C round-robin builds and checks its coroutines."""

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import roundrobin  # noqa: E402
import workloads  # noqa: E402

needs_cc = pytest.mark.skipif(roundrobin.compiler() is None, reason="no C compiler")


# --------------------------------------------------------------------------
# The sleep0 limit


@needs_cc
def test_sleep0_limit_runs_the_workload_coroutines():
    result = workloads.LIMITS["sleep0"](0.01)  # 100 tasks x 100 sleeps
    assert result.ops == 100 * 100
    assert result.seconds > 0


@needs_cc
def test_round_robin_returns_results_in_order():
    run = roundrobin.build().run

    async def steps(n, tag):
        for _ in range(n):
            await asyncio.sleep(0)
        return tag

    # Coroutines that finish at different passes keep their places.
    assert run([steps(3, "a"), steps(0, "b"), steps(7, "c")]) == ["a", "b", "c"]
    assert run([]) == []


@needs_cc
def test_round_robin_rejects_a_yield_that_is_not_none():
    run = roundrobin.build().run

    loop = asyncio.new_event_loop()

    async def waits_on_a_future():
        await loop.create_future()

    coro = waits_on_a_future()
    try:
        with pytest.raises(RuntimeError, match="expected a bare None"):
            run([coro])
    finally:
        coro.close()
        loop.close()


@needs_cc
def test_round_robin_propagates_a_coroutine_error():
    run = roundrobin.build().run

    async def fails():
        await asyncio.sleep(0)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run([fails()])
