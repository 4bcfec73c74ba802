"""connect_read_pipe and connect_write_pipe, on both implementations: pipes,
FIFOs and a pty, end of file both ways, flow control, close and abort."""

import asyncio
import os
import pty
import tempfile

import pytest


def run(loop, coro, timeout=20):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def open_fds(loop):
    """The process's open fds, once the loop has run (a loop opens some of
    its own on its first run)."""
    run(loop, asyncio.sleep(0))
    return len(os.listdir("/proc/self/fd"))


class ReadRecorder(asyncio.Protocol):
    def __init__(self, loop):
        self.events = []
        self.data = bytearray()
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")

    def data_received(self, data):
        self.data += data

    def eof_received(self):
        self.events.append("eof")

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost.set_result(exc)


class WriteRecorder(asyncio.Protocol):
    def __init__(self, loop):
        self.events = []
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport

    def pause_writing(self):
        self.events.append(("pause", self.transport.get_write_buffer_size()))

    def resume_writing(self):
        self.events.append(("resume", self.transport.get_write_buffer_size()))

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost.set_result(exc)


async def read_all(fd, n=None):
    """Reads fd (blocking, in a thread) until EOF or n bytes."""
    loop = asyncio.get_running_loop()

    def reader():
        chunks, got = [], 0
        while n is None or got < n:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    return await loop.run_in_executor(None, reader)


def test_read_pipe_data_then_eof(loop):
    fds = open_fds(loop)
    r, w = os.pipe()
    rfile = os.fdopen(r, "rb", 0)
    proto = ReadRecorder(loop)

    async def main():
        tr, pr = await loop.connect_read_pipe(lambda: proto, rfile)
        assert pr is proto and proto.transport is tr
        assert isinstance(tr, asyncio.ReadTransport)
        assert tr.get_extra_info("pipe") is rfile
        assert tr.is_reading() and not tr.is_closing()
        os.write(w, b"hello ")
        os.write(w, b"world")
        os.close(w)
        assert await proto.lost is None
        assert tr.is_closing()

    run(loop, main())
    assert bytes(proto.data) == b"hello world"
    assert proto.events == ["made", "eof", "lost"]
    assert rfile.closed
    assert open_fds(loop) == fds


def test_read_fifo(loop):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "fifo")
        os.mkfifo(path)
        rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        wfd = os.open(path, os.O_WRONLY)
        proto = ReadRecorder(loop)

        async def main():
            await loop.connect_read_pipe(lambda: proto, os.fdopen(rfd, "rb", 0))
            os.write(wfd, b"through a fifo")
            os.close(wfd)
            assert await proto.lost is None

        run(loop, main())
        assert bytes(proto.data) == b"through a fifo"
        assert proto.events == ["made", "eof", "lost"]


def test_read_pty(loop):
    master, slave = pty.openpty()
    proto = ReadRecorder(loop)

    async def main():
        tr, _ = await loop.connect_read_pipe(lambda: proto, os.fdopen(master, "rb", 0))
        os.write(slave, b"typed\n")
        while b"typed" not in proto.data:
            await asyncio.sleep(0.01)
        os.close(slave)
        # A pty whose other side closed reads EIO: the transport closes
        # with it, quietly.
        exc = await proto.lost
        assert exc is None or (isinstance(exc, OSError) and exc.errno == 5)
        assert tr.is_closing()

    run(loop, main())
    assert b"typed" in proto.data


def test_write_pty(loop):
    master, slave = pty.openpty()
    proto = WriteRecorder(loop)
    os.set_blocking(master, True)
    import termios
    import tty

    tty.setraw(slave)

    async def main():
        tr, _ = await loop.connect_write_pipe(lambda: proto, os.fdopen(slave, "wb", 0))
        assert isinstance(tr, asyncio.WriteTransport)
        tr.write(b"to the pty")
        got = await read_all(master, 10)
        tr.close()
        assert await proto.lost is None
        return got

    assert run(loop, main()) == b"to the pty"
    os.close(master)
    del termios


@pytest.mark.parametrize("connect", ["connect_read_pipe", "connect_write_pipe"])
def test_regular_file_refused(loop, connect):
    with tempfile.TemporaryFile() as f:

        async def main():
            await getattr(loop, connect)(asyncio.Protocol, f)

        with pytest.raises(ValueError) as info:
            run(loop, main())
    expected = (
        "Pipe transport is for pipes/sockets only."
        if connect == "connect_read_pipe"
        else "Pipe transport is only for pipes, sockets and character devices"
    )
    assert str(info.value) == expected


def test_pause_resume_reading(loop):
    r, w = os.pipe()
    proto = ReadRecorder(loop)

    async def main():
        tr, _ = await loop.connect_read_pipe(lambda: proto, os.fdopen(r, "rb", 0))
        assert " polling" in repr(tr)
        tr.pause_reading()
        assert not tr.is_reading()
        assert " idle" in repr(tr)
        os.write(w, b"held back")
        for _ in range(5):
            await asyncio.sleep(0.01)
        assert proto.data == b""
        tr.resume_reading()
        assert tr.is_reading()
        while proto.data != b"held back":
            await asyncio.sleep(0.01)
        os.close(w)
        await proto.lost

    run(loop, main())
    assert proto.events == ["made", "eof", "lost"]


def test_write_flow_control(loop):
    fds = open_fds(loop)
    r, w = os.pipe()
    wfile = os.fdopen(w, "wb", 0)
    proto = WriteRecorder(loop)
    total = 4 * 1024 * 1024

    async def main():
        tr, _ = await loop.connect_write_pipe(lambda: proto, wfile)
        assert isinstance(tr, asyncio.WriteTransport)
        assert tr.get_extra_info("pipe") is wfile
        tr.set_write_buffer_limits(high=64 * 1024, low=16 * 1024)
        assert tr.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
        block = b"x" * 65536
        for _ in range(total // len(block)):
            tr.write(block)
        assert proto.events[0][0] == "pause"
        assert tr.get_write_buffer_size() > 64 * 1024
        reader = asyncio.ensure_future(read_all(r))
        # close() flushes the queue first.
        tr.close()
        assert tr.is_closing()
        assert await proto.lost is None
        return await reader

    data = run(loop, main())
    assert len(data) == total
    kinds = [e[0] if isinstance(e, tuple) else e for e in proto.events]
    assert kinds == ["pause", "resume", "lost"]
    assert proto.events[1][1] <= 16 * 1024
    os.close(r)
    assert open_fds(loop) == fds


def test_write_eof_closes(loop):
    r, w = os.pipe()
    proto = WriteRecorder(loop)

    async def main():
        tr, _ = await loop.connect_write_pipe(lambda: proto, os.fdopen(w, "wb", 0))
        assert tr.can_write_eof()
        tr.write(b"last words")
        tr.write_eof()
        assert tr.is_closing()
        tr.write(b"dropped")  # after write_eof a pipe drops writes
        assert await proto.lost is None
        return await read_all(r)

    assert run(loop, main()) == b"last words"
    os.close(r)


def test_abort_drops_queue(loop):
    r, w = os.pipe()
    proto = WriteRecorder(loop)

    async def main():
        tr, _ = await loop.connect_write_pipe(lambda: proto, os.fdopen(w, "wb", 0))
        tr.write(b"y" * (1024 * 1024))
        assert tr.get_write_buffer_size() > 0
        tr.abort()
        assert tr.get_write_buffer_size() == 0
        assert await proto.lost is None
        return await read_all(r)

    data = run(loop, main())
    assert len(data) < 1024 * 1024
    os.close(r)


@pytest.mark.parametrize("pending", [False, True])
def test_reader_going_away(loop, pending):
    r, w = os.pipe()
    proto = WriteRecorder(loop)

    async def main():
        tr, _ = await loop.connect_write_pipe(lambda: proto, os.fdopen(w, "wb", 0))
        if pending:
            tr.write(b"z" * (1024 * 1024))
        await asyncio.sleep(0.01)
        os.close(r)
        return await proto.lost

    exc = run(loop, main())
    if pending:
        assert isinstance(exc, BrokenPipeError)
    else:
        assert exc is None


def test_write_then_read_pipe_roundtrip(loop):
    """Both transports on one pipe: what one writes the other reads, and
    closing the writer is EOF for the reader."""
    r, w = os.pipe()
    rproto, wproto = ReadRecorder(loop), WriteRecorder(loop)
    payload = os.urandom(3 * 1024 * 1024)

    async def main():
        await loop.connect_read_pipe(lambda: rproto, os.fdopen(r, "rb", 0))
        wt, _ = await loop.connect_write_pipe(lambda: wproto, os.fdopen(w, "wb", 0))
        wt.write(payload)
        wt.close()
        assert await wproto.lost is None
        assert await rproto.lost is None

    run(loop, main())
    assert bytes(rproto.data) == payload
    assert rproto.events == ["made", "eof", "lost"]


def test_unclosed_pipe_transport_warns(new_loop):
    loop = new_loop()
    r, w = os.pipe()
    rfile = os.fdopen(r, "rb", 0)

    async def main():
        tr, _ = await loop.connect_read_pipe(asyncio.Protocol, rfile)
        return tr

    tr = run(loop, main())
    loop.close()
    assert "open" in repr(tr)
    with pytest.warns(ResourceWarning, match="unclosed transport"):
        del tr
        import gc

        gc.collect()
    assert rfile.closed
    os.close(w)


def test_read_pipe_data_received_raising_is_reported_and_reading_goes_on(new_loop):
    """asyncio's read pipe lets an exception from data_received out of its
    reader callback: the loop reports a failed callback and the pipe stays
    open (a socket transport's is fatal to it)."""
    loop = new_loop()
    reports = []
    loop.set_exception_handler(lambda lp, ctx: reports.append(ctx))

    class Raising(ReadRecorder):
        def data_received(self, data):
            super().data_received(data)
            if data == b"boom":
                raise ValueError("boom")

    async def main():
        r, w = os.pipe()
        tr, proto = await loop.connect_read_pipe(
            lambda: Raising(loop), os.fdopen(r, "rb", 0)
        )
        os.write(w, b"boom")
        while not reports:
            await asyncio.sleep(0.005)
        os.write(w, b"more")
        os.close(w)
        await proto.lost
        return proto, tr

    proto, tr = run(loop, main())
    assert bytes(proto.data) == b"boommore"
    assert proto.events == ["made", "eof", "lost"]
    assert len(reports) == 1
    assert isinstance(reports[0]["exception"], ValueError)
    assert reports[0]["message"].startswith("Exception in callback ")
    assert reports[0]["message"].endswith("ReadPipeTransport._read_ready()")
    assert "handle" in reports[0]


def test_writes_to_a_closing_write_pipe_are_dropped_and_warned_from_the_fifth(
    loop, caplog
):
    """close() with data queued: later writes are dropped, and from the
    fifth on each is logged as asyncio's write pipe logs it."""

    async def main():
        r, w = os.pipe()
        tr, proto = await loop.connect_write_pipe(
            lambda: WriteRecorder(loop), os.fdopen(w, "wb", 0)
        )
        tr.set_write_buffer_limits(high=1 << 30)
        while not tr.get_write_buffer_size():  # fill the pipe, then queue
            tr.write(b"x" * 65536)
        tr.close()
        with caplog.at_level("WARNING", logger="asyncio"):
            for _ in range(7):
                tr.write(b"y")
        os.close(r)
        await proto.lost

    run(loop, main())
    warned = [
        r
        for r in caplog.records
        if "pipe closed by peer or os.write(pipe, data) raised exception" in r.message
    ]
    assert len(warned) == 2  # the 6th and 7th of the dropped writes
