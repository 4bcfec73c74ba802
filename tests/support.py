"""Helpers shared by the tests: running Python in a subprocess, the
machine's IPv6 loopback, and a traced socket.socket subclass.

A subprocess must test the same casyncio as the test process: the source
tree when it was built in place (``python -m pytest`` from the checkout),
the installed package in CI (``pytest`` after ``pip install .``).  So
subprocesses get the directory this process imports casyncio from first on
their path, and run from a scratch directory, never from the checkout,
whose casyncio/ has no compiled _core when only the installed copy was
built.
"""

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def _import_root():
    spec = importlib.util.find_spec("casyncio")
    if spec is None or spec.origin is None:
        return None
    return str(Path(spec.origin).resolve().parent.parent)


IMPORT_ROOT = _import_root()
SCRATCH_DIR = tempfile.gettempdir()
# The sanitizer run of .ci/run preloads ASan's runtime into every process.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


def foreign_server_env():
    """os.environ without the sanitizer runtime, for servers the tests start
    (redis-server, PostgreSQL): they are not under test, and ASan preloaded
    into PostgreSQL's initdb hung it."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


def subprocess_env(base=None):
    """A copy of base (default os.environ) whose PYTHONPATH starts with the
    directory casyncio is imported from here."""
    env = dict(os.environ if base is None else base)
    if IMPORT_ROOT is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (IMPORT_ROOT, env.get("PYTHONPATH")) if p
        )
    return env


def run_python(args, *, env=None, timeout=30):
    """Run this Python with `args` in the scratch directory, with casyncio
    importable (env: subprocess_env() unless given); the CompletedProcess,
    stdout and stderr captured as text.  A non-zero exit is not an error
    here: callers assert on it."""
    return subprocess.run(
        [sys.executable, *args],
        check=False,
        cwd=SCRATCH_DIR,
        env=subprocess_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def path_prelude():
    """Code that puts casyncio's import root on sys.path, for interpreters
    started with -E (which ignores PYTHONPATH)."""
    if IMPORT_ROOT is None:
        return ""
    return f"import sys; sys.path.insert(0, {IMPORT_ROOT!r}); "


def _has_ipv6_loopback():
    import socket

    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


# Whether ::1 can be bound here (containers often have IPv6 turned off).
HAS_IPV6 = _has_ipv6_loopback()


class TracedSocket(socket.socket):
    """A socket.socket subclass recording the calls of the methods asyncio
    reads and writes a socket through, as (name, size) pairs (for shutdown,
    its `how`).  `faults` maps a method's name to a list of what its next
    calls do first: an exception to raise, a function to call, or for
    "send" (which covers sendmsg() too) a cap on the bytes sent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []
        self.faults = {}

    def names(self):
        return [name for name, _ in self.calls]

    def _fault(self, name):
        pending = self.faults.get(name)
        fault = pending.pop(0) if pending else None
        if isinstance(fault, BaseException):
            raise fault
        if callable(fault):
            fault()
            return None
        return fault

    def recv(self, n, *args):
        self.calls.append(("recv", n))
        self._fault("recv")
        return super().recv(n, *args)

    def recv_into(self, buf, *args):
        self.calls.append(("recv_into", memoryview(buf).nbytes))
        self._fault("recv_into")
        return super().recv_into(buf, *args)

    def send(self, data, *args):
        self.calls.append(("send", memoryview(data).nbytes))
        cap = self._fault("send")
        return super().send(memoryview(data)[:cap] if cap else data, *args)

    def sendmsg(self, buffers, *args):
        data = b"".join(bytes(b) for b in buffers)
        self.calls.append(("sendmsg", len(data)))
        cap = self._fault("send")
        return super().sendmsg([data[:cap] if cap else data], *args)

    def shutdown(self, how):
        self.calls.append(("shutdown", how))
        return super().shutdown(how)
