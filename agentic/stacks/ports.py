"""Ports: find a free one, and say who holds a busy one (the seed's troubleshooting step, automated)."""

from __future__ import annotations

import socket

import psutil


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_holder(port: int) -> str | None:
    """'pid 1234 (node)' for the process listening on `port`, 'another process' if unknown, None if free.

    A port no one listens on can still be taken: an outgoing connection's local end (the kernel picks those from
    net.ipv4.ip_local_port_range) blocks a bind until it closes, which the answer says.
    """
    client: str | None = None
    try:
        for conn in psutil.net_connections(kind="inet"):
            if not conn.laddr or conn.laddr.port != port:
                continue
            if conn.status == psutil.CONN_LISTEN:
                return _process(conn.pid) if conn.pid else "another process"
            if conn.status != psutil.CONN_TIME_WAIT:
                client = f"a connection's local end ({_process(conn.pid) if conn.pid else 'unknown process'})"
    except psutil.AccessDenied:
        pass
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return client or "another process"
    return None


def _process(pid: int) -> str:
    try:
        return f"pid {pid} ({psutil.Process(pid).name()})"
    except psutil.Error:
        return f"pid {pid}"
