"""Stock-passing tests of test.test_asyncio that are expected to fail on
casyncio, and why.  Read by runner.py.

EXPECTED_FAILURES maps a section to {pattern: reason}:

  "all"            entries for every Python;
  "3.12"           entries for one Python version;
  "3.12+"          entries for that version and later ones;
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
as waiting for that capability: such failures do not count against the 98%
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

# Titles of the issues that bring the capabilities casyncio lacks so far.
NETWORKING = "Networking: sock_* methods, TCP and Unix transports, servers, streams"
UDP_ETC = "UDP, pipes, subprocesses, signals and TLS"

# Capabilities that have not landed: their titles as reasons.
PENDING = (NETWORKING, UDP_ETC)

# For `runner.py --suggest`: the loop methods each pending capability adds
# (casyncio raises NotImplementedError for them until then).
CAPABILITY_OF_METHOD = {
    **dict.fromkeys(
        (
            "sock_recv",
            "sock_recv_into",
            "sock_recvfrom",
            "sock_recvfrom_into",
            "sock_sendall",
            "sock_sendto",
            "sock_connect",
            "sock_accept",
            "sock_sendfile",
            "create_connection",
            "create_server",
            "create_unix_connection",
            "create_unix_server",
            "connect_accepted_socket",
            "sendfile",
        ),
        NETWORKING,
    ),
    **dict.fromkeys(
        (
            "start_tls",
            "create_datagram_endpoint",
            "connect_read_pipe",
            "connect_write_pipe",
            "subprocess_exec",
            "subprocess_shell",
            "add_signal_handler",
            "remove_signal_handler",
        ),
        UDP_ETC,
    ),
}


EXPECTED_FAILURES = {
    "all": {
        # test_buffered_proto
        "test_buffered_proto.CasyncioBufferedProtocolTests.test_buffered_proto_create_connection": NETWORKING,
        # test_events
        "test_events.CasyncioEventLoopTests.test_add_signal_handler": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_bidirectional_pty": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_connect_accepted_socket": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_connect_accepted_socket_ssl_timeout_for_plain_socket": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_connection": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_connection_local_addr": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_connection_local_addr_in_use": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_connection_local_addr_nomatch_family": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_connection_local_addr_skip_different_family": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_datagram_endpoint": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_create_datagram_endpoint_ipv6": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_create_datagram_endpoint_sock": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_create_server": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_server_addr_in_use": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_server_dual_stack": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_server_multiple_hosts_ipv4": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_server_multiple_hosts_ipv6": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_server_reuse_port": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_server_sock": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_server_ssl": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_server_ssl_match_failed": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_server_ssl_verified": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_server_ssl_verify_failed": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_ssl_connection": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_ssl_unix_connection": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_unix_connection": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_unix_server": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_unix_server_path_socket_error": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_unix_server_ssl": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_unix_server_ssl_verified": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_create_unix_server_ssl_verify_failed": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_internal_fds": "asserts loop._internal_fds, a BaseSelectorEventLoop internal (the test skips itself on any other loop)",
        "test_events.CasyncioEventLoopTests.test_prompt_cancellation": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_read_pipe": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_read_pty_output": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_server_close": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_signal_handling_args": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_signal_handling_while_selecting": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_ssl_connect_accepted_socket": NETWORKING,
        "test_events.CasyncioEventLoopTests.test_subprocess_close_after_finish": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_close_client_stream": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_exec": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_exec_invalid_args": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_exitcode": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_interactive": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_kill": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_send_signal": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_shell": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_shell_invalid_args": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_stderr": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_stderr_redirect_to_stdout": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_terminate": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_subprocess_wait_no_same_group": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_timeout_rounding": "instruments loop._run_once, a private method of asyncio's BaseEventLoop: casyncio's loop iteration is in C, with no Python-level _run_once to wrap",
        "test_events.CasyncioEventLoopTests.test_unclosed_pipe_transport": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_write_pipe": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_write_pipe_disconnect_on_close": UDP_ETC,
        "test_events.CasyncioEventLoopTests.test_write_pty": UDP_ETC,
        "test_events.TestCGetEventLoop.*": UDP_ETC,
        "test_events.TestPyGetEventLoop.*": UDP_ETC,
        "test_events.TestServer.test_get_loop": NETWORKING,
        # test_sendfile
        "test_sendfile.CasyncioEventLoopTests.test_sendfile": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_close_peer_after_receiving": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_close_peer_in_the_middle_of_receiving": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_fallback_close_peer_in_the_middle_of_receiving": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_for_closing_transp": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_force_fallback": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_force_unsupported_native": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_no_fallback_for_fallback_transport": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_not_supported": UDP_ETC,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_partial": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_pre_and_post_data": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_prevents_bare_write": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_ssl": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_ssl_close_peer_after_receiving": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_ssl_partial": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sendfile_ssl_pre_and_post_data": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sock_sendfile_mix_with_regular_send": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sock_sendfile_success": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sock_sendfile_with_offset_and_count": NETWORKING,
        "test_sendfile.CasyncioEventLoopTests.test_sock_sendfile_zero_size": NETWORKING,
        # test_server
        "test_server.CasyncioStartServerTests.*": NETWORKING,
        # test_sock_lowlevel
        "test_sock_lowlevel.CasyncioEventLoopTests.test_create_connection_sock": NETWORKING,
        # test_ssl
        "test_ssl.TestSSL.test_connect_accepted_socket": {
            "reason": NETWORKING,
            "run": False,
        },
        "test_ssl.TestSSL.test_connect_timeout_warning": NETWORKING,
        "test_ssl.TestSSL.test_create_connection_memory_leak": NETWORKING,
        "test_ssl.TestSSL.test_create_connection_ssl_1": NETWORKING,
        "test_ssl.TestSSL.test_create_connection_ssl_failed_certificate": NETWORKING,
        "test_ssl.TestSSL.test_create_connection_ssl_slow_handshake": NETWORKING,
        "test_ssl.TestSSL.test_create_server_ssl_1": NETWORKING,
        "test_ssl.TestSSL.test_create_server_ssl_over_ssl": NETWORKING,
        "test_ssl.TestSSL.test_flush_before_shutdown": NETWORKING,
        "test_ssl.TestSSL.test_handshake_timeout_handler_leak": NETWORKING,
        "test_ssl.TestSSL.test_remote_shutdown_receives_trailing_data": NETWORKING,
        "test_ssl.TestSSL.test_shutdown_cleanly": NETWORKING,
        "test_ssl.TestSSL.test_shutdown_timeout_handler_leak": NETWORKING,
        "test_ssl.TestSSL.test_shutdown_timeout_handler_not_set": NETWORKING,
        "test_ssl.TestSSL.test_ssl_handshake_connection_lost": NETWORKING,
        "test_ssl.TestSSL.test_ssl_handshake_timeout": NETWORKING,
        "test_ssl.TestSSL.test_start_tls_client_buf_proto_1": NETWORKING,
        "test_ssl.TestSSL.test_start_tls_client_corrupted_ssl": NETWORKING,
        "test_ssl.TestSSL.test_start_tls_client_reg_proto_1": NETWORKING,
        "test_ssl.TestSSL.test_start_tls_server_1": NETWORKING,
        "test_ssl.TestSSL.test_start_tls_slow_client_cancel": NETWORKING,
        # test_sslproto
        "test_sslproto.CasyncioStartTLSTests.test_create_connection_memory_leak": NETWORKING,
        "test_sslproto.CasyncioStartTLSTests.test_create_connection_ssl_failed_certificate": NETWORKING,
        "test_sslproto.CasyncioStartTLSTests.test_create_connection_ssl_slow_handshake": NETWORKING,
        "test_sslproto.CasyncioStartTLSTests.test_handshake_timeout": NETWORKING,
        "test_sslproto.CasyncioStartTLSTests.test_start_tls_client_buf_proto_1": NETWORKING,
        "test_sslproto.CasyncioStartTLSTests.test_start_tls_client_corrupted_ssl": NETWORKING,
        "test_sslproto.CasyncioStartTLSTests.test_start_tls_client_reg_proto_1": NETWORKING,
        "test_sslproto.CasyncioStartTLSTests.test_start_tls_server_1": NETWORKING,
        "test_sslproto.CasyncioStartTLSTests.test_start_tls_slow_client_cancel": NETWORKING,
        "test_sslproto.CasyncioStartTLSTests.test_start_tls_wrong_args": UDP_ETC,
        # test_streams
        "test_streams.StreamTests.test_async_writer_api": NETWORKING,
        "test_streams.StreamTests.test_async_writer_api_exception_after_close": NETWORKING,
        "test_streams.StreamTests.test_drain_raises": NETWORKING,
        "test_streams.StreamTests.test_eof_feed_when_closing_writer": NETWORKING,
        "test_streams.StreamTests.test_open_connection": NETWORKING,
        "test_streams.StreamTests.test_open_connection_error": NETWORKING,
        "test_streams.StreamTests.test_open_connection_no_loop_ssl": NETWORKING,
        "test_streams.StreamTests.test_open_unix_connection": NETWORKING,
        "test_streams.StreamTests.test_open_unix_connection_error": NETWORKING,
        "test_streams.StreamTests.test_open_unix_connection_no_loop_ssl": NETWORKING,
        "test_streams.StreamTests.test_read_all_from_pipe_reader": UDP_ETC,
        "test_streams.StreamTests.test_start_server": NETWORKING,
        "test_streams.StreamTests.test_start_tls": NETWORKING,
        "test_streams.StreamTests.test_start_unix_server": NETWORKING,
        "test_streams.StreamTests.test_unclosed_resource_warnings": NETWORKING,
        "test_streams.StreamTests.test_wait_closed_on_close": NETWORKING,
        "test_streams.StreamTests.test_wait_closed_on_close_with_unread_data": NETWORKING,
        # test_subprocess
        "test_subprocess.CasyncioSubprocessFastWatcherTests.*": UDP_ETC,
        "test_subprocess.CasyncioSubprocessPidfdWatcherTests.*": UDP_ETC,
        "test_subprocess.CasyncioSubprocessSafeWatcherTests.*": UDP_ETC,
        "test_subprocess.CasyncioSubprocessThreadedWatcherTests.*": UDP_ETC,
        "test_subprocess.GenericWatcherTests.test_create_subprocess_fails_with_inactive_watcher": UDP_ETC,
        "test_subprocess.SubprocessFastWatcherTests.*": UDP_ETC,
        "test_subprocess.SubprocessPidfdWatcherTests.*": UDP_ETC,
        "test_subprocess.SubprocessSafeWatcherTests.*": UDP_ETC,
        "test_subprocess.SubprocessThreadedWatcherTests.*": UDP_ETC,
        # test_unix_events
        "test_unix_events.PolicyTests.test_child_watcher_replace_mainloop_existing": UDP_ETC,
        "test_unix_events.SelectorEventLoopUnixSockSendfileTests.*": NETWORKING,
        "test_unix_events.TestFunctional.test_add_reader_or_writer_transport_fd": NETWORKING,
    },
    "3.11": {
        # test_streams
        "test_streams.StreamTests.test_unhandled_exceptions": NETWORKING,
    },
    "3.12": {
        # test_streams
        "test_streams.StreamTests.test_unhandled_exceptions": NETWORKING,
    },
    "3.12+": {
        # test_events
        "test_events.CasyncioEventLoopTests.test_create_server_trsock": NETWORKING,
        # test_server
        "test_server.TestServer2.*": NETWORKING,
        # test_subprocess
        "test_subprocess.GenericWatcherTests.test_create_subprocess_with_pidfd": UDP_ETC,
        # test_unix_events
        "test_unix_events.TestFork.test_fork_asyncio_subprocess": UDP_ETC,
        "test_unix_events.TestFork.test_fork_signal_handling": UDP_ETC,
    },
    "3.13": {
        # test_events
        "test_events.CasyncioEventLoopTests.test_datagram_send_to_non_listening_address": UDP_ETC,
        # test_server
        "test_server.UnixServerCleanupTests.test_unix_server_addr_cleanup": NETWORKING,
        "test_server.UnixServerCleanupTests.test_unix_server_cleanup_gone": NETWORKING,
        "test_server.UnixServerCleanupTests.test_unix_server_cleanup_prevented": NETWORKING,
        "test_server.UnixServerCleanupTests.test_unix_server_cleanup_replaced": NETWORKING,
        "test_server.UnixServerCleanupTests.test_unix_server_sock_cleanup": NETWORKING,
        # test_streams
        "test_streams.StreamTests.test_unclosed_server_resource_warnings": NETWORKING,
        "test_streams.StreamTests.test_unhandled_cancel": NETWORKING,
        "test_streams.StreamTests.test_unhandled_exception": NETWORKING,
    },
    # casyncio bugs in landed capabilities: none so far.
    "bugs": {
        "all": {},
    },
}
