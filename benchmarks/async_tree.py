#!/usr/bin/env python3
"""pyperformance's async benchmarks (the async_tree family) on stock asyncio,
uvloop, casyncio and casyncio with casyncio.accelerate(), with one command:

    pip install '.[bench]'
    python benchmarks/async_tree.py [--impls asyncio,uvloop,casyncio,casyncio-accel]
        [--only none,io_tg,eager,...] [--processes 3] [--values 3] [--json FILE]

The benchmark is pyperformance's own file (bm_async_tree/run_benchmark.py in
the installed pyperformance), run unchanged under pyperf: a tree of
asyncio.gather() (or TaskGroup) calls, 6 levels of 6 branches, whose leaves
do nothing ("none"), sleep 50 ms ("io"), sleep unless memoized
("memoization"), or half of them compute ("cpu_io_mixed"); each as is, with
TaskGroups ("_tg"), and from 3.12 with the eager task factory ("eager").
pyperf makes its loop with asyncio.new_event_loop(), which this script
binds, in pyperf's worker processes, to the implementation measured.

For each benchmark the implementations run one after another (the order
rotating from one benchmark to the next); the table gives pyperf's median
time of one tree and the speedups: asyncio's time over each other's, and
uvloop's over casyncio's.  Like benchmarks/run.py, it prints which casyncio
it loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
IMPL_ENV = "CASYNCIO_ASYNC_TREE_IMPL"
IMPLS = ("asyncio", "uvloop", "casyncio", "casyncio-accel")

# name -> run_benchmark.py's arguments (pyperformance's tomls' extra_opts)
VARIANTS = {}
for _base in ("none", "io", "memoization", "cpu_io_mixed"):
    VARIANTS[_base] = [_base]
    VARIANTS[_base + "_tg"] = [_base, "--task-groups"]
    if sys.version_info >= (3, 12):
        _eager = "eager" if _base == "none" else "eager_" + _base
        VARIANTS[_eager] = [_eager]


def benchmark_file() -> Path:
    import pyperformance

    path = (
        Path(pyperformance.__file__).parent
        / "data-files"
        / "benchmarks"
        / "bm_async_tree"
        / "run_benchmark.py"
    )
    if not path.exists():
        raise SystemExit(f"pyperformance has no {path}")
    return path


def select(impl: str) -> str:
    """Bind asyncio.new_event_loop to `impl`'s loop; its description."""
    import asyncio

    if impl == "asyncio":
        return "asyncio (SelectorEventLoop)"
    if impl == "uvloop":
        import uvloop

        asyncio.new_event_loop = uvloop.new_event_loop
        return f"uvloop {uvloop.__version__}"
    sys.path.insert(0, str(HERE))
    import workloads  # the same choice of in-tree or installed casyncio

    factory, description = workloads.IMPLS[impl]()
    asyncio.new_event_loop = factory
    return description


def run_as_benchmark(impl: str) -> None:
    """In pyperf's master and worker processes: run pyperformance's file.
    Not with runpy.run_path, which would set sys.argv[0] to that file: pyperf
    starts its workers with sys.argv[0], and they must run this one (which
    selects the implementation) again."""
    select(impl)
    path = benchmark_file()
    sys.argv[0] = str(Path(__file__).resolve())
    code = compile(path.read_text(), str(path), "exec")
    exec(code, {"__name__": "__main__", "__file__": str(path)})


def measure(impl: str, variant: str, args, out: Path) -> float:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        *VARIANTS[variant],
        "--processes",
        str(args.processes),
        "--values",
        str(args.values),
        "--warmups",
        "1",
        "--inherit-environ",
        f"{IMPL_ENV},PYTHONPATH",
        "--quiet",
        "--output",
        str(out),
    ]
    env = dict(os.environ, **{IMPL_ENV: impl})
    subprocess.run(cmd, check=True, env=env)
    import pyperf

    return pyperf.Benchmark.load(str(out)).median()


def main(argv=None) -> int:
    impl = os.environ.get(IMPL_ENV)
    if impl:
        run_as_benchmark(impl)
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument("--only", help="comma-separated variants: " + ", ".join(VARIANTS))
    p.add_argument("--processes", type=int, default=3, help="pyperf processes")
    p.add_argument("--values", type=int, default=3, help="pyperf values a process")
    p.add_argument("--json", metavar="FILE", help="write the figures to FILE")
    args = p.parse_args(argv)
    impls = [i for i in args.impls.split(",") if i]
    unknown = [i for i in impls if i not in IMPLS]
    variants = args.only.split(",") if args.only else list(VARIANTS)
    unknown += [v for v in variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown: {', '.join(unknown)}")
    print(f"pyperformance's {benchmark_file()}", file=sys.stderr)
    for i in impls:
        if i.startswith("casyncio"):
            print(f"{i}: {select(i)}", file=sys.stderr)
    times: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, variant in enumerate(variants):
            order = impls[n % len(impls) :] + impls[: n % len(impls)]
            times[variant] = {}
            for impl in order:
                out = Path(tmp) / f"{variant}-{impl}.json"
                times[variant][impl] = measure(impl, variant, args, out)
                print(
                    f"  async_tree_{variant:<20} {impl:<15} "
                    f"{1000 * times[variant][impl]:9.1f} ms",
                    file=sys.stderr,
                )
    print(render(times, impls))
    if args.json:
        meta = {"python": sys.version.split()[0], "impls": impls}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "times": times}, f, indent=1)
    return 0


def render(times, impls) -> str:
    cols = [(i, "asyncio") for i in impls if i != "asyncio" and "asyncio" in impls]
    for mine in ("casyncio", "casyncio-accel"):
        if mine in impls and "uvloop" in impls:
            cols.append((mine, "uvloop"))
    if "casyncio" in impls and "casyncio-accel" in impls:
        cols.append(("casyncio-accel", "casyncio"))
    head = ["benchmark", *[f"{i} (ms)" for i in impls], *[f"{a}/{b}" for a, b in cols]]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for variant, per in times.items():
        cells = [f"async_tree_{variant}"]
        cells += [f"{1000 * per[i]:.1f}" for i in impls]
        cells += [f"{per[b] / per[a]:.2f}x" for a, b in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
