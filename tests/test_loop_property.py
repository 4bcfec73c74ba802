"""Property-based: random sequences of call_soon / call_at / call_later /
cancel / stop run the same callbacks, in the same order, in the same
run_forever() pass, on casyncio as on stock asyncio.

The deadlines are chosen so that stock asyncio's order is defined: every
call_at deadline is in the past and distinct (asyncio's timer heap does not
order equal deadlines), and far-future timers never fire.  Callbacks may
schedule further callbacks and timers, cancel handles and stop the loop
while it runs.
"""

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import casyncio

# One operation: what it does and a number (a deadline offset, a handle to
# cancel, how many children to spawn).
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("soon"), st.integers(0, 2)),
        st.tuples(st.just("past"), st.integers(0, 2)),
        st.tuples(st.just("far"), st.integers(0, 2)),
        st.tuples(st.just("cancel"), st.integers(0, 63)),
        st.tuples(st.just("stop"), st.integers(0, 0)),
        st.tuples(st.just("stop_inside"), st.integers(0, 2)),
    ),
    max_size=60,
)


def trace(make_loop, ops):
    """Run ops on a fresh loop; return what ran, pass by pass, and the
    final cancelled() state of every handle."""
    loop = make_loop()
    log = []
    handles = []
    pass_no = [0]
    # Distinct past deadlines, in the order the operations name them.
    base = loop.time() - 10.0
    serial = [0]

    def next_id():
        serial[0] += 1
        return serial[0]

    def callback(ident, spawn):
        log.append((pass_no[0], ident))
        for _ in range(spawn):
            schedule("soon", 0)

    def schedule(kind, n):
        ident = next_id()
        if kind == "soon":
            handles.append(loop.call_soon(callback, ident, n))
        elif kind == "past":
            when = base + ident * 1e-3
            handles.append(loop.call_at(when, callback, ident, n))
        elif kind == "far":
            handles.append(loop.call_later(3600 + ident, callback, ident, n))
        elif kind == "stop_inside":
            # A callback that stops the loop from inside a pass.
            handles.append(loop.call_soon(stop_inside, ident, n))

    def stop_inside(ident, spawn):
        log.append((pass_no[0], ident, "stop"))
        loop.stop()
        for _ in range(spawn):
            schedule("soon", 0)

    try:
        for kind, n in ops:
            if kind == "cancel":
                if handles:
                    handles[n % len(handles)].cancel()
            elif kind == "stop":
                handles.append(loop.call_soon(loop.stop))
            else:
                schedule(kind, n)
        # Enough passes to drain every chain of spawned callbacks.
        for pass_no[0] in range(len(ops) + 3):
            loop.call_soon(loop.stop)
            loop.run_forever()
        return log, [h.cancelled() for h in handles]
    finally:
        loop.close()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(OPS)
def test_schedule_cancel_stop_sequences_match_stock_asyncio(ops):
    expected = trace(asyncio.SelectorEventLoop, ops)
    actual = trace(casyncio.new_event_loop, ops)
    assert actual == expected
