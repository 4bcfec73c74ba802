"""Pipes and subprocesses: asyncio's orchestration, our C transports, and a
child watcher in the loop's reactor.

connect_read_pipe, connect_write_pipe, subprocess_exec and subprocess_shell
are the stdlib's ``BaseEventLoop`` methods, bound as methods of
casyncio.Loop (argument checks, error messages and debug logging are those
of the running Python).  What they call back:

- ``_make_read_pipe_transport`` / ``_make_write_pipe_transport``: the C
  pipe transports of src/stream.c (every read and write is C);
- ``_make_subprocess_transport``: asyncio's ``BaseSubprocessTransport``
  (once per child: Popen, connecting the pipes, kill/terminate/wait), and
  a watch on the child's exit.

The exit watch, from 3.14 on, is the loop's own child watcher as in
asyncio (``loop._watcher``, made with the loop): asyncio's
_PidfdChildWatcher, a pidfd in the loop's reactor, or where pidfds cannot
be used its _ThreadedChildWatcher, a thread per child that waits without
reaping and leaves the reaping to the loop thread.  Before 3.14 it is a
pidfd registered in the loop's reactor (add_reader): no thread and no
signal handler per child; where os.pidfd_open is missing or fails (old
kernels, seccomp), a thread per child waits in waitpid(), as asyncio's
ThreadedChildWatcher does.  On 3.11-3.13 a child watcher that the user set
in asyncio's policy (set_child_watcher) is used instead, as stock asyncio
uses it: a SIGCHLD watcher that reaps every child must own the children it
reaps (asyncio's lazily made defaults, which only wait for their own
children, are left alone).
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import threading
from asyncio import base_events, base_subprocess, events, tasks, unix_events

from . import _core

logger = logging.getLogger("asyncio")

_thread_counter = itertools.count()


class _SubprocessTransport(base_subprocess.BaseSubprocessTransport):
    """asyncio's subprocess transport, started with subprocess.Popen as
    unix_events starts it (its pipes become our C pipe transports through
    loop.connect_read_pipe/connect_write_pipe)."""

    def _start(self, args, shell, stdin, stdout, stderr, bufsize, **kwargs):
        self._proc = subprocess.Popen(
            args,
            shell=shell,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            universal_newlines=False,
            bufsize=bufsize,
            **kwargs,
        )


def _reap(pid):
    """waitpid(pid) of a child known to have exited: its return code, or
    255 if someone else reaped it (asyncio's convention and warning)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        logger.warning(
            "child process pid %d exit status already read: "
            " will report returncode 255",
            pid,
        )
        return 255
    return os.waitstatus_to_exitcode(status)


# asyncio's default watchers, which the policy creates on first use (by
# any loop in the process): they act only on the children registered with
# them, so casyncio's own watch coexists with them and need not use them.
_DEFAULT_WATCHERS = tuple(
    getattr(unix_events, name)
    for name in ("ThreadedChildWatcher", "PidfdChildWatcher")
    if hasattr(unix_events, name)
)


def new_child_watcher():
    """3.14+: the child watcher a loop owns, as asyncio's loop makes it."""
    if unix_events.can_use_pidfd():
        return unix_events._PidfdChildWatcher()
    return unix_events._ThreadedChildWatcher()


def _policy_watcher():
    """The child watcher a user set in asyncio's default policy, or None
    (then casyncio watches its children itself)."""
    if sys.version_info >= (3, 14):
        return None  # no such thing from 3.14 on
    policy = events._event_loop_policy
    if not isinstance(policy, unix_events._UnixDefaultEventLoopPolicy):
        return None
    watcher = getattr(policy, "_watcher", None)
    if watcher is None or type(watcher) in _DEFAULT_WATCHERS:
        return None
    return watcher


