#!/usr/bin/env python3
"""Instructions an operation, under callgrind: the steady figure.

    python benchmarks/instructions.py [--only call_soon_args,...]
        [--impls casyncio,asyncio,uvloop] [--scales 0.3,0.9]

Each workload runs under `valgrind --tool=callgrind` once at each of two
scales, in a fresh process, and the difference in instructions is divided
by the difference in operations, so that start-up, imports and the loop's
creation cancel out. "C" is the part counted in casyncio's own extension
(`casyncio/_core*.so`), not the CPython functions it calls. Unlike the
clock, the count does not move with the machine's load: the same binaries
give the same figure. Small scales (under about 0.1) are not linear (the
collector's thresholds, the interpreter's warm-up), hence the defaults.

Needs valgrind (Debian: `apt-get install valgrind`), which makes each run
about 50 times slower: the defaults take a minute or two a workload.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Run inside the valgrind'ed process: one workload at one scale.
CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
import workloads
impl, name, scale = sys.argv[2], sys.argv[3], float(sys.argv[4])
factory, _ = workloads.IMPLS[impl]()
result = workloads.WORKLOADS[name].fn(factory, scale)
print("OPS", result.ops, flush=True)
"""

LINE = re.compile(r"\s*([\d,]+) (?:\(\s*[\d.]+%\)\s+)?(.*)")


def count(out_file: Path) -> tuple[int, int]:
    """(all instructions, those in casyncio's extension) of a callgrind file."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", str(out_file)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = core = 0
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        n = int(m.group(1).replace(",", ""))
        rest = m.group(2)
        if rest.startswith("PROGRAM TOTALS"):
            total = n
        elif "casyncio/_core" in rest:
            core += n
    return total, core


def run_one(impl: str, name: str, scale: float, tmp: Path) -> tuple[int, int, int]:
    """(operations, instructions, instructions in casyncio's C)."""
    out = tmp / f"{impl}.{name}.{scale}.out"
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-P",  # not the checkout's unbuilt casyncio/ from the current directory
            "-c",
            CHILD,
            str(HERE),
            impl,
            name,
            str(scale),
        ],
        capture_output=True,
        text=True,
    )
    m = re.search(r"^OPS (\d+)$", proc.stdout, re.M)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(f"{impl} {name} at {scale} failed:\n{proc.stderr[-2000:]}")
    total, core = count(out)
    return int(m.group(1)), total, core


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--only",
        default="call_soon,call_soon_batch,call_soon_args,sleep0,future_pingpong,"
        "protocol_pingpong",
        help="workloads (default: %(default)s)",
    )
    p.add_argument("--impls", default="casyncio,asyncio,uvloop")
    p.add_argument("--scales", default="0.3,0.9", help="the two scales")
    args = p.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        p.error("valgrind (with callgrind_annotate) is not installed")
    small, big = (float(x) for x in args.scales.split(","))
    sys.path.insert(0, str(HERE))
    import workloads

    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in workloads.WORKLOADS]
    if unknown:
        p.error(f"unknown workloads {unknown}")
    impls = [i for i in args.impls.split(",") if i]
    print(f"# instructions an operation, CPython {sys.version.split()[0]}, "
          f"scales {small} and {big}")
    print("| workload | " + " | ".join(impls) + " | casyncio's C |")
    print("|---|" + "---:|" * (len(impls) + 1))
    status = 0
    with tempfile.TemporaryDirectory() as d:
        for name in names:
            cells, c_part = [], "-"
            for impl in impls:
                try:
                    o1, t1, c1 = run_one(impl, name, small, Path(d))
                    o2, t2, c2 = run_one(impl, name, big, Path(d))
                except (RuntimeError, KeyError, ImportError) as exc:
                    print(f"# {exc}", file=sys.stderr)
                    cells.append("failed")
                    status = 1
                    continue
                cells.append(f"{(t2 - t1) / (o2 - o1):,.0f}")
                if impl == "casyncio":
                    c_part = f"{(c2 - c1) / (o2 - o1):,.0f}"
                for f in Path(d).glob("*.out"):
                    os.unlink(f)
            print(f"| {name} | " + " | ".join(cells) + f" | {c_part} |", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
