"""Conformance runner: CPython's installed test.test_asyncio against casyncio.

Three modes, each compared with the same tests run on stock asyncio:

  default       whole-suite mode: every module of test.test_asyncio, with
                casyncio made the default (its policy installed, and put in
                place of asyncio.DefaultEventLoopPolicy so that a test that
                resets the policy gets casyncio's again): every loop made by
                asyncio.new_event_loop(), asyncio.run(), asyncio.Runner and
                IsolatedAsyncioTestCase is a casyncio loop.
  parametrised  the classes CPython parametrises by implementation (loop
                factories, Task/Future classes), subclassed and bound to
                casyncio by bindings.py; baseline: the stock class subclassed.
  accelerated   as default, with casyncio.accelerate() called first
                (asyncio.gather & co. are casyncio's C versions), over the
                modules that test what it replaces (ACCELERATED_MODULES).

Every (module, implementation, mode) runs in a subprocess of its own
(child.py) with a time limit per test and per module, so that a crash or a
hang is recorded as such, against the test that was running, and the
module's remaining tests still run (in a fresh process).

A test counts when it passes on stock asyncio ("stock-passing").  A
stock-passing test that does not pass on casyncio must be listed in
expected_failures.py with a reason, or the run fails.  A listed test that
passes is reported, so that the list only shrinks.

    python tests/conformance/runner.py [--mode default|parametrised|accelerated|all]
        [--modules test_tasks,test_events] [--json out.json] [--python PY]

prints per-module figures and, per mode, the line

    conformance: N of M stock-passing tests pass on casyncio (X%), K expected
    failures -- Python 3.12, default mode

and exits 1 if a mode has unexpected failures, crashes, hangs, or is below
the bar (99.5% of stock-passing tests of landed capabilities, in each mode
and in all together).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import fnmatch
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CHILD = os.path.join(HERE, "child.py")

MODES = ("default", "parametrised", "accelerated")
# The modules of test.test_asyncio that test what casyncio.accelerate()
# replaces, run again in the accelerated mode (test_graph, 3.14+: the call
# graph through gather()).
ACCELERATED_MODULES = (
    "test_graph",
    "test_locks",
    "test_pep492",
    "test_queues",
    "test_taskgroups",
    "test_tasks",
    "test_timeouts",
    "test_waitfor",
)
PASSING = ("pass", "xfail")
INCIDENTS = ("crash", "hang")
BAR = 0.995

# Defaults, in seconds.  The slowest stock test of 3.11-3.13 takes 2.4 s
# here, a whole module (test_tasks, test_subprocess) 15 s.
TEST_TIMEOUT = 30.0
FIXTURE_TIMEOUT = 60.0
MODULE_TIMEOUT = 300.0
MAX_RESTARTS = 5

# What .ci/run's sanitizer run sets for the sanitizers' runtime.
SANITIZER_ENV = ("LD_PRELOAD", "PYTHONMALLOC", "ASAN_OPTIONS", "UBSAN_OPTIONS")

# CASYNCIO_CONFORMANCE=quick runs these (local use; CI runs everything).
QUICK_MODULES = (
    "test_context",
    "test_eager_task_factory",
    "test_events",
    "test_futures",
    "test_futures2",
    "test_locks",
    "test_pep492",
    "test_queues",
    "test_runners",
    "test_taskgroups",
    "test_tasks",
    "test_threads",
    "test_timeouts",
    "test_waitfor",
)

# Start the slow ones first so that the pool's workers end together.
_SLOW_FIRST = (
    "test_subprocess",
    "test_tasks",
    "test_ssl",
    "test_taskgroups",
    "test_events",
    "test_sslproto",
    "test_sock_lowlevel",
    "test_waitfor",
    "test_base_events",
    "test_eager_task_factory",
    "test_locks",
)

_TIMEOUT_MARK = re.compile(r"^Timeout \(\d+:\d\d:\d\d(\.\d+)?\)!", re.MULTILINE)


def _load_sibling(name):
    key = "_casyncio_conformance_" + name
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, os.path.join(HERE, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------- discovery ----


def probe(python):
    """The target interpreter's version ("3.12") and test_asyncio modules."""
    code = (
        "import json, os, sys, test\n"
        "d = os.path.join(os.path.dirname(test.__file__), 'test_asyncio')\n"
        "mods = sorted(f[:-3] for f in os.listdir(d)"
        " if f.startswith('test_') and f.endswith('.py'))\n"
        "print(json.dumps({'version': '%d.%d' % sys.version_info[:2],"
        " 'full': sys.version.split()[0], 'modules': mods}))\n"
    )
    out = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def modules_from_env(all_modules, value=None):
    """CASYNCIO_CONFORMANCE=full (default) | quick | off."""
    value = (value or os.environ.get("CASYNCIO_CONFORMANCE") or "full").lower()
    if value == "off":
        return []
    if value == "quick":
        return [m for m in all_modules if m in QUICK_MODULES]
    if value != "full":
        raise ValueError(f"CASYNCIO_CONFORMANCE={value!r}: full, quick or off")
    return list(all_modules)


