"""Where an outbound webhook may be sent: URL rules and address rules (the SSRF guard).

Pure, except that ``resolve`` looks the host up through an injectable resolver. Subscribers
choose the URL, so without these rules the tracker would POST wherever they point it: its own
database, a cloud metadata service, the office network. The checked addresses travel with the
Destination so that the POST connects to exactly those (see tracker.outbound.http).

Errors:

    DestinationRefused       the URL or an address it resolves to is not allowed
     +-- ResolutionFailed    the host name did not resolve; may be temporary, so a sender
                             catches it first and retries it like a timeout, while a
                             caller that only checks a new subscription refuses it too
"""
from __future__ import annotations

import dataclasses
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., Iterable[tuple]]

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"https": 443, "http": 80}

# Ranges the ipaddress properties below miss or name too vaguely, with the reason shown.
_NAMED_NETWORKS: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("169.254.169.254/32"), "the cloud instance metadata service"),
    (ipaddress.ip_network("fd00:ec2::254/128"), "the AWS instance metadata service (IPv6)"),
    (ipaddress.ip_network("0.0.0.0/8"), "a 'this network' address"),
    (ipaddress.ip_network("255.255.255.255/32"), "the broadcast address"),
    (ipaddress.ip_network("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),
    (ipaddress.ip_network("192.0.0.0/24"), "an IETF protocol assignment"),
    (ipaddress.ip_network("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (ipaddress.ip_network("fec0::/10"), "a site-local address"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

# A host whose last label is a number is an IPv4 address to browsers and to inet_aton
# ("127.1", "0x7f.0.0.1", "2130706433", "017.0.0.1"); only the dotted-quad form is checked
# here, so the other spellings are refused rather than left for the resolver to interpret.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_HOST_NAME = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")


class DestinationRefused(Exception):
    """The URL, or an address its host resolves to, is not a place webhooks may go."""


class ResolutionFailed(DestinationRefused):
    """The host name has no usable address right now (NXDOMAIN, no answer, DNS unreachable)."""


@dataclasses.dataclass(frozen=True)
class AllowedNetwork:
    """A non-public network webhooks may reach anyway, and on which ports.

    ``ports`` is an inclusive (first, last) range; None means the web's default ports only
    (443, and 80 when plain http is allowed), so that allowing a network for a webhook
    receiver does not also open its SSH, Redis or PostgreSQL ports to subscribers.
    """

    network: IPNetwork
    ports: tuple[int, int] | None = None

    def __str__(self) -> str:
        if self.ports is None:
            return str(self.network)
        first, last = self.ports
        ports = "*" if (first, last) == (1, 65535) else str(first) if first == last else f"{first}-{last}"
        network = f"[{self.network}]" if self.network.version == 6 else str(self.network)
        return f"{network}:{ports}"


@dataclasses.dataclass(frozen=True)
class Policy:
    """What the operator allows beyond public HTTPS (for development and tests)."""

    allow_http: bool = False
    # Addresses inside these networks are accepted even when refused_address objects, on
    # the ports each names: e.g. 127.0.0.0/8:8443 for a local receiver, or a VPC range.
    allowed_networks: tuple[AllowedNetwork, ...] = ()

    @property
    def default_ports(self) -> tuple[int, ...]:
        """The ports an allowed network that names none is open on."""
        return (443, 80) if self.allow_http else (443,)

    @classmethod
    def from_settings(cls, allow_http: bool, allowed: str) -> Policy:
        """The policy from settings; ``allowed`` is a comma-separated list ("" for none).

        Each entry is a network and optionally its ports: ``10.1.0.0/16`` (ports 443, and 80
        with http), ``127.0.0.0/8:8443``, ``10.0.0.5:8000-8099``, ``[fd00::/8]:8443`` (an IPv6
        network in brackets when a port follows), or ``...:*`` for every port.
        Raises ValueError naming the entry that is not one, so a typo in configuration
        stops the app instead of silently allowing nothing (or too much).
        """
        entries = [part.strip() for part in allowed.split(",")]
        return cls(allow_http=allow_http, allowed_networks=tuple(_allowed_network(e) for e in entries if e))

    def allows(self, ip: IPAddress, port: int) -> bool:
        """True if ``ip`` lies inside an explicitly allowed network that is open on ``port``."""
        return any(ip in allowed.network and self._open(allowed, port) for allowed in self.allowed_networks)

    def refusal(self, ip: IPAddress, port: int) -> str | None:
        """Why ``ip``:``port`` may not receive webhooks ("10.0.0.1 is a private address"), or None."""
        reason = refused_address(ip)
        if reason is None or self.allows(ip, port):
            return None
        networks = [allowed for allowed in self.allowed_networks if ip in allowed.network]
        if networks:
            ports = ", ".join(self._ports_text(allowed) for allowed in networks)
            return (f"{reason}; the allowed networks admit it on port(s) {ports} only, not {port} "
                    f"(name the port in TRACKER_WEBHOOKS_ALLOWED_NETWORKS, e.g. "
                    f"{AllowedNetwork(networks[0].network, (port, port))})")
        return reason

    def _open(self, allowed: AllowedNetwork, port: int) -> bool:
        if allowed.ports is None:
            return port in self.default_ports
        return allowed.ports[0] <= port <= allowed.ports[1]

    def _ports_text(self, allowed: AllowedNetwork) -> str:
        if allowed.ports is None:
            return " and ".join(map(str, self.default_ports))
        first, last = allowed.ports
        return str(first) if first == last else f"{first}-{last}"


def _allowed_network(entry: str) -> AllowedNetwork:
    """One entry of the allowed-networks setting (see Policy.from_settings)."""
    if entry.startswith("["):
        network, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"allowed webhook networks: {entry!r} is not a network: write [IPv6 network]:port")
        ports = rest[1:] if rest else None
    elif entry.count(":") == 1:  # an IPv4 network and its ports (an IPv6 one has several colons)
        network, ports = entry.split(":")
    else:
        network, ports = entry, None
    try:
        parsed = ipaddress.ip_network(network)
    except ValueError as exc:
        raise ValueError(f"allowed webhook networks: {entry!r} is not a network ({exc})") from None
    return AllowedNetwork(parsed, None if ports is None else _port_range(entry, ports))


def _port_range(entry: str, text: str) -> tuple[int, int]:
    if text == "*":
        return 1, 65535
    first, dash, last = text.partition("-")
    try:
        low, high = int(first), int(last) if dash else int(first)
    except ValueError:
        low = high = -1
    if not (1 <= low <= high <= 65535) or not text.replace("-", "").isdigit():
        raise ValueError(f"allowed webhook networks: {entry!r}: the port must be a number in 1-65535, "
                         f"a range like 8000-8099, or * (got {text!r})")
    return low, high


@dataclasses.dataclass(frozen=True)
class Destination:
    """A checked URL and the checked addresses to connect to, in resolver order."""

    scheme: str
    host: str  # lower-case, no brackets, no trailing dot: the TLS server name and Host header
    port: int
    path_and_query: str
    addresses: tuple[str, ...]


def validate_url(url: str, policy: Policy) -> SplitResult:
    """``url`` split, if it may receive webhooks; DestinationRefused saying why if not.

    HTTPS only (HTTP too when policy.allow_http), a host, no user:password, a port in
    1..65535, no fragment. A host written as an IP address is checked like a resolved one.
    """
    if len(url) > MAX_URL_LENGTH:
        raise DestinationRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        # urlsplit silently drops some of these; what we check must be what we send.
        raise DestinationRefused("the URL contains white space or control characters")
    if not url.isascii():
        # Sent as-is on the request line, so it must already be ASCII.
        raise DestinationRefused(
            "the URL must be ASCII: percent-encode other characters in the path and query, "
            "and write an international host name in its xn-- form"
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL" for an unclosed bracket
        raise DestinationRefused(f"the URL cannot be parsed: {exc}") from None
    allowed_schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in allowed_schemes:
        raise DestinationRefused(
            f"the URL scheme must be {' or '.join(allowed_schemes)}, not {parts.scheme or 'missing'!r}"
        )
    if "@" in parts.netloc:
        raise DestinationRefused("the URL must not contain a user name or password")
    if "#" in url:
        raise DestinationRefused("the URL must not contain a fragment (#...)")
    if not parts.hostname:
        raise DestinationRefused("the URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise DestinationRefused(f"the URL's port is not a number in 1-65535: {parts.netloc!r}") from None
    if port == 0:
        raise DestinationRefused("the URL's port is not a number in 1-65535: 0")
    host = _host(parts)
    literal = _ip_literal(host)
    if literal is not None:
        reason = policy.refusal(literal, port or DEFAULT_PORTS[parts.scheme])
        if reason is not None:
            raise DestinationRefused(f"the URL's host {reason}")
    return parts


def refused_address(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public destination ("10.0.0.1 is a private address"), or None if it is.

    IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo)
    are refused when the address they carry is, since the network may deliver them to it.
    """
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        form, inner = embedded
        inner_reason = _kind(inner)
        if inner_reason is not None:
            return f"{ip} is the {form} form of {inner}, {inner_reason}"
        if form == "IPv4-mapped":
            # Only a host's own socket API uses these; no public DNS answer or URL needs one,
            # and how each Python version judges them differs, so refuse them outright.
            return f"{ip} is an IPv4-mapped IPv6 address (use {inner} itself)"
    kind = _kind(ip)
    return None if kind is None else f"{ip} is {kind}"


def resolve(url: str, policy: Policy, resolver: Resolver = socket.getaddrinfo) -> Destination:
    """Validate ``url``, resolve its host and check every address; the Destination to POST to.

    ``resolver`` is called like socket.getaddrinfo(host, port, type=socket.SOCK_STREAM).
    Refused if ANY address is refused (and outside policy.allowed_networks on this port), not
    only the first: a DNS answer mixing a public and a private address is how rebinding attacks get
    a check to pass on one address and the connection to land on the other.
    """
    parts = validate_url(url, policy)
    host = _host(parts)
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    path_and_query = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    literal = _ip_literal(host)
    if literal is not None:
        addresses: tuple[str, ...] = (str(literal),)
    else:
        addresses = _lookup(host, port, resolver)
        for address in addresses:
            reason = policy.refusal(ipaddress.ip_address(address), port)
            if reason is not None:
                raise DestinationRefused(f"{host} resolves to a refused address: {reason}")
    return Destination(parts.scheme, host, port, path_and_query, addresses)


def _lookup(host: str, port: int, resolver: Resolver) -> tuple[str, ...]:
    try:
        answers = resolver(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        raise ResolutionFailed(f"{host} could not be resolved: {exc}") from None
    addresses: list[str] = []
    for _family, _type, _proto, _canonname, sockaddr in answers:
        try:
            address = str(ipaddress.ip_address(sockaddr[0]))
        except ValueError:
            raise DestinationRefused(
                f"{host} resolves to something that is not an IP address: {sockaddr[0]!r}") from None
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise ResolutionFailed(f"{host} resolves to no address")
    return tuple(addresses)


def _host(parts: SplitResult) -> str:
    """The host as it is connected to and named in TLS: no trailing dot, checked characters."""
    host = (parts.hostname or "").rstrip(".")
    if "[" in parts.netloc:
        if "%" in host:
            raise DestinationRefused("the URL's IPv6 address must not carry a zone (%...)")
        if not isinstance(_ip_literal(host), ipaddress.IPv6Address):
            raise DestinationRefused(f"the URL's bracketed host is not an IPv6 address: {host!r}")
        return host
    if not _HOST_NAME.match(host):
        raise DestinationRefused(f"the URL's host is not a valid host name: {host!r}")
    if _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]) and _ip_literal(host) is None:
        raise DestinationRefused(f"the URL's host is an IPv4 address in a non-standard form: {host!r}")
    return host


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _embedded_ipv4(ip: IPAddress) -> tuple[str, ipaddress.IPv4Address] | None:
    """(form, IPv4 address) when ``ip`` is an IPv6 address that carries an IPv4 one."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    if ip.teredo is not None:
        return "Teredo", ip.teredo[1]
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64:
        return "NAT64", low32
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # not "::" or "::1", which are themselves
        return "IPv4-compatible", low32
    return None


def _kind(ip: IPAddress) -> str | None:
    """What kind of non-public address ``ip`` is ("a loopback address"), or None if public."""
    for network, name in _NAMED_NETWORKS:
        if ip in network:
            return name
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        # The catch-all: whatever the standard library does not call globally routable.
        return "not a globally routable address"
    return None
