"""Run every program in examples/ under stock asyncio and under casyncio.

Each example is an ordinary asyncio script. It is run twice in a subprocess,
as ``python examples/x.py`` (stock asyncio) and as
``python -m casyncio examples/x.py`` (the same script with casyncio's loop
installed); both runs must exit with 0, print nothing on stderr, print the
same stdout once timing figures are masked, and show the expected timings.
A third run imports the example by path and runs its ``main()`` with
``casyncio.run`` to check that the running loop really is casyncio's.

The examples scale every delay by CASYNCIO_EXAMPLE_SCALE and print timings as
``took N.Ns`` with the scale divided back out, so the figures below are the
unscaled delays in seconds.

These tests need casyncio to be importable (build it in place first); when
it is not, the casyncio tests fail with a message saying so, they are never
skipped.
"""

import ast
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import support

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"
EXAMPLES = sorted(p.name for p in EXAMPLES_DIR.glob("*.py"))

# At 0.05 a busy machine's thread start-up showed in the timings; slow
# builds (the sanitizer run of .ci/run) set a larger scale still.
SCALE = os.environ.get("CASYNCIO_TEST_EXAMPLE_SCALE", "0.1")
TIMEOUT = 60  # seconds, per subprocess

# The timing figures each example prints, in order, in unscaled seconds.
EXPECTED_TIMINGS = {
    "as_completed.py": [3, 3],  # gather, as_completed
    "async_generator.py": [3],  # three items, one second apart
    "chained_vs_gathered.py": [6, 3],  # chained: 1+2+3; gathered: max(1,2,3)
    "contextvars_isolation.py": [3],  # gather of sleeps of 1, 2 and 3
    "create_task.py": [3, 2, 2],  # plain coroutines: 1+2; tasks: max(1,2)
    "executors.py": [2],  # four 2-second jobs on four threads
    "say_after.py": [3, 2, 3, 0],  # sequential, concurrent, sequential, none
    # blocked loop: hello, world and total all at 3; free loop: 1, 2, 3
    "sleep_blocking.py": [3, 3, 3, 1, 2, 3],
    "task_group.py": [3.5, 1],  # 0.5 + three 1-second steps; failure at 1
    "to_thread.py": [3, 2],  # direct calls 1+2; threads max(1,2)
}

TIMING = re.compile(r"took (\d+\.\d+)s")


def check_timing(expected, actual):
    """True if a printed figure is close enough to the expected one.

    Sleeps never finish early, so the lower bound is tight; the upper bound
    is generous (40% plus a little) because the machine may be busy.
    """
    return expected * 0.9 - 0.15 <= actual <= expected * 1.4 + 0.4


def mask_timings(text):
    return TIMING.sub("took <T>s", text)


def subprocess_env():
    env = support.subprocess_env()
    env["CASYNCIO_EXAMPLE_SCALE"] = SCALE
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Debug mode would log slow callbacks (sleep_blocking.py has one on
    # purpose) and so change stderr.
    env.pop("PYTHONASYNCIODEBUG", None)
    return env


def run(args):
    return support.run_python(args, env=subprocess_env(), timeout=TIMEOUT)


@functools.cache
def run_example(name, under):
    """Run examples/<name> under "asyncio" or "casyncio"; cached per session."""
    script = str(EXAMPLES_DIR / name)
    if under == "asyncio":
        return run([script])
    return run(["-m", "casyncio", script])


def describe(proc):
    return (
        f"command: {proc.args}\nexit code: {proc.returncode}\n"
        f"--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
    )


@functools.cache
def casyncio_import_error():
    """None if casyncio imports in the examples' environment, else why not."""
    proc = run(["-c", "import casyncio"])
    if proc.returncode == 0:
        return None
    return proc.stderr.strip().splitlines()[-1] if proc.stderr else "unknown error"


def require_casyncio():
    error = casyncio_import_error()
    if error is not None:
        pytest.fail(
            f"casyncio cannot be imported ({error}); install it or build it in "
            "place first, e.g. `python setup.py build_ext --inplace`",
            pytrace=False,
        )


def assert_clean_run(proc):
    assert proc.returncode == 0, describe(proc)
    assert proc.stderr == "", "unexpected output on stderr\n" + describe(proc)


def assert_timings(name, proc):
    actual = [float(x) for x in TIMING.findall(proc.stdout)]
    expected = EXPECTED_TIMINGS[name]
    assert len(actual) == len(expected), (
        f"expected {len(expected)} timing lines, found {len(actual)}\n" + describe(proc)
    )
    bad = [
        f"timing #{i + 1}: expected about {e}s, got {a}s"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True))
        if not check_timing(e, a)
    ]
    assert not bad, "\n".join(bad) + "\n" + describe(proc)