# ------------------------------------------------------------ running ----


class Run:
    """The merged outcome of one (module, impl, mode), over restarts."""

    def __init__(self, module, impl, mode):
        self.module = module
        self.impl = impl
        self.mode = mode
        self.status = "ok"  # ok | skipped | fatal
        self.fatal = ""
        self.skip_reason = ""
        self.python = None
        self.casyncio_path = None
        self.order = []
        self.tests = {}  # id -> {"outcome", "text", "time"}
        self.fixture_errors = []  # {"id", "text"}
        self.bindings = {}  # generated class -> stock class
        self.binding_notes = []
        self.incidents = []  # {"kind", "id", "text", "rc"}
        self.loops = 0
        self.attempts = 0
        self.wall = 0.0

    def to_json(self):
        return dict(vars(self))

    @classmethod
    def from_json(cls, data):
        run = cls(data["module"], data["impl"], data["mode"])
        vars(run).update(data)
        return run


def _tail(path, limit=3000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Runner:
    def __init__(
        self,
        python=None,
        *,
        jobs=2,
        test_timeout=TEST_TIMEOUT,
        fixture_timeout=FIXTURE_TIMEOUT,
        module_timeout=MODULE_TIMEOUT,
        max_restarts=MAX_RESTARTS,
        casyncio_path=None,
        log_dir=None,
        progress=None,
        unrun=None,
    ):
        self.python = python or sys.executable
        self.jobs = jobs
        self.test_timeout = test_timeout
        self.fixture_timeout = fixture_timeout
        self.module_timeout = module_timeout
        self.max_restarts = max_restarts
        self.casyncio_path = casyncio_path
        self.log_dir = log_dir
        self.progress = progress or (lambda line: None)
        # mode -> patterns of tests not to run on casyncio (run=False entries)
        self.unrun = unrun or {}
        self._lock = threading.Lock()

    def _say(self, line):
        with self._lock:
            self.progress(line)

    def run_job(self, module, impl, mode, workdir):
        run = Run(module, impl, mode)
        started = time.monotonic()
        excluded = set()
        env = dict(os.environ)
        env.pop("CASYNCIO_CONFORMANCE_PATH", None)
        if self.casyncio_path:
            env["CASYNCIO_CONFORMANCE_PATH"] = self.casyncio_path
        env["PYTHONUNBUFFERED"] = "1"
        if impl == "stock":
            # The baseline tests no casyncio code: under the sanitizer run it
            # runs without the sanitizers' runtime, which only slowed it
            # (by about a third of that run's conformance time).
            for name in SANITIZER_ENV:
                env.pop(name, None)
        tag = f"{module}.{impl}.{mode}"
        cwd = os.path.join(workdir, tag)
        os.makedirs(cwd, exist_ok=True)
        while True:
            attempt = run.attempts
            run.attempts += 1
            out = os.path.join(workdir, f"{tag}.{attempt}.jsonl")
            log = os.path.join(workdir, f"{tag}.{attempt}.log")
            cmd = [
                self.python,
                CHILD,
                "--module",
                module,
                "--impl",
                impl,
                "--mode",
                mode,
                "--out",
                out,
                "--test-timeout",
                str(self.test_timeout),
                "--fixture-timeout",
                str(self.fixture_timeout),
            ]
            unrun = self.unrun.get(mode, []) if impl == "casyncio" else []
            if excluded or unrun:
                exclude_file = os.path.join(workdir, f"{tag}.{attempt}.exclude")
                with open(exclude_file, "w") as f:
                    json.dump({"ids": sorted(excluded), "unrun": unrun}, f)
                cmd += ["--exclude", exclude_file]
            budget = self.module_timeout - (time.monotonic() - started)
            timed_out = False
            with open(log, "wb") as logf:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                )
                try:
                    rc = proc.wait(timeout=max(budget, 1.0))
                except subprocess.TimeoutExpired:
                    timed_out = True
                    _kill_group(proc.pid)
                    rc = proc.wait()
                # Whatever the tests left running in the group goes too.
                _kill_group(proc.pid)

            records = []
            try:
                with open(out, encoding="utf-8") as f:
                    for line in f:
                        try:
                            records.append(json.loads(line))
                        except ValueError:
                            break  # a record cut by the crash
            except FileNotFoundError:
                pass

            current = None
            done = False
            planned = []
            for rec in records:
                event = rec["event"]
                if event == "hello":
                    run.python = rec["python"]
                elif event == "casyncio":
                    run.casyncio_path = rec["path"]
                elif event == "fatal":
                    run.status = "fatal"
                    run.fatal = f"{rec['kind']}: {rec['text']}"
                elif event == "module_skip":
                    run.status = "skipped"
                    run.skip_reason = rec["reason"]
                elif event == "binding":
                    if rec["cls"]:
                        run.bindings[rec["cls"]] = rec["stock"]
                    else:
                        run.binding_notes.append(f"{rec['stock']}: {rec['note']}")
                elif event == "tests":
                    planned = rec["ids"]
                    if attempt == 0:
                        run.order = list(planned)
                elif event == "start":
                    current = rec["id"]
                elif event == "end":
                    run.tests[rec["id"]] = {
                        "outcome": rec["outcome"],
                        "text": rec["text"],
                        "time": rec["time"],
                    }
                    current = None
                elif event == "fixture_error":
                    run.fixture_errors.append({"id": rec["id"], "text": rec["text"]})
                elif event == "done":
                    done = True
                    run.loops += rec.get("loops", 0)

            if run.status in ("fatal", "skipped"):
                if run.status == "fatal" and rc != 3:
                    run.fatal += f"\n[exit status {rc}]\n{_tail(log)}"
                break
            if not records:
                run.status = "fatal"
                run.fatal = (
                    f"no output from the child (exit status {rc}):\n{_tail(log)}"
                )
                break

            stderr = _tail(log)
            hang = timed_out or bool(_TIMEOUT_MARK.search(stderr))
            kind = "hang" if hang else "crash"
            if done:
                if rc != 0 or timed_out:
                    run.incidents.append(
                        {
                            "kind": kind,
                            "id": f"{module}.<interpreter shutdown>",
                            "text": stderr,
                            "rc": rc,
                        }
                    )
                break

            # The child died or was stopped before the end.
            finished = [t for t in planned if t in run.tests]
            if current is not None:
                culprit = current
                run.tests[culprit] = {"outcome": kind, "text": stderr, "time": None}
            else:
                last = finished[-1] if finished else "the first test"
                culprit = f"{module}.<fixture after {last}>"
            run.incidents.append(
                {"kind": kind, "id": culprit, "text": stderr, "rc": rc}
            )
            self._say(f"  {tag}: {kind} in {culprit} (exit status {rc})")
            excluded.update(finished)
            excluded.add(culprit)
            remaining = [t for t in planned if t not in excluded]
            out_of_time = time.monotonic() - started >= self.module_timeout
            if not remaining:
                break
            if run.attempts > self.max_restarts or out_of_time:
                why = "time" if out_of_time else "restarts"
                for t in remaining:
                    run.tests[t] = {
                        "outcome": "notrun",
                        "text": f"not run: {module} ran out of {why} after "
                        f"{len(run.incidents)} crash(es)/hang(s)",
                        "time": None,
                    }
                break

        run.wall = round(time.monotonic() - started, 2)
        return run

    def run_all(self, modules, modes, bindable):
        """Run the stock baseline and the casyncio runs of every module for
        the given modes; return {(module, impl, mode): Run}."""
        jobs = []
        for module in modules:
            jobs.append((module, "stock", "default"))
            if "default" in modes:
                jobs.append((module, "casyncio", "default"))
            if "parametrised" in modes and module in bindable:
                jobs.append((module, "casyncio", "parametrised"))
            if "accelerated" in modes and module in ACCELERATED_MODULES:
                jobs.append((module, "casyncio", "accelerated"))

        def weight(job):
            module = job[0]
            slow = _SLOW_FIRST.index(module) if module in _SLOW_FIRST else 99
            return (slow, module, job[1] == "stock", job[2])

        jobs.sort(key=weight)
        workdir = self.log_dir or tempfile.mkdtemp(prefix="casyncio-conformance-")
        os.makedirs(workdir, exist_ok=True)
        runs = {}
        try:
            with concurrent.futures.ThreadPoolExecutor(self.jobs) as pool:
                futures = {
                    pool.submit(self.run_job, *job, workdir): job for job in jobs
                }
                for fut in concurrent.futures.as_completed(futures):
                    job = futures[fut]
                    run = fut.result()
                    runs[job] = run
                    self._say(
                        f"  ran {job[0]} ({job[1]}, {job[2]}): {run.status}, "
                        f"{len(run.tests)} tests, {run.wall:.1f}s"
                    )
        finally:
            if self.log_dir is None:
                shutil.rmtree(workdir, ignore_errors=True)
        return runs


