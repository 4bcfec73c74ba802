#!/usr/bin/env python3
"""Run the casyncio benchmarks and print a table of medians and speedups.

    python benchmarks/run.py [--rounds N] [--json FILE] [--plot FILE.png]
                             [--only NAME,...] [--impls casyncio,asyncio,uvloop]
    python benchmarks/run.py --smoke     # every workload once, tiny; for CI
    python benchmarks/run.py --http      # then the HTTP server under wrk too

Every run is its own process (`python benchmarks/workloads.py --impl X
--workload W`), in the order round 1: W1 A B C, W2 A B C, ..., round 2: ...
so that slow drift of the machine hits every implementation alike. Each
figure is ops/s (higher is better); the table shows each implementation's
median over the rounds and the speedups computed from the medians. The
implementation `limit` (the same work without a loop) runs only for the
workloads that have one and gets a table of its own.

Exit status: 0 when every run succeeded; 1 when a run failed (a crash, a
timeout, or a workload's own check of its result) or a requested
implementation other than uvloop cannot be imported; 2 on a usage error,
including --plot without matplotlib.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
WORKLOADS_PY = HERE / "workloads.py"
HTTPBENCH_PY = HERE / "httpbench.py"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
# The registry of workloads and implementations (importing it runs nothing).
workloads = importlib.import_module("workloads")

LIMIT = workloads.LIMIT
DEFAULT_IMPLS = ("casyncio", "asyncio", "uvloop", LIMIT)
BASELINE = "asyncio"
# Skipped, not failed, when it cannot be imported (uvloop) or built (limit).
OPTIONAL = {"uvloop", LIMIT}
SMOKE_SCALE = 0.01


# --------------------------------------------------------------------------
# The machine


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_revision() -> str | None:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "-uno"],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return rev.stdout.strip() + (" (modified)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info() -> dict:
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "git": git_revision(),
    }


# --------------------------------------------------------------------------
# Children


def child_env(scale: float | None) -> dict:
    env = dict(os.environ)
    if scale is not None:
        env[workloads.SCALE_ENV] = repr(scale)
    return env


def probe_impls(impls: list[str], env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, str(WORKLOADS_PY), "--probe", ",".join(impls)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if proc.returncode != 0:
        sys.exit(f"probing the implementations failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_child(impl: str, name: str, env: dict, timeout: float) -> dict:
    """One run in its own process: {"value": ...} or {"error": ...}."""
    cmd = [sys.executable, str(WORKLOADS_PY), "--impl", impl, "--workload", name]
    # The child dumps its threads' tracebacks and exits just before the kill.
    child_limit = max(1.0, timeout - 5)
    cmd += ["--timeout", str(child_limit)]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, check=False, capture_output=True, text=True, env=env, timeout=timeout
        )
    except subprocess.TimeoutExpired as e:
        err = e.stderr or ""
        if isinstance(err, bytes):
            err = err.decode(errors="replace")
        return {
            "error": f"killed after {timeout:g} s",
            "stderr": err,
            "timed_out": True,
        }
    wall = time.monotonic() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()
        reason = tail[-1] if tail else f"exit status {proc.returncode}, no output"
        if proc.returncode and tail:
            reason = f"exit status {proc.returncode}: {reason}"
        # faulthandler.dump_traceback_later() starts its dump with this line.
        if re.search(r"^Timeout \([0-9:.]+\)!$", proc.stderr, re.MULTILINE):
            return {
                "error": f"timed out: no result after {child_limit:g} s",
                "stderr": proc.stderr,
                "timed_out": True,
            }
        return {"error": reason, "stderr": proc.stderr}
    try:
        record = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        return {"error": f"bad output line {lines[-1]!r}: {e}", "stderr": proc.stderr}
    if record.get("impl") != impl or record.get("workload") != name:
        return {"error": f"output is for another run: {lines[-1]}", "stderr": ""}
    value = record.get("value")
    if not isinstance(value, (int, float)) or not value > 0:
        return {"error": f"bad value in {lines[-1]}", "stderr": proc.stderr}
    record["wall_seconds"] = wall
    return record


# --------------------------------------------------------------------------
# Figures


def si(v: float) -> str:
    """3 significant digits with k/M/G: 612k, 1.23M."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, "")):
        if abs(v) >= div:
            x = v / div
            digits = 2 if x < 10 else 1 if x < 100 else 0
            return f"{x:.{digits}f}{suffix}"
    return f"{v:.3g}"


