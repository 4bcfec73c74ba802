#!/usr/bin/env python3
"""The README's benchmark table from run.py's --json files, one per Python.

    python benchmarks/table.py bench-3.11.json bench-3.12.json ... [--ops 3.14]

Prints a Markdown table: one row per workload, casyncio's, asyncio's and
uvloop's operations per second on one Python (--ops, default the newest),
then for every Python casyncio's speedup over asyncio and over uvloop
measured in that Python's run ("-" where a run is missing, "failed" where
it failed).  Each file holds run.py's medians over its rounds; the ratios
of one run are what to compare, not figures across runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from run import fmt_value, speedup  # noqa: E402
from workloads import WORKLOADS  # noqa: E402


def python_version(doc: dict) -> str:
    """ "3.14" from the run's meta ("3.14.10 (...)" or "CPython 3.14.10")."""
    for word in doc["meta"]["python"].replace("(", " ").split():
        parts = word.split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            return f"{parts[0]}.{parts[1]}"
    raise ValueError(f"no Python version in {doc['meta']['python']!r}")


def unit(name: str) -> str:
    # A workload of a newer Python than the one running this is unknown
    # here: they are all ops/s but for the ones WORKLOADS says.
    return WORKLOADS[name].unit if name in WORKLOADS else "ops/s"


def ratio(doc: dict, name: str, a: str, b: str) -> str:
    cell = doc["summary"].get(name)
    if cell is None:
        return "-"
    if a not in cell or b not in cell:
        failed = {
            f["impl"] for f in doc.get("failures", ()) if f.get("workload") == name
        }
        missing = [i for i in (a, b) if i not in cell]
        if not failed & set(missing):
            return "-"  # not run (not installed, or not on this Python)
        return f"{'/'.join(i for i in missing if i in failed)} failed"
    r = speedup(cell[a]["median"], cell[b]["median"], unit(name))
    return f"{r:.2f}x"


def table(docs: dict[str, dict], ops: str) -> str:
    versions = sorted(docs, key=lambda v: tuple(map(int, v.split("."))))
    head = [
        "workload",
        f"casyncio ({ops})",
        f"asyncio ({ops})",
        f"uvloop ({ops})",
        *[f"{v}: /asyncio, /uvloop" for v in versions],
    ]
    lines = [
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * 3 + "---|" * len(versions),
    ]
    names = []  # in run order, newest Python first (it has every workload)
    for v in reversed(versions):
        names += [n for n in docs[v]["summary"] if n not in names]
    for name in names:
        ref = docs[ops]["summary"].get(name, {})
        row = [name]
        for impl in ("casyncio", "asyncio", "uvloop"):
            st = ref.get(impl)
            row.append(fmt_value(st["median"], unit(name)) if st else "-")
        for v in versions:
            d = docs[v]
            row.append(
                f"{ratio(d, name, 'casyncio', 'asyncio')} / "
                f"{ratio(d, name, 'casyncio', 'uvloop')}"
            )
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", help="run.py --json files, one per Python")
    p.add_argument("--ops", help="the Python whose ops/s are shown (default newest)")
    args = p.parse_args(argv)
    docs = {}
    for f in args.files:
        doc = json.loads(Path(f).read_text(encoding="utf-8"))
        docs[python_version(doc)] = doc
    ops = args.ops or max(docs, key=lambda v: tuple(map(int, v.split("."))))
    if ops not in docs:
        p.error(f"--ops {ops}: no file for that Python")
    print(table(docs, ops))
    return 0


if __name__ == "__main__":
    sys.exit(main())
