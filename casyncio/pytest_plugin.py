"""casyncio's pytest plugin: one setting runs a project's asyncio tests on
casyncio loops.

Turn it on with the ini option ``casyncio = true`` (``[pytest]`` in
pytest.ini, ``[tool.pytest.ini_options]`` in pyproject.toml) or with
``pytest --casyncio``.  It then installs ``casyncio.EventLoopPolicy`` for the
session, and puts the previous policy back at the end.  A policy, rather
than a fixture, because every runner asks it for a new loop when given no
loop factory: pytest-asyncio (its ``event_loop_policy`` fixture returns the
current policy, in 0.24 and in 1.x), anyio's pytest plugin with the asyncio
backend, ``unittest.IsolatedAsyncioTestCase`` and ``asyncio.run()``.
Off (the default), the plugin changes nothing.  pytest finds it through the
``pytest11`` entry point of the installed casyncio.
"""

import asyncio

_SAVED = "_casyncio_saved_policy"


def pytest_addoption(parser):
    parser.addini(
        "casyncio",
        type="bool",
        default=False,
        help="run asyncio tests on casyncio loops (installs casyncio's policy)",
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

    setattr(config, _SAVED, asyncio.get_event_loop_policy())
    asyncio.set_event_loop_policy(casyncio.EventLoopPolicy())


def pytest_unconfigure(config):
    saved = getattr(config, _SAVED, None)
    if saved is not None:
        asyncio.set_event_loop_policy(saved)
        delattr(config, _SAVED)


def pytest_report_header(config):
    if _enabled(config):
        import casyncio

        return f"casyncio {casyncio.__version__}: asyncio tests run on casyncio loops"
    return None
