"""Every method of asyncio.AbstractEventLoop is implemented by the loop
class under test: none is left to raise AbstractEventLoop's
NotImplementedError."""

import asyncio

import pytest
from conftest import loop_class

ABSTRACT = asyncio.AbstractEventLoop
METHODS = sorted(
    name
    for name in dir(ABSTRACT)
    if not name.startswith("_") and callable(getattr(ABSTRACT, name))
)


@pytest.mark.parametrize("name", METHODS)
def test_method_overridden(impl, name):
    cls = loop_class(impl)
    assert issubclass(cls, ABSTRACT)
    assert getattr(cls, name) is not getattr(ABSTRACT, name), name


def test_pipe_and_subprocess_methods_work(loop):
    """The four that casyncio added last, called once each for real."""
    import os
    import sys

    async def main():
        r, w = os.pipe()
        rt, _ = await loop.connect_read_pipe(asyncio.Protocol, os.fdopen(r, "rb", 0))
        wt, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(w, "wb", 0))
        wt.close()
        rt.close()
        for tr in (
            (
                await loop.subprocess_exec(
                    asyncio.SubprocessProtocol, sys.executable, "-c", "0"
                )
            )[0],
            (await loop.subprocess_shell(asyncio.SubprocessProtocol, "exit 3"))[0],
        ):
            await tr._wait()
            tr.close()
        return tr.get_returncode()

    assert loop.run_until_complete(asyncio.wait_for(main(), 30)) == 3
