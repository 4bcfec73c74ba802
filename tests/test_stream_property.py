"""Property-based: random chunking of stream data.

A peer writes random bytes in random chunks, with loop iterations between
them so that they arrive as separate reads, then closes its side.  On the
receiving side:

- streams: a random sequence of `readexactly`, `readline`, `readuntil` and
  `read(n)` calls gives, on casyncio, what it gives on stock asyncio and what
  a model of the byte stream says (`read(n)` may return fewer bytes, so only
  the bytes it consumed are compared), ending at EOF with every byte read
  once, in order;
- protocols: `data_received` delivers the bytes in order whatever the
  chunking and however the receiver pauses and resumes reading in between;
  `eof_received` then `connection_lost(None)` come once each, in that order.
"""

import asyncio
import socket

from conftest import IMPLS, make_loop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# The payload: few distinct bytes, so that newlines and separators are
# frequent; cut into chunks at random offsets.
PAYLOAD = st.binary(max_size=6000).map(lambda b: bytes(c % 4 + 9 for c in b))
CUTS = st.lists(st.integers(0, 6000), max_size=12)
# What the reader does: an operation and its size.
READS = st.lists(
    st.tuples(
        st.sampled_from(["read", "readexactly", "readline", "readuntil"]),
        st.integers(1, 3000),
    ),
    max_size=25,
)
SEPARATOR = b"\x0c"  # one of the four byte values of PAYLOAD


def chunks_of(data, cuts):
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


async def feed(loop, sock, chunks):
    """Write the chunks a few loop iterations apart, then close."""
    for chunk in chunks:
        await loop.sock_sendall(sock, chunk)
        for _ in range(3):
            await asyncio.sleep(0)
    sock.shutdown(socket.SHUT_WR)


def model(data, reads):
    """What each read gives on the whole byte stream, by asyncio's rules
    (for read(n): how many bytes at most), and what is left at the end."""
    out, pos = [], 0
    for op, n in reads:
        rest = data[pos:]
        if op == "readexactly":
            if len(rest) < n:
                out.append(("incomplete", rest, n))
                pos = len(data)
            else:
                out.append(("ok", rest[:n]))
                pos += n
        elif op in ("readline", "readuntil"):
            sep = b"\n" if op == "readline" else SEPARATOR
            end = rest.find(sep)
            if end >= 0:
                out.append(("ok", rest[: end + 1]))
                pos += end + 1
            elif op == "readline":
                out.append(("ok", rest))  # readline gives the rest at EOF
                pos = len(data)
            else:
                out.append(("incomplete", rest, None))
                pos = len(data)
        else:
            out.append(("read", n))
    return out


async def read_stream(reader, reads):
    """Run the reads; a read(n) records what it consumed, so that the
    record can be matched against the model afterwards."""
    out, consumed = [], []
    for op, n in reads:
        try:
            if op == "read":
                got = await reader.read(n)
                assert len(got) <= n
                consumed.append(got)
                out.append(("read", got))
                continue
            if op == "readexactly":
                got = await reader.readexactly(n)
            elif op == "readline":
                got = await reader.readline()
            else:
                got = await reader.readuntil(SEPARATOR)
            out.append(("ok", got))
        except asyncio.IncompleteReadError as exc:
            out.append(("incomplete", exc.partial, exc.expected))
    rest = await reader.read()
    assert reader.at_eof()
    return out, rest


def stream_run(impl, data, cuts, reads):
    loop = make_loop(impl)
    a, b = socket.socketpair()
    b.setblocking(False)

    async def main():
        reader, writer = await asyncio.open_connection(sock=a)
        feeder = asyncio.ensure_future(feed(loop, b, chunks_of(data, cuts)))
        try:
            return await read_stream(reader, reads)
        finally:
            await feeder
            writer.close()
            await writer.wait_closed()

    try:
        return loop.run_until_complete(asyncio.wait_for(main(), 30))
    finally:
        b.close()
        loop.close()


def check_against_model(data, reads, out, rest):
    """Replays the record on the byte stream, with each read(n) taking the
    bytes it did take (the model knows only its upper bound)."""
    pos, expected_out = 0, []
    for (op, n), got in zip(reads, out, strict=True):
        if op == "read":
            assert got[0] == "read"
            assert data[pos : pos + len(got[1])] == got[1]
            pos += len(got[1])
            expected_out.append(got)
            continue
        # Everything from here on is determined by the data alone.
        step = model(data[pos:], [(op, n)])[0]
        expected_out.append(step)
        pos += len(step[1])
    assert out == expected_out
    assert data[pos:] == rest


@SETTINGS
@given(PAYLOAD, CUTS, READS)
def test_stream_reads_over_random_chunks(data, cuts, reads):
    results = {impl: stream_run(impl, data, cuts, reads) for impl in IMPLS}
    for out, rest in results.values():
        check_against_model(data, reads, out, rest)
    # Without read(n), whose splits follow the timing, every result is
    # determined by the data alone: the same on both loops.
    if all(op != "read" for op, _ in reads):
        outs = [out for out, _ in results.values()]
        assert all(out == outs[0] for out in outs)


class Receiver(asyncio.Protocol):
    def __init__(self, loop, toggles):
        self.loop = loop
        self.toggles = list(toggles)
        self.events = []
        self.data = bytearray()
        self.done = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        assert self.transport.is_reading()
        self.data += data
        if self.toggles and self.toggles.pop():
            # Pause now; resume after a few iterations or in the next one.
            self.transport.pause_reading()
            delay = len(self.toggles) % 3
            if delay == 0:
                self.loop.call_soon(self.transport.resume_reading)
            else:
                self.loop.call_later(delay * 0.001, self.transport.resume_reading)

    def eof_received(self):
        self.events.append("eof")

    def connection_lost(self, exc):
        self.events.append(("lost", exc))
        self.done.set_result(None)


def protocol_run(impl, data, cuts, toggles):
    loop = make_loop(impl)
    a, b = socket.socketpair()
    b.setblocking(False)

    async def main():
        _, proto = await loop.connect_accepted_socket(
            lambda: Receiver(loop, toggles), a
        )
        await feed(loop, b, chunks_of(data, cuts))
        await proto.done
        return proto

    try:
        return loop.run_until_complete(asyncio.wait_for(main(), 30))
    finally:
        b.close()
        loop.close()


@SETTINGS
@given(PAYLOAD, CUTS, st.lists(st.booleans(), max_size=12))
def test_protocol_data_over_random_chunks_and_pauses(data, cuts, toggles):
    for impl in IMPLS:
        proto = protocol_run(impl, data, cuts, toggles)
        assert bytes(proto.data) == data, impl
        assert proto.events == ["eof", ("lost", None)], impl
