"""python -m casyncio [--accelerate] [script.py | -m module | -c code | -] [args...]
   python -m casyncio ps|pstree PID [--timeout SECONDS]      (3.14+)

Runs an unchanged asyncio program with casyncio as the event loop, as
`python script.py` (or `python -m module`, `python -c code`, `python -`)
would run it: the loops that asyncio.run(), asyncio.Runner() and
asyncio.new_event_loop() make are casyncio loops (casyncio._select).  The
program sees the sys.argv, sys.path[0], __file__ and __name__ == "__main__"
it would see when run directly, and its uncaught exception prints the same
traceback and gives the same exit status.  With no argument it starts
asyncio's REPL (`python -m asyncio`) on a casyncio loop.

`ps PID` and `pstree PID` print the pending tasks of a running casyncio
process as `python -m asyncio ps|pstree PID` prints a stock one's (which
cannot see casyncio's tasks): see casyncio/_ps.py.

`--accelerate` also calls casyncio.accelerate() before the program starts:
asyncio's gather (and the other names casyncio.accelerated() lists) are
then casyncio's C versions.
"""

import importlib.machinery
import linecache
import os
import runpy
import signal
import sys
import types
import zipfile

import casyncio

USAGE = (
    "usage: python -m casyncio [--accelerate] [script.py | -m module | -c code | -] "
    "[args...]\n"
    "       python -m casyncio ps|pstree PID [--timeout SECONDS]   (Python 3.14+)\n"
    "With no argument: asyncio's REPL on a casyncio loop.\n"
    "--accelerate: asyncio's gather & co. in C as well (casyncio.accelerate())."
)


def _ps(argv):
    """ps|pstree PID [--timeout SECONDS]: another process's tasks."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m casyncio {argv[0]}")
    parser.add_argument("pid", type=int, help="process ID to inspect")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the process to report (default 10)",
    )
    args = parser.parse_args(argv[1:])
    if sys.version_info < (3, 14):
        print(
            "python -m casyncio ps/pstree needs Python 3.14 or later (sys.remote_exec)",
            file=sys.stderr,
        )
        return 2
    from casyncio import _ps

    return _ps.main(argv[0], args.pid, args.timeout)


def _report_uncaught(exc, first_file):
    """Print exc as the interpreter would for `python script.py`: without
    the frames of this runner, from the program's first frame on."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != first_file:
        tb = tb.tb_next
    if tb is not None:
        # The traceback printer reads exc.__traceback__, not its argument.
        exc.__traceback__ = tb
    sys.excepthook(type(exc), exc, exc.__traceback__)
    if isinstance(exc, KeyboardInterrupt):
        # The interpreter ends an interrupted program by SIGINT, so that the
        # shell sees it was interrupted; do the same.
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return 1


def _run_code(source, filename, show_source=False, **attrs):
    """Run source (str or bytes) as the __main__ module, with `attrs` among
    its globals, as the interpreter runs a script, `-c` code or standard
    input.  show_source: tracebacks show its lines, as 3.13+ does for -c."""
    code = compile(source, filename, "exec")
    if show_source and sys.version_info >= (3, 13):
        if hasattr(linecache, "_interactive_cache"):  # 3.14+
            linecache._register_code(code, source, filename)
        else:  # 3.13 keeps -c's lines under its file name
            lines = [line + "\n" for line in source.splitlines()]
            linecache.cache[filename] = (len(source), None, lines, filename)
    module = types.ModuleType("__main__")
    module.__builtins__ = __builtins__
    for name, value in attrs.items():
        setattr(module, name, value)
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    finally:
        sys.modules["__main__"] = saved


def _run_script(path, given):
    """`python given` (path: its absolute form) for a file: __file__ is
    the absolute path (as since 3.9) while sys.argv[0] stays as given,
    which runpy.run_path does not do; a directory or zip file goes to
    runpy."""
    if not os.path.isfile(path) or zipfile.is_zipfile(path):
        runpy.run_path(given, run_name="__main__")
        return
    with open(path, "rb") as f:
        source = f.read()
    loader = importlib.machinery.SourceFileLoader("__main__", path)
    _run_code(source, path, __file__=path, __cached__=None, __loader__=loader)


def _target(argv):
    """(run, first_file) for the command line, or an exit status."""
    if argv[0] == "-m":
        if len(argv) < 2:
            print("Argument expected for the -m option", file=sys.stderr)
            return 2
        sys.argv = argv[1:]
        sys.path[0] = os.getcwd()
        return (
            lambda: runpy.run_module(argv[1], run_name="__main__", alter_sys=True),
            None,
        )
    if argv[0] == "-c":
        if len(argv) < 2:
            print("Argument expected for the -c option", file=sys.stderr)
            return 2
        sys.argv = ["-c", *argv[2:]]
        sys.path[0] = ""
        return (lambda: _run_code(argv[1], "<string>", show_source=True), "<string>")
    if argv[0] == "-":
        sys.argv = list(argv)
        sys.path[0] = ""
        return (lambda: _run_code(sys.stdin.read(), "<stdin>"), "<stdin>")
    path = os.path.abspath(argv[0])
    if not os.path.exists(path):
        program = sys.orig_argv[0] if sys.orig_argv else sys.executable
        print(
            f"{program}: can't open file {path!r}: [Errno 2] No such file or directory",
            file=sys.stderr,
        )
        return 2
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(path)
    return (lambda: _run_script(path, argv[0]), path)


def _repl():
    """asyncio's own REPL (python -m asyncio), its loop a casyncio loop."""
    sys.argv = [sys.argv[0]]
    runpy.run_module("asyncio", run_name="__main__", alter_sys=True)
    return 0


def main(argv):
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if len(argv) >= 2 and argv[0] in ("ps", "pstree") and argv[1].isdigit():
        return _ps(argv)
    if argv and argv[0] == "--accelerate":
        argv = argv[1:]
        casyncio.accelerate()
    casyncio._select()
    if not argv:
        return _repl()
    target = _target(argv)
    if isinstance(target, int):
        return target
    run, first_file = target
    try:
        run()
    except SystemExit:
        raise
    except BaseException as exc:
        if first_file is None:
            first_file = sys.argv[0]
        return _report_uncaught(exc, first_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
