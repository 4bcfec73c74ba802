"""Parametrised mode: CPython's implementation-parametrised test classes,
bound to casyncio.

Several modules of ``test.test_asyncio`` are written once as a mixin and
made concrete once per implementation: a subclass overrides the loop factory
(``create_event_loop`` in test_events, test_sock_lowlevel, test_sendfile;
``new_loop`` in test_server, test_buffered_proto, test_sslproto; the policy's
loop plus a child watcher in test_subprocess), or sets the Task/Future
classes under test (``Task``/``Future`` in test_tasks and
test_eager_task_factory, ``cls``/``_new_future``/``_get_future_cls`` in
test_futures and test_futures2).

For each module this file takes the stock concrete class that tests the C
accelerated or default-selector implementation, and subclasses it with the
same hook pointing at casyncio.  The subclass keeps every per-class override
and skip of the stock class, and the stock class's results (from the stock
run of the same module) are the baseline of the subclass's tests.

Generated classes are named ``Casyncio...`` and placed in the test module, so
their ids are ``test.test_asyncio.<module>.Casyncio<...>.<test>``: stable,
distinct from every stock id, and module fixtures (setUpModule,
tearDownModule) apply to them as to the stock classes.

Nothing here imports a test module at import time: the runner (parent
process) only reads ``BINDERS`` to know which modules have bindings.
"""

from __future__ import annotations

import asyncio
import signal
import warnings

# Modules with bindings, in the order they are generated.
MODULES = (
    "test_events",
    "test_sock_lowlevel",
    "test_sendfile",
    "test_server",
    "test_buffered_proto",
    "test_sslproto",
    "test_subprocess",
    "test_tasks",
    "test_futures",
    "test_futures2",
    "test_eager_task_factory",
)


class Binding:
    """One generated class and the stock class whose results are its
    baseline (None when a binding could not be made, with a note why)."""

    def __init__(self, cls, stock, note=""):
        self.cls = cls
        self.stock = stock
        self.note = note


# asyncio.set_event_loop_policy warns from 3.14 on; its private twin does not.
_set_policy = getattr(asyncio.events, "_set_event_loop_policy", None) or (
    asyncio.set_event_loop_policy
)


def _derive(module, stock_name, new_name, attrs, bindings):
    """Subclass module.<stock_name> as module.<new_name> with attrs."""
    stock = getattr(module, stock_name, None)
    if stock is None:
        bindings.append(Binding(None, stock_name, f"{stock_name} not in module"))
        return None
    attrs = dict(attrs)
    attrs["__module__"] = module.__name__
    attrs["__qualname__"] = new_name
    attrs.setdefault("__doc__", f"{stock_name}, bound to casyncio.")
    cls = type(new_name, (stock,), attrs)
    setattr(module, new_name, cls)
    bindings.append(Binding(cls, stock_name))
    return cls


def _first_present(module, names):
    for name in names:
        if getattr(module, name, None) is not None:
            return name
    return names[0]


# ---------------------------------------------------------------- loops ----

# The stock class per module whose loop casyncio replaces: the epoll
# selector loop (Linux's default, and the reactor casyncio uses) where the
# module has one per selector, else the selector loop.
_EPOLL_OR_SELECT = ("EPollEventLoopTests", "SelectEventLoopTests")

_signal_handlers_work = None


def casyncio_signal_handlers_work(casyncio):
    """Whether casyncio loops implement add_signal_handler (probed once)."""
    global _signal_handlers_work
    if _signal_handlers_work is None:
        loop = casyncio.new_event_loop()
        try:
            loop.add_signal_handler(signal.SIGUSR2, lambda: None)
        except NotImplementedError:
            _signal_handlers_work = False
        except Exception:
            _signal_handlers_work = True  # implemented; let the tests judge it
        else:
            _signal_handlers_work = True
            try:
                loop.remove_signal_handler(signal.SIGUSR2)
            except Exception:
                pass
        finally:
            loop.close()
    return _signal_handlers_work


