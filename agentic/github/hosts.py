"""GitHub web hosts in the one form they are compared in (IDNA A-labels, default port dropped): pure, so Settings
and the issue URL parser both use it without importing each other."""

from __future__ import annotations

import re

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PORT = re.compile(r"[0-9]{1,5}", re.ASCII)
_IPV6 = re.compile(r"\[(?P<host>[0-9A-Fa-f:.]+)\](?::(?P<port>.*))?", re.ASCII | re.DOTALL)


def normalize_host(host: str, port: int | None = None, scheme: str = "https") -> str:
    """`host[:port]` in the form hosts are compared in: lowercase ASCII (IDNA A-labels), default port dropped.

    Raises ValueError for a host that is not a valid DNS name, IPv4 or IPv6 address (IDNA 2008, no mapping:
    full-width or mixed-script tricks are refused rather than folded onto an ASCII name)."""
    import idna

    host = host.strip()
    if not host:
        raise ValueError("empty host")
    if ":" in host:  # IPv6 literal
        if not re.fullmatch(r"[0-9A-Fa-f:.]+", host):
            raise ValueError(f"invalid IPv6 address {host!r}")
        name = f"[{host.lower()}]"
    else:
        if host.isascii():
            ascii_host = host.lower()
        else:
            try:
                ascii_host = idna.encode(host, uts46=False).decode("ascii").lower()
            except idna.IDNAError as exc:
                raise ValueError(f"invalid host name ({exc})") from None
        labels = ascii_host.split(".")
        if len(ascii_host) > 253 or not all(re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", label, re.ASCII)
                                            for label in labels):
            raise ValueError("invalid host name")
        name = ascii_host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        return f"{name}:{port}"
    return name


def web_host(value: str) -> str:
    """`https://HOST[:PORT][/...]`, `HOST:PORT` or `HOST` -> the normalized `host[:port]` (see normalize_host)."""
    value = value.strip()
    scheme = "https"
    if "://" in value:
        scheme, _, value = value.partition("://")
        scheme = scheme.lower()
    authority = re.split(r"[/?#]", value, maxsplit=1)[0].rpartition("@")[2]
    host, port = split_authority(authority)
    return normalize_host(host, port, scheme)


def split_authority(authority: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]`, `[v6]:port` -> (host, port); ValueError on a malformed port."""
    v6 = _IPV6.fullmatch(authority)
    if v6:
        host, port_text = v6["host"], v6["port"]
    elif authority.startswith("["):
        raise ValueError("malformed IPv6 host")
    else:
        host, colon, port_text = authority.partition(":")
        if not colon:
            port_text = None
    if port_text is None:
        return host, None
    if not _PORT.fullmatch(port_text) or not 0 < int(port_text) <= 65535:
        raise ValueError(f"bad port {port_text[:10]!r}")
    return host, int(port_text)
