"""Servers for the ecosystem tests: a throwaway redis-server and PostgreSQL,
each started once per session on a free loopback port in a temporary
directory and stopped at the end.  A test that needs one is skipped, with the
reason, when its binaries are missing (.ci/run installs them with apt-get)."""

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from support import foreign_server_env

from .eco_support import free_port, stop, wait_for_port


@pytest.fixture(scope="session")
def redis_port(tmp_path_factory):
    """The port of a redis-server of our own (no persistence)."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path_factory.mktemp("redis")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=foreign_server_env(),
    )
    try:
        wait_for_port(port, proc, "redis-server")
        yield port
    finally:
        stop(proc, signal.SIGTERM)


def _postgres_bindir():
    initdb = shutil.which("initdb")
    if initdb is not None and shutil.which("postgres"):
        return os.path.dirname(initdb)
    # Debian's packages keep the server binaries off PATH.
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(bindir, "initdb")):
            return bindir
    return None


@pytest.fixture(scope="session")
def postgres_port():
    """The port of a PostgreSQL server of our own: user "postgres", trust
    authentication, no fsync.  As root it runs as "nobody", since the server
    refuses to run as root."""
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    # Not under pytest's basetemp: as root that is private to root.
    base = Path(tempfile.mkdtemp(prefix="casyncio-pg-"))
    user = "nobody" if os.getuid() == 0 else None
    if user is not None:
        shutil.chown(base, user)
    data, port = str(base / "data"), free_port()
    initdb = f"-D {data} -U postgres -A trust -E UTF8 --no-sync".split()
    server = f"-D {data} -p {port} -k {base} -c listen_addresses=127.0.0.1"
    server += " -c fsync=off"
    run = dict(stdout=subprocess.DEVNULL, user=user, cwd=base, env=foreign_server_env())
    proc = None
    try:
        subprocess.run([os.path.join(bindir, "initdb"), *initdb], check=True, **run)
        proc = subprocess.Popen(
            [os.path.join(bindir, "postgres"), *server.split()],
            stderr=subprocess.DEVNULL,
            **run,
        )
        wait_for_port(port, proc, "postgres")
        yield port
    finally:
        if proc is not None:
            stop(proc, signal.SIGINT)  # fast shutdown: disconnects clients
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def loop_factory(impl):
    """A loop factory of the implementation under test (tests/conftest.py's
    `impl`), for libraries that make their loop themselves."""
    import asyncio

    import casyncio

    return casyncio.new_event_loop if impl == "casyncio" else asyncio.SelectorEventLoop
