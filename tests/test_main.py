"""`python -m casyncio ...` is `python ...` with casyncio's loop: the same
sys.argv, __file__, tracebacks, exit statuses and messages for a script,
-m module, -c code and - (standard input), asyncio's REPL with no argument;
and, on 3.14+, `ps`/`pstree PID`, which show a casyncio process's tasks as
`python -m asyncio ps|pstree` shows a stock one's.  Each is checked against
the interpreter itself (or asyncio's own tool) running the same thing."""

import os
import subprocess
import sys
import time

import pytest
from support import SCRATCH_DIR, run_python, subprocess_env

import casyncio._accel

PY314 = sys.version_info >= (3, 14)

SCRIPT = """
import asyncio, sys
async def main():
    module = type(asyncio.get_running_loop()).__module__
    return "casyncio" if module.startswith("casyncio") else "asyncio"
print("argv", sys.argv)
print("file", __file__)
print("path0", sys.path[0])
print("loop", asyncio.run(main()))
if "fail" in sys.argv:
    raise ValueError("boom")
"""


def both(args_after_interpreter, **kwargs):
    """The same command run as `python ARGS` and `python -m casyncio ARGS`."""
    plain = run_python(args_after_interpreter, **kwargs)
    cas = run_python(["-m", "casyncio", *args_after_interpreter], **kwargs)
    return plain, cas


def same_but_the_loop(plain, cas):
    assert cas.returncode == plain.returncode, (plain.stderr, cas.stderr)
    assert cas.stderr == plain.stderr
    assert cas.stdout.replace("loop casyncio", "loop asyncio") == plain.stdout
    assert "loop casyncio" in cas.stdout


