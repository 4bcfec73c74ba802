"""casyncio's pytest plugin: one setting runs a project's asyncio tests on
casyncio loops.

Turn it on with the ini option ``casyncio = true`` (``[pytest]`` in
pytest.ini, ``[tool.pytest.ini_options]`` in pyproject.toml) or with
``pytest --casyncio``.  It then makes the loops that runners ask asyncio for
casyncio loops for the session (``casyncio._select``), and undoes that at
the end: before Python 3.14 by installing ``casyncio.EventLoopPolicy``, from
3.14 on (where policies are deprecated) by rebinding
``asyncio.new_event_loop``.  Every runner given no loop factory gets its
loop that way: pytest-asyncio (through its ``event_loop_policy`` fixture in
0.24, through ``asyncio.Runner`` in 1.x), anyio's pytest plugin with the
asyncio backend, ``unittest.IsolatedAsyncioTestCase`` and ``asyncio.run()``.
Off (the default), the plugin changes nothing.  pytest finds it through the
``pytest11`` entry point of the installed casyncio.
"""

_RESTORE = "_casyncio_restore"


def pytest_addoption(parser):
    parser.addini(
        "casyncio",
        type="bool",
        default=False,
        help="run asyncio tests on casyncio loops",
    )
    parser.getgroup("casyncio").addoption(
        "--casyncio",
        action="store_true",
        default=False,
        help="run asyncio tests on casyncio loops (as the 'casyncio' ini option)",
    )


def _enabled(config):
    return bool(config.getoption("casyncio") or config.getini("casyncio"))


def pytest_configure(config):
    if not _enabled(config):
        return
    import casyncio

    setattr(config, _RESTORE, casyncio._select())


def pytest_unconfigure(config):
    restore = getattr(config, _RESTORE, None)
    if restore is not None:
        restore()
        delattr(config, _RESTORE)


def pytest_report_header(config):
    if _enabled(config):
        import casyncio

        return f"casyncio {casyncio.__version__}: asyncio tests run on casyncio loops"
    return None
