"""casyncio.Loop: the C engine (``_core.BaseLoop``) plus the glue that runs
once per loop or once per run, where C would only make it longer.

What is here: run_forever's set-up and tear-down (running-loop registration,
async generator hooks, coroutine origin tracking), run_until_complete,
close, the exception handler, the default executor, and the once-per-call
parts of sock_connect (address resolution) and sock_sendfile (checks and the
read + sock_sendall fallback).  Everything per callback, per timer, per task
step and per I/O event is in C, and so are create_future(), create_task(),
the task factory and every other sock_* method (src/sockets.c).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import io
import logging
import os
import signal
import socket
import sys
import threading
import traceback
import warnings
import weakref
from asyncio import (
    base_events,
    constants,
    coroutines,
    events,
    exceptions,
    futures,
    selector_events,
    sslproto,
    tasks,
    unix_events,
)

from . import _compat, _core
from ._dgram import DatagramEndpoints
from ._pipes import PipeEndpoints, new_child_watcher
from ._signals import SignalHandlers

logger = logging.getLogger("asyncio")

# Depth of coroutine origin tracking in debug mode, as asyncio uses.
_DEBUG_STACK_DEPTH = 10

# sendfile's fallback seeks to the offset even when it is 0 (3.14+).
_SEEK_ALWAYS = sys.version_info >= (3, 14)

# Every C default executor (src/executor.c) of this process.  Their workers
# are non-daemon threads, as ThreadPoolExecutor's: at interpreter exit
# threading runs this hook before joining non-daemon threads, so queued work
# finishes and idle workers leave instead of holding the exit up.
_thread_pools: weakref.WeakSet[_core.ThreadPool] = weakref.WeakSet()


_interpreter_exiting = False

# The casyncio loops running now, for `python -m casyncio ps` (_ps.py).
running_loops: weakref.WeakSet[Loop] = weakref.WeakSet()


def _shutdown_thread_pools():
    # As concurrent.futures: a pool made from now on refuses work ("after
    # interpreter shutdown"), one that exists is shut down ("after shutdown",
    # which is what ThreadPoolExecutor's exiting workers make it say).
    global _interpreter_exiting
    _interpreter_exiting = True
    for pool in list(_thread_pools):
        pool.shutdown(wait=False)


# Private, and what concurrent.futures.thread uses for the same purpose.
threading._register_atexit(_shutdown_thread_pools)  # type: ignore[attr-defined]


def _default_max_workers():
    """ThreadPoolExecutor's default: min(32, CPUs + 4)."""
    cpus = os.process_cpu_count() if sys.version_info >= (3, 13) else os.cpu_count()
    return min(32, (cpus or 1) + 4)


if sys.version_info >= (3, 14):
    from _asyncio import _set_running_loop as _c_set_running_loop

    def _set_running_loop(loop):
        """events._set_running_loop(loop), and _asyncio's too if that is
        not it: from 3.14 on casyncio's tasks enter through _asyncio, which
        wants the loop it knows as running (a test may have swapped
        asyncio's pure-Python running-loop functions in)."""
        events._set_running_loop(loop)
        if events._set_running_loop is not _c_set_running_loop:
            _c_set_running_loop(loop)

else:

    def _set_running_loop(loop):
        events._set_running_loop(loop)  # looked up each time, as asyncio does


def _stop_when_done(fut):
    """run_until_complete's done-callback: stop the loop unless the future
    ended with SystemExit/KeyboardInterrupt, which propagate by themselves."""
    if not fut.cancelled():
        exc = fut.exception()
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            return
    futures._get_loop(fut).stop()


def _describe(key, value):
    """One 'key: value' line of the default exception handler's message."""
    if key == "source_traceback":
        frames = "".join(traceback.format_list(value)).rstrip()
        return f"{key}: Object created at (most recent call last):\n{frames}"
    if key == "handle_traceback":
        frames = "".join(traceback.format_list(value)).rstrip()
        return f"{key}: Handle created at (most recent call last):\n{frames}"
    return f"{key}: {value!r}"


