"""create_datagram_endpoint: asyncio's own orchestration, our C transport.

The once-per-endpoint work (argument checks, address resolution, socket
options, bind/connect, waiting for connection_made) is the stdlib's
``BaseEventLoop.create_datagram_endpoint``, bound as a method of
casyncio.Loop.  On 3.11-3.13 it touches these private attributes of the
loop, which casyncio.Loop provides: ``_make_datagram_transport`` (here),
``_ensure_resolved`` (with its ``loop=`` keyword), ``_debug``, and the
public ``sock_connect`` and ``create_future``.  Every send and receive is
``_core.DatagramTransport`` (src/dgram.c), whose base is
asyncio.DatagramTransport.
"""

from __future__ import annotations

from asyncio import base_events, futures, transports, trsock

from . import _core


class DatagramTransport(_core.DatagramTransport, transports.Transport):
    """A UDP or Unix datagram transport of a casyncio loop.

    Also an asyncio.Transport, as asyncio's own datagram transport is (it
    derives from its selector transport): CPython's tests check it, and
    asyncio.Transport adds no state, only the stream methods' signatures
    (write() & co. raise NotImplementedError, as on asyncio's)."""

    __slots__ = ()

    def __repr__(self):
        info = [type(self).__name__]
        if self._sock is None:
            info.append("closed")
        elif self._closing:
            info.append("closing")
        info.append(f"fd={self._sock_fd}")
        info.append(f"bufsize={self.get_write_buffer_size()}")
        return "<{}>".format(" ".join(info))


def _extra_info(sock, extra):
    """The extra info asyncio's _SelectorTransport gives a transport."""
    extra = dict(extra or {})
    extra["socket"] = trsock.TransportSocket(sock)
    try:
        extra.setdefault("sockname", sock.getsockname())
    except OSError:
        extra.setdefault("sockname", None)
    if "peername" not in extra:
        try:
            extra["peername"] = sock.getpeername()
        except OSError:
            extra["peername"] = None
    return extra


class DatagramEndpoints:
    """Mixin of casyncio.Loop (before _core.BaseLoop in its bases)."""

    create_datagram_endpoint = base_events.BaseEventLoop.create_datagram_endpoint

    def _make_datagram_transport(
        self, sock, protocol, address=None, waiter=None, extra=None
    ):
        transport = DatagramTransport(
            self, sock, protocol, address, _extra_info(sock, extra)
        )
        # As asyncio: connection_made first, reading only after it, then
        # the waiter of create_datagram_endpoint.
        self.call_soon(protocol.connection_made, transport)
        self.call_soon(transport._start_reading)
        if waiter is not None:
            self.call_soon(futures._set_result_unless_cancelled, waiter, None)
        return transport
