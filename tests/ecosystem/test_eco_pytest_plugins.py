"""casyncio's pytest plugin (casyncio/pytest_plugin.py): a test project of
its own, run by pytest in a subprocess, whose pytest-asyncio tests, anyio
tests and IsolatedAsyncioTestCase run on casyncio with `casyncio = true` in
its ini (or `--casyncio`), and on stock asyncio without."""

import importlib.metadata
import subprocess
import sys
import textwrap

import pytest
from support import subprocess_env

pytest.importorskip("pytest_asyncio", reason="pytest-asyncio is not installed")
pytest.importorskip("anyio", reason="anyio is not installed")

TESTS = textwrap.dedent(
    """
    import asyncio
    import os
    import unittest

    import pytest
    import pytest_asyncio

    EXPECTED = os.environ["EXPECTED_LOOP_MODULE"]


    def loop_module():
        return type(asyncio.get_running_loop()).__module__.split(".")[0]


    @pytest_asyncio.fixture
    async def fixture_loop():
        return loop_module()


    @pytest.mark.asyncio
    async def test_pytest_asyncio(fixture_loop):
        await asyncio.sleep(0)
        assert (loop_module(), fixture_loop) == (EXPECTED, EXPECTED)


    @pytest.mark.asyncio(loop_scope="module")
    async def test_pytest_asyncio_module_scope():
        assert loop_module() == EXPECTED


    @pytest.fixture
    def anyio_backend():
        return "asyncio"


    @pytest.mark.anyio
    async def test_anyio():
        import anyio

        await anyio.sleep(0)
        assert loop_module() == EXPECTED


    class TestCase(unittest.IsolatedAsyncioTestCase):
        async def test_unittest(self):
            self.assertEqual(loop_module(), EXPECTED)
    """
)


def entry_point_installed():
    return any(
        ep.value == "casyncio.pytest_plugin"
        for ep in importlib.metadata.entry_points(group="pytest11")
    )


def run_project(tmp_path, ini, args, expected, tests=TESTS):
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\n"
        "asyncio_default_fixture_loop_scope = function\n" + ini
    )
    (tmp_path / "test_project.py").write_text(tests)
    if not entry_point_installed():
        # Built in place, not installed: load the plugin by name.
        args = ["-p", "casyncio.pytest_plugin", *args]
    env = subprocess_env()
    env["EXPECTED_LOOP_MODULE"] = expected
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "ini, args",
    [("casyncio = true\n", []), ("", ["--casyncio"])],
    ids=["ini", "flag"],
)
def test_project_runs_on_casyncio(tmp_path, ini, args):
    r = run_project(tmp_path, ini, args, "casyncio")
    assert "4 passed" in r.stdout, r.stdout + r.stderr
    assert "asyncio tests run on casyncio loops" in r.stdout


def test_project_runs_on_asyncio_without_the_setting(tmp_path):
    r = run_project(tmp_path, "", [], "asyncio")
    assert "4 passed" in r.stdout, r.stdout + r.stderr
    assert "casyncio loops" not in r.stdout


ACCEL_TESTS = textwrap.dedent(
    """
    import asyncio
    import os

    import casyncio

    ON = os.environ["EXPECTED_LOOP_MODULE"] == "accelerated"


    def test_gather_is_accelerated_or_not():
        assert (asyncio.gather is casyncio._core.gather) == ON
        assert ("gather" in casyncio.accelerated()) == ON


    def test_gather_works_either_way():
        async def one(x):
            return x

        async def main():
            return await asyncio.gather(one(1), one(2))

        assert asyncio.run(main()) == [1, 2]
    """
)


@pytest.mark.parametrize(
    "ini, args",
    [("casyncio_accelerate = true\n", []), ("", ["--casyncio-accelerate"])],
    ids=["ini", "flag"],
)
def test_accelerate_setting(tmp_path, ini, args):
    r = run_project(tmp_path, ini, args, "accelerated", tests=ACCEL_TESTS)
    assert "2 passed" in r.stdout, r.stdout + r.stderr
    header = [line for line in r.stdout.splitlines() if "accelerated: " in line]
    assert header and "gather" in header[0].split("accelerated: ")[1].split(", "), (
        r.stdout
    )


def test_not_accelerated_without_the_setting(tmp_path):
    r = run_project(tmp_path, "", [], "stock", tests=ACCEL_TESTS)
    assert "2 passed" in r.stdout, r.stdout + r.stderr
    assert "accelerated:" not in r.stdout


HOOK_CONFTEST = textwrap.dedent(
    """
    import casyncio


    def pytest_asyncio_loop_factories(config, item):
        return {"casyncio": casyncio.new_event_loop}
    """
)


def test_pytest_asyncio_loop_factories_hook(tmp_path):
    # The alternative the README gives for a pytest-asyncio that has it: its own
    # hook, in the project's conftest.py, without casyncio's plugin.
    import pytest_asyncio.plugin

    specs = getattr(pytest_asyncio.plugin, "PytestAsyncioSpecs", None)
    if not hasattr(specs, "pytest_asyncio_loop_factories"):
        pytest.skip("this pytest-asyncio has no pytest_asyncio_loop_factories hook")
    (tmp_path / "conftest.py").write_text(HOOK_CONFTEST)
    r = run_project(tmp_path, "", ["-k", "pytest_asyncio"], "casyncio")
    assert "2 passed" in r.stdout, r.stdout + r.stderr
