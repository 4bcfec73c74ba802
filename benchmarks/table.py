#!/usr/bin/env python3
"""The README's benchmark table from run.py's --json files.

    python benchmarks/table.py bench-3.11*.json bench-3.12*.json ... [--ops 3.14] [--spread]

Prints a Markdown table: one row per workload, casyncio's, asyncio's and
uvloop's operations per second on one Python (--ops, default the newest),
then for every Python casyncio's speedup over asyncio and over uvloop ("-"
where a run is missing, "failed" where it failed).

Several files of one Python (separate runs of run.py, say an hour apart)
are pooled.  A speedup is computed per round, between the two
implementations' runs of that round (adjacent processes, so a slow phase of
the machine hits both), and the cell is the median over every round of
every run of that Python; --spread adds the lowest and highest in
parentheses.  On a shared VM one run of three rounds can land in a slow
phase of the host (benchmarks/README.md): publish the median of several
runs, with --spread.
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def round_ratios(doc: dict, name: str, a: str, b: str) -> list[float]:
    """a's speedup over b in each round of one run where both ran; a file
    without per-round figures gives the ratio of its medians."""
    runs = doc.get("runs")
    if runs is None:
        cell = doc["summary"].get(name, {})
        if a in cell and b in cell:
            return [speedup(cell[a]["median"], cell[b]["median"], unit(name))]
        return []
    by_round: dict = {}
    for r in runs:
        if r.get("workload") == name and r.get("impl") in (a, b) and "value" in r:
            by_round.setdefault(r.get("round"), {})[r["impl"]] = r["value"]
    return [
        speedup(v[a], v[b], unit(name))
        for _, v in sorted(by_round.items(), key=lambda kv: str(kv[0]))
        if a in v and b in v
    ]


def ratio(docs: list[dict], name: str, a: str, b: str, spread: bool = False) -> str:
    values = [r for doc in docs for r in round_ratios(doc, name, a, b)]
    if values:
        cell = f"{statistics.median(values):.2f}x"
        if spread and len(values) > 1:
            cell += f" ({min(values):.2f}-{max(values):.2f})"
        return cell
    if not any(name in doc["summary"] for doc in docs):
        return "-"
    failed = {
        f["impl"]
        for doc in docs
        for f in doc.get("failures", ())
        if f.get("workload") == name
    }
    missing = [i for i in (a, b) if not any(i in d["summary"].get(name, {}) for d in docs)]
    if not failed & set(missing):
        return "-"  # not run (not installed, or not on this Python)
    return f"{'/'.join(i for i in missing if i in failed)} failed"


def ops_value(docs: list[dict], name: str, impl: str) -> float | None:
    """impl's operations a second: the median over every round of every run
    (of the medians, for files without per-round figures)."""
    values = []
    for doc in docs:
        runs = doc.get("runs")
        if runs is None:
            st = doc["summary"].get(name, {}).get(impl)
            values += [st["median"]] if st else []
        else:
            values += [
                r["value"]
                for r in runs
                if r.get("workload") == name and r.get("impl") == impl and "value" in r
            ]
    return statistics.median(values) if values else None


def table(docs: dict[str, list[dict]], ops: str, spread: bool = False) -> str:
    """docs: for each Python ("3.14"), its runs' documents."""
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
        for doc in docs[v]:
            names += [n for n in doc["summary"] if n not in names]
    for name in names:
        row = [name]
        for impl in ("casyncio", "asyncio", "uvloop"):
            value = ops_value(docs[ops], name, impl)
            row.append(fmt_value(value, unit(name)) if value is not None else "-")
        for v in versions:
            row.append(
                f"{ratio(docs[v], name, 'casyncio', 'asyncio', spread)} / "
                f"{ratio(docs[v], name, 'casyncio', 'uvloop', spread)}"
            )
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", help="run.py --json files (several per Python pool)")
    p.add_argument("--ops", help="the Python whose ops/s are shown (default newest)")
    p.add_argument("--spread", action="store_true", help="show each speedup's range")
    args = p.parse_args(argv)
    docs: dict[str, list[dict]] = {}
    for f in args.files:
        doc = json.loads(Path(f).read_text(encoding="utf-8"))
        docs.setdefault(python_version(doc), []).append(doc)
    ops = args.ops or max(docs, key=lambda v: tuple(map(int, v.split("."))))
    if ops not in docs:
        p.error(f"--ops {ops}: no file for that Python")
    print(table(docs, ops, args.spread))
    for v in sorted(docs, key=lambda v: tuple(map(int, v.split(".")))):
        rounds = sum(d.get("meta", {}).get("rounds", 1) for d in docs[v])
        print(f"\n{v}: {len(docs[v])} run(s), {rounds} round(s) in all", end="")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
