"""CPython's installed test.test_asyncio, run against casyncio.

The runner (tests/conformance/runner.py, which also runs on its own) runs
every module of test.test_asyncio of this interpreter on stock asyncio and
on casyncio, in three modes (whole suite with casyncio as the default loop;
CPython's implementation-parametrised classes bound to casyncio; the
modules testing gather & co. again with casyncio.accelerate()), one
subprocess per module and mode.  Here there is one test per (mode, module),
failing on stock-passing tests that fail on casyncio and are not listed in
tests/conformance/expected_failures.py, and on crashes and hangs; and one
test for the bar (99.5% of the stock-passing tests of the landed
capabilities, in each mode and in all together).  The summary line of each
mode, and the bar's, are printed at the end of the run, also under
``pytest -q``.

CASYNCIO_CONFORMANCE=full (the default, and what CI runs) | quick | off.
CASYNCIO_CONFORMANCE_JSON=path writes every outcome to a file.
"""

import importlib.util
import os
import sys
import warnings

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _load_runner():
    name = "_casyncio_conformance_runner"
    if name not in sys.modules:
        path = os.path.join(HERE, "conformance", "runner.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


runner = _load_runner()
bindings = runner._load_sibling("bindings")

SETTING = os.environ.get("CASYNCIO_CONFORMANCE", "full").lower()
INFO = runner.probe(sys.executable)
MODULES = runner.modules_from_env(INFO["modules"], SETTING)
JOBS = int(os.environ.get("CASYNCIO_CONFORMANCE_JOBS", "2"))

pytestmark = [
    # The first test runs the whole suite (a few minutes) in its fixture.
    pytest.mark.timeout(3600),
    pytest.mark.skipif(SETTING == "off", reason="CASYNCIO_CONFORMANCE=off"),
]

CASES = (
    [("default", m) for m in MODULES]
    + [("parametrised", m) for m in MODULES if m in bindings.MODULES]
    + [("accelerated", m) for m in MODULES if m in runner.ACCELERATED_MODULES]
)


@pytest.fixture(scope="module")
def conformance(request):
    progress_lines = []
    result = runner.run(
        sys.executable,
        runner.MODES,
        MODULES,
        jobs=JOBS,
        progress=progress_lines.append,
    )
    out = os.environ.get("CASYNCIO_CONFORMANCE_JSON")
    if out:
        import json

        with open(out, "w") as f:
            json.dump(result.to_json(), f, indent=1)
    for line in result.summary_lines():
        print(line)
    return result


def _excerpt(text, lines=8):
    text = (text or "").strip()
    return "\n".join("      " + x for x in text.splitlines()[-lines:])


@pytest.mark.parametrize(("mode", "module"), CASES, ids=[f"{m}-{n}" for m, n in CASES])
def test_module(conformance, mode, module):
    report = conformance.reports[mode]
    figures = report.modules.get(module)
    if figures is not None and figures.note.startswith("skipped"):
        pytest.skip(figures.note)
    prefix = module + "."
    problems = []
    for name, text in report.fatal:
        if name == module:
            problems.append(f"  the run failed:\n{_excerpt(text, 20)}")
    for test_id, outcome, text in report.unexpected:
        if test_id.startswith(prefix):
            problems.append(f"  {outcome}: {test_id}\n{_excerpt(text)}")
    passing = [t for t, _ in report.now_passing if t.startswith(prefix)]
    if passing:
        warnings.warn(
            f"{len(passing)} test(s) of {module} ({mode} mode) listed in "
            "expected_failures.py now pass on casyncio; remove them: "
            + ", ".join(passing[:20])
            + (" ..." if len(passing) > 20 else ""),
            stacklevel=1,
        )
    if problems:
        pytest.fail(
            f"{module} ({mode} mode, Python {conformance.version}): "
            f"{len(problems)} stock-passing test(s) fail on casyncio and are not "
            "in tests/conformance/expected_failures.py (or crash or hang):\n"
            + "\n".join(problems),
            pytrace=False,
        )


def test_bar(conformance, record_property):
    # Shown in the terminal summary by tests/conftest.py, which gets the
    # lines from the test's report (so also from a pytest-xdist worker).
    lines = [f"casyncio conformance, Python {conformance.full_version}"]
    for report in conformance.reports.values():
        lines += [report.summary_line(), report.detail_line()]
    lines += [conformance.bar_line, f"  ({conformance.wall:.0f}s wall)"]
    record_property("casyncio_summary", "\n".join(lines))
    assert conformance.bar_rate >= runner.BAR, conformance.bar_line
