"""Stock-passing tests of test.test_asyncio that are expected to fail on
casyncio, and why.  Read by runner.py.

EXPECTED_FAILURES maps a section to {pattern: reason}:

  "all"            entries for every Python;
  "3.12"           entries for one Python version;
  "3.12+"          entries for that version and later ones;
  "asan"           entries for runs under AddressSanitizer (the sanitizer
                   run of .ci/run), any version;
  "bugs"           the same sections again, for failures that are casyncio
                   bugs being fixed (reason "casyncio bug, being fixed: ...").
                   Listed only so that CI keeps telling new failures from
                   known ones meanwhile: fix them, do not add to them.

A pattern is a test id without the "test.test_asyncio." prefix
("test_events.CasyncioEventLoopTests.test_create_server"), or a glob over
ids ("test_streams.StreamTests.*", "*.test_sock_sendfile_*").  A pattern may
start with "default:" or "parametrised:" to apply to one mode only.  Exact
ids win over patterns, longer patterns over shorter ones.

A reason is a string, or a dict {"reason": ..., "note": ..., "run": False}:
"note" says what fails when the reason is a capability's title; "run": False
is for a test that is not run at all on casyncio (it hangs, or crashes,
without the capability): it counts as an expected failure, and "listed and
not run" in the summary shows how many such entries there are.  Take
"run": False off with the capability.

A reason that is the title of a pending capability (PENDING) marks the entry
as waiting for that capability: such failures do not count against the 99.5%
bar, and may be hangs or crashes.  Every other entry must say why the test
cannot pass on a loop that is not asyncio's own (it inspects selector-loop
internals, it asserts a stock-only private attribute...): a crash or a hang
is never expected of those.

A listed test that passes is reported ("listed but passing"): remove it.
When a capability lands, remove it from PENDING and delete its entries; the
run then shows what still fails.  `runner.py --suggest` prints entries for
the unexpected failures of a run, with the capability's title where a
NotImplementedError of a pending capability ended the test.
"""

SENDFILE_IMPL = "calls _UnixSelectorEventLoop._sock_sendfile_native_impl, a private step of the selector loop's sendfile (casyncio's sendfile loop is C, with no such method)"

# Capabilities that have not landed: their titles as reasons (none left:
# UDP, pipes, subprocesses, signals and TLS have all landed, and their
# entries are gone).
PENDING = ()

# For `runner.py --suggest`: the loop methods each pending capability adds
# (casyncio raises NotImplementedError for them until then).
CAPABILITY_OF_METHOD = {}


EXPECTED_FAILURES = {
    "asan": {
        "test_unix_events.TestFork.*": {
            "reason": "forks while other threads run: under AddressSanitizer the child can deadlock inside ASan's own runtime (tests/test_loop_faults.py's fork test hung so on the stock loop); the normal runs run them",
            "run": False,
        },
    },
    "all": {
        # test_events
        "test_events.CasyncioEventLoopTests.test_internal_fds": "asserts loop._internal_fds, a BaseSelectorEventLoop internal (the test skips itself on any other loop)",
        "test_events.CasyncioEventLoopTests.test_timeout_rounding": "instruments loop._run_once, a private method of asyncio's BaseEventLoop: casyncio's loop iteration is in C, with no Python-level _run_once to wrap",
        # test_unix_events
        "test_unix_events.SelectorEventLoopUnixSockSendfileTests.test_sock_sendfile_blocking_error": SENDFILE_IMPL,
        "test_unix_events.SelectorEventLoopUnixSockSendfileTests.test_sock_sendfile_cancel1": SENDFILE_IMPL,
        "test_unix_events.SelectorEventLoopUnixSockSendfileTests.test_sock_sendfile_cancel2": SENDFILE_IMPL,
        "test_unix_events.SelectorEventLoopUnixSockSendfileTests.test_sock_sendfile_exception": SENDFILE_IMPL,
        "test_unix_events.SelectorEventLoopUnixSockSendfileTests.test_sock_sendfile_os_error_first_call": SENDFILE_IMPL,
        "test_unix_events.SelectorEventLoopUnixSockSendfileTests.test_sock_sendfile_os_error_next_call": SENDFILE_IMPL,
        "test_unix_events.SelectorEventLoopUnixSockSendfileTests.test_sock_sendfile_not_available": "patches asyncio.unix_events.os to hide os.sendfile; casyncio calls sendfile(2) from C, out of the patch's reach",
    },
    "3.11": {},
    "3.12": {},
    "3.12+": {},
    "3.13": {},
    "3.14+": {
        "accelerated:test_graph.TestCallStack*.test_stack_as_completed*": "accelerated mode only: as_completed() waits in its Queue's get(), and the awaiting task's stack that asyncio.graph captures lists the coroutine frames along cr_await; the C Queue.get() has no Python frame, so the stack lacks its 'a get' line (the rest, and the awaited-by edge of gh-156523 these tests are about, is as asyncio's)",
        "test_graph.TestCallStackC.test_stack_future": "its tasks await an _asyncio.Future (the test's asyncio.Future()), and _asyncio records only its own Task as a waiter of its Future (future_add_to_awaited_by is a no-op for any other), so the edge from a casyncio task to it cannot be kept",
        "test_ssl.TestSSL.test_remote_shutdown_receives_trailing_data_on_slow_socket": {
            "reason": "reaches into asyncio's selector transport: reads its _read_ready_cb and replaces its _sock with a Python wrapper whose send() fakes a full buffer; casyncio's C transport has neither, so the faked write never happens and the test's server waits for data until it times out",
            "run": False,
        },
    },
    # casyncio bugs in landed capabilities: none so far.
    "bugs": {
        "all": {},
    },
}