def fmt_value(v: float, unit: str) -> str:
    return f"{v:.3g} s" if unit == "s" else si(v)


def speedup(a: float | None, b: float | None, unit: str) -> float | None:
    """How many times faster a is than b."""
    if a is None or b is None:
        return None
    return b / a if unit == "s" else a / b


def summarize(runs: list[dict], names: list[str], impls: list[str]) -> dict:
    summary: dict = {}
    for name in names:
        per_impl = {}
        for impl in impls:
            values = [
                r["value"]
                for r in runs
                if r["workload"] == name and r["impl"] == impl and "value" in r
            ]
            if not values:
                continue
            med = statistics.median(values)
            mad = statistics.median(abs(v - med) for v in values)
            per_impl[impl] = {
                "median": med,
                "min": min(values),
                "max": max(values),
                "mad": mad,
                "n": len(values),
                "values": values,
            }
        summary[name] = per_impl
    return summary


def ratio_columns(impls: list[str]) -> list[tuple[str, str]]:
    """(a, b) pairs: each implementation vs asyncio, then casyncio (and
    accelerated casyncio) vs uvloop, and accelerated vs plain casyncio."""
    cols = []
    if BASELINE in impls:
        cols += [(impl, BASELINE) for impl in impls if impl != BASELINE]
    for mine in ("casyncio", "casyncio-accel"):
        if mine in impls and "uvloop" in impls:
            cols.append((mine, "uvloop"))
    if "casyncio-accel" in impls and "casyncio" in impls:
        cols.append(("casyncio-accel", "casyncio"))
    return cols


def geomean(xs: list[float]) -> float | None:
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def fmt_cell(st: dict | None, unit: str, rounds: int) -> str:
    if st is None:
        return "FAILED"
    cell = fmt_value(st["median"], unit)
    if st["n"] > 1 and st["median"]:
        cell += f" ±{100 * st['mad'] / st['median']:.0f}%"
    if st["n"] < rounds:
        cell += f" ({st['n']}/{rounds})"
    return cell