# ----------------------------------------------------------- expectations ----


class Entry:
    def __init__(self, pattern, value, section, bug, pending):
        # value: the reason, or {"reason": ..., "run": False} for tests that
        # hang (or would take long to fail) without a pending capability.
        # An optional "note" says what fails, where the reason is a title.
        if isinstance(value, dict):
            reason = value["reason"]
            self.run = value.get("run", True)
            self.note = value.get("note", "")
        else:
            reason = value
            self.run = True
            self.note = ""
        pending = reason in pending
        self.mode = None
        self.pattern = pattern
        for mode in MODES:
            if pattern.startswith(mode + ":"):
                self.mode = mode
                self.pattern = pattern[len(mode) + 1 :]
        self.key = pattern
        self.reason = reason
        self.section = section
        self.bug = bug
        self.pending = pending
        self.exact = not any(c in self.pattern for c in "*?[")

    @property
    def excuses_incidents(self):
        """A crash or hang is only expected of a listed bug, or of a
        capability that has not landed: never of a reasoned entry."""
        return self.bug or self.pending

    def matches(self, test_id, mode):
        if self.mode is not None and self.mode != mode:
            return False
        if self.exact:
            return test_id == self.pattern
        return fnmatch.fnmatchcase(test_id, self.pattern)


def _version_tuple(text):
    return tuple(int(x) for x in text.split("."))


