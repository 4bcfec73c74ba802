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
Off (the default), the plugin changes nothing.

A second setting, ``casyncio_accelerate = true`` or
``pytest --casyncio-accelerate``, calls ``casyncio.accelerate()`` for the
session (asyncio's gather & co. in C, on whatever loops the tests use) and
``casyncio.decelerate()`` at the end.  pytest finds it through the
``pytest11`` entry point of the installed casyncio.
"""

_RESTORE = "_casyncio_restore"
_ACCELERATED = "_casyncio_accelerated"


# The settings: ini name (the option's dest too), command-line flag, help.
_SETTINGS = (
    ("casyncio", "--casyncio", "run asyncio tests on casyncio loops"),
    (
        "casyncio_accelerate",
        "--casyncio-accelerate",
        "use casyncio's C versions of asyncio.gather & co. (casyncio.accelerate())",
    ),
)


def pytest_addoption(parser):
    group = parser.getgroup("casyncio")
    for name, flag, text in _SETTINGS:
        parser.addini(name, type="bool", default=False, help=text)
        group.addoption(
            flag,
            action="store_true",
            default=False,
            dest=name,
            help=f"{text} (as the '{name}' ini option)",
        )


def _setting(config, name):
    return bool(config.getoption(name) or config.getini(name))


def _enabled(config):
    return _setting(config, "casyncio")


def _accelerate(config):
    return _setting(config, "casyncio_accelerate")


def pytest_configure(config):
    if _accelerate(config):
        import casyncio

        casyncio.accelerate()
        setattr(config, _ACCELERATED, True)
    if not _enabled(config):
        return
    import casyncio

    setattr(config, _RESTORE, casyncio._select())


def pytest_unconfigure(config):
    if getattr(config, _ACCELERATED, False):
        import casyncio

        casyncio.decelerate()
        delattr(config, _ACCELERATED)
    restore = getattr(config, _RESTORE, None)
    if restore is not None:
        restore()
        delattr(config, _RESTORE)


def pytest_report_header(config):
    lines = []
    if _enabled(config) or _accelerate(config):
        import casyncio

        if _enabled(config):
            lines.append(
                f"casyncio {casyncio.__version__}: asyncio tests run on casyncio loops"
            )
        if _accelerate(config):
            names = ", ".join(casyncio.accelerated())
            lines.append(f"casyncio {casyncio.__version__}: accelerated: {names}")
    return lines or None