def test_script(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(SCRIPT)
    rel = os.path.relpath(script, SCRATCH_DIR)
    plain, cas = both([rel, "a", "b"])
    same_but_the_loop(plain, cas)
    assert f"file {script}" in cas.stdout  # absolute, as Python makes it


def test_script_traceback_and_status(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(SCRIPT)
    plain, cas = both([os.path.relpath(script, SCRATCH_DIR), "fail"])
    assert plain.returncode == 1
    same_but_the_loop(plain, cas)
    assert "ValueError: boom" in cas.stderr


def test_missing_script(tmp_path):
    plain, cas = both([str(tmp_path / "missing.py")])
    assert plain.returncode == 2
    assert (cas.returncode, cas.stdout, cas.stderr) == (
        plain.returncode,
        plain.stdout,
        plain.stderr,
    )


def test_dash_c():
    code = SCRIPT.replace('print("file", __file__)\n', "")
    plain, cas = both(["-c", code, "x"])
    same_but_the_loop(plain, cas)
    assert "argv ['-c', 'x']" in cas.stdout
    assert "path0 \n" in cas.stdout


def test_accelerate_flag(tmp_path):
    # --accelerate: asyncio.gather is casyncio's C version in the program,
    # which otherwise runs as it does without the flag.
    code = (
        SCRIPT.replace('print("file", __file__)\n', "")
        + "import casyncio\nprint('accelerated', casyncio.accelerated())\n"
    )
    plain = run_python(["-m", "casyncio", "-c", code, "x"])
    fast = run_python(["-m", "casyncio", "--accelerate", "-c", code, "x"])
    assert fast.returncode == plain.returncode == 0, (plain.stderr, fast.stderr)
    assert "accelerated []" in plain.stdout
    names = sorted(casyncio._accel._NAMES)
    assert "gather" in names
    assert fast.stdout == plain.stdout.replace("accelerated []", f"accelerated {names}")


def test_dash_c_traceback():
    code = "import asyncio\nasyncio.run(asyncio.sleep(0))\n1/0\n"
    plain, cas = both(["-c", code])
    assert plain.returncode == 1
    assert (cas.returncode, cas.stderr) == (plain.returncode, plain.stderr)


def test_stdin():
    code = SCRIPT.replace('print("file", __file__)\n', "")
    plain, cas = (
        subprocess.run(
            [sys.executable, *before, "-", "y"],
            input=code,
            capture_output=True,
            text=True,
            cwd=SCRATCH_DIR,
            env=subprocess_env(),
            timeout=30,
            check=False,
        )
        for before in ([], ["-m", "casyncio"])
    )
    same_but_the_loop(plain, cas)
    assert "argv ['-', 'y']" in cas.stdout


def test_no_argument_starts_asyncio_repl_on_casyncio():
    line = "print('LOOP', type(asyncio.get_running_loop()).__module__)\n"
    outputs = {}
    for module in ("asyncio", "casyncio"):
        proc = subprocess.run(
            [sys.executable, "-m", module],
            input=line,
            capture_output=True,
            text=True,
            cwd=SCRATCH_DIR,
            env=dict(subprocess_env(), TERM="dumb"),
            timeout=60,
            check=False,
        )
        outputs[module] = proc
    assert "LOOP asyncio" in outputs["asyncio"].stdout + outputs["asyncio"].stderr
    assert "LOOP casyncio" in outputs["casyncio"].stdout + outputs["casyncio"].stderr
    assert outputs["casyncio"].returncode == outputs["asyncio"].returncode


def test_no_deprecation_warning_of_casyncio_making(tmp_path):
    """3.14 deprecates the policy system: running on casyncio by any of the
    documented ways must not warn (install() does, below)."""
    script = tmp_path / "prog.py"
    script.write_text(
        "import asyncio, casyncio\n"
        "async def main(): await asyncio.sleep(0)\n"
        "casyncio.run(main())\n"
        "with asyncio.Runner(loop_factory=casyncio.new_event_loop) as r:\n"
        "    r.run(main())\n"
        "import sys\n"
        "if sys.version_info >= (3, 12):\n"
        "    asyncio.run(main(), loop_factory=casyncio.new_event_loop)\n"
        "asyncio.run(main())\n"
    )
    for args in ([str(script)], ["-m", "casyncio", str(script)]):
        proc = run_python(["-W", "error::DeprecationWarning", *args])
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""


def test_install_warns_as_asyncio_policies_do():
    proc = run_python(
        [
            "-W",
            "always::DeprecationWarning",
            "-c",
            "import casyncio\ncasyncio.install()",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    if PY314:
        assert "<string>:2: DeprecationWarning: 'casyncio.install'" in proc.stderr
    else:
        assert "DeprecationWarning" not in proc.stderr


# ---- ps / pstree (3.14+) ----

TARGET = """
import asyncio, os, sys
async def leaf():
    await asyncio.sleep(3600)
async def branch():
    await asyncio.gather(leaf(), leaf())
async def ticker():
    while True:
        await asyncio.sleep(0.05)
async def main():
    async with asyncio.TaskGroup() as tg:
        tg.create_task(branch(), name="branch")
        tg.create_task(leaf(), name="lonely")
        tg.create_task(ticker(), name="ticker")
        await asyncio.sleep(0)
        print(os.getpid(), flush=True)
if sys.argv[1] == "casyncio":
    import casyncio
    casyncio.run(main())
else:
    asyncio.run(main())
"""


def _ps_rows(impl, command, tmp_path):
    """`python -m <impl> <command> PID` of the target run on impl: its
    output lines, with ids and thread ids left out."""
    script = tmp_path / "target.py"
    script.write_text(TARGET)
    target = subprocess.Popen(
        [sys.executable, str(script), impl],
        stdout=subprocess.PIPE,
        text=True,
        cwd=SCRATCH_DIR,
        env=subprocess_env(),
    )
    try:
        pid = int(target.stdout.readline())
        time.sleep(0.2)
        proc = run_python(["-m", impl, command, str(pid)], timeout=60)
    finally:
        target.kill()
        target.wait()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if command == "pstree":
        # (depth, label) of each node: the order of siblings, and so the
        # drawing characters, may differ.
        nodes = []
        for line in proc.stdout.splitlines():
            cut = max(line.find("└── "), line.find("├── "))
            nodes.append((cut // 4, line[cut + 4 :]))
        return sorted(nodes)
    rows = []
    for line in proc.stdout.splitlines()[2:]:
        cols = line.split()
        # tid, task id, name, stack..., awaiter name, awaiter id
        rows.append(" ".join(cols[2:-1]))
    return sorted(rows)


@pytest.mark.skipif(not PY314, reason="sys.remote_exec: 3.14+")
@pytest.mark.parametrize("command", ["ps", "pstree"])
def test_ps_shows_the_tasks_as_asyncio_shows_its_own(tmp_path, command):
    stock = _ps_rows("asyncio", command, tmp_path)
    ours = _ps_rows("casyncio", command, tmp_path)
    assert ours == stock
    assert any("branch" in str(row) for row in ours)


@pytest.mark.skipif(not PY314, reason="sys.remote_exec: 3.14+")
def test_ps_of_a_missing_process():
    proc = run_python(["-m", "casyncio", "ps", "999999999"])
    assert proc.returncode != 0
    assert "999999999" in proc.stderr
