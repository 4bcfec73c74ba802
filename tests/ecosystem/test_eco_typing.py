"""Typing: mypy passes on the casyncio package and the examples, and
stubtest finds casyncio/_core.pyi true to the C module of this Python.
Skipped when mypy (in the ecosystem extra) is not installed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import subprocess_env

pytest.importorskip("mypy", reason="mypy is not installed (pip install '.[ecosystem]')")

CHECKOUT = Path(__file__).resolve().parents[2]


def run(*args, cwd):
    cmd = [sys.executable, "-m", *args]
    return subprocess.run(
        cmd, cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=240
    )


def test_mypy_passes_on_package_and_examples():
    # No cache: it would be written into the checkout, and a cold run of
    # these few files takes seconds.
    r = run("mypy", "--cache-dir", os.devnull, "casyncio", "examples", cwd=CHECKOUT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found" in r.stdout


def test_stub_matches_the_c_module(tmp_path):
    # Run away from the checkout so the casyncio imported (and whose stub is
    # read) is the one the tests use: installed, or built in place; its
    # cache goes to tmp_path.
    r = run("mypy.stubtest", "casyncio", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found" in r.stdout
