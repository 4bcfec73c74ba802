"""What the server benchmarks (echo.py, httpbench.py) share: the loop of
each implementation, the allocator's state before serving, the server
process's CPU time, a check that an implementation can be used here, and
the table of medians and ratios."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RATIO_PAIRS = (("casyncio", "asyncio"), ("casyncio", "uvloop"))


def new_loop(impl: str):
    """A fresh loop of impl, as workloads.py makes it (casyncio from the
    in-tree build when there is one)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import workloads

    factory, _ = workloads.IMPLS[impl]()
    return factory()


# What a server process allocates and frees once before it serves.
SETTLE_BYTES = 4 << 20


def settle_malloc() -> None:
    """Puts glibc's malloc into the state a long-running process reaches
    once it has freed a large block, the same for every implementation.

    glibc serves blocks of 128 KiB or more with mmap until the program frees
    one such block; that free raises the mmap threshold to the block's size
    and the trim threshold to twice it.  A fresh server's state depends on
    its history, not its loop, and moved the figures more than the loops
    did (asyncio's 256 KiB receive buffers, StreamReader's bytearray:
    benchmarks/README.md, "Echo servers").  Freeing one SETTLE_BYTES block
    moves every loop's process to the second state; elsewhere than on glibc
    it changes nothing that matters."""
    bytes(SETTLE_BYTES)


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    t = os.times()
    return t.user + t.system


def probe(impl: str) -> str | None:
    """None if a loop of impl can be made in a fresh interpreter, else the
    last line of the error."""
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import servers;"
        f" servers.new_loop({impl!r}).close()"
    )
    # -P: run from the top of a checkout, `-c` would put the current
    # directory first on sys.path and import the unbuilt casyncio/ there.
    proc = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True
    )
    return None if proc.returncode == 0 else proc.stderr.strip().splitlines()[-1]


def ratio_table(results, keys, labels, impls, unit) -> str:
    """Medians of results[(key, impl)] (lists of {"rate", "cpu_us"}) for
    each key, under the label columns labels (key gives their values, a
    tuple), then the ratios of casyncio to asyncio and uvloop in rate and
    in CPU per `unit`."""

    def med(key, impl, field):
        vals = [r[field] for r in results.get((key, impl), [])]
        return statistics.median(vals) if vals else None

    pairs = [(a, b) for a, b in RATIO_PAIRS if a in impls and b in impls]
    head = [
        *labels,
        *[f"{i} {unit}/s" for i in impls],
        *[f"{i} us/{unit}" for i in impls],
    ]
    head += [f"{a}/{b}" for a, b in pairs] + [f"cpu {a}/{b}" for a, b in pairs]
    rows = [head]
    for key in keys:
        rates = {i: med(key, i, "rate") for i in impls}
        cpus = {i: med(key, i, "cpu_us") for i in impls}
        row = [str(v) for v in (key if isinstance(key, tuple) else (key,))]
        row += [f"{rates[i]:.0f}" if rates[i] else "FAILED" for i in impls]
        row += [f"{cpus[i]:.1f}" if cpus[i] else "-" for i in impls]
        for a, b in pairs:
            ok = rates[a] and rates[b]
            row.append(f"{rates[a] / rates[b]:.2f}x" if ok else "-")
        for a, b in pairs:
            ok = cpus[a] and cpus[b]
            row.append(f"{cpus[b] / cpus[a]:.2f}x" if ok else "-")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            c.rjust(w) if j >= len(labels) else c.ljust(w)
            for j, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )
