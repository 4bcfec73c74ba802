"""add_reader/remove_reader/add_writer/remove_writer on a socket pair."""

import contextvars
import socket

import pytest

var = contextvars.ContextVar("var", default="unset")


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def run_briefly(loop, seconds=0.05):
    safety = loop.call_later(seconds, loop.stop)
    loop.run_forever()
    safety.cancel()


# ---- readers ----


def test_reader_fires_when_data_available(loop, pair):
    rsock, wsock = pair
    got = []

    def on_readable():
        got.append(rsock.recv(100))
        loop.stop()

    loop.add_reader(rsock.fileno(), on_readable)
    wsock.send(b"hello")
    run_briefly(loop, 5)
    loop.remove_reader(rsock.fileno())
    assert got == [b"hello"]


def test_reader_does_not_fire_without_data(loop, pair):
    rsock, _ = pair
    fired = []
    loop.add_reader(rsock.fileno(), fired.append, "readable")
    run_briefly(loop, 0.03)
    loop.remove_reader(rsock.fileno())
    assert fired == []


def test_reader_callback_gets_args(loop, pair):
    rsock, wsock = pair
    got = []

    def on_readable(*args):
        got.append(args)
        rsock.recv(100)
        loop.stop()

    loop.add_reader(rsock.fileno(), on_readable, 1, "two")
    wsock.send(b"x")
    run_briefly(loop, 5)
    loop.remove_reader(rsock.fileno())
    assert got == [(1, "two")]


def test_reader_fires_again_while_data_remains(loop, pair):
    rsock, wsock = pair
    chunks = []

    def on_readable():
        chunks.append(rsock.recv(1))
        if len(chunks) == 3:
            loop.stop()

    loop.add_reader(rsock.fileno(), on_readable)
    wsock.send(b"abc")
    run_briefly(loop, 5)
    loop.remove_reader(rsock.fileno())
    assert chunks == [b"a", b"b", b"c"]


def test_reader_accepts_socket_object(loop, pair):
    rsock, wsock = pair
    got = []

    def on_readable():
        got.append(rsock.recv(100))
        loop.stop()

    loop.add_reader(rsock, on_readable)
    wsock.send(b"via object")
    run_briefly(loop, 5)
    assert got == [b"via object"]
    # The object and its descriptor name the same registration.
    assert loop.remove_reader(rsock.fileno()) is True


def test_remove_reader_returns_true_when_registered(loop, pair):
    rsock, _ = pair
    loop.add_reader(rsock.fileno(), print)
    assert loop.remove_reader(rsock.fileno()) is True


def test_remove_reader_returns_false_when_not_registered(loop, pair):
    rsock, _ = pair
    assert loop.remove_reader(rsock.fileno()) is False


def test_remove_reader_twice_returns_false_the_second_time(loop, pair):
    rsock, _ = pair
    loop.add_reader(rsock.fileno(), print)
    assert loop.remove_reader(rsock.fileno()) is True
    assert loop.remove_reader(rsock.fileno()) is False


def test_removed_reader_does_not_fire(loop, pair):
    rsock, wsock = pair
    fired = []
    loop.add_reader(rsock.fileno(), fired.append, "readable")
    loop.remove_reader(rsock.fileno())
    wsock.send(b"data")
    run_briefly(loop, 0.03)
    assert fired == []


def test_add_reader_replaces_previous_reader(loop, pair):
    rsock, wsock = pair
    fired = []

    def second():
        fired.append("second")
        rsock.recv(100)
        loop.stop()

    loop.add_reader(rsock.fileno(), fired.append, "first")
    loop.add_reader(rsock.fileno(), second)
    wsock.send(b"x")
    run_briefly(loop, 5)
    assert fired == ["second"]
    assert loop.remove_reader(rsock.fileno()) is True
    assert loop.remove_reader(rsock.fileno()) is False


def test_reader_callback_runs_in_context_of_add_reader(loop, pair):
    rsock, wsock = pair
    seen = []

    def on_readable():
        seen.append(var.get())
        rsock.recv(100)
        loop.stop()

    token = var.set("at add_reader")
    try:
        loop.add_reader(rsock.fileno(), on_readable)
        var.set("changed later")
    finally:
        var.reset(token)
    wsock.send(b"x")
    run_briefly(loop, 5)
    loop.remove_reader(rsock.fileno())
    assert seen == ["at add_reader"]


def test_exception_in_reader_callback_goes_to_exception_handler(loop, pair):
    rsock, wsock = pair
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    def on_readable():
        loop.remove_reader(rsock.fileno())
        loop.call_soon(loop.stop)
        raise ValueError("reader failed")

    loop.add_reader(rsock.fileno(), on_readable)
    wsock.send(b"x")
    run_briefly(loop, 5)
    assert len(contexts) == 1
    assert contexts[0]["message"].startswith("Exception in callback")
    assert isinstance(contexts[0]["exception"], ValueError)