def under_asan():
    """Whether this run has AddressSanitizer's runtime preloaded (the
    sanitizer run of .ci/run), which the children inherit."""
    return "libasan" in os.environ.get("LD_PRELOAD", "")


def section_applies(section, version):
    """Sections: "all", "3.12" (that version), "3.12+" (it and later),
    "asan" (runs under AddressSanitizer, any version)."""
    if section == "asan":
        return under_asan()
    if section == "all" or section == version:
        return True
    if section.endswith("+"):
        return _version_tuple(version) >= _version_tuple(section[:-1])
    return False


class Expectations:
    """expected_failures.py for one Python version: entries of the sections
    that apply to it, and of the same sections under "bugs"."""

    def __init__(self, data, version, pending=()):
        self.version = version
        self.entries = []
        for bug, table in ((False, data), (True, data.get("bugs", {}))):
            for section, entries in table.items():
                if section == "bugs" or not section_applies(section, version):
                    continue
                for pattern, value in entries.items():
                    self.entries.append(Entry(pattern, value, section, bug, pending))
        # Exact ids first, then the longest (most specific) pattern.
        self.entries.sort(key=lambda e: (not e.exact, -len(e.pattern)))

    def match(self, test_id, mode):
        for entry in self.entries:
            if entry.matches(test_id, mode):
                return entry
        return None

    def unrun_patterns(self, mode):
        """Patterns (for child.py) of the tests not to run on casyncio."""
        return [
            e.pattern
            for e in self.entries
            if not e.run and (e.mode is None or e.mode == mode)
        ]


