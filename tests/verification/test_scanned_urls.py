"""Where a scanned URL leads, read as a browser reads it (no Django)."""

import pytest

from verification.scanned_urls import OwnAddress, ScannedUrl, read_url

OWN = OwnAddress("https://verify.court.example", ["verify.court.example", ".court.example", "*"])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("https://verify.court.example/v/ABC", ScannedUrl("verify.court.example", True, "ABC")),
        (
            "HTTP://Verify.Court.Example:443/v/ABC/",
            ScannedUrl("verify.court.example:443", False, "ABC"),
        ),
        ("http://verify.court.example/v/ABC", ScannedUrl("verify.court.example", True, "ABC")),
        ("https://hk.court.example/v/ABC", ScannedUrl("hk.court.example", True, "ABC")),
        ("https://court.example.evil/v/ABC", ScannedUrl("court.example.evil", False, "ABC")),
        ("https://evilcourt.example/v/ABC", ScannedUrl("evilcourt.example", False, "ABC")),
        (
            "https://verify.court.example:8443/v/ABC",
            ScannedUrl("verify.court.example:8443", False, "ABC"),
        ),
        (
            "https://verify.court.example:99999/v/ABC",
            ScannedUrl("verify.court.example:99999", False, "ABC"),
        ),
        ("https://[::1]:8000/v/ABC", ScannedUrl("[::1]:8000", False, "ABC")),
        ("https://verify.court.example/s/token", ScannedUrl("verify.court.example", True, None)),
        ("https://exa\u202emple.com/v/ABC", ScannedUrl("exa\\u202emple.com", False, "ABC")),
        (
            "\n https://verify.court.example/v/ABC \x00",
            ScannedUrl("verify.court.example", True, "ABC"),
        ),
    ],
)
def test_where_a_url_leads(text, expected):
    assert read_url(text, OWN) == expected


@pytest.mark.parametrize(
    "text",
    [
        "7K3M9Q-XD4RTW-2HVBPZ",
        "javascript:alert(1)//v/ABC",
        "ftp://verify.court.example/v/A",
        "http:///v/A",
    ],
)
def test_what_is_no_website_address(text):
    assert read_url(text, OWN) is None


def test_a_wildcard_host_makes_no_website_this_portals():
    anywhere = OwnAddress("https://verify.court.example", ["*"])
    assert not read_url("https://evil.example/v/ABC", anywhere).own
