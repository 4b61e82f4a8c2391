"""Where webhooks may go: URL rules, address rules, and resolution (with a fake resolver)."""
from __future__ import annotations

import ipaddress
import re
import socket

import pytest

from tracker.outbound.destinations import (
    AllowedNetwork,
    Destination,
    DestinationRefused,
    Policy,
    ResolutionFailed,
    refused_address,
    resolve,
    validate_url,
)

PUBLIC = Policy()
LOOPBACK_ALLOWED = Policy.from_settings(True, "127.0.0.0/8:8000")


class FakeResolver:
    """getaddrinfo's shape, answering from a table and remembering what it was asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        self.asked.append((host, port))
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
             (a, port, 0, 0) if ":" in a else (a, port))
            for a in self.answers[host]
        ]


# -- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, why",
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.10.10", "link-local"),
        ("100.64.0.1", "shared"),
        ("100.100.100.200", "shared"),  # Alibaba Cloud's metadata service
        ("0.0.0.0", "this network"),
        ("0.1.2.3", "this network"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("192.0.0.170", "IETF"),
        ("192.0.2.1", "private"),  # documentation (TEST-NET-1)
        ("198.18.0.1", "private"),  # benchmarking
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fd00:ec2::254", "AWS instance metadata"),
        ("ff02::1", "multicast"),
        ("fec0::1", "site-local"),
        ("2001:db8::1", "private"),  # documentation
        ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1, a loopback"),
        ("::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254, the cloud instance metadata"),
        ("::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1, a private"),
        ("::ffff:8.8.8.8", "IPv4-mapped IPv6 address (use 8.8.8.8 itself)"),
        ("::127.0.0.1", "IPv4-compatible form of 127.0.0.1"),
        ("2002:7f00:1::", "6to4 form of 127.0.0.1"),
        ("2002:a9fe:a9fe::1", "6to4 form of 169.254.169.254"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo form of 10.0.0.1"),
        ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"),
        ("64:ff9b:1::1", "local-use NAT64"),
    ],
)
def test_non_public_addresses_are_refused_with_a_reason(address, why):
    reason = refused_address(ipaddress.ip_address(address))

    assert reason is not None
    assert why in reason
    assert reason.startswith(str(ipaddress.ip_address(address)))


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2001:4860:4860::8888", "2002:808:808::1"],
)
def test_public_addresses_are_accepted(address):
    assert refused_address(ipaddress.ip_address(address)) is None


# -- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://example.com/hook", "scheme must be https"),
        ("ftp://example.com/hook", "scheme must be https"),
        ("example.com/hook", "scheme must be https, not 'missing'"),
        ("javascript:alert(1)", "scheme"),
        ("https:///hook", "no host"),
        ("https://user:pass@example.com/hook", "user name or password"),
        ("https://user@example.com/hook", "user name or password"),
        ("https://example.com@127.0.0.1/hook", "user name or password"),
        ("https://example.com:0/hook", "port"),
        ("https://example.com:65536/hook", "port"),
        ("https://example.com:https/hook", "port"),
        ("https://example.com/hook#top", "fragment"),
        ("https://example.com/hook#", "fragment"),
        ("https://exa mple.com/hook", "white space"),
        ("https://example.com/ho\nok", "white space"),
        ("https://example.com/\x00", "control"),
        ("https://bücher.example/hook", "ASCII"),
        ("https://example.com/" + "a" * 2100, "longer than"),
        ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
        ("https://10.1.2.3:8443/hook", "10.1.2.3 is a private address"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[::1]/hook", "::1 is a loopback address"),
        ("https://[::ffff:127.0.0.1]/hook", "IPv4-mapped form of 127.0.0.1"),
        ("https://[fd00:ec2::254]/hook", "AWS instance metadata"),
        ("https://[fe80::1%25eth0]/hook", "zone"),
        ("https://[::1/hook", "cannot be parsed"),
        ("https://127.1/hook", "non-standard form"),
        ("https://2130706433/hook", "non-standard form"),
        ("https://0x7f.0.0.1/hook", "non-standard form"),
        ("https://017.0.0.1/hook", "non-standard form"),
        ("https://exa_mple..com/hook", "not a valid host name"),
    ],
)
def test_urls_refused(url, why):
    with pytest.raises(DestinationRefused) as refused:
        validate_url(url, PUBLIC)

    assert why in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "https://EXAMPLE.com:8443/hooks/delivery?token=abc&x=1",
        "https://example.com",
        "https://example.com./hook",
        "https://xn--bcher-kva.example/hook",
        "https://hooks.example.co.uk/a%20b",
        "https://8.8.8.8/hook",
        "https://[2606:4700:4700::1111]/hook",
    ],
)
def test_urls_accepted(url):
    assert validate_url(url, PUBLIC).scheme == "https"


def test_http_only_when_the_policy_allows_it():
    assert validate_url("http://example.com/hook", Policy(allow_http=True)).scheme == "http"
    with pytest.raises(DestinationRefused, match="https or http, not 'ftp'"):
        validate_url("ftp://example.com/hook", Policy(allow_http=True))


def test_allowed_networks_let_a_literal_address_through():
    assert validate_url("http://127.0.0.1:8000/hook", LOOPBACK_ALLOWED).hostname == "127.0.0.1"
    with pytest.raises(DestinationRefused, match="10.0.0.1 is a private address"):
        validate_url("http://10.0.0.1/hook", LOOPBACK_ALLOWED)


# -- policy from settings ------------------------------------------------------------------


def test_policy_from_settings_parses_networks_and_their_ports():
    policy = Policy.from_settings(True, " 127.0.0.0/8:8443, ,::1/128,10.20.0.0/16:8000-8099,[fd00::/8]:*,10.0.0.5 ")

    assert policy == Policy(
        allow_http=True,
        allowed_networks=(
            AllowedNetwork(ipaddress.ip_network("127.0.0.0/8"), (8443, 8443)),
            AllowedNetwork(ipaddress.ip_network("::1/128")),
            AllowedNetwork(ipaddress.ip_network("10.20.0.0/16"), (8000, 8099)),
            AllowedNetwork(ipaddress.ip_network("fd00::/8"), (1, 65535)),
            AllowedNetwork(ipaddress.ip_network("10.0.0.5/32")),
        ),
    )
    assert [str(n) for n in policy.allowed_networks] == [
        "127.0.0.0/8:8443", "::1/128", "10.20.0.0/16:8000-8099", "[fd00::/8]:*", "10.0.0.5/32"]
    assert Policy.from_settings(False, "") == Policy()


@pytest.mark.parametrize("entry", ["localhost", "10.0.0.1/8", "300.0.0.0/8", "10.0.0.0/33", "localhost:8443"])
def test_policy_from_settings_names_a_bad_entry(entry):
    with pytest.raises(ValueError, match=f"{entry!r} is not a network"):
        Policy.from_settings(False, f"127.0.0.0/8,{entry}")


@pytest.mark.parametrize("entry", ["127.0.0.0/8:0", "127.0.0.0/8:65536", "127.0.0.0/8:http", "127.0.0.0/8:",
                                   "127.0.0.0/8:90-80", "127.0.0.0/8:+80", "[::1]:8443-", "[::1]x"])
def test_policy_from_settings_names_a_bad_port(entry):
    with pytest.raises(ValueError, match=re.escape(repr(entry))):
        Policy.from_settings(False, entry)


# The finding: allowing 127.0.0.0/8 for a local receiver let subscribers aim the
# tracker at the same host's SSH, Redis and PostgreSQL.
@pytest.mark.parametrize("port", [22, 6379, 5432])
def test_an_allowed_network_without_ports_is_open_on_the_web_ports_only(port):
    policy = Policy.from_settings(True, "127.0.0.0/8")

    with pytest.raises(DestinationRefused, match=f"admit it on port\\(s\\) 443 and 80 only, not {port}"):
        validate_url(f"http://127.0.0.1:{port}/hook", policy)
    with pytest.raises(DestinationRefused, match=f"not {port}"):
        resolve(f"http://localhost:{port}/hook", policy, FakeResolver({"localhost": ["127.0.0.1"]}))
    assert validate_url("https://127.0.0.1/hook", policy).hostname == "127.0.0.1"
    assert validate_url("http://127.0.0.1/hook", policy).hostname == "127.0.0.1"
    assert resolve("https://localhost:443/hook", policy, FakeResolver({"localhost": ["127.0.0.1"]})).port == 443


def test_https_only_policies_open_allowed_networks_on_443_alone():
    policy = Policy.from_settings(False, "10.0.0.0/8")

    assert validate_url("https://10.1.2.3/hook", policy).port is None
    with pytest.raises(DestinationRefused, match="port\\(s\\) 443 only, not 80"):
        validate_url("https://10.1.2.3:80/hook", policy)


def test_an_allowed_network_is_open_on_the_ports_it_names_and_no_other():
    policy = Policy.from_settings(True, "127.0.0.0/8:8443,10.0.0.0/8:8000-8099,[::1]:9000")

    assert validate_url("https://127.0.0.1:8443/hook", policy).port == 8443
    assert validate_url("http://10.9.9.9:8099/hook", policy).port == 8099
    assert validate_url("http://[::1]:9000/hook", policy).port == 9000
    for url in ("https://127.0.0.1/hook", "https://127.0.0.1:6379/", "http://10.9.9.9:8100/", "http://[::1]:22/"):
        with pytest.raises(DestinationRefused, match="allowed networks admit it"):
            validate_url(url, policy)
    # A port names where an exception to the address rules applies; public hosts keep any port.
    assert validate_url("https://93.184.216.34:6379/hook", policy).port == 6379


def test_every_port_only_when_the_operator_says_so():
    policy = Policy.from_settings(True, "127.0.0.0/8:*")

    assert all(validate_url(f"http://127.0.0.1:{port}/", policy) for port in (22, 6379, 5432, 65535))


# -- resolution ----------------------------------------------------------------------------


def test_resolve_returns_every_checked_address_in_order():
    resolver = FakeResolver({"hooks.example.com": ["93.184.216.34", "2606:2800:220:1::1", "93.184.216.34"]})

    destination = resolve("https://Hooks.Example.com./v1/events?app=7", PUBLIC, resolver)

    assert destination == Destination(
        scheme="https",
        host="hooks.example.com",
        port=443,
        path_and_query="/v1/events?app=7",
        addresses=("93.184.216.34", "2606:2800:220:1::1"),
    )
    assert resolver.asked == [("hooks.example.com", 443)]


def test_resolve_uses_the_scheme_default_port_and_root_path():
    resolver = FakeResolver({"example.com": ["93.184.216.34"]})
    policy = Policy(allow_http=True)

    assert resolve("http://example.com", policy, resolver).port == 80
    assert resolve("http://example.com", policy, resolver).path_and_query == "/"
    assert resolve("https://example.com:8443/x", policy, resolver).port == 8443


def test_a_mixed_public_and_private_answer_is_refused():
    resolver = FakeResolver({"rebind.example": ["93.184.216.34", "169.254.169.254"]})

    with pytest.raises(DestinationRefused, match="rebind.example resolves to a refused address: 169.254.169.254"):
        resolve("https://rebind.example/hook", PUBLIC, resolver)


@pytest.mark.parametrize("private", ["127.0.0.1", "10.0.0.7", "::1", "::ffff:10.0.0.7", "fd00:ec2::254"])
def test_a_name_resolving_to_a_private_address_is_refused(private):
    resolver = FakeResolver({"internal.example": [private]})

    with pytest.raises(DestinationRefused):
        resolve("https://internal.example/hook", PUBLIC, resolver)


def test_allowed_networks_override_the_address_rules():
    resolver = FakeResolver({"localhost": ["127.0.0.1"], "mixed.test": ["127.0.0.1", "10.0.0.1"]})

    destination = resolve("http://localhost:8000/hook", LOOPBACK_ALLOWED, resolver)

    assert destination.addresses == ("127.0.0.1",)
    with pytest.raises(DestinationRefused, match="10.0.0.1 is a private address"):
        resolve("http://mixed.test:8000/hook", LOOPBACK_ALLOWED, resolver)


def test_an_ip_literal_is_not_resolved():
    resolver = FakeResolver({})

    destination = resolve("https://[2606:4700:4700::1111]:8443/hook", PUBLIC, resolver)

    assert destination.host == "2606:4700:4700::1111"
    assert destination.addresses == ("2606:4700:4700::1111",)
    assert resolver.asked == []


def test_a_refused_url_is_never_resolved():
    resolver = FakeResolver({"example.com": ["93.184.216.34"]})

    with pytest.raises(DestinationRefused):
        resolve("http://example.com/hook", PUBLIC, resolver)
    assert resolver.asked == []


def test_an_unknown_host_fails_resolution_which_callers_can_tell_from_a_refusal():
    with pytest.raises(ResolutionFailed, match="nowhere.example could not be resolved") as failed:
        resolve("https://nowhere.example/hook", PUBLIC, FakeResolver({}))

    # A subclass, so code that only knows DestinationRefused still stops cleanly.
    assert isinstance(failed.value, DestinationRefused)


def test_an_empty_answer_fails_resolution():
    with pytest.raises(ResolutionFailed, match="no address"):
        resolve("https://empty.example/hook", PUBLIC, FakeResolver({"empty.example": []}))