class PipeEndpoints:
    """Mixin of casyncio.Loop (before _core.BaseLoop in its bases)."""

    connect_read_pipe = base_events.BaseEventLoop.connect_read_pipe
    connect_write_pipe = base_events.BaseEventLoop.connect_write_pipe
    subprocess_exec = base_events.BaseEventLoop.subprocess_exec
    subprocess_shell = base_events.BaseEventLoop.subprocess_shell
    _log_subprocess = base_events.BaseEventLoop._log_subprocess  # type: ignore[attr-defined]

    # asyncio's child watchers (PidfdChildWatcher) register through these.
    def _add_reader(self, fd, callback, *args):
        self.add_reader(fd, callback, *args)

    def _remove_reader(self, fd):
        return self.remove_reader(fd)

    def _make_read_pipe_transport(self, pipe, protocol, waiter=None, extra=None):
        return _core.ReadPipeTransport(self, pipe, protocol, waiter, extra)

    def _make_write_pipe_transport(self, pipe, protocol, waiter=None, extra=None):
        return _core.WritePipeTransport(self, pipe, protocol, waiter, extra)

    async def _make_subprocess_transport(
        self,
        protocol,
        args,
        shell,
        stdin,
        stdout,
        stderr,
        bufsize,
        extra=None,
        **kwargs,
    ):
        def start(waiter):
            return _SubprocessTransport(
                self,
                protocol,
                args,
                shell,
                stdin,
                stdout,
                stderr,
                bufsize,
                waiter=waiter,
                extra=extra,
                **kwargs,
            )

        if sys.version_info >= (3, 14):

            def watch(transp):
                self._watcher.add_child_handler(
                    transp.get_pid(), self._child_watcher_callback, transp
                )

            return await self._spawn(start, watch)
        watcher = _policy_watcher()
        if watcher is None:
            return await self._spawn(start, self._watch_child)
        # Stock asyncio's path with the watcher a user set in the policy.
        with watcher as entered:
            if sys.version_info < (3, 12):
                watcher = entered  # 3.11 uses what __enter__ returns
            if not watcher.is_active():
                raise RuntimeError(
                    "asyncio.get_child_watcher() is not activated, "
                    "subprocess support is not installed."
                )

            def watch(transp):
                watcher.add_child_handler(
                    transp.get_pid(), self._child_watcher_callback, transp
                )

            return await self._spawn(start, watch)

    async def _spawn(self, start, watch):
        """Start the child, watch its exit, wait for its pipes (asyncio's
        sequence; on failure the child is killed and reaped)."""
        waiter = self.create_future()
        transp = start(waiter)
        watch(transp)
        try:
            await waiter
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            transp.close()
            if sys.version_info >= (3, 14):
                await tasks.shield(transp._wait())
            else:
                await transp._wait()
            raise
        return transp

    def _child_watcher_callback(self, pid, returncode, transp):
        if sys.version_info >= (3, 14):
            # The loop's own watcher calls back on the loop's thread.
            transp._process_exited(returncode)
        else:
            self.call_soon_threadsafe(transp._process_exited, returncode)

    # ---- casyncio's own child watch ----

    def _watch_child(self, transp):
        """A pidfd in the reactor, or a waitpid thread without pidfds."""
        pid = transp.get_pid()
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            threading.Thread(
                target=self._wait_child_thread,
                name=f"casyncio-waitpid-{next(_thread_counter)}",
                args=(pid, transp),
                daemon=True,
            ).start()
            return
        self._child_pidfds[pidfd] = pid
        self.add_reader(pidfd, self._child_pidfd_ready, pidfd, transp)

    def _child_pidfd_ready(self, pidfd, transp):
        self.remove_reader(pidfd)
        pid = self._child_pidfds.pop(pidfd)
        os.close(pidfd)
        returncode = _reap(pid)
        if self._debug:
            logger.debug("process %s exited with returncode %s", pid, returncode)
        transp._process_exited(returncode)

    def _wait_child_thread(self, pid, transp):
        returncode = _reap(pid)
        if self.is_closed():
            logger.warning("Loop %r that handles pid %r is closed", self, pid)
            return
        try:
            self.call_soon_threadsafe(transp._process_exited, returncode)
        except RuntimeError:  # closed meanwhile
            logger.warning("Loop %r that handles pid %r is closed", self, pid)

    def _close_child_watches(self):
        """At loop close: the pidfds of children still running are closed;
        those children are reaped by whoever waits for them next (asyncio's
        pidfd watcher leaves the same)."""
        pidfds, self._child_pidfds = self._child_pidfds, {}
        for pidfd in pidfds:
            self.remove_reader(pidfd)
            os.close(pidfd)