def _sock_coroutine(method):
    """Marks a sock_* wrapper of Loop (3.12+) a coroutine function for
    inspect, with the C method's docstring."""
    method.__doc__ = getattr(_core.BaseLoop, method.__name__).__doc__
    return inspect.markcoroutinefunction(method)


# mypy's [misc] errors ignored on the next line: call_soon, call_later,
# call_at and call_soon_threadsafe return casyncio.Handle/TimerHandle, which
# have the API of asyncio's but are not subclasses of them (README,
# "Differences"); create_datagram_endpoint is BaseEventLoop's own, typed for
# a BaseEventLoop; and mypy finds the untyped add_signal_handler(*args) of
# the mixin unlike typeshed's TypeVarTuple signature.
class Loop(  # type: ignore[misc]
    SignalHandlers,
    DatagramEndpoints,
    PipeEndpoints,
    _core.BaseLoop,
    asyncio.AbstractEventLoop,
):
    """An asyncio event loop whose scheduler, timers and reactor are C."""

    # What the loop's Python glue keeps, in slots rather than the instance
    # __dict__: once that dict exists, CPython 3.12+ no longer specializes
    # `loop.call_soon` & co. for a loop whose C base gives it no inline
    # values, and every method lookup from Python code (asyncio's own
    # included) goes the generic way: callgrind, 3.13, call_soon from a
    # Python loop, 2,692 -> 2,212 instructions a call with the lookup
    # specialized.  Any other attribute still goes to __dict__.
    __slots__ = (
        "_asyncgens",
        "_asyncgens_shutdown_called",
        "_child_pidfds",
        "_coroutine_origin_tracking_enabled",
        "_coroutine_origin_tracking_saved_depth",
        "_default_executor",
        "_exception_handler",
        "_executor_shutdown_called",
        "_thread_pool",
        "_unix_server_sockets",
        "_watcher",
    )

    if sys.version_info >= (3, 12):
        # asyncio's sock_* methods are `async def`, so
        # inspect.iscoroutinefunction(loop.sock_recv) is True there.
        # casyncio's are C methods returning an awaitable; these marked
        # wrappers stand in front of them (about 0.1 us a call).  3.11's
        # inspect has no marker: there they stay the C methods.
        _c = _core.BaseLoop

        @_sock_coroutine
        def sock_recv(self, sock, n):
            return Loop._c.sock_recv(self, sock, n)

        @_sock_coroutine
        def sock_recv_into(self, sock, buf):
            return Loop._c.sock_recv_into(self, sock, buf)

        @_sock_coroutine
        def sock_recvfrom(self, sock, bufsize):
            return Loop._c.sock_recvfrom(self, sock, bufsize)

        @_sock_coroutine
        def sock_recvfrom_into(self, sock, buf, nbytes=0):
            return Loop._c.sock_recvfrom_into(self, sock, buf, nbytes)

        @_sock_coroutine
        def sock_sendall(self, sock, data):
            return Loop._c.sock_sendall(self, sock, data)

        @_sock_coroutine
        def sock_sendto(self, sock, data, address):
            return Loop._c.sock_sendto(self, sock, data, address)

        @_sock_coroutine
        def sock_accept(self, sock):
            return Loop._c.sock_accept(self, sock)

    def __init__(self):
        super().__init__()
        self._exception_handler = None
        # The user's executor from set_default_executor(); while it is None,
        # run_in_executor(None, ...) goes to the C pool (src/executor.c),
        # made on first use.
        self._default_executor = None
        self._thread_pool = None
        self._executor_shutdown_called = False
        self._asyncgens = weakref.WeakSet()
        self._asyncgens_shutdown_called = False
        self._coroutine_origin_tracking_enabled = False
        self._coroutine_origin_tracking_saved_depth = None
        # 3.13's create_unix_server(cleanup_socket=True): {sock: inode}.
        self._unix_server_sockets = {}
        # Children watched through a pidfd in the reactor: {pidfd: pid}
        # (3.11-3.13); from 3.14 on, the loop's child watcher, as asyncio's.
        self._child_pidfds = {}
        if sys.version_info >= (3, 14):
            self._watcher = new_child_watcher()

    def __repr__(self):
        return (
            f"<{type(self).__name__} running={self.is_running()} "
            f"closed={self.is_closed()} debug={self.get_debug()}>"
        )

    def __del__(self, _warn=warnings.warn):
        if not self.is_closed():
            _warn(f"unclosed event loop {self!r}", ResourceWarning, source=self)
            if not self.is_running():
                self.close()

    # ---- running and stopping ----

    def _check_closed(self):
        if self.is_closed():
            raise RuntimeError("Event loop is closed")

    def _check_running(self):
        if self.is_running():
            raise RuntimeError("This event loop is already running")
        if events._get_running_loop() is not None:
            raise RuntimeError(
                "Cannot run the event loop while another loop is running"
            )

    def run_forever(self):
        """Run until stop() is called."""
        self._check_closed()
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug)
        saved_hooks = sys.get_asyncgen_hooks()
        saved_wakeup = None
        try:
            self._thread_id = threading.get_ident()
            sys.set_asyncgen_hooks(
                firstiter=self._asyncgen_firstiter_hook,
                finalizer=self._asyncgen_finalizer_hook,
            )
            _set_running_loop(self)
            running_loops.add(self)
            saved_wakeup = self._install_signal_wakeup()
            self._run_forever_core()
        finally:
            self._restore_signal_wakeup(saved_wakeup)
            running_loops.discard(self)
            self._thread_id = None
            _set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*saved_hooks)

    def _install_signal_wakeup(self):
        """On the main thread, make the loop's signal pipe the interpreter's
        wakeup fd (see src/signals.c) and return the previous one, or None
        when signals cannot reach this thread's loop."""
        if threading.current_thread() is not threading.main_thread():
            return None
        try:
            return signal.set_wakeup_fd(
                self._signal_wakeup_fd(), warn_on_full_buffer=False
            )
        except ValueError:  # not the main interpreter
            return None

    def run_until_complete(self, future):
        """Run until the future (or coroutine, wrapped in a task) is done,
        and return its result or raise its exception."""
        self._check_closed()
        self._check_running()
        wrapped = not futures.isfuture(future)
        future = tasks.ensure_future(future, loop=self)
        if wrapped:
            # The caller cannot see the task, so its being destroyed pending
            # (after an exception out of run_forever) is not worth a warning.
            future._log_destroy_pending = False
        future.add_done_callback(_stop_when_done)
        try:
            self.run_forever()
        except BaseException:
            if wrapped and future.done() and not future.cancelled():
                # The exception propagates from run_forever; mark the task's
                # as retrieved so it is not reported a second time.
                future.exception()
            raise
        finally:
            future.remove_done_callback(_stop_when_done)
        if not future.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return future.result()

    def close(self):
        """Close the loop: drop pending callbacks, release the reactor, and
        shut the default executor down without waiting for it."""
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        if self._debug:
            logger.debug("Close %r", self)
        self._remove_signal_handlers()
        self._close_child_watches()
        self._close_core()
        self._executor_shutdown_called = True
        for executor in (self._default_executor, self._thread_pool):
            if executor is not None:
                executor.shutdown(wait=False)
        self._default_executor = self._thread_pool = None

    # ---- debug mode ----

    def set_debug(self, enabled):
        self._debug = enabled
        if self.is_running():
            self.call_soon_threadsafe(self._set_coroutine_origin_tracking, enabled)

    def _set_coroutine_origin_tracking(self, enabled):
        if bool(enabled) == self._coroutine_origin_tracking_enabled:
            return
        if enabled:
            self._coroutine_origin_tracking_saved_depth = (
                sys.get_coroutine_origin_tracking_depth()
            )
            sys.set_coroutine_origin_tracking_depth(_DEBUG_STACK_DEPTH)
        else:
            sys.set_coroutine_origin_tracking_depth(
                self._coroutine_origin_tracking_saved_depth
            )
        self._coroutine_origin_tracking_enabled = bool(enabled)

    # ---- async generators ----

    def _asyncgen_firstiter_hook(self, agen):
        if self._asyncgens_shutdown_called:
            warnings.warn(
                f"asynchronous generator {agen!r} was scheduled after "
                f"loop.shutdown_asyncgens() call",
                ResourceWarning,
                source=self,
                stacklevel=2,
            )
        self._asyncgens.add(agen)

    def _asyncgen_finalizer_hook(self, agen):
        self._asyncgens.discard(agen)
        if not self.is_closed():
            self.call_soon_threadsafe(self.create_task, agen.aclose())

    async def shutdown_asyncgens(self):
        """Close every async generator this loop has seen and not closed."""
        self._asyncgens_shutdown_called = True
        if not self._asyncgens:
            return
        pending = list(self._asyncgens)
        self._asyncgens.clear()
        outcomes = await tasks.gather(
            *[agen.aclose() for agen in pending], return_exceptions=True
        )
        for agen, outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, Exception):
                self.call_exception_handler(
                    {
                        "message": "an error occurred during closing of "
                        f"asynchronous generator {agen!r}",
                        "exception": outcome,
                        "asyncgen": agen,
                    }
                )

    # ---- executor ----

    def _check_callback(self, callback, method):
        if coroutines.iscoroutine(callback) or _compat.iscoroutinefunction(callback):
            raise TypeError(f"coroutines cannot be used with {method}()")
        if not callable(callback):
            raise TypeError(
                f"a callable object was expected by {method}(), got {callback!r}"
            )

    def run_in_executor(self, executor, func, *args):
        """Run func(*args) in executor (None: the default thread pool)."""
        self._check_closed()
        if self._debug:
            self._check_callback(func, "run_in_executor")
        if executor is None:
            if self._executor_shutdown_called:
                raise RuntimeError("Executor shutdown has been called")
            executor = self._default_executor
            if executor is None:
                pool = self._thread_pool
                if pool is None:
                    if _interpreter_exiting:
                        raise RuntimeError(
                            "cannot schedule new futures after interpreter shutdown"
                        )
                    pool = self._thread_pool = _core.ThreadPool(_default_max_workers())
                    _thread_pools.add(pool)
                return pool.submit(self, func, *args)
        return futures.wrap_future(executor.submit(func, *args), loop=self)

    def set_default_executor(self, executor):
        if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
            raise TypeError("executor must be ThreadPoolExecutor instance")
        self._default_executor = executor

    async def shutdown_default_executor(self, timeout=None):
        """Wait (at most timeout seconds) for the default executor's threads
        to finish; later run_in_executor(None, ...) calls fail."""
        self._executor_shutdown_called = True
        executors = [
            e for e in (self._default_executor, self._thread_pool) if e is not None
        ]
        if not executors:
            return
        done = self.create_future()
        joiner = threading.Thread(
            target=self._join_executors, args=(executors, done), daemon=True
        )
        joiner.start()
        try:
            async with asyncio.timeout(timeout):
                await done
        except TimeoutError:
            warnings.warn(
                "The executor did not finishing joining "
                f"its threads within {timeout} seconds.",
                RuntimeWarning,
                stacklevel=2,
            )
            for executor in executors:
                executor.shutdown(wait=False)
        else:
            joiner.join()

    def _join_executors(self, executors, done):
        try:
            for executor in executors:
                executor.shutdown(wait=True)
        except Exception as exc:
            if not self.is_closed():
                self.call_soon_threadsafe(_set_exception_unless_done, done, exc)
        else:
            if not self.is_closed():
                self.call_soon_threadsafe(_set_result_unless_done, done, None)

    # ---- exception handling ----

    def get_exception_handler(self):
        return self._exception_handler

    def set_exception_handler(self, handler):
        if handler is not None and not callable(handler):
            raise TypeError(f"A callable object or None is expected, got {handler!r}")
        self._exception_handler = handler

    def default_exception_handler(self, context):
        """Log the context on the 'asyncio' logger, as asyncio does."""
        message = context.get("message") or "Unhandled exception in event loop"
        exc = context.get("exception")
        exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else False
        current = self._current_handle
        if (
            "source_traceback" not in context
            and current is not None
            and current._source_traceback
        ):
            context["handle_traceback"] = current._source_traceback
        lines = [message]
        lines += [
            _describe(key, context[key])
            for key in sorted(context)
            if key not in ("message", "exception")
        ]
        logger.error("\n".join(lines), exc_info=exc_info)

    def call_exception_handler(self, context):
        """Pass context to the custom handler, or log it; errors in the
        handler itself are logged, never raised (but SystemExit and
        KeyboardInterrupt)."""
        handler = self._exception_handler
        if handler is None:
            try:
                self.default_exception_handler(context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                logger.error("Exception in default exception handler", exc_info=True)
            return
        try:
            self._run_handler(handler, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            try:
                self.default_exception_handler(
                    {
                        "message": "Unhandled error in exception handler",
                        "exception": exc,
                        "context": context,
                    }
                )
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                logger.error(
                    "Exception in default exception handler while handling an "
                    "unexpected error in custom exception handler",
                    exc_info=True,
                )

    def _run_handler(self, handler, context):
        # From 3.12 asyncio runs the handler in the context of the task,
        # future or handle the report is about.
        if sys.version_info >= (3, 12):
            for key in ("task", "future", "handle"):
                thing = context.get(key)
                if thing is not None:
                    get_context = getattr(thing, "get_context", None)
                    ctx = get_context() if get_context is not None else None
                    if ctx is not None and hasattr(ctx, "run"):
                        ctx.run(handler, self, context)
                        return
                    break
        handler(self, context)

    # ---- sockets: the once-per-call parts (the rest is src/sockets.c) ----

    def _check_socket(self, sock):
        base_events._check_ssl_socket(sock)
        if self._debug and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")

    async def sock_connect(self, sock, address):
        """Connect sock to address, resolving a host name first for
        AF_INET/AF_INET6 sockets (in the default executor, as asyncio)."""
        self._check_socket(sock)
        if sock.family == socket.AF_INET or (
            base_events._HAS_IPv6 and sock.family == socket.AF_INET6
        ):
            infos = await self._ensure_resolved(
                address, family=sock.family, type=sock.type, proto=sock.proto
            )
            address = infos[0][4]
        return await self._sock_connect(sock, address)

    async def _ensure_resolved(
        self, address, *, family=0, type=socket.SOCK_STREAM, proto=0, flags=0, loop=None
    ):
        """getaddrinfo()'s list for address; no lookup for a numeric host.
        (asyncio's create_connection & co. pass loop=, the loop to resolve on.)"""
        host, port = address[:2]
        info = base_events._ipaddr_info(host, port, family, type, proto, *address[2:])
        if info is not None:
            return [info]
        return await (loop or self).getaddrinfo(
            host, port, family=family, type=type, proto=proto, flags=flags
        )

    async def sock_sendfile(self, sock, file, offset=0, count=None, *, fallback=True):
        """Send count bytes (None: all) of file from offset over the stream
        socket with os.sendfile(); if that cannot be used and fallback is
        true, read the file in the default executor and sock_sendall() it.
        Returns the number of bytes sent."""
        if self._debug and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")
        base_events._check_ssl_socket(sock)
        _check_sendfile_params(sock, file, offset, count)
        try:
            return await self._sock_sendfile_native(sock, file, offset, count)
        except exceptions.SendfileNotAvailableError:
            if not fallback:
                raise
        return await self._sock_sendfile_fallback(sock, file, offset, count)

    async def _sock_sendfile_native(self, sock, file, offset, count):
        try:
            fileno = file.fileno()
        except (AttributeError, io.UnsupportedOperation):
            raise exceptions.SendfileNotAvailableError("not a regular file") from None
        try:
            size = os.fstat(fileno).st_size
        except OSError:
            raise exceptions.SendfileNotAvailableError("not a regular file") from None
        blocksize = count if count else size
        if not blocksize:
            return 0  # an empty file
        return await self._sock_sendfile_native_op(
            sock, fileno, offset, count or 0, blocksize
        )

    async def _sock_sendfile_fallback(self, sock, file, offset, count):
        # 3.14's asyncio seeks whenever it can, offset 0 included.
        if offset or (_SEEK_ALWAYS and hasattr(file, "seek")):
            file.seek(offset)
        chunk = constants.SENDFILE_FALLBACK_READBUFFER_SIZE
        if count:
            chunk = min(count, chunk)
        buf = bytearray(chunk)
        sent = 0
        try:
            while not count or sent < count:
                want = min(count - sent, chunk) if count else chunk
                view = memoryview(buf)[:want]
                n = await self.run_in_executor(None, file.readinto, view)
                if not n:
                    break  # end of file
                await self.sock_sendall(sock, view[:n])
                sent += n
            return sent
        finally:
            if sent > 0 and hasattr(file, "seek"):
                file.seek(offset + sent)

    # ---- stream connections and servers ----
    #
    # The once-per-connection orchestration is asyncio's own, borrowed as
    # plain functions (they only use the hooks of `self` listed below), so
    # argument checks, happy eyeballs, error types and messages are those of
    # the running Python version; per read, write and accept it is C
    # (src/stream.c, src/server.c).
    #
    # Borrowed from base_events.BaseEventLoop: create_connection,
    # create_server, connect_accepted_socket, _connect_sock,
    # _create_connection_transport, _create_server_getaddrinfo, sendfile,
    # _sendfile_fallback, start_tls; from
    # unix_events._UnixSelectorEventLoop: create_unix_connection,
    # create_unix_server; from selector_events.BaseSelectorEventLoop:
    # _accept_connection2 (TLS servers only).
    # Hooks they use, provided here or in C: _make_socket_transport (C),
    # _make_ssl_transport, _sendfile_native, _start_serving, _stop_serving
    # (for Server),
    # _ensure_resolved, sock_connect, getaddrinfo, create_future, create_task,
    # call_soon, run_in_executor, call_exception_handler, _debug and, on 3.13,
    # _unix_server_sockets.  None of them uses super().
    create_connection = base_events.BaseEventLoop.create_connection
    create_server = base_events.BaseEventLoop.create_server
    connect_accepted_socket = base_events.BaseEventLoop.connect_accepted_socket
    sendfile = base_events.BaseEventLoop.sendfile
    start_tls = base_events.BaseEventLoop.start_tls
    create_unix_connection = unix_events._UnixSelectorEventLoop.create_unix_connection
    create_unix_server = unix_events._UnixSelectorEventLoop.create_unix_server
    # typeshed leaves these private helpers out, hence the ignores.
    _base = base_events.BaseEventLoop
    _connect_sock = _base._connect_sock  # type: ignore[attr-defined]
    _create_connection_transport = _base._create_connection_transport  # type: ignore[attr-defined]
    _create_server_getaddrinfo = _base._create_server_getaddrinfo  # type: ignore[attr-defined]
    _sendfile_fallback = _base._sendfile_fallback  # type: ignore[attr-defined]
    _accept_connection2 = selector_events.BaseSelectorEventLoop._accept_connection2  # type: ignore[attr-defined]
    del _base

    def _make_ssl_transport(
        self,
        rawsock,
        protocol,
        sslcontext,
        waiter=None,
        *,
        server_side=False,
        server_hostname=None,
        extra=None,
        server=None,
        ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT,
        context=None,
    ):
        """asyncio's SSL protocol layered over one of our transports (3.15's
        asyncio passes the context its callbacks run in)."""
        ssl_protocol = sslproto.SSLProtocol(
            self,
            protocol,
            sslcontext,
            waiter,
            server_side,
            server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout,
        )
        self._make_socket_transport(
            rawsock, ssl_protocol, extra=extra, server=server, context=context
        )
        return ssl_protocol._app_transport

    async def _sendfile_native(self, transp, file, offset, count):
        """loop.sendfile() on one of our transports: once its write queue is
        empty, os.sendfile() through sock_sendfile with reading paused."""
        resume_reading = transp.is_reading()
        transp.pause_reading()
        await transp._make_empty_waiter()
        try:
            return await self.sock_sendfile(
                transp._sock, file, offset, count, fallback=False
            )
        finally:
            transp._reset_empty_waiter()
            if resume_reading:
                transp.resume_reading()

    def _start_serving(
        self,
        protocol_factory,
        sock,
        sslcontext=None,
        server=None,
        backlog=100,
        ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
        ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT,
        context=None,
    ):
        """Start accepting on a listening socket (the C accepter makes the
        protocol and transport of each plain connection; a TLS connection
        goes through asyncio's _accept_connection2 in a task).  3.15's
        Server passes its context: each connection gets a copy of it, which
        its protocol callbacks run in."""
        ssl_accept = None
        if sslcontext is not None:

            def ssl_accept(conn, addr):
                # Called in the connection's copy of the serving context.
                kwargs = {}
                if context is not None:
                    kwargs["context"] = contextvars.copy_context()
                accept = self._accept_connection2(
                    protocol_factory,
                    conn,
                    {"peername": addr},
                    sslcontext,
                    server,
                    ssl_handshake_timeout,
                    ssl_shutdown_timeout,
                    **kwargs,
                )
                self.create_task(accept, **kwargs)

        self._start_accepting(
            sock, protocol_factory, server, backlog, ssl_accept, context
        )

    def _stop_serving(self, sock):
        """Stop accepting on sock and close it (unlinking a Unix socket's
        path when create_unix_server asked for that, as 3.13 does)."""
        path = sock.getsockname() if sock in self._unix_server_sockets else None
        self.remove_reader(sock.fileno())
        sock.close()
        if path is not None:
            prev_ino = self._unix_server_sockets.pop(sock)
            try:
                # In C (src/server.c): asyncio's os.stat and os.unlink here.
                self._unlink_unix_socket(path, prev_ino)
            except FileNotFoundError:
                pass
            except OSError as err:
                logger.error(
                    "Unable to clean up listening UNIX socket %r: %r", path, err
                )

    # ---- name resolution (a thread, as asyncio) ----

    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        return await self.run_in_executor(
            None, socket.getaddrinfo, host, port, family, type, proto, flags
        )

    async def getnameinfo(self, sockaddr, flags=0):
        return await self.run_in_executor(None, socket.getnameinfo, sockaddr, flags)


def _check_sendfile_params(sock, file, offset, count):
    """BaseEventLoop's argument checks of sock_sendfile, same messages."""
    if "b" not in getattr(file, "mode", "b"):
        raise ValueError("file should be opened in binary mode")
    if not sock.type == socket.SOCK_STREAM:
        raise ValueError("only SOCK_STREAM type sockets are supported")
    if count is not None:
        if not isinstance(count, int):
            raise TypeError(f"count must be a positive integer (got {count!r})")
        if count <= 0:
            raise ValueError(f"count must be a positive integer (got {count!r})")
    if not isinstance(offset, int):
        raise TypeError(f"offset must be a non-negative integer (got {offset!r})")
    if offset < 0:
        raise ValueError(f"offset must be a non-negative integer (got {offset!r})")


def _set_result_unless_done(fut, result):
    if not fut.done():
        fut.set_result(result)


def _set_exception_unless_done(fut, exc):
    if not fut.done():
        fut.set_exception(exc)
