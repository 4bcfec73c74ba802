"""One conformance run: one module of test.test_asyncio, in this process.

Started by runner.py, one process per (module, implementation, mode), so that
a crash or a hang ends only this process.  It writes one JSON record per line
to --out as it goes (flushed after each), so that the tests completed before a
crash are known:

    {"event": "hello", ...}            interpreter and casyncio in use
    {"event": "binding", ...}          parametrised mode: generated class
    {"event": "tests", "ids": [...]}   every test about to run, in order
    {"event": "start", "id": ...}
    {"event": "end", "id": ..., "outcome": ..., "text": ..., "time": ...}
    {"event": "fixture_error", "id": ..., "text": ...}
    {"event": "done", "loops": N}      casyncio loops created (default mode)
    {"event": "module_skip", ...} / {"event": "fatal", ...}

outcome is one of pass, fail, error, skip, xfail (unittest expected failure)
and xpass (unittest unexpected success).

A test that runs longer than --test-timeout seconds (or the time between two
tests, or before the first, exceeding --fixture-timeout) makes faulthandler
dump every thread's stack to stderr and exit the process: runner.py reads
that as a hang of the test in progress.

Modes:
  default        the whole module, with casyncio's policy made the default
                 (impl=casyncio) or untouched (impl=stock);
  parametrised   only the classes bindings.py generates (impl=casyncio).
"""

from __future__ import annotations

import argparse
import faulthandler
import fnmatch
import importlib
import importlib.util
import json
import os
import signal
import sys
import time
import traceback
import unittest
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PACKAGE = "test.test_asyncio"
TEXT_LIMIT = 4000


def _short(test_id):
    prefix = PACKAGE + "."
    return test_id[len(prefix) :] if test_id.startswith(prefix) else test_id


def _clip(text):
    if len(text) <= TEXT_LIMIT:
        return text
    half = TEXT_LIMIT // 2
    return text[:half] + "\n[... clipped ...]\n" + text[-half:]


