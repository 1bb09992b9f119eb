"""Which addresses an upstream may point at (issue #24): the hub connects wherever a server's URL says, so a
server definition is a way to make the hub call into its own network (SSRF).

- always refused: link-local addresses (`169.254.0.0/16`, `fe80::/10`) — the cloud metadata services
  (`169.254.169.254`, `metadata.google.internal`) live there — and the other providers' metadata addresses;
- refused when MCP_HUB_BLOCK_PRIVATE_UPSTREAMS is true: private ranges (`10/8`, `172.16/12`, `192.168/16`,
  `100.64/10`, `fc00::/7`). Off by default: a hub beside its services on a private network is the usual setup;
- loopback (`127.0.0.0/8`, `::1`) stays allowed: the sandbox, the tests and `python -m agentic.hub` beside the
  simulators use it;
- MCP_HUB_ALLOWED_UPSTREAMS (comma-separated addresses, networks or host names) allows what the rules above refuse.

Checked twice: the literal host at registration (400, nothing stored), and every address the host name resolves to
when the hub connects (a name that resolves to a refused address leaves the server disconnected with the reason).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

BLOCK_PRIVATE_ENV = "MCP_HUB_BLOCK_PRIVATE_UPSTREAMS"
ALLOWED_ENV = "MCP_HUB_ALLOWED_UPSTREAMS"
METADATA = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16", "fe80::/10",       # link-local: AWS, GCP, Azure, OpenStack metadata at 169.254.169.254
    "100.100.100.200/32",                # Alibaba Cloud metadata
    "fd00:ec2::254/128"))                # AWS metadata over IPv6
METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog"})
PRIVATE = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))


HINT = "MCP_HUB_ALLOWED_UPSTREAMS allows an address, network or host name; docs/hub.md"


class UpstreamRefused(ValueError):
    """An upstream URL points at an address the hub does not call; the message says which rule and how to allow it."""

    def __init__(self, host: str, why: str) -> None:
        super().__init__(f"host {host} is {why} ({HINT})")
        self.why = why


def literal_address(host: str) -> Address | None:
    """The address a URL's host is, if it is one: also the forms resolvers accept (`2852039166`, `0xa9.254.169.254`)."""
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


@dataclass(frozen=True)
class EgressPolicy:
    block_private: bool = False
    allowed_networks: tuple[Network, ...] = ()
    allowed_names: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EgressPolicy:
        environ = os.environ if environ is None else environ
        networks: list[Network] = []
        names: set[str] = set()
        for item in (environ.get(ALLOWED_ENV) or "").split(","):
            item = item.strip().lower()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                names.add(item.rstrip("."))
        block = (environ.get(BLOCK_PRIVATE_ENV) or "").strip().lower() in ("1", "true", "yes", "on")
        return cls(block, tuple(networks), frozenset(names))

    def _refused_address(self, address: Address) -> str | None:
        if any(address in network for network in self.allowed_networks):
            return None
        if any(address in network for network in METADATA):
            return "a link-local / cloud metadata address, never an upstream"
        if self.block_private and any(address in network for network in PRIVATE):
            return f"a private address ({BLOCK_PRIVATE_ENV} is on)"
        return None

    def check_host(self, host: str, addresses: Iterable[str] = ()) -> None:
        """UpstreamRefused if `host`, or any of the `addresses` it resolves to, is refused."""
        name = host.strip("[]").lower().rstrip(".")
        if name in self.allowed_names:
            return
        if name in METADATA_NAMES:
            raise UpstreamRefused(name, "a cloud metadata service, never an upstream")
        candidates = [literal_address(name), *(literal_address(a) for a in addresses)]
        for address in candidates:
            if address is not None and (why := self._refused_address(address)):
                shown = name if str(address) == name else f"{name} ({address})"
                raise UpstreamRefused(shown, why)

    def check_url(self, url: str) -> None:
        """The registration check: the URL's literal host (no DNS lookup while a request waits)."""
        self.check_host(urlsplit(url).hostname or "")

    async def check_resolved(self, url: str) -> None:
        """The connect check: every address the URL's host resolves to."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            infos = await anyio.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                            type=socket.SOCK_STREAM)
        except OSError:
            infos = []  # unresolvable: the connection attempt reports it
        self.check_host(host, [str(info[4][0]) for info in infos])
