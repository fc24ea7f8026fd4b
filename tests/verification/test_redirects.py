"""A page sends the browser back only to this site: the upload form's `back`, and the
sign-in and sign-out `next`, whatever they are given."""

from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db

# Targets that lead off the site, as written by someone crafting a link or a form.
ELSEWHERE = [
    "https://evil.example/",
    "http://evil.example/v/7K3M9Q-XD4RTW-2HVBPZ",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "\\/evil.example/",
    " //evil.example/",
    "/\t/evil.example/",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "\x01//evil.example/",
    "https://testserver@evil.example/",
    "https://evil.example\\@testserver/",
]
# Encoded forms are not decoded again by the browser, and a relative path is relative to
# this site: these stay on it. "evil" has no slash or dot: it must not be taken for the
# name of a URL pattern either.
ON_SITE = [
    "/%2F%2Fevil.example/",
    "%2F%2Fevil.example",
    "/%5Cevil.example/",
    "%09//evil.example",
    "evil",
]


@pytest.fixture(autouse=True)
def _quick_passwords(settings):
    """The production hasher takes half a second a sign-in; these tests sign in often."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _host_of(response) -> str:
    """The host a browser goes to after this redirect from /verify."""
    assert response.status_code in (301, 302), response.status_code
    location = response["Location"].strip()
    return urlsplit(urljoin("http://testserver/verify", location.replace("\\", "/"))).netloc


@pytest.mark.parametrize("back", ELSEWHERE)
def test_an_upload_refused_never_sends_the_browser_off_the_site(client, back):
    response = client.post("/verify", {"back": back})
    assert response.status_code == 302
    assert response["Location"] == "/#check-file"  # the home page's form instead


@pytest.mark.parametrize("back", ON_SITE)
def test_encoded_and_relative_targets_stay_on_the_site(client, back):
    response = client.post("/verify", {"back": back})
    assert _host_of(response) == "testserver"


def test_a_page_of_this_site_is_where_the_browser_goes_back_to(client):
    response = client.post("/verify", {"back": "/v/7K3M9Q-XD4RTW-2HVBPZ"})
    assert response["Location"] == "/v/7K3M9Q-XD4RTW-2HVBPZ#check-file"
    response = client.post("/verify", {"back": "http://testserver/v/7K3M9Q-XD4RTW-2HVBPZ"})
    assert _host_of(response) == "testserver"


def test_a_mistyped_code_goes_back_only_to_this_site(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/verify",
        {"back": "//evil.example/", "code": "ABC", "file": SimpleUploadedFile("a.txt", b"x")},
    )
    assert response["Location"] == "/"


def test_over_https_a_plain_http_address_of_this_site_is_refused(client):
    response = client.post("/verify", {"back": "http://testserver/v/X"}, secure=True)
    assert response["Location"] == "/#check-file"


@pytest.mark.parametrize("target", [*ELSEWHERE, *ON_SITE])
@pytest.mark.parametrize("login", ["/accounts/login/", "/admin/login/"])
def test_signing_in_goes_only_to_this_site(client, login, target):
    User.objects.create_user("judge", password="pw-for-tests", is_staff=True)
    response = client.post(login, {"username": "judge", "password": "pw-for-tests", "next": target})
    assert _host_of(response) == "testserver"


@pytest.mark.parametrize("target", ELSEWHERE)
def test_signing_out_goes_only_to_this_site(client, target):
    client.force_login(User.objects.create_user("judge"))
    response = client.post("/accounts/logout/", {"next": target})
    if response.status_code == 200:  # the signed-out page itself
        return
    assert _host_of(response) == "testserver"
