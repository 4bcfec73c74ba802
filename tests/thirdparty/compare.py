"""Run a library's own test suite on casyncio and on stock asyncio, and list
the tests that fail only on casyncio.

    python tests/thirdparty/compare.py anyio   [--version V] [--workdir DIR]
    python tests/thirdparty/compare.py uvloop  [--version V] [--workdir DIR]
    python tests/thirdparty/compare.py aiohttp [--version V] [--workdir DIR]

The library's source distribution comes from PyPI (its tests are in it).
A virtual environment is made with the running Python, with casyncio from
this checkout and what the suite needs, and pytest runs with --junitxml:

- anyio: its asyncio tests, with the parametrisation it has for uvloop
  pointed at casyncio (`asyncio` against `asyncio+casyncio`), in one run;
  its IPv6, dual-stack and trio tests are left out.
- uvloop: the test classes it runs on asyncio's loop (`Test_AIO_*`), once
  as they are and once with that loop replaced by casyncio.new_event_loop()
  (and the suite told the loop is asyncio's, which casyncio follows).
- aiohttp: its tests (with its own pytest.ini, less its coverage options)
  against its wheel, once as they are and once with `pytest --casyncio`
  (casyncio's pytest plugin), two xdist workers each.

Prints both tallies and every test that fails on casyncio and passes on
stock asyncio; exit status 1 if there is one.  Not part of the test
command (it downloads and takes minutes); README.md gives the latest
results."""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SUITES = {
    "anyio": [
        "blockbuster",
        "hypothesis",
        "psutil",
        "pytest>=9",
        "pytest-mock",
        "pytest-timeout",
        "trustme",
        "truststore",
    ],
    "uvloop": ["psutil", "pyOpenSSL", "pytest", "pytest-timeout"],
    # requirements/test.in of its sdist, less pytest-cov, mypy and the
    # Windows-only and PyPy-only entries (coverage stays: pytest.ini names
    # one of its warnings).
    "aiohttp": [
        "blockbuster",
        "coverage",
        "freezegun",
        "gunicorn",
        "isal",
        "pkgconfig",
        "proxy.py>=2.4.4rc5",
        "pytest",
        "pytest-codspeed",
        "pytest-mock",
        "pytest-timeout",
        "pytest-xdist",
        "python-on-whales",
        "setuptools-git",
        "trustme",
        "uvloop",
        "zlib-ng",
    ],
}

UVLOOP_CONFTEST = """\
import os
if os.environ.get("CASYNCIO_THIRDPARTY") == "1":
    import casyncio
    from uvloop import _testbase as tb
    tb.AIOTestCase.new_loop = lambda self: casyncio.new_event_loop()
    tb.AIOTestCase.new_policy = lambda self: casyncio.EventLoopPolicy()
    tb.AIOTestCase.is_asyncio_loop = lambda self: True
"""


def sh(*cmd, **kw):
    print("$", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], **kw)


def fetch_sdist(py, lib, version, work):
    spec = f"{lib}=={version}" if version else lib
    dist = work / "dist"
    sh(
        py,
        "-m",
        "pip",
        "download",
        "-q",
        "--no-deps",
        "--no-binary",
        ":all:",
        "-d",
        dist,
        spec,
        check=True,
    )
    (tarball,) = dist.glob(f"{lib}-*.tar.gz")
    with tarfile.open(tarball) as tar:
        if sys.version_info >= (3, 12):
            tar.extractall(work, filter="data")
        else:
            tar.extractall(work)
    version = tarball.name[len(lib) + 1 : -len(".tar.gz")]
    return work / f"{lib}-{version}", version


def outcomes(junit):
    """{test id: 'pass' | 'skip' | 'fail: message'}"""
    if not junit.exists():
        sys.exit(f"pytest wrote no {junit}: see its output above")
    result = {}
    for case in ET.parse(junit).iter("testcase"):
        state = "pass"
        for child in case:
            if child.tag in ("failure", "error"):
                msg = (child.get("message") or "").splitlines()
                state = "fail: " + (msg[0][:160] if msg else "")
            elif child.tag == "skipped":
                state = "skip"
        result[f"{case.get('classname')}::{case.get('name')}"] = state
    return result