def test_examples_are_listed():
    # Every example must say which timings it prints (possibly none).
    assert EXAMPLES, f"no examples found in {EXAMPLES_DIR}"
    assert sorted(EXPECTED_TIMINGS) == EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_is_well_formed(name):
    # Every example defines `async def main()`, calls asyncio.run(main())
    # under `if __name__ == "__main__":` and honours the delay scale.
    source = (EXAMPLES_DIR / name).read_text()
    tree = ast.parse(source)
    mains = [
        node
        for node in tree.body
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "main"
    ]
    assert mains, f"{name} has no top-level `async def main()`"
    guards = [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and ast.unparse(node.test) == "__name__ == '__main__'"
    ]
    assert guards, f"{name} has no `if __name__ == '__main__':` block"
    assert "asyncio.run(main())" in ast.unparse(guards[-1]), name
    assert "CASYNCIO_EXAMPLE_SCALE" in source, name


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_under_asyncio(name):
    proc = run_example(name, "asyncio")
    assert_clean_run(proc)
    assert_timings(name, proc)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_under_casyncio(name):
    require_casyncio()
    proc = run_example(name, "casyncio")
    assert_clean_run(proc)
    reference = run_example(name, "asyncio")
    assert reference.returncode == 0, describe(reference)
    assert mask_timings(proc.stdout) == mask_timings(reference.stdout), (
        "output differs from stock asyncio\n"
        f"=== asyncio\n{reference.stdout}=== casyncio\n{proc.stdout}"
    )
    assert_timings(name, proc)


# Imports an example by path, wraps its main() to record the running loop,
# runs it with casyncio.run and reports what it saw on the last line.
LOOP_CHECK = """
import asyncio, importlib, json, os, sys
import casyncio

# Imported under its own name from its directory: process pools pickle
# functions by module, and a spawned or forkserver worker (the default
# from 3.14 on) imports that module again.
path = sys.argv[1]
sys.path.insert(0, os.path.dirname(path))
module = importlib.import_module(os.path.splitext(os.path.basename(path))[0])
original_main = module.main
seen = []

async def main():
    seen.append(asyncio.get_running_loop())
    result = await original_main()
    seen.append(asyncio.get_running_loop())
    return result

module.main = main
casyncio.run(main())
print("LOOP-CHECK " + json.dumps({
    "types": sorted({f"{type(x).__module__}.{type(x).__qualname__}" for x in seen}),
    "calls": len(seen),
    "casyncio": all(isinstance(x, casyncio.Loop) for x in seen),
}))
"""


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_main_runs_on_casyncio_loop(name):
    require_casyncio()
    proc = run(["-c", LOOP_CHECK, str(EXAMPLES_DIR / name)])
    assert_clean_run(proc)
    output, _, last = proc.stdout.rstrip("\n").rpartition("\n")
    assert last.startswith("LOOP-CHECK "), describe(proc)
    report = json.loads(last.removeprefix("LOOP-CHECK "))
    assert report["calls"] == 2, describe(proc)
    assert report["casyncio"], f"main() ran on {report['types']}\n" + describe(proc)
    # casyncio.run must behave like asyncio.run for the example as well.
    reference = run_example(name, "asyncio")
    assert mask_timings(output + "\n") == mask_timings(reference.stdout), (
        "output under casyncio.run differs from stock asyncio\n"
        f"=== asyncio\n{reference.stdout}=== casyncio.run\n{output}\n"
    )


PROBE = """
import asyncio
import sys


async def main():
    import casyncio

    loop = asyncio.get_running_loop()
    print(f"loop: {type(loop).__module__}.{type(loop).__qualname__}")
    print(f"is casyncio.Loop: {isinstance(loop, casyncio.Loop)}")


if __name__ == "__main__":
    print(f"argv: {sys.argv[1:]}")
    asyncio.run(main())
"""


def test_dash_m_casyncio_installs_its_loop(tmp_path):
    # The examples cannot tell which loop they run on, so check with a probe
    # script that `python -m casyncio script.py` installs casyncio's loop for
    # a plain asyncio.run(main()) and runs the script as __main__.
    require_casyncio()
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    proc = run(["-m", "casyncio", str(script), "extra", "args"])
    assert_clean_run(proc)
    assert "argv: ['extra', 'args']" in proc.stdout, describe(proc)
    assert "is casyncio.Loop: True" in proc.stdout, describe(proc)


def readme_example_command():
    """The README's first set-up command, less its `pip install .` part."""
    text = (ROOT / "README.md").read_text()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("pip install . && "):
            return line[len("pip install . && ") :]
    raise AssertionError("README.md has no `pip install . && ...` set-up command")


def test_readme_example_command_runs_from_the_checkout():
    """The README's command, run as written from the top of the checkout,
    runs its example on casyncio (the checkout's unbuilt casyncio/ must not
    shadow the installed package)."""
    require_casyncio()
    command = readme_example_command()
    assert "python -m casyncio" in command
    command = command.replace("python ", f"{sys.executable} ", 1)
    proc = subprocess.run(
        ["bash", "-c", command],
        check=False,
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert_clean_run(proc)
    name = command.split()[-1].rsplit("/", 1)[-1]
    assert_timings(name, proc)
    assert mask_timings(proc.stdout) == mask_timings(
        run_example(name, "asyncio").stdout
    )