def _bind_events(module, casyncio, bindings):
    mixin = module.EventLoopTestsMixin

    def setUp(self):
        # UnixEventLoopTestsMixin.setUp attaches a SafeChildWatcher, which
        # needs loop.add_signal_handler(SIGCHLD).  Until casyncio has signal
        # handlers, attach a ThreadedChildWatcher (which needs nothing from
        # the loop) instead, so that the ~150 tests of this class that do not
        # use subprocesses measure what they test rather than all erroring
        # in setUp.  Once signals land, the stock set-up is used unchanged.
        if casyncio_signal_handlers_work(casyncio):
            super(cls, self).setUp()
            return
        mixin.setUp(self)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            watcher = asyncio.ThreadedChildWatcher()
            watcher.attach_loop(self.loop)
            asyncio.set_child_watcher(watcher)

    cls = _derive(
        module,
        _first_present(module, _EPOLL_OR_SELECT),
        "CasyncioEventLoopTests",
        {"create_event_loop": lambda self: casyncio.new_event_loop(), "setUp": setUp},
        bindings,
    )


def _bind_create_event_loop(module, casyncio, bindings):
    _derive(
        module,
        _first_present(module, _EPOLL_OR_SELECT),
        "CasyncioEventLoopTests",
        {"create_event_loop": lambda self: casyncio.new_event_loop()},
        bindings,
    )


def _new_loop_binder(stock_name, new_name):
    def bind(module, casyncio, bindings):
        _derive(
            module,
            stock_name,
            new_name,
            {"new_loop": lambda self: casyncio.new_event_loop()},
            bindings,
        )

    return bind


def _bind_subprocess(module, casyncio, bindings):
    """test_subprocess: one class per child watcher, each taking its loop
    from the policy: run each with casyncio's policy in place for the test."""
    mixin = getattr(module, "SubprocessWatcherMixin", None)
    if mixin is None:
        bindings.append(Binding(None, "SubprocessWatcherMixin", "not in module"))
        return
    stock_classes = [
        (name, obj)
        for name, obj in vars(module).items()
        if isinstance(obj, type)
        and issubclass(obj, mixin)
        and obj is not mixin
        and not name.startswith("Casyncio")
    ]
    for name, stock in stock_classes:

        def setUp(self, _stock=stock):
            self._casyncio_saved_policy = asyncio.events._event_loop_policy
            _set_policy(casyncio.EventLoopPolicy())
            _stock.setUp(self)

        def tearDown(self, _stock=stock):
            try:
                _stock.tearDown(self)
            finally:
                _set_policy(self._casyncio_saved_policy)

        _derive(
            module,
            name,
            "Casyncio" + name,
            {"setUp": setUp, "tearDown": tearDown},
            bindings,
        )


# ---------------------------------------------------------- Task/Future ----


def _casyncio_names(stock_name):
    name = stock_name.replace("CTask", "CasyncioTask").replace(
        "CFuture", "CasyncioFuture"
    )
    if not name.startswith("Casyncio"):
        name = "Casyncio" + name
    return name


