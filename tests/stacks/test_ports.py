"""Who holds a port: a listener by name, an outgoing connection's local end as such, a free port as free."""

from __future__ import annotations

import os
import socket

from agentic.stacks.ports import free_port, port_holder


def test_a_listener_is_named_by_pid():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert port_holder(server.getsockname()[1]) == f"pid {os.getpid()} ({_name()})"


def test_a_connections_local_end_is_told_apart_from_a_listener():
    # CI's Docker suite once failed on a port no one listened on: a client connection held it for a moment.
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client.connect(server.getsockname())
        accepted, _ = server.accept()
        with accepted:
            holder = port_holder(client.getsockname()[1])
    assert holder == f"a connection's local end (pid {os.getpid()} ({_name()}))"


def test_a_free_port_is_free():
    assert port_holder(free_port()) is None


def _name() -> str:
    import psutil

    return psutil.Process().name()