# ---- writers ----


def test_writer_fires_when_writable(loop, pair):
    _, wsock = pair
    fired = []

    def on_writable(*args):
        fired.append(args)
        loop.remove_writer(wsock.fileno())
        loop.stop()

    loop.add_writer(wsock.fileno(), on_writable, "arg")
    run_briefly(loop, 5)
    assert fired == [("arg",)]


def test_writer_and_reader_on_same_fd_both_fire(loop, pair):
    sock, peer = pair
    fired = set()

    def on_event(kind):
        fired.add(kind)
        if kind == "read":
            sock.recv(100)
            loop.remove_reader(sock.fileno())
        else:
            loop.remove_writer(sock.fileno())
        if fired == {"read", "write"}:
            loop.stop()

    loop.add_reader(sock.fileno(), on_event, "read")
    loop.add_writer(sock.fileno(), on_event, "write")
    peer.send(b"x")
    run_briefly(loop, 5)
    assert fired == {"read", "write"}


def test_remove_writer_returns_true_when_registered(loop, pair):
    _, wsock = pair
    loop.add_writer(wsock.fileno(), print)
    assert loop.remove_writer(wsock.fileno()) is True


def test_remove_writer_returns_false_when_not_registered(loop, pair):
    _, wsock = pair
    assert loop.remove_writer(wsock.fileno()) is False


def test_remove_writer_keeps_reader(loop, pair):
    sock, peer = pair
    got = []

    def on_readable():
        got.append(sock.recv(100))
        loop.stop()

    loop.add_reader(sock.fileno(), on_readable)
    loop.add_writer(sock.fileno(), print)
    assert loop.remove_writer(sock.fileno()) is True
    peer.send(b"still reading")
    run_briefly(loop, 5)
    assert got == [b"still reading"]
    assert loop.remove_reader(sock.fileno()) is True


def test_removed_writer_does_not_fire(loop, pair):
    _, wsock = pair
    fired = []
    loop.add_writer(wsock.fileno(), fired.append, "writable")
    loop.remove_writer(wsock.fileno())
    run_briefly(loop, 0.02)
    assert fired == []


def test_add_writer_replaces_previous_writer(loop, pair):
    _, wsock = pair
    fired = []

    def second():
        fired.append("second")
        loop.remove_writer(wsock.fileno())
        loop.stop()

    loop.add_writer(wsock.fileno(), fired.append, "first")
    loop.add_writer(wsock.fileno(), second)
    run_briefly(loop, 5)
    assert fired == ["second"]


# ---- invalid descriptors ----


@pytest.mark.parametrize(
    "method", ["add_reader", "add_writer", "remove_reader", "remove_writer"]
)
def test_negative_fd_raises_value_error(loop, method):
    args = (-1, print) if method.startswith("add") else (-1,)
    with pytest.raises(ValueError, match=r"^Invalid file descriptor: -1$"):
        getattr(loop, method)(*args)


@pytest.mark.parametrize(
    "method", ["add_reader", "add_writer", "remove_reader", "remove_writer"]
)
def test_closed_socket_object_raises_value_error(loop, method):
    sock = socket.socket()
    sock.close()
    assert sock.fileno() == -1
    args = (sock, print) if method.startswith("add") else (sock,)
    with pytest.raises(ValueError, match=r"^Invalid file descriptor: -1$"):
        getattr(loop, method)(*args)


@pytest.mark.parametrize("writer", [False, True])
def test_remove_closed_socket_object_finds_its_registration(loop, pair, writer):
    # The selector looks a file object whose fileno() is -1 up by identity
    # among those registered (anyio removes a closed socket's reader so).
    rsock, _ = pair
    add, remove = (
        (loop.add_writer, loop.remove_writer)
        if writer
        else (loop.add_reader, loop.remove_reader)
    )
    add(rsock, print)
    rsock.close()
    assert remove(rsock) is True
    with pytest.raises(ValueError, match=r"^Invalid file descriptor: -1$"):
        remove(rsock)


def test_object_without_fileno_raises_value_error(loop):
    with pytest.raises(ValueError, match=r"^Invalid file object: 'x'$"):
        loop.add_reader("x", print)


def test_add_reader_after_close_raises(loop, pair):
    rsock, _ = pair
    loop.close()
    with pytest.raises(RuntimeError, match=r"^Event loop is closed$"):
        loop.add_reader(rsock.fileno(), print)


def test_remove_reader_after_close_returns_false(loop, pair):
    rsock, _ = pair
    loop.add_reader(rsock.fileno(), print)
    loop.close()
    assert loop.remove_reader(rsock.fileno()) is False
