"""add_signal_handler and remove_signal_handler: the once-per-call glue.

The checks, signal.signal() and signal.set_wakeup_fd() are here, with
asyncio's errors (unix_events._UnixSelectorEventLoop); the handlers live in
the loop's ``_signal_handlers`` dict, which src/signals.c reads when the
signal pipe becomes readable: each byte read is a signal number, whose
Handle is queued and runs in the loop, in the context that was current at
add_signal_handler() time.
"""

from __future__ import annotations

import errno
import logging
import signal
import sys
import threading
import warnings
from asyncio import coroutines

from . import _compat, _core

logger = logging.getLogger("asyncio")


def _sighandler_noop(signum, frame):
    """The Python-level handler of a signal with a loop handler: the C
    handler has already written the signal number into the loop's pipe."""


def _check_signal(sig):
    if not isinstance(sig, int):
        raise TypeError(f"sig must be an int, not {sig!r}")
    if sig not in signal.valid_signals():
        raise ValueError(f"invalid signal number {sig}")


def _on_main_thread():
    return threading.current_thread() is threading.main_thread()


class SignalHandlers:
    """Mixin of casyncio.Loop (before _core.BaseLoop in its bases)."""

    def add_signal_handler(self, sig, callback, *args):
        """Run callback(*args) in the loop whenever signal sig arrives
        (main thread only).  TypeError for a coroutine function,
        ValueError for an invalid signal, RuntimeError if the handler
        cannot be set (SIGKILL, another thread)."""
        if coroutines.iscoroutine(callback) or _compat.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        _check_signal(sig)
        self._check_closed()
        try:
            # Raises ValueError off the main thread: before anything changes.
            signal.set_wakeup_fd(self._signal_wakeup_fd(), warn_on_full_buffer=False)
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc)) from None
        handlers = self._signal_handlers
        handlers[sig] = _core.Handle(callback, args, self, None)
        try:
            signal.signal(sig, _sighandler_noop)
            # SA_RESTART: fewer EINTRs in the rest of the program.
            signal.siginterrupt(sig, False)
        except OSError as exc:
            del handlers[sig]
            if not handlers:
                self._release_signal_wakeup()
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig} cannot be caught") from None
            raise

    def remove_signal_handler(self, sig):
        """Remove the handler of signal sig and restore the default
        disposition (SIGINT: KeyboardInterrupt); whether there was one."""
        _check_signal(sig)
        handlers = self._signal_handlers
        if handlers.pop(sig, None) is None:
            return False
        handler = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, handler)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig} cannot be caught") from None
            raise
        if not handlers:
            self._release_signal_wakeup()
        return True

    def _release_signal_wakeup(self):
        """The last handler is gone: the wakeup fd goes back to -1, as
        asyncio's, unless the loop is running on the main thread, where it
        is the loop's until run_forever ends (Ctrl-C must wake it)."""
        if self.is_running() and _on_main_thread():
            return
        try:
            signal.set_wakeup_fd(-1)
        except (ValueError, OSError) as exc:
            logger.info("set_wakeup_fd(-1) failed: %s", exc)

    def _restore_signal_wakeup(self, saved):
        """run_forever's end: put the previous wakeup fd back, unless the
        loop has signal handlers, whose signals must reach its pipe between
        runs too."""
        if saved is None or self._signal_handlers:
            return
        if saved == self._signal_wakeup_fd():
            saved = -1  # our own, left by handlers removed during the run
        signal.set_wakeup_fd(saved)

    def _remove_signal_handlers(self):
        """close(): every handler goes, as asyncio's loop does it."""
        handlers = self._signal_handlers
        if not sys.is_finalizing():
            for sig in list(handlers):
                self.remove_signal_handler(sig)
        elif handlers:
            warnings.warn(
                f"Closing the loop {self!r} on interpreter shutdown stage, "
                "skipping signal handlers removal",
                ResourceWarning,
                stacklevel=1,
                source=self,
            )
            handlers.clear()
