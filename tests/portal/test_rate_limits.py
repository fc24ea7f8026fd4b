"""Rate limits by the client the trusted proxies vouch for, on every flow that costs work.

Counted in the suite's Redis (CACHE_URL). Each test's clients have addresses of their
own, so no two tests, and no two runs of the suite sharing that Redis, share a counter.
"""

import random
from ipaddress import IPv4Address, IPv6Address

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from documents.models import Court, CourtToken, TokenUse
from plumbing.throttling import CountingRateThrottle

pytestmark = pytest.mark.django_db

NUMBER = "DEKC12-NW1NX0-3P891H"  # a well-formed certificate number nobody issued
CODE = "7K3M9Q-XD4RTW-2HVBPZ"  # a well-formed record code nobody recorded


def an_ipv4() -> str:
    """A public-looking IPv4 address no other test uses (198.18.0.0/15, for testing)."""
    return str(IPv4Address(int(IPv4Address("198.18.0.0")) + random.randrange(1 << 17)))


def an_ipv6_prefix() -> int:
    """A random /64 of 2001:db8::/32 (documentation), as an integer."""
    return int(IPv6Address("2001:db8::")) + (random.getrandbits(32) << 64)


@pytest.fixture
def rates(monkeypatch):
    """Set some scopes' rates (DRF binds the rates to the class when it is imported)."""

    def set_rates(**scopes: str) -> None:
        current = dict(CountingRateThrottle.THROTTLE_RATES)
        monkeypatch.setattr(CountingRateThrottle, "THROTTLE_RATES", {**current, **scopes})

    return set_rates


@pytest.fixture(autouse=True)
def _redis(settings):
    assert "redis" in settings.CACHES["default"]["BACKEND"].lower()


def _verify(client, **extra):
    return client.post(
        "/api/v1/verifications", {"sha256": "ab" * 32}, content_type="application/json", **extra
    )


def test_a_forged_x_forwarded_for_gets_no_fresh_budget(client, rates):
    rates(verifications="3/minute")
    me = an_ipv4()
    answers = [
        _verify(client, REMOTE_ADDR=me, HTTP_X_FORWARDED_FOR=an_ipv4()).status_code
        for _ in range(4)
    ]
    assert answers == [202, 202, 202, 429]


