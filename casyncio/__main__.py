"""python -m casyncio script.py [args...]  |  python -m casyncio -m module [args...]

Runs an unchanged asyncio program with casyncio as the event loop: the
policy is installed first, so asyncio.run(), asyncio.new_event_loop() and
asyncio.Runner() make casyncio loops.  The program sees the sys.argv,
sys.path[0] and __name__ == "__main__" it would see when run directly, and
its uncaught exception prints the same traceback and gives the same exit
status.
"""

import os
import runpy
import signal
import sys

import casyncio

USAGE = "usage: python -m casyncio script.py [args...] | -m module [args...]"


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


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    casyncio.install()
    if argv[0] == "-m":
        if len(argv) < 2:
            print(USAGE, file=sys.stderr)
            return 2
        sys.argv = argv[1:]
        sys.path[0] = os.getcwd()
        run, target = runpy.run_module, argv[1]
        kwargs = {"run_name": "__main__", "alter_sys": True}
        first_file = None
    else:
        path = argv[0]
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(os.path.abspath(path))
        run, target = runpy.run_path, path
        kwargs = {"run_name": "__main__"}
        first_file = path
    try:
        run(target, **kwargs)
    except SystemExit:
        raise
    except BaseException as exc:
        if first_file is None:
            first_file = sys.argv[0]
        return _report_uncaught(exc, first_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