def load_expectations(version, path=None):
    if path is None:
        module = _load_sibling("expected_failures")
    else:
        spec = importlib.util.spec_from_file_location("_expected", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return Expectations(
        module.EXPECTED_FAILURES, version, getattr(module, "PENDING", ())
    )


# ------------------------------------------------------------- comparing ----


class ModuleFigures:
    def __init__(self, module):
        self.module = module
        self.stock_passing = 0
        self.passing = 0
        self.expected = 0
        self.unexpected = 0
        self.incidents = 0
        self.loops = 0
        self.wall = 0.0
        self.note = ""


class Report:
    """One mode's comparison of casyncio with stock."""

    def __init__(self, mode, version):
        self.mode = mode
        self.version = version
        self.modules = {}  # name -> ModuleFigures
        self.stock_passing = 0  # M
        self.passing = 0  # N
        self.expected = []  # (id, outcome, entry)
        self.unexpected = []  # (id, outcome, text)
        self.incidents = []  # (kind, id, text)
        self.now_passing = []  # (id, entry)
        self.fatal = []  # (module, text)
        self.matched_entries = set()

    @property
    def pending(self):
        return sum(1 for _, _, e in self.expected if e.pending)

    @property
    def landed_total(self):
        return self.stock_passing - self.pending

    @property
    def landed_rate(self):
        total = self.landed_total
        return self.passing / total if total else 1.0

    @property
    def rate(self):
        return self.passing / self.stock_passing if self.stock_passing else 1.0

    @property
    def ok(self):
        return (
            not self.unexpected
            and not self.fatal
            and not [i for i in self.incidents if not i[3]]
        )

    def summary_line(self):
        label = {
            "default": "whole-suite (default) mode",
            "accelerated": "accelerated mode (casyncio.accelerate())",
        }.get(self.mode, f"{self.mode} mode")
        return (
            f"conformance: {self.passing} of {self.stock_passing} stock-passing "
            f"tests pass on casyncio ({100 * self.rate:.1f}%), "
            f"{len(self.expected)} expected failures -- Python {self.version}, "
            f"{label}"
        )

    def detail_line(self):
        bugs = sum(1 for _, _, e in self.expected if e.bug)
        crashes = sum(1 for i in self.incidents if i[0] == "crash")
        hangs = sum(1 for i in self.incidents if i[0] == "hang")
        unrun = sum(1 for _, o, _ in self.expected if o == "unrun")
        return (
            f"  landed capabilities: {self.passing} of {self.landed_total} "
            f"({100 * self.landed_rate:.1f}%); "
            f"pending capabilities: {self.pending}; listed bugs: {bugs}; "
            f"unexpected failures: {len(self.unexpected)}; crashes: {crashes}; "
            f"hangs: {hangs}; listed but passing: {len(self.now_passing)}; "
            f"listed and not run: {unrun}"
        )


def _baseline_id(test_id, run):
    if run.mode != "parametrised":
        return test_id
    module, cls, rest = test_id.split(".", 2)
    stock = run.bindings.get(cls)
    return f"{module}.{stock}.{rest}" if stock else None


def compare(mode, runs, modules, expectations, version):
    report = Report(mode, version)
    for module in modules:
        stock = runs.get((module, "stock", "default"))
        cas = runs.get((module, "casyncio", mode))
        if cas is None:
            continue
        fig = ModuleFigures(module)
        report.modules[module] = fig
        fig.wall = cas.wall
        fig.loops = cas.loops
        if stock is None or stock.status == "fatal":
            report.fatal.append(
                (module, "stock run: " + (stock.fatal if stock else ""))
            )
            fig.note = "stock run failed"
            continue
        if cas.status == "skipped" or stock.status == "skipped":
            fig.note = "skipped: " + (cas.skip_reason or stock.skip_reason)
            continue
        if cas.status == "fatal":
            report.fatal.append((module, cas.fatal))
            fig.note = "casyncio run failed: " + cas.fatal.strip().splitlines()[-1]
            continue
        stock_pass = {t for t, r in stock.tests.items() if r["outcome"] in PASSING}
        seen = set()
        ids = list(cas.order) + [t for t in cas.tests if t not in cas.order]
        for test_id in ids:
            res = cas.tests.get(test_id) or {
                "outcome": "notrun",
                "text": "never started (a class or module fixture failed?)",
            }
            outcome = res["outcome"]
            base = _baseline_id(test_id, cas)
            seen.add(base)
            entry = expectations.match(test_id, mode)
            if entry is not None:
                report.matched_entries.add(entry.key)
            if outcome in INCIDENTS:
                excused = entry is not None and entry.excuses_incidents
                report.incidents.append((outcome, test_id, res["text"], excused))
                fig.incidents += 1
            if base not in stock_pass:
                if outcome in INCIDENTS and not (entry and entry.excuses_incidents):
                    report.unexpected.append((test_id, outcome, res["text"]))
                    fig.unexpected += 1
                continue
            report.stock_passing += 1
            fig.stock_passing += 1
            if outcome in PASSING:
                report.passing += 1
                fig.passing += 1
                if entry is not None:
                    report.now_passing.append((test_id, entry))
            elif entry is not None and (
                outcome not in INCIDENTS or entry.excuses_incidents
            ):
                report.expected.append((test_id, outcome, entry))
                fig.expected += 1
            else:
                report.unexpected.append((test_id, outcome, res["text"]))
                fig.unexpected += 1
        # Stock-passing tests the casyncio run does not have at all.
        if mode != "parametrised":
            missing = [t for t in stock.order if t in stock_pass and t not in seen]
        else:
            stock_classes = set(cas.bindings.values())
            missing = [
                t
                for t in stock.order
                if t in stock_pass
                and t.split(".")[1] in stock_classes
                and t not in seen
            ]
        for test_id in missing:
            report.stock_passing += 1
            fig.stock_passing += 1
            report.unexpected.append(
                (test_id, "missing", "stock-passing test absent from the casyncio run")
            )
            fig.unexpected += 1
        # Module-level incidents (between tests, at interpreter shutdown).
        for inc in cas.incidents:
            if inc["id"] not in cas.tests:
                entry = expectations.match(inc["id"], mode)
                excused = entry is not None and entry.excuses_incidents
                report.incidents.append((inc["kind"], inc["id"], inc["text"], excused))
                fig.incidents += 1
                if not excused:
                    report.unexpected.append((inc["id"], inc["kind"], inc["text"]))
                    fig.unexpected += 1
        # Fixture errors (setUpClass, tearDownModule...) only casyncio has.
        stock_fixture = {f["id"] for f in stock.fixture_errors}
        for fix in cas.fixture_errors:
            if fix["id"] in stock_fixture:
                continue
            entry = expectations.match(fix["id"], mode)
            if entry is None:
                report.unexpected.append((fix["id"], "fixture error", fix["text"]))
                fig.unexpected += 1
            else:
                report.matched_entries.add(entry.key)
    return report


# -------------------------------------------------------------- reporting ----


def format_report(report, *, verbose_failures=True, limit=None):
    lines = []
    mode = report.mode
    lines.append(f"== {mode} mode, Python {report.version}")
    header = (
        f"  {'module':<26}{'stock-pass':>11}{'casyncio':>10}{'expected':>10}"
        f"{'unexpected':>12}{'crash/hang':>12}"
    )
    if mode != "parametrised":
        header += f"{'loops':>8}"
    header += f"{'secs':>8}"
    lines.append(header)
    for name, fig in sorted(report.modules.items()):
        line = (
            f"  {name:<26}{fig.stock_passing:>11}{fig.passing:>10}{fig.expected:>10}"
            f"{fig.unexpected:>12}{fig.incidents:>12}"
        )
        if mode != "parametrised":
            line += f"{fig.loops:>8}"
        line += f"{fig.wall:>8.1f}"
        if fig.note:
            line += f"  ({fig.note})"
        lines.append(line)
    for module, text in report.fatal:
        lines.append(f"  FATAL {module}: {text.strip()}")
    if report.unexpected:
        lines.append(f"  unexpected failures ({len(report.unexpected)}):")
        shown = report.unexpected if limit is None else report.unexpected[:limit]
        for test_id, outcome, text in shown:
            lines.append(f"    {outcome:<8} {test_id}")
            if verbose_failures and text:
                excerpt = "\n".join(text.strip().splitlines()[-6:])
                lines.extend("        " + x for x in excerpt.splitlines())
        if limit is not None and len(report.unexpected) > limit:
            lines.append(f"    ... and {len(report.unexpected) - limit} more")
    for kind, test_id, _text, excused in report.incidents:
        if excused:
            lines.append(f"  {kind} (listed): {test_id}")
    if report.now_passing:
        lines.append(
            f"  listed as expected failures but passing ({len(report.now_passing)}): "
            "remove them from expected_failures.py"
        )
        for test_id, entry in report.now_passing[: limit or None]:
            lines.append(f"    {test_id}   (entry {entry.key!r})")
    lines.append(report.summary_line())
    lines.append(report.detail_line())
    return "\n".join(lines)


def stale_entries(expectations, reports):
    """Entries that matched no test id in any of the reports."""
    matched = set()
    for report in reports:
        matched |= report.matched_entries
    return [e for e in expectations.entries if e.key not in matched]


class Result:
    def __init__(self, version, full_version, runs, reports, expectations, wall):
        self.version = version
        self.full_version = full_version
        self.runs = runs
        self.reports = reports  # mode -> Report
        self.expectations = expectations
        self.wall = wall

    @property
    def bar_figures(self):
        """(passing, stock-passing) over the tests of landed capabilities,
        all modes together."""
        passing = sum(r.passing for r in self.reports.values())
        total = sum(r.landed_total for r in self.reports.values())
        return passing, total

    @property
    def bar_rate(self):
        """The lowest of the rates of each mode and of all together: the bar
        holds for each."""
        passing, total = self.bar_figures
        both = passing / total if total else 1.0
        return min([both] + [r.landed_rate for r in self.reports.values()])

    @property
    def bar_line(self):
        passing, total = self.bar_figures
        verdict = "met" if self.bar_rate >= BAR else "NOT MET"
        return (
            f"conformance bar: {passing} of {total} stock-passing tests of landed "
            f"capabilities pass on casyncio ({100 * passing / max(total, 1):.1f}%, "
            f"lowest mode {100 * self.bar_rate:.1f}%; bar {100 * BAR:.1f}%: "
            f"{verdict}) -- Python {self.version}, all modes"
        )

    @property
    def ok(self):
        return all(r.ok for r in self.reports.values()) and self.bar_rate >= BAR

    def summary_lines(self):
        return [r.summary_line() for r in self.reports.values()] + [self.bar_line]

    def to_json(self):
        def report_json(r):
            return {
                "summary": r.summary_line(),
                "stock_passing": r.stock_passing,
                "passing": r.passing,
                "expected": [(t, o, e.key, e.reason) for t, o, e in r.expected],
                "unexpected": r.unexpected,
                "incidents": r.incidents,
                "now_passing": [(t, e.key) for t, e in r.now_passing],
                "landed_rate": r.landed_rate,
                "ok": r.ok,
            }

        return {
            "python": self.full_version,
            "wall": self.wall,
            "bar": self.bar_line,
            "ok": self.ok,
            "reports": {m: report_json(r) for m, r in self.reports.items()},
            "runs": [run.to_json() for run in self.runs.values()],
        }


def reanalyse(path, expected_path=None):
    """A Result from the --json file of an earlier run, compared anew with
    the expected-failure list (no test is run)."""
    with open(path) as f:
        data = json.load(f)
    runs = {}
    for item in data["runs"]:
        run = Run.from_json(item)
        runs[(run.module, run.impl, run.mode)] = run
    full = data["python"]
    version = ".".join(full.split(".")[:2])
    modules = sorted({key[0] for key in runs})
    modes = [m for m in MODES if m in data["reports"]]
    expectations = load_expectations(version, expected_path)
    reports = {
        mode: compare(mode, runs, modules, expectations, version) for mode in modes
    }
    return Result(version, full, runs, reports, expectations, data["wall"])


def casyncio_import_root():
    """The directory this process imports casyncio from (the checkout when
    built in place and on the path, site-packages when installed), so that
    the children test the same casyncio; else the checkout.  None when
    neither has casyncio."""
    spec = importlib.util.find_spec("casyncio")
    if spec is not None and spec.origin is not None:
        return os.path.dirname(os.path.dirname(os.path.abspath(spec.origin)))
    if os.path.isdir(os.path.join(REPO, "casyncio")):
        return REPO
    return None


def run(
    python=None,
    modes=MODES,
    modules=None,
    *,
    jobs=2,
    progress=None,
    expected_path=None,
    **runner_options,
):
    """Run the conformance suite; return a Result."""
    started = time.monotonic()
    python = python or sys.executable
    info = probe(python)
    version = info["version"]
    all_modules = info["modules"]
    if modules is None:
        modules = modules_from_env(all_modules)
    else:
        unknown = sorted(set(modules) - set(all_modules))
        if unknown:
            raise ValueError(f"no such test_asyncio modules: {', '.join(unknown)}")
    if runner_options.get("casyncio_path") is None and (
        os.path.abspath(python) == os.path.abspath(sys.executable)
    ):
        runner_options["casyncio_path"] = casyncio_import_root()
    bindable = set(_load_sibling("bindings").MODULES)
    expectations = load_expectations(version, expected_path)
    unrun = {mode: expectations.unrun_patterns(mode) for mode in modes}
    runner = Runner(python, jobs=jobs, progress=progress, unrun=unrun, **runner_options)
    runs = runner.run_all(modules, modes, bindable)
    reports = {
        mode: compare(mode, runs, modules, expectations, version) for mode in modes
    }
    return Result(
        version,
        info["full"],
        runs,
        reports,
        expectations,
        round(time.monotonic() - started, 1),
    )


# ------------------------------------------------------------ suggesting ----

_NOT_IMPLEMENTED = re.compile(r"in (\w+)\n\s+raise NotImplementedError")


def _capability(text, capabilities):
    """The pending capability whose NotImplementedError ended the test."""
    methods = _NOT_IMPLEMENTED.findall(text or "")
    return capabilities.get(methods[-1]) if methods else None


def suggest(result):
    """Entries for expected_failures.py covering this run's unexpected
    failures: {pattern: reason or {"reason": ..., "run": False}}.

    A failure ending in a NotImplementedError of a pending capability (see
    CAPABILITY_OF_METHOD) gets the capability's title; when every
    stock-passing test of a class fails that way, the class is one entry.
    A hang or crash gets run=False.  Anything else gets "TODO: <error>", for
    a person to replace with a reason (or to list under "bugs")."""
    capabilities = getattr(
        _load_sibling("expected_failures"), "CAPABILITY_OF_METHOD", {}
    )
    entries = {}
    for mode, report in result.reports.items():
        failing = {}
        for test_id, outcome, text in report.unexpected:
            if outcome == "fixture error" or test_id.count(".") < 2:
                reason = "TODO: " + (text or "").strip().splitlines()[-1][:100]
                entries[test_id] = reason
                continue
            reason = _capability(text, capabilities)
            if reason is None:
                lines = (text or "").strip().splitlines()
                last = lines[-1].strip() if lines else outcome
                reason = f"TODO ({outcome}): {last[:120]}"
            if outcome in INCIDENTS or outcome == "notrun":
                reason = {"reason": reason, "run": False}
            failing[test_id] = reason
        # Whole classes failing for one capability become one pattern.
        by_class = {}
        for test_id in failing:
            by_class.setdefault(test_id.rsplit(".", 1)[0], []).append(test_id)
        for cls, ids in by_class.items():
            reasons = {json.dumps(failing[t], sort_keys=True) for t in ids}
            stock_passing = _stock_passing_of_class(result, mode, cls)
            if (
                len(reasons) == 1
                and isinstance(failing[ids[0]], str)
                and not failing[ids[0]].startswith("TODO")
                and len(ids) > 1
                and set(ids) >= stock_passing
            ):
                entries[cls + ".*"] = failing[ids[0]]
            else:
                for t in ids:
                    entries[t] = failing[t]
    return entries


def _stock_passing_of_class(result, mode, cls):
    """Ids (as casyncio runs them) of the stock-passing tests of a class."""
    module, name = cls.split(".", 1)
    stock = result.runs.get((module, "stock", "default"))
    cas = result.runs.get((module, "casyncio", mode))
    if stock is None or cas is None:
        return set()
    stock_name = cas.bindings.get(name, name) if mode == "parametrised" else name
    prefix = f"{module}.{stock_name}."
    return {
        f"{cls}.{t[len(prefix) :]}"
        for t, r in stock.tests.items()
        if t.startswith(prefix) and r["outcome"] in PASSING
    }


def format_suggestions(entries):
    by_reason = {}
    for pattern, value in sorted(entries.items()):
        by_reason.setdefault(json.dumps(value, sort_keys=True), []).append(pattern)
    lines = []
    for key, patterns in sorted(by_reason.items()):
        value = json.loads(key)
        for pattern in patterns:
            lines.append(f"    {pattern!r}: {value!r},")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Run CPython's test.test_asyncio against casyncio.",
    )
    parser.add_argument(
        "--mode",
        choices=(*MODES, "all", "both"),
        default="all",
        help="one mode, or all of them (both: an old name for all)",
    )
    parser.add_argument("--modules", help="comma-separated test_asyncio modules")
    parser.add_argument("--python", help="interpreter to test (default: this one)")
    parser.add_argument("--json", help="write every outcome to this file")
    parser.add_argument(
        "--from-json",
        metavar="FILE",
        help="run nothing: compare the outcomes saved by an earlier --json "
        "with the expected-failure list as it is now",
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--test-timeout", type=float, default=TEST_TIMEOUT)
    parser.add_argument("--module-timeout", type=float, default=MODULE_TIMEOUT)
    parser.add_argument(
        "--max-restarts",
        type=int,
        default=MAX_RESTARTS,
        help="restarts of a module after crashes/hangs before giving up on it",
    )
    parser.add_argument(
        "--casyncio-path",
        help="directory to import casyncio from (default: where this "
        "interpreter imports it from, else this checkout)",
    )
    parser.add_argument(
        "--expected",
        metavar="FILE",
        help="the expected-failure list to use (default: expected_failures.py "
        "next to this script)",
    )
    parser.add_argument("--log-dir", help="keep the children's logs here")
    parser.add_argument("--limit", type=int, default=50, help="failures shown per mode")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--suggest",
        action="store_true",
        help="print expected_failures.py entries for the unexpected failures",
    )
    args = parser.parse_args(argv)

    modes = MODES if args.mode in ("all", "both") else (args.mode,)
    modules = args.modules.split(",") if args.modules else None

    def progress(line):
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    if args.from_json:
        result = reanalyse(args.from_json, args.expected)
        modes = tuple(result.reports)
    else:
        result = run(
            args.python,
            modes,
            modules,
            jobs=args.jobs,
            progress=progress,
            test_timeout=args.test_timeout,
            module_timeout=args.module_timeout,
            max_restarts=args.max_restarts,
            casyncio_path=args.casyncio_path,
            log_dir=args.log_dir,
            expected_path=args.expected,
        )
    for mode in modes:
        print(format_report(result.reports[mode], limit=args.limit))
        print()
    if modules is None and set(modes) == set(MODES):
        stale = stale_entries(result.expectations, result.reports.values())
        if stale:
            print(
                f"expected_failures.py: {len(stale)} entries match no test run "
                "here (other Python version, or a binding not made):"
            )
            for entry in stale[: args.limit]:
                print(f"  [{entry.section}] {entry.key}")
            if len(stale) > args.limit:
                print(f"  ... and {len(stale) - args.limit} more")
    paths = {r.casyncio_path for r in result.runs.values() if r.casyncio_path}
    print(f"casyncio from: {', '.join(sorted(paths)) or '?'}")
    print(
        f"Python {result.full_version} ({args.python or sys.executable}): "
        f"{result.wall:.1f}s wall"
    )
    for line in result.summary_lines():
        print(line)
    if args.suggest:
        entries = suggest(result)
        print(f"\n# suggested entries for Python {result.version} ({len(entries)}):")
        print(format_suggestions(entries))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result.to_json(), f, indent=1)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