def test_behind_one_proxy_only_the_right_most_entry_counts(client, rates, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    rates(verifications="3/minute")
    proxy, me = "10.1.2.3", an_ipv4()

    def through_proxy(client_address: str) -> int:
        forged = f"{an_ipv4()}, {an_ipv4()}"  # whatever the client sent, then the proxy's entry
        return _verify(
            client, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"{forged}, {client_address}"
        ).status_code

    assert [through_proxy(me) for _ in range(4)] == [202, 202, 202, 429]
    assert through_proxy(an_ipv4()) == 202  # another client behind the same proxy


def test_a_trusted_proxys_client_is_limited_by_its_real_address(client, rates, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    rates(verifications="2/minute")
    me = an_ipv4()

    def via(proxy: str, hops: str) -> int:
        return _verify(client, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=hops).status_code

    # Two proxies of the network in front, each appending its peer; the client forged one.
    assert via("10.0.0.5", f"{an_ipv4()}, {me}, 10.0.0.9") == 202
    assert via("10.7.0.1", f"{me}, 10.0.0.9") == 202
    assert via("10.0.0.5", f"{an_ipv4()}, {me}") == 429
    # A peer outside the network is the client, whatever it forwards.
    outsider = an_ipv4()
    assert [via(outsider, an_ipv4()) for _ in range(3)] == [202, 202, 429]


@pytest.mark.parametrize(
    "forwarded",
    ["garbage", "", ",,,", "unknown", "999.1.1.1", "[::1", "1.1.1.1:99999", "x" * 4000, "é"],
)
def test_malformed_x_forwarded_for_crashes_nothing_and_gives_no_fresh_budget(
    client, rates, settings, forwarded
):
    settings.TRUSTED_PROXY_COUNT = 1
    rates(verifications="2/minute")
    proxy = an_ipv4()
    answers = [
        _verify(client, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"{forwarded}{'x' * i}").status_code
        for i in range(3)
    ]
    # Nothing the proxy vouched for: counted as the proxy itself, not a new client each time.
    assert answers == [202, 202, 429]
    assert client.get("/", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded).status_code == 200


def test_ipv6_clients_are_limited_by_their_slash_64(client, rates):
    rates(verifications="2/minute")
    prefix = an_ipv6_prefix()
    host = [str(IPv6Address(prefix + random.getrandbits(64))) for _ in range(3)]
    assert [_verify(client, REMOTE_ADDR=a).status_code for a in host] == [202, 202, 429]
    neighbour = str(IPv6Address(prefix + (1 << 64) + 1))  # the next /64
    assert _verify(client, REMOTE_ADDR=neighbour).status_code == 202


def _refused_page(response) -> str:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 120
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert '<html lang="zh-Hans">' in page and "<h1>请求过于频繁</h1>" in page
    assert "请等待" in page and "秒后再试" in page
    assert "Too many requests" not in page and "try again" not in page  # one language
    return page


@pytest.mark.parametrize(
    "path, scope",
    [
        ("/verify", "verifications"),
        ("/verify/photo", "photos"),
        (f"/c/{NUMBER}/reverify", "verifications"),
    ],
)
def test_the_unlimited_flows_are_limited_with_a_page_that_says_to_wait(client, rates, path, scope):
    rates(**{scope: "2/minute"})
    me = an_ipv4()
    assert 429 not in [client.post(path, REMOTE_ADDR=me).status_code for _ in range(2)]
    page = _refused_page(client.post(path, REMOTE_ADDR=me))
    assert "司法文书核验平台" in page  # the site's own page, with its header
    assert client.post(path, REMOTE_ADDR=an_ipv4()).status_code != 429


def test_the_page_that_says_to_wait_in_english(client, rates):
    rates(pages="1/minute")
    me = an_ipv4()
    client.get("/courts", REMOTE_ADDR=me)
    refused = client.get("/courts", REMOTE_ADDR=me, HTTP_ACCEPT_LANGUAGE="en")
    page = refused.content.decode()
    assert refused.status_code == 429 and '<html lang="en">' in page
    assert "<h1>Too many requests</h1>" in page and "seconds and try again" in page
    assert "请求过于频繁" not in page and "Back to the home page" in page


@pytest.mark.parametrize(
    "method, path, scope",
    [
        ("get", "/", "pages"),
        ("get", "/lookup?code=ABC", "pages"),
        ("get", f"/v/{CODE}", "pages"),
        ("get", f"/v/{CODE}/file", "downloads"),
        ("get", "/verifications/nothing-here", "pages"),
        ("get", f"/c/{NUMBER}", "pages"),
        ("get", f"/c/{NUMBER}/certificate.pdf", "downloads"),
        ("get", f"/c/{NUMBER}/bundle.json", "downloads"),
        ("get", "/s/not-a-token", "service_links"),
        ("get", "/s/not-a-token/document", "service_links"),
        ("post", "/s/not-a-token/acknowledge", "service_links"),
        ("get", "/accounts/login/", "logins"),
        ("post", "/admin/login/", "logins"),
        ("get", "/health", "pages"),
        ("get", "/api/schema/", "pages"),
    ],
)
def test_every_page_that_costs_work_is_limited(client, rates, method, path, scope):
    rates(**{scope: "1/minute"})
    me = an_ipv4()
    assert getattr(client, method)(path, REMOTE_ADDR=me).status_code != 429
    refused = getattr(client, method)(path, REMOTE_ADDR=me)
    if path.startswith("/api/"):  # DRF's answer, in the schema view's own format
        assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
        assert b"throttled" in refused.content
    else:
        _refused_page(refused)


@pytest.mark.parametrize(
    "path, scope",
    [
        ("/api/v1/verifications/nothing-here", "pages"),
        ("/api/v1/verifications/batch/nothing-here", "pages"),
        ("/api/v1/ledger/checkpoint", "ledger"),
        ("/api/v1/ledger/entries?sha256=" + "ab" * 32, "ledger"),
        ("/api/v1/ledger/proof/inclusion?index=0", "ledger"),
        ("/api/v1/ledger/proof/consistency?from=0", "ledger"),
    ],
)
def test_the_api_answers_throttled_in_its_error_shape(client, rates, path, scope):
    rates(**{scope: "1/minute"})
    me = an_ipv4()
    assert client.get(path, REMOTE_ADDR=me).status_code != 429
    refused = client.get(path, REMOTE_ADDR=me)
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 120
    error = refused.json()["error"]
    assert error["code"] == "throttled" and error["message"]["zh"] and error["message"]["en"]


@pytest.mark.parametrize("path", ["/ledger/checkpoint", "/ledger/tile/0/000"])
def test_the_ledger_read_side_answers_throttled_in_plain_text(client, rates, path):
    rates(ledger="1/minute")
    me = an_ipv4()
    assert client.get(path, REMOTE_ADDR=me).status_code != 429
    refused = client.get(path, REMOTE_ADDR=me)
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 120
    assert refused["Content-Type"] == "text/plain; charset=utf-8"
    zh, en = refused.content.decode().splitlines()
    assert "请求过于频繁" in zh and "Too many requests" in en


# Routes with no limit, and why (docs/operations.md, "Rate limits").
UNLIMITED = {
    "metrics": "answers only the operators' Prometheus; anyone else gets a 404 at no cost",
    "api-records": "court API: token-authenticated, one budget per court system is its contract",
    "api-records-batch": "court API",
    "api-record": "court API",
    "api-record-events": "court API",
    "api-record-qr-png": "court API",
    "api-record-qr-svg": "court API",
    "api-record-file": "court API",
}


def _routes(patterns=None, namespace=""):
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            if p.namespace == "admin":  # staff only, behind the (limited) login
                continue
            yield from _routes(p.url_patterns, p.namespace or namespace)
        elif isinstance(p, URLPattern):
            yield p


def _scope(callback) -> str | None:
    if getattr(callback, "rate_scope", None):
        return callback.rate_scope
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None and hasattr(view_class, "throttle_classes"):
        if any(issubclass(t, CountingRateThrottle) for t in view_class.throttle_classes):
            return getattr(view_class, "throttle_scope", None)
        return None
    return None


def test_every_route_is_limited_or_says_why_not():
    unlimited = sorted(
        p.name for p in _routes() if not _scope(p.callback) and p.name not in UNLIMITED
    )
    assert unlimited == []
    for scope in {_scope(p.callback) for p in _routes()} - {None}:
        assert scope in CountingRateThrottle.THROTTLE_RATES, scope


def test_the_court_api_logs_the_address_its_proxy_vouches_for(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang")
    _, token = CourtToken.issue(court, "case system")
    answer = client.get(
        "/api/v1/records",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.5",
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    assert answer.status_code == 200
    assert TokenUse.objects.get().ip == "203.0.113.5"


@pytest.mark.parametrize("count", [0, 1])
def test_metrics_are_not_reachable_through_a_proxy_on_this_host(client, settings, count):
    settings.TRUSTED_PROXY_COUNT = count
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    for forwarded in ("203.0.113.9", "127.0.0.1", "garbage", ""):
        through = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
        assert through.status_code == 404, forwarded
    assert (
        client.get("/metrics", REMOTE_ADDR="::1", HTTP_X_REAL_IP="203.0.113.9").status_code == 404
    )


def test_a_client_guessing_court_tokens_is_refused_before_they_are_looked_up(
    client, rates, django_assert_num_queries
):
    rates(court_auth_failures="2/minute")
    me = an_ipv4()

    def with_token(token: str, address: str = me):
        return client.get(
            "/api/v1/records", REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Token {token}"
        )

    assert [with_token(f"guess-{i}").status_code for i in range(2)] == [401, 401]
    with django_assert_num_queries(0):
        refused = with_token("guess-2")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "throttled"
    assert with_token("guess-3", an_ipv4()).status_code == 401  # another client


def test_a_court_system_with_its_token_is_not_rate_limited(client, rates, settings):
    settings.COURT_TOKEN_CACHE_SECONDS = 0  # its token looked up, and checked, every time
    rates(court_auth_failures="1/minute", pages="1/minute", ledger="1/minute")
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang")
    _, token = CourtToken.issue(court, "case system")
    me = an_ipv4()
    answers = [
        client.get(
            "/api/v1/records", REMOTE_ADDR=me, HTTP_AUTHORIZATION=f"Token {token}"
        ).status_code
        for _ in range(5)
    ]
    assert answers == [200] * 5