def format_rows(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def render_table(summary: dict, names: list[str], impls: list[str], rounds: int):
    units = {n: workloads.WORKLOADS[n].unit for n in names}
    cols = ratio_columns(impls)
    header = ["workload", *impls, *[f"{a}/{b}" for a, b in cols]]
    rows = []
    ratios: dict = {c: [] for c in cols}
    for name in names:
        s = summary.get(name, {})
        row = [name]
        row += [fmt_cell(s.get(impl), units[name], rounds) for impl in impls]
        for a, b in cols:
            r = speedup(
                s.get(a, {}).get("median"), s.get(b, {}).get("median"), units[name]
            )
            if r is not None:
                ratios[(a, b)].append(r)
            row.append(f"{r:.2f}x" if r is not None else "-")
        rows.append(row)
    if cols and len(names) > 1:
        gm = ["geometric mean", *[""] * len(impls)]
        for c in cols:
            g = geomean(ratios[c])
            gm.append(f"{g:.2f}x" if g is not None else "-")
        rows.append(gm)
    return format_rows(header, rows)


def render_limits(summary: dict, names: list[str], impls: list[str], rounds: int):
    """The workloads that have a limit: its figure and each implementation's
    ratio to it (X/limit: the fraction of the floor's speed X reaches)."""
    header = ["workload", LIMIT, *[f"{i}/{LIMIT}" for i in impls]]
    rows = []
    for name in names:
        s = summary.get(name, {})
        unit = workloads.WORKLOADS[name].unit
        row = [name, fmt_cell(s.get(LIMIT), unit, rounds)]
        for impl in impls:
            r = speedup(
                s.get(impl, {}).get("median"), s.get(LIMIT, {}).get("median"), unit
            )
            row.append(f"{r:.2f}x" if r is not None else "-")
        rows.append(row)
    return format_rows(header, rows)


def write_plot(path: str, summary: dict, names: list[str], impls: list[str], meta):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = [i for i in impls if i not in (BASELINE, LIMIT)]
    fig, ax = plt.subplots(figsize=(max(8.0, 0.8 * len(names) + 2), 5.5))
    width = 0.8 / max(1, len(others))
    for j, impl in enumerate(others):
        xs, ys = [], []
        for k, name in enumerate(names):
            s = summary.get(name, {})
            r = speedup(
                s.get(impl, {}).get("median"),
                s.get(BASELINE, {}).get("median"),
                workloads.WORKLOADS[name].unit,
            )
            if r is not None:
                xs.append(k + (j - (len(others) - 1) / 2) * width)
                ys.append(r)
        bars = ax.bar(xs, ys, width, label=impl)
        ax.bar_label(bars, labels=[f"{y:.2f}" for y in ys], fontsize=7, padding=2)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("speedup vs asyncio (median ops/s ratio, higher is better)")
    title = f"casyncio benchmarks: {meta['python']}, {meta['cpu']}, {meta['date'][:10]}"
    if meta["scale"] != 1:
        title += f" (scale {meta['scale']:g})"
    ax.set_title(title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------


def run_http(rounds: int, smoke: bool, impls: list[str]) -> dict:
    """httpbench.py after the workloads, its output passed through; its
    figures (its --json), and whether it failed."""
    print("\nHTTP server under wrk (benchmarks/httpbench.py):", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "http.json"
        cmd = [sys.executable, str(HTTPBENCH_PY), "--json", str(out)]
        cmd += ["--rounds", str(rounds), "--impls", ",".join(impls)]
        if smoke:
            cmd += ["--duration", "1"]
        rc = subprocess.run(cmd, check=False).returncode
        doc = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    doc["failed"] = rc != 0
    return doc


def split_list(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="workloads:\n"
        + "\n".join(f"  {w.name:<22} {w.doc}" for w in workloads.WORKLOADS.values()),
    )
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 5)")
    p.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    p.add_argument("--plot", metavar="FILE.png", help="bar chart of speedups")
    p.add_argument("--only", metavar="NAME,...", help="run only these workloads")
    p.add_argument(
        "--impls",
        metavar="IMPL,...",
        default=",".join(DEFAULT_IMPLS),
        help=f"implementations, in run order (default {','.join(DEFAULT_IMPLS)})",
    )
    p.add_argument(
        "--scale",
        type=float,
        help=f"size factor for the workloads (sets {workloads.SCALE_ENV})",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds before a run is killed (default 300, with --smoke 60)",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help=f"every workload once per implementation at scale {SMOKE_SCALE}",
    )
    p.add_argument(
        "--http",
        action="store_true",
        help="then run the HTTP server benchmark (httpbench.py, needs wrk)"
        " with as many rounds (with --smoke: one of 1 s)",
    )
    args = p.parse_args(argv)

    impls = split_list(args.impls)
    known = [*workloads.IMPLS, LIMIT]
    unknown = [i for i in impls if i not in known]
    if not impls or unknown:
        p.error(f"unknown implementations {unknown}; known: {known}")
    if len(set(impls)) != len(impls):
        p.error("--impls names an implementation twice")
    names = list(workloads.WORKLOADS)
    if args.only:
        names = split_list(args.only)
        unknown = [n for n in names if n not in workloads.WORKLOADS]
        if not names or unknown:
            p.error(
                f"unknown workloads {unknown}; known: {', '.join(workloads.WORKLOADS)}"
            )
    rounds = args.rounds if args.rounds is not None else (1 if args.smoke else 5)
    if rounds < 1:
        p.error("--rounds must be at least 1")
    timeout = args.timeout or (60.0 if args.smoke else 300.0)
    scale = args.scale
    if args.smoke and scale is None:
        scale = SMOKE_SCALE
    if scale is not None and not (scale > 0 and math.isfinite(scale)):
        p.error("--scale must be a positive number")
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        print(
            "matplotlib is not installed: cannot write --plot "
            f"{args.plot} (pip install matplotlib, or pip install '.[bench]')",
            file=sys.stderr,
        )
        return 2
    if args.plot and BASELINE not in impls:
        p.error(f"--plot shows speedups vs {BASELINE}: add it to --impls")

    env = child_env(scale)
    meta = machine_info()
    effective_scale = scale
    if effective_scale is None:
        raw = os.environ.get(workloads.SCALE_ENV, "1.0")
        try:
            effective_scale = float(raw)
        except ValueError:
            p.error(f"{workloads.SCALE_ENV}={raw!r}: expected a positive number")
        if not (effective_scale > 0 and math.isfinite(effective_scale)):
            p.error(f"{workloads.SCALE_ENV}={raw!r}: expected a positive number")
    meta.update(rounds=rounds, scale=effective_scale, smoke=args.smoke)

    print(f"casyncio benchmarks, {meta['date']}")
    print(f"machine: {meta['platform']}, {meta['cpus']} CPUs")
    print(f"cpu:     {meta['cpu']}")
    print(f"python:  {meta['python']} ({meta['executable']})")
    if meta["git"]:
        print(f"repo:    {REPO_ROOT} at {meta['git']}")
    print(f"runs:    {rounds} round(s), scale {effective_scale:g}")
    for var in ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE"):
        if os.environ.get(var):
            print(f"warning: {var} is set: asyncio debug checks slow every loop down")

    failures: list[dict] = []
    probed = probe_impls(impls, env)
    available = []
    for impl in impls:
        info = probed[impl]
        if info["ok"]:
            available.append(impl)
            print(f"{impl + ':':<10}{info['description']}")
        elif impl in OPTIONAL and info.get("missing"):
            print(f"{impl} not installed: skipped")
        elif impl in OPTIONAL:
            print(f"{impl} cannot be used ({info['error']}): skipped")
        else:
            print(f"{impl} cannot be used: {info['error']}")
            failures.append({"impl": impl, "workload": None, "error": info["error"]})
    meta["impls"] = {i: probed[i] for i in impls}
    print(flush=True)

    def runs_of(name):
        # The limit runs only for the workloads that have one.
        return [i for i in available if i != LIMIT or name in workloads.LIMITS]

    runs: list[dict] = []
    total = rounds * sum(len(runs_of(n)) for n in names)
    k = 0
    hung: set = set()  # (workload, impl) killed once: not run again
    for rnd in range(1, rounds + 1):
        for name in names:
            for impl in runs_of(name):
                k += 1
                prefix = f"[{k:>{len(str(total))}}/{total}] round {rnd}/{rounds}"
                if (name, impl) in hung:
                    print(
                        f"{prefix} {name:<22} {impl:<9} skipped: timed out before",
                        file=sys.stderr,
                    )
                    continue
                rec = run_child(impl, name, env, timeout)
                rec.update(impl=impl, workload=name, round=rnd)
                if "error" in rec:
                    failures.append(rec)
                    status = f"FAILED: {rec['error']}"
                    if rec.get("timed_out"):
                        hung.add((name, impl))
                else:
                    runs.append(rec)
                    status = f"{fmt_value(rec['value'], rec['unit'])} {rec['unit']}"
                print(f"{prefix} {name:<22} {impl:<9} {status}", file=sys.stderr)

    summary = summarize(runs, names, available)
    loops = [i for i in available if i != LIMIT]
    limited = [n for n in names if n in workloads.LIMITS]
    if loops:
        print()
        print(render_table(summary, names, loops, rounds))
    if LIMIT in available and limited:
        print()
        print(render_limits(summary, limited, loops, rounds))
    print()
    print(
        "Figures are ops/s, median of the rounds (± is the median absolute "
        "deviation);\nX/Y is how many times faster X is than Y. "
        "See benchmarks/README.md for what each op is."
    )
    if LIMIT in available and limited:
        print(
            f"{LIMIT}: the same work without a loop (a floor); X/{LIMIT} is the"
            " fraction of its speed X reaches."
        )
    if not args.http:
        print(
            "Servers are benchmarked apart: benchmarks/echo.py (echo) and"
            " benchmarks/httpbench.py (HTTP under wrk; or run.py --http)."
        )

    if failures:
        print(f"\n{len(failures)} failure(s):")
        for f in failures:
            where = f"{f['workload']} on {f['impl']}" if f["workload"] else f["impl"]
            rnd = f" (round {f['round']})" if "round" in f else ""
            print(f"  {where}{rnd}: {f['error']}")
            stderr = (f.get("stderr") or "").strip()
            if stderr:
                tail = stderr.splitlines()[-15:]
                print("\n".join("      " + ln for ln in tail))

    http_doc = None
    if args.http and loops:
        http_doc = run_http(
            rounds, args.smoke, [i for i in loops if i in DEFAULT_IMPLS]
        )
        if http_doc.get("failed"):
            failures.append({"impl": "http", "workload": None, "error": "failed"})

    if args.json:
        doc = {
            "meta": meta,
            "workloads": {n: workloads.WORKLOADS[n].doc for n in names},
            "runs": runs,
            "failures": failures,
            "summary": summary,
        }
        if http_doc is not None:
            doc["http"] = http_doc
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        print(f"\nraw figures written to {args.json}")
    if args.plot:
        write_plot(args.plot, summary, names, available, meta)
        print(f"plot written to {args.plot}")

    if args.smoke:
        # The plain closing line CI tools read.
        print(f"\nsmoke: {len(runs)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
