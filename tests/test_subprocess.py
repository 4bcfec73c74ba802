"""subprocess_exec/subprocess_shell and asyncio.create_subprocess_*, on both
implementations: large outputs, exit codes, signals, many children, no
zombies and no leaked fds."""

import asyncio
import os
import signal
import sys
import threading
import warnings

import pytest

PY = sys.executable
MIB = 1024 * 1024
PIPE = asyncio.subprocess.PIPE


def run(loop, coro, timeout=60):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def open_fds(loop):
    run(loop, asyncio.sleep(0))
    return len(os.listdir("/proc/self/fd"))


def zombie_children():
    """Pids of this process's children that exited and were not reaped."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z" and int(fields[1]) == me:
            found.append(int(entry))
    return found


@pytest.fixture
def sub_loop(loop):
    """The loop, checked afterwards for zombies and leaked fds."""
    fds = open_fds(loop)
    yield loop
    assert zombie_children() == []
    assert open_fds(loop) == fds


def test_exec_large_output_and_exit_code(sub_loop):
    loop = sub_loop
    size = 50 * MIB

    async def main():
        code = f"import sys; sys.stdout.buffer.write(b'a' * {size}); sys.exit(7)"
        proc = await asyncio.create_subprocess_exec(PY, "-c", code, stdout=PIPE)
        out, err = await proc.communicate()
        return proc.returncode, out, err

    rc, out, err = run(loop, main())
    assert (rc, len(out), err) == (7, size, None)
    assert out.count(b"a") == size


def test_pipeline_50mib(sub_loop):
    """head | (our loop) | counter: 50 MiB through two children's pipes."""
    loop = sub_loop
    size = 50 * MIB

    async def main():
        producer = await asyncio.create_subprocess_exec(
            "head", "-c", str(size), "/dev/zero", stdout=PIPE
        )
        counter = await asyncio.create_subprocess_exec(
            PY,
            "-c",
            "import sys\n"
            "n = 0\n"
            "while chunk := sys.stdin.buffer.read1(1 << 16): n += len(chunk)\n"
            "print(n); sys.exit(3)",
            stdin=PIPE,
            stdout=PIPE,
        )
        while chunk := await producer.stdout.read(1 << 16):
            counter.stdin.write(chunk)
            await counter.stdin.drain()
        counter.stdin.close()
        out = await counter.stdout.read()
        return await producer.wait(), await counter.wait(), out

    assert run(loop, main()) == (0, 3, f"{size}\n".encode())


def test_communicate_stdin(sub_loop):
    loop = sub_loop
    data = os.urandom(3 * MIB)

    async def main():
        proc = await asyncio.create_subprocess_exec("cat", stdin=PIPE, stdout=PIPE)
        out, _ = await proc.communicate(data)
        return proc.returncode, out

    assert run(loop, main()) == (0, data)


def test_kill_sleeping_child(sub_loop):
    loop = sub_loop

    async def main():
        proc = await asyncio.create_subprocess_exec("sleep", "30")
        assert proc.returncode is None
        proc.kill()
        return await proc.wait()

    assert run(loop, main()) == -signal.SIGKILL


@pytest.mark.parametrize("how", ["terminate", "send_signal"])
def test_terminate_and_send_signal(sub_loop, how):
    loop = sub_loop

    async def main():
        proc = await asyncio.create_subprocess_exec("sleep", "30")
        if how == "terminate":
            proc.terminate()
        else:
            proc.send_signal(signal.SIGUSR1)
        return await proc.wait()

    expected = -signal.SIGTERM if how == "terminate" else -signal.SIGUSR1
    assert run(loop, main()) == expected


def test_many_concurrent_children(sub_loop):
    loop = sub_loop
    threads = threading.active_count()
    seen = []

    async def child(i):
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", f"import sys; sys.exit({i % 7})"
        )
        seen.append(threading.active_count())
        return await proc.wait()

    async def main():
        return await asyncio.gather(*(child(i) for i in range(200)))

    assert run(loop, main()) == [i % 7 for i in range(200)]
    if isinstance(loop, asyncio.AbstractEventLoop) and type(loop).__module__.startswith(
        "casyncio"
    ):
        # With pidfds, no thread per child.
        if hasattr(os, "pidfd_open"):
            assert max(seen) == threads


def test_wait_cancelled(sub_loop):
    loop = sub_loop

    async def main():
        proc = await asyncio.create_subprocess_exec("sleep", "30")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 0.1)
        assert proc.returncode is None
        waiter = asyncio.ensure_future(proc.wait())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        proc.kill()
        return await proc.wait()

    assert run(loop, main()) == -signal.SIGKILL


def test_exits_before_pipes_close(sub_loop):
    """The shell exits while a background child still holds stdout."""
    loop = sub_loop

    async def main():
        proc = await asyncio.create_subprocess_shell(
            "(sleep 0.3; echo late) & echo early; exit 4", stdout=PIPE
        )
        out, _ = await proc.communicate()
        return proc.returncode, out

    assert run(loop, main()) == (4, b"early\nlate\n")


def test_pipes_close_before_exit(sub_loop):
    loop = sub_loop

    async def main():
        proc = await asyncio.create_subprocess_shell(
            "echo bye; exec >&- 2>&-; sleep 0.3; exit 2", stdout=PIPE, stderr=PIPE
        )
        out = await proc.stdout.read()
        err = await proc.stderr.read()
        assert proc.returncode is None  # the pipes closed first
        return await proc.wait(), out, err

    assert run(loop, main()) == (2, b"bye\n", b"")