def _load_sibling(name):
    path = os.path.join(HERE, name + ".py")
    spec = importlib.util.spec_from_file_location("_casyncio_conformance_" + name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def import_casyncio():
    """casyncio from CASYNCIO_CONFORMANCE_PATH if set, else as installed,
    else from this checkout."""
    path = os.environ.get("CASYNCIO_CONFORMANCE_PATH")
    if path:
        sys.path.insert(0, path)
        import casyncio

        return casyncio
    try:
        import casyncio
    except ModuleNotFoundError as exc:
        if exc.name != "casyncio":
            raise
        sys.path.insert(0, REPO)
        import casyncio
    return casyncio


class LoopCounter:
    """Counts casyncio loops created in this process."""

    def __init__(self, casyncio):
        self.count = 0
        loop_cls = casyncio.Loop
        original = loop_cls.__init__

        def counting_init(loop, *args, **kwargs):
            self.count += 1
            original(loop, *args, **kwargs)

        try:
            loop_cls.__init__ = counting_init
            self.how = "Loop.__init__"
        except TypeError:
            # A static type: count the loops made by the policy instead.
            self.how = "policy"
            policy_cls = casyncio.EventLoopPolicy
            new_loop = policy_cls.new_event_loop

            def counting_new_event_loop(policy):
                self.count += 1
                return new_loop(policy)

            policy_cls.new_event_loop = counting_new_event_loop


def make_casyncio_default(casyncio):
    """Make casyncio the loop of every policy-made loop in this process, even
    after a test resets the policy with set_event_loop_policy(None) (which
    makes asyncio instantiate asyncio.DefaultEventLoopPolicy anew)."""
    import asyncio
    import asyncio.events
    import asyncio.unix_events

    policy_cls = casyncio.EventLoopPolicy
    if sys.version_info >= (3, 14):
        # asyncio.DefaultEventLoopPolicy is a module __getattr__ (it warns)
        # that returns this; the policy functions' private twins do not warn.
        asyncio.unix_events._DefaultEventLoopPolicy = policy_cls
        asyncio.events._set_event_loop_policy(policy_cls())
        return
    asyncio.DefaultEventLoopPolicy = policy_cls
    asyncio.unix_events.DefaultEventLoopPolicy = policy_cls
    if hasattr(asyncio.events, "DefaultEventLoopPolicy"):
        asyncio.events.DefaultEventLoopPolicy = policy_cls
    asyncio.set_event_loop_policy(policy_cls())


class RecordingResult(unittest.TestResult):
    def __init__(self, emit, test_timeout, fixture_timeout):
        super().__init__()
        self.emit = emit
        self.test_timeout = test_timeout
        self.fixture_timeout = fixture_timeout
        self.current = None  # the test started and not stopped
        self.outcome = None
        self.text = []
        self.started = 0.0

    def _arm(self, seconds):
        faulthandler.dump_traceback_later(seconds, exit=True, file=sys.__stderr__)

    def startTest(self, test):
        super().startTest(test)
        self.current = test
        self.outcome = None
        self.text = []
        self.started = time.monotonic()
        self.emit(event="start", id=_short(test.id()))
        self._arm(self.test_timeout)

    def stopTest(self, test):
        self._arm(self.fixture_timeout)
        super().stopTest(test)
        if test is not self.current:
            return
        # Only failing subtests end a test without a final outcome.
        outcome = self.outcome or "fail"
        self.emit(
            event="end",
            id=_short(test.id()),
            outcome=outcome,
            text=_clip("\n".join(self.text)),
            time=round(time.monotonic() - self.started, 3),
        )
        self.current = None

    def _set(self, test, outcome, text=""):
        if test is not self.current:
            if isinstance(test, unittest.suite._ErrorHolder):
                # setUpModule/setUpClass/tearDownClass/tearDownModule
                event = "fixture_skip" if outcome == "skip" else "fixture_error"
                self.emit(event=event, id=_short(test.id()), text=_clip(text))
            else:
                # A test reported without startTest (3.12 skips that way).
                self.emit(
                    event="end",
                    id=_short(test.id()),
                    outcome=outcome,
                    text=_clip(text),
                    time=0,
                )
            return
        # The first failure wins over a later one (an error in tearDown after
        # a failed assertion is still a failed test).
        if self.outcome in (None, "pass"):
            self.outcome = outcome
        elif outcome in ("fail", "error") and self.outcome not in ("fail", "error"):
            self.outcome = outcome
        if text:
            self.text.append(text)

    def _err_text(self, test, err):
        try:
            return self._exc_info_to_string(err, test)
        except Exception:
            return "".join(traceback.format_exception(*err))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._set(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set(test, "fail", self._err_text(test, err))

    def addError(self, test, err):
        super().addError(test, err)
        self._set(test, "error", self._err_text(test, err))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._set(test, "skip", str(reason))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._set(test, "xfail")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set(test, "xpass")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._set(test, "fail" if failed else "error", self._err_text(subtest, err))


def _die_with_parent():
    """Linux: be killed if runner.py dies (its tests' children are killed
    with this process's group by runner.py)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _flatten(item)
        else:
            yield item


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", required=True)
    parser.add_argument("--impl", choices=("stock", "casyncio"), required=True)
    parser.add_argument(
        "--mode", choices=("default", "parametrised", "accelerated"), default="default"
    )
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--exclude",
        help='a JSON file: {"ids": [test ids not to run], "unrun": [patterns '
        'of tests to report as "unrun" without running them]}',
    )
    parser.add_argument("--test-timeout", type=float, default=30.0)
    parser.add_argument("--fixture-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)

    out = open(args.out, "a", encoding="utf-8")

    def emit(**record):
        out.write(json.dumps(record) + "\n")
        out.flush()

    _die_with_parent()
    # A process started with SIGINT ignored (a background job of a shell, some
    # CI runners) keeps it ignored; tests of KeyboardInterrupt handling
    # (test_runners' interrupt_self) need Python's usual handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    faulthandler.enable(file=sys.__stderr__)
    faulthandler.dump_traceback_later(args.fixture_timeout, exit=True)
    emit(
        event="hello",
        python=sys.version.split()[0],
        executable=sys.executable,
        module=args.module,
        impl=args.impl,
        mode=args.mode,
        pid=os.getpid(),
    )

    casyncio = None
    counter = None
    if args.impl == "casyncio":
        try:
            casyncio = import_casyncio()
        except BaseException:
            emit(event="fatal", kind="casyncio-import", text=traceback.format_exc())
            return 3
        emit(
            event="casyncio",
            path=os.path.dirname(casyncio.__file__),
            task=hasattr(casyncio, "Task"),
            future=hasattr(casyncio, "Future"),
        )
        counter = LoopCounter(casyncio)
        if args.mode in ("default", "accelerated"):
            make_casyncio_default(casyncio)
        if args.mode == "accelerated":
            emit(event="accelerated", names=casyncio.accelerate())

    name = f"{PACKAGE}.{args.module}"
    try:
        module = importlib.import_module(name)
    except unittest.SkipTest as exc:
        emit(event="module_skip", reason=str(exc))
        return 0
    except BaseException:
        emit(event="fatal", kind="module-import", text=traceback.format_exc())
        return 3

    loader = unittest.TestLoader()
    if args.mode == "parametrised":
        if casyncio is None:
            emit(event="fatal", kind="usage", text="parametrised needs casyncio")
            return 2
        bindings = _load_sibling("bindings")
        suite = unittest.TestSuite()
        try:
            made = bindings.bind(args.module, module, casyncio)
        except BaseException:
            emit(event="fatal", kind="bindings", text=traceback.format_exc())
            return 3
        for binding in made:
            emit(
                event="binding",
                cls=binding.cls.__name__ if binding.cls else None,
                stock=binding.stock,
                note=binding.note,
            )
            if binding.cls is not None:
                suite.addTests(loader.loadTestsFromTestCase(binding.cls))
    else:
        suite = loader.loadTestsFromModule(module)

    tests = list(_flatten(suite))
    unrun = []
    if args.exclude:
        with open(args.exclude, encoding="utf-8") as f:
            exclude = json.load(f)
        excluded = set(exclude.get("ids", ()))
        tests = [t for t in tests if _short(t.id()) not in excluded]
        patterns = exclude.get("unrun", ())
        unrun = [
            t
            for t in tests
            if any(fnmatch.fnmatchcase(_short(t.id()), p) for p in patterns)
        ]
        tests = [t for t in tests if t not in unrun]
    emit(event="tests", ids=[_short(t.id()) for t in unrun + tests])
    for test in unrun:
        emit(
            event="end",
            id=_short(test.id()),
            outcome="unrun",
            text="not run: listed in expected_failures.py with run=False",
            time=0,
        )

    result = RecordingResult(emit, args.test_timeout, args.fixture_timeout)
    with warnings.catch_warnings():
        if not sys.warnoptions:
            # as unittest's TextTestRunner does
            warnings.simplefilter("default")
        unittest.TestSuite(tests).run(result)
    emit(
        event="done",
        loops=counter.count if counter else 0,
        loops_counted_by=counter.how if counter else None,
        tests_run=result.testsRun,
    )
    out.close()
    # The watchdog stays armed through interpreter shutdown: a crash or a
    # hang there (left-over threads, a finaliser) is reported by runner.py
    # as the module's, after "done".
    result._arm(args.fixture_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