def tally(results):
    counts = {"pass": 0, "fail": 0, "skip": 0}
    for state in results.values():
        counts[state.split(":")[0]] += 1
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def report(stock, casyncio):
    """Print the tallies and the casyncio-only failures; return their number."""
    print(f"stock asyncio: {tally(stock)}")
    print(f"casyncio:      {tally(casyncio)}")
    only = sorted(
        (name, state)
        for name, state in casyncio.items()
        if state.startswith("fail") and stock.get(name) == "pass"
    )
    print(f"{len(only)} test(s) fail on casyncio and pass on stock asyncio")
    for name, state in only:
        print(f"  {name}: {state}")
    return len(only)


def run_anyio(py, src, work):
    conftest = src / "tests" / "conftest.py"
    text = conftest.read_text()
    patched = re.sub(
        r"^(\s+)import uvloop$",
        r'\1import casyncio as uvloop\n\1uvloop_name = "casyncio"',
        text,
        count=1,
        flags=re.M,
    ).replace("uvloop.loop.Loop", "uvloop.Loop")
    if patched == text or 'uvloop_name = "casyncio"' not in patched:
        sys.exit(f"{conftest}: its uvloop parametrisation was not found")
    conftest.write_text(patched)
    junit = work / "anyio.xml"
    sh(
        py,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:casyncio",
        "-k",
        "not trio and not eager and not ipv6 and not dualstack and not multi",
        f"--junitxml={junit}",
        "tests",
        cwd=src,
        check=False,
    )
    both = outcomes(junit)
    marker = "[asyncio+casyncio"
    casyncio = {
        n.replace(marker, "[asyncio"): s for n, s in both.items() if marker in n
    }
    stock = {n: s for n, s in both.items() if "[asyncio" in n and marker not in n}
    stock = {n: s for n, s in stock.items() if n in casyncio}
    return report(stock, casyncio)


def run_uvloop(py, src, work):
    # The tests alone: beside the sdist's uvloop/ source they would import
    # it rather than the installed build.
    tests = work / "uvloop-tests"
    shutil.rmtree(tests, ignore_errors=True)
    shutil.copytree(src / "tests", tests / "tests")
    src = tests
    (src / "conftest.py").write_text(UVLOOP_CONFTEST)
    results = []
    for flag in ("0", "1"):
        junit = work / f"uvloop-{flag}.xml"
        env = dict(os.environ, CASYNCIO_THIRDPARTY=flag)
        sh(
            py,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:casyncio",
            "--timeout",
            "120",
            "-k",
            "AIO",
            f"--junitxml={junit}",
            "tests",
            cwd=src,
            env=env,
            check=False,
        )
        results.append(outcomes(junit))
    return report(*results)


def run_aiohttp(py, src, work):
    # Its tests and pytest.ini alone, so the installed wheel is tested
    # rather than the sdist's unbuilt aiohttp/.
    tests = work / "aiohttp-tests"
    shutil.rmtree(tests, ignore_errors=True)
    shutil.copytree(src / "tests", tests / "tests")
    shutil.copy(src / "pytest.ini", tests)
    results = []
    for extra in ([], ["--casyncio"]):
        junit = work / f"aiohttp{'-casyncio' if extra else ''}.xml"
        sh(
            py,
            "-m",
            "pytest",
            "-q",
            "-o",
            "addopts=",
            "-p",
            "no:cacheprovider",
            "-m",
            "not dev_mode and not autobahn and not internal",
            "-n",
            "2",
            *extra,
            f"--junitxml={junit}",
            "tests",
            cwd=tests,
            check=False,
        )
        results.append(outcomes(junit))
    return report(*results)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("library", choices=sorted(SUITES))
    p.add_argument("--version", help="the release to test (default: the latest)")
    p.add_argument("--workdir", type=Path, help="kept afterwards (default: a temp dir)")
    args = p.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix=f"casyncio-{args.library}-"))
    work.mkdir(parents=True, exist_ok=True)
    venv = work / "venv"
    sh(sys.executable, "-m", "venv", venv, check=True)
    py = venv / "bin" / "python"
    src, version = fetch_sdist(py, args.library, args.version, work)
    lib = src if args.library == "anyio" else f"{args.library}=={version}"
    sh(py, "-m", "pip", "install", "-q", ROOT, lib, *SUITES[args.library], check=True)
    runners = {"anyio": run_anyio, "uvloop": run_uvloop, "aiohttp": run_aiohttp}
    run = runners[args.library]
    print(f"{args.library} {version} on {sys.version.split()[0]}, work dir {work}")
    return 1 if run(py, src, work) else 0


if __name__ == "__main__":
    sys.exit(main())