def test_shell(sub_loop):
    loop = sub_loop

    async def main():
        proc = await asyncio.create_subprocess_shell(
            "echo $((6 * 7)); echo oops >&2; exit 5", stdout=PIPE, stderr=PIPE
        )
        return (*await proc.communicate(), proc.returncode)

    assert run(loop, main()) == (b"42\n", b"oops\n", 5)


def test_stderr_to_stdout(sub_loop):
    loop = sub_loop

    async def main():
        proc = await asyncio.create_subprocess_shell(
            "echo out; echo err >&2", stdout=PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, err = await proc.communicate()
        return out, err

    assert run(loop, main()) == (b"out\nerr\n", None)


class SubProto(asyncio.SubprocessProtocol):
    def __init__(self, loop):
        self.data = {1: bytearray(), 2: bytearray()}
        self.events = []
        self.exited = loop.create_future()
        self.lost = loop.create_future()

    def pipe_data_received(self, fd, data):
        self.data[fd] += data

    def pipe_connection_lost(self, fd, exc):
        self.events.append(("pipe_lost", fd))

    def process_exited(self):
        self.events.append("exited")
        self.exited.set_result(None)

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost.set_result(exc)


def test_transport_api(sub_loop):
    loop = sub_loop
    proto = SubProto(loop)

    async def main():
        tr, pr = await loop.subprocess_exec(
            lambda: proto,
            PY,
            "-c",
            "import sys; d = sys.stdin.read(); print(d.upper()); sys.exit(9)",
            stdin=PIPE,
            stdout=PIPE,
            stderr=PIPE,
        )
        assert pr is proto
        assert isinstance(tr, asyncio.SubprocessTransport)
        assert tr.get_pid() > 0 and tr.get_returncode() is None
        stdin = tr.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)
        assert isinstance(tr.get_pipe_transport(1), asyncio.ReadTransport)
        stdin.write(b"shout")
        stdin.write_eof()
        await proto.exited
        await proto.lost
        assert tr.get_returncode() == 9
        await tr._wait()
        tr.close()
        return tr

    tr = run(loop, main())
    assert bytes(proto.data[1]) == b"SHOUT\n"
    assert proto.events[-1] == "lost"
    assert sorted(map(str, proto.events[:-1])) == sorted(
        map(str, ["exited", ("pipe_lost", 0), ("pipe_lost", 1), ("pipe_lost", 2)])
    )
    assert tr.get_returncode() == 9


def test_close_kills_running_child(sub_loop):
    loop = sub_loop
    proto = SubProto(loop)

    async def main():
        tr, _ = await loop.subprocess_exec(lambda: proto, "sleep", "30")
        tr.close()
        await proto.lost
        return tr.get_returncode()

    assert run(loop, main()) == -signal.SIGKILL


def test_exec_invalid_args(loop):
    async def main():
        with pytest.raises(ValueError, match="universal_newlines must be False"):
            await loop.subprocess_exec(
                asyncio.SubprocessProtocol, PY, universal_newlines=True
            )
        with pytest.raises(ValueError, match="shell must be False"):
            await loop.subprocess_exec(asyncio.SubprocessProtocol, PY, shell=True)
        with pytest.raises(ValueError, match="shell must be True"):
            await loop.subprocess_shell(asyncio.SubprocessProtocol, "true", shell=False)
        with pytest.raises(FileNotFoundError):
            await asyncio.create_subprocess_exec("/nonexistent/program")

    run(loop, main())


# asyncio.get_event_loop_policy() warns from 3.14 on; its private twin
# does not.
_get_policy = getattr(asyncio.events, "_get_event_loop_policy", None) or (
    asyncio.get_event_loop_policy
)


@pytest.fixture
def fresh_policy_watcher():
    """No child watcher in asyncio's policy during the test (stock asyncio
    then makes its default one afresh), the previous one back after."""
    policy = _get_policy()
    old = getattr(policy, "_watcher", None)
    if hasattr(policy, "_watcher"):
        policy._watcher = None
    yield policy
    if hasattr(policy, "_watcher"):
        if policy._watcher is not None and policy._watcher is not old:
            policy._watcher.close()
        policy._watcher = old


def test_without_pidfd(new_loop, monkeypatch, fresh_policy_watcher):
    """Where pidfd_open fails (old kernel, seccomp) children are still
    watched, by a thread that waits for them."""

    def no_pidfd(*args):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd, raising=False)
    # Made after the patch: from 3.14 on a loop picks its child watcher when
    # it is made (unix_events.can_use_pidfd()).
    loop = new_loop()
    fds = open_fds(loop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)

        async def main():
            procs = [
                await asyncio.create_subprocess_exec(PY, "-c", f"exit({i})")
                for i in range(5)
            ]
            return [await p.wait() for p in procs]

        assert run(loop, main()) == [0, 1, 2, 3, 4]
    assert zombie_children() == []
    assert open_fds(loop) == fds


def test_user_watcher_is_used(new_loop, fresh_policy_watcher):
    """A child watcher set in asyncio's policy is used (3.11-3.13)."""
    if not hasattr(asyncio, "ThreadedChildWatcher"):
        pytest.skip("no child watchers on this Python")
    loop = new_loop()
    calls = []

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)

        class Spy(asyncio.ThreadedChildWatcher):
            def add_child_handler(self, pid, callback, *args):
                calls.append(pid)
                super().add_child_handler(pid, callback, *args)

        fresh_policy_watcher.set_child_watcher(Spy())

        async def main():
            proc = await asyncio.create_subprocess_exec(PY, "-c", "exit(6)")
            return proc.pid, await proc.wait()

        pid, rc = run(loop, main())
    assert rc == 6
    assert calls == [pid]
