"""Who the client is: X-Forwarded-For read only as far as the trusted proxies vouch for it."""

from ipaddress import ip_address, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plumbing.forwarded_for import identify, parse_address, rate_key

LAN = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]


def who(remote, xff=None, count=0, proxies=()):
    return identify(remote, xff, proxy_count=count, proxies=list(proxies))


def test_with_no_trusted_proxy_x_forwarded_for_is_ignored():
    client = who("203.0.113.9", "198.51.100.1")
    assert client.address == ip_address("203.0.113.9")
    assert client.forwarded  # a header was there, even though nobody vouches for it


def test_one_proxy_counted_takes_the_right_most_entry_only():
    assert who("10.0.0.2", "1.1.1.1, 2.2.2.2, 203.0.113.9", count=1).address == ip_address(
        "203.0.113.9"
    )
    assert who("10.0.0.2", "1.1.1.1, 203.0.113.9, 10.0.0.3", count=2).address == ip_address(
        "203.0.113.9"
    )


def test_fewer_entries_than_proxies_counted_gives_the_left_most_one():
    assert who("10.0.0.2", "203.0.113.9", count=2).address == ip_address("203.0.113.9")
    client = who("127.0.0.1", None, count=1)
    assert client.address == ip_address("127.0.0.1") and not client.forwarded


def test_trusted_networks_skip_proxies_from_the_right():
    xff = "1.1.1.1, 203.0.113.9, 10.9.9.9"
    assert who("10.0.0.2", xff, proxies=LAN).address == ip_address("203.0.113.9")
    # A peer that is not a trusted proxy is the client, whatever it forwards.
    assert who("198.51.100.7", xff, proxies=LAN).address == ip_address("198.51.100.7")
    # Both settings: at most that many proxies, each in the networks.
    assert who("10.0.0.2", xff, count=1, proxies=LAN).address == ip_address("10.9.9.9")


@pytest.mark.parametrize(
    "xff",
    ["garbage", "", " , ,", "unknown", "1.2.3.999", "::g", "a" * 10_000, "1.1.1.1,,", "é,ü"],
)
def test_a_malformed_entry_falls_back_to_the_nearest_vouched_address(xff):
    # The proxy vouches for nothing usable: the client is the proxy itself, shared by
    # everyone it forwards, never a fresh identity.
    assert who("10.0.0.2", xff, count=1).address == ip_address("10.0.0.2")
    assert who("10.0.0.2", xff, proxies=LAN).address == ip_address("10.0.0.2")


def test_a_malformed_entry_behind_a_valid_client_changes_nothing():
    assert who("10.0.0.2", "garbage, 203.0.113.9", count=1).address == ip_address("203.0.113.9")


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("203.0.113.9", "203.0.113.9"),
        (" 203.0.113.9:4711 ", "203.0.113.9"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("::ffff:203.0.113.9", "203.0.113.9"),  # a dual-stack socket's IPv4 client
    ],
)
def test_addresses_are_read_in_the_forms_proxies_write(text, parsed):
    assert parse_address(text) == ip_address(parsed)


@pytest.mark.parametrize(
    "text", ["", "unknown", "1.2.3.4:99999", "[1.2.3.4]", "::1:", None, "x" * 80]
)
def test_anything_else_is_not_an_address(text):
    assert parse_address(text) is None


def test_an_unusable_remote_address_is_one_shared_client():
    client = who("", None)
    assert client.address is None
    assert rate_key(client.address, 64) == "unknown"


def test_a_proxy_on_a_unix_socket_is_trusted_by_count_only():
    # gunicorn gives no peer address for a Unix socket; nginx in front of it still counts.
    assert who("", "198.51.100.1, 203.0.113.9", count=1).address == ip_address("203.0.113.9")
    assert who("", "203.0.113.9", proxies=LAN).address is None  # no network to find it in
    assert who("", "garbage", count=1).address is None
    assert not who("", None, count=1).is_local


def test_ipv6_clients_are_counted_by_their_prefix():
    a, b = ip_address("2001:db8:1:2::1"), ip_address("2001:db8:1:2:ffff::9")
    assert rate_key(a, 64) == rate_key(b, 64) == "2001:db8:1:2::/64"
    assert rate_key(ip_address("2001:db8:1:3::1"), 64) != rate_key(a, 64)
    assert rate_key(a, 128) == "2001:db8:1:2::1/128"
    assert rate_key(ip_address("203.0.113.9"), 64) == "203.0.113.9"


def test_local_means_loopback_and_no_proxy_on_the_way():
    assert who("127.0.0.1").is_local and who("::1").is_local
    assert not who("127.0.0.1", "203.0.113.9").is_local  # a proxy on this host
    assert not who("127.0.0.1", "127.0.0.1", count=1).is_local
    assert not who("127.0.0.1", "garbage").is_local
    assert not who("203.0.113.9").is_local


@given(st.text(max_size=300), st.sampled_from(["10.0.0.2", "203.0.113.9", "", "::1"]))
def test_any_header_gives_an_answer(xff, remote):
    for count in (0, 1, 3):
        client = who(remote, xff, count=count, proxies=LAN if count == 3 else ())
        rate_key(client.address, 64)