def _bind_tasks(module, casyncio, bindings):
    if not hasattr(casyncio, "Task") or not hasattr(casyncio, "Future"):
        return
    from asyncio import futures, tasks

    Task, Future = casyncio.Task, casyncio.Future
    py_task, py_future = tasks._PyTask, futures._PyFuture
    plain = [
        ("CTask_CFuture_Tests", Task, Future),
        ("CTask_PyFuture_Tests", Task, py_future),
        ("PyTask_CFuture_Tests", py_task, Future),
    ]
    for stock_name, task, future in plain:
        _derive(
            module,
            stock_name,
            _casyncio_names(stock_name),
            {"Task": task, "Future": future},
            bindings,
        )
    # The stock *Subclass* classes were made by the add_subclass_tests
    # decorator, which replaced Task/Future by subclasses of the stock types
    # and added a test: redo that on the casyncio types.
    subclassed = [
        ("CTask_CFuture_SubclassTests", Task, Future),
        ("CTaskSubclass_PyFuture_Tests", Task, py_future),
        ("PyTask_CFutureSubclass_Tests", py_task, Future),
    ]
    add_subclass_tests = getattr(module, "add_subclass_tests", None)
    for stock_name, task, future in subclassed:
        if add_subclass_tests is None:
            bindings.append(Binding(None, stock_name, "no add_subclass_tests"))
            continue
        cls = _derive(
            module,
            stock_name,
            _casyncio_names(stock_name),
            {"Task": task, "Future": future},
            bindings,
        )
        if cls is not None:
            add_subclass_tests(cls)

    # current_task() (asyncio's C function) seen from inside casyncio Tasks.
    _derive(
        module,
        "CCurrentLoopTests",
        "CasyncioCurrentLoopTests",
        {"new_task": lambda self, coro: Task(coro, loop=self.loop)},
        bindings,
    )


def _bind_futures(module, casyncio, bindings):
    if not hasattr(casyncio, "Future"):
        return
    Future = casyncio.Future

    class CasyncioSubFuture(Future):
        pass

    _derive(module, "CFutureTests", "CasyncioFutureTests", {"cls": Future}, bindings)
    _derive(
        module,
        "CSubFutureTests",
        "CasyncioSubFutureTests",
        {"cls": CasyncioSubFuture},
        bindings,
    )

    def sub_future(self):
        class CasyncioSubFuture(Future):
            pass

        return CasyncioSubFuture(loop=self.loop)

    _derive(
        module,
        "CFutureDoneCallbackTests",
        "CasyncioFutureDoneCallbackTests",
        {"_new_future": lambda self: Future(loop=self.loop)},
        bindings,
    )
    _derive(
        module,
        "CSubFutureDoneCallbackTests",
        "CasyncioSubFutureDoneCallbackTests",
        {"_new_future": sub_future},
        bindings,
    )
    _derive(
        module,
        "CFutureInheritanceTests",
        "CasyncioFutureInheritanceTests",
        {"_get_future_cls": lambda self: Future},
        bindings,
    )


def _bind_futures2(module, casyncio, bindings):
    if not hasattr(casyncio, "Task"):
        return
    # test_futures2.CFutureTests tests tasks._CTask (despite its name).
    _derive(
        module, "CFutureTests", "CasyncioFutureTests", {"cls": casyncio.Task}, bindings
    )


def _bind_eager(module, casyncio, bindings):
    if not hasattr(casyncio, "Task"):
        return
    for stock_name in (
        "CEagerTaskFactoryLoopTests",
        "NonEagerCTaskTests",
        "EagerCTaskTests",
    ):
        new_name = "Casyncio" + stock_name.replace("CTask", "Task").lstrip("C")
        _derive(module, stock_name, new_name, {"Task": casyncio.Task}, bindings)


BINDERS = {
    "test_events": _bind_events,
    "test_sock_lowlevel": _bind_create_event_loop,
    "test_sendfile": _bind_create_event_loop,
    "test_server": _new_loop_binder(
        "SelectorStartServerTests", "CasyncioStartServerTests"
    ),
    "test_buffered_proto": _new_loop_binder(
        "BufferedProtocolSelectorTests", "CasyncioBufferedProtocolTests"
    ),
    "test_sslproto": _new_loop_binder("SelectorStartTLSTests", "CasyncioStartTLSTests"),
    "test_subprocess": _bind_subprocess,
    "test_tasks": _bind_tasks,
    "test_futures": _bind_futures,
    "test_futures2": _bind_futures2,
    "test_eager_task_factory": _bind_eager,
}
assert tuple(BINDERS) == MODULES


def bind(module_name, module, casyncio):
    """Generate the casyncio classes of one test module: a list of Binding."""
    bindings = []
    binder = BINDERS.get(module_name)
    if binder is not None:
        binder(module, casyncio, bindings)
    return bindings
