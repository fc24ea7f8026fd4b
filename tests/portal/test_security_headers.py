"""Every answer carries a Content-Security-Policy without inline script; behind the HTTPS
proxy, HSTS and the other transport headers; no template needs inline script or style."""

import re
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# Answers of every kind: pages, a 404 page, the JSON API and its errors, the ledger's
# plain-text read side, a static file, the admin, the API documentation.
PATHS = [
    "/",
    "/v/7K3M9Q-XD4RTW-2HVBPZ",
    "/no-such-page",
    "/accounts/login/",
    "/admin/login/",
    "/api/docs/",
    "/api/schema/",
    "/api/v1/records",
    "/api/v1/verifications/none",
    "/ledger/checkpoint",
    "/health",
    "/static/js/verify.js",
]


def _policy(header: str) -> dict[str, list[str]]:
    directives = (d.strip().split() for d in header.split(";") if d.strip())
    return {d[0]: d[1:] for d in directives}


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_has_the_content_security_policy(client, path):
    response = client.get(path)
    policy = _policy(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    # No 'unsafe-inline', no 'unsafe-eval': only WebAssembly may be compiled (hash-wasm's
    # SHA-256 and SM3, in the portal's own static files), never JavaScript text evaluated.
    assert policy["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    unsafe = [v for name, vs in policy.items() if name != "style-src" for v in vs if "unsafe" in v]
    assert unsafe == ["'wasm-unsafe-eval'"]


def test_only_the_api_documentation_lets_styles_be_injected(client):
    """Redoc draws its page with styles it writes at run time; nowhere else may a style
    be inline, and no page may run inline script."""
    docs = _policy(client.get("/api/docs/")["Content-Security-Policy"])
    assert "'unsafe-inline'" in docs["style-src"]
    assert docs["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
    home = _policy(client.get("/")["Content-Security-Policy"])
    assert home["style-src"] == ["'self'"]


def test_over_https_the_transport_headers_are_sent(client):
    response = client.get("/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_the_proxy_header_tells_https_and_plain_http_is_redirected(settings):
    """Behind the proxy, X-Forwarded-Proto says how the client came; plain HTTP is sent
    to HTTPS, except the probes of the deployment's own network."""
    settings.SECURE_SSL_REDIRECT = True
    client = Client()  # its middleware built with the setting above
    proxied = client.get("/", HTTP_X_FORWARDED_PROTO="https")
    assert proxied.status_code == 200
    assert "Strict-Transport-Security" in proxied
    plain = client.get("/v/7K3M9Q-XD4RTW-2HVBPZ?x=1", HTTP_X_FORWARDED_PROTO="http")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/v/7K3M9Q-XD4RTW-2HVBPZ?x=1"
    assert client.get("/health").status_code != 301
    assert client.get("/metrics").status_code != 301


def test_cookies_are_secure_in_production(settings):
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE


# Templates rendered to PDF by the portal itself, never served to a browser.
PDF_TEMPLATES = {"demo/judgment.html"}
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"<style[\s>]", re.I), "a <style> block"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def _templates() -> list[tuple[str, Path]]:
    folders = [ROOT / "templates", *ROOT.glob("*/templates")]
    return [
        (str(path.relative_to(folder)), path)
        for folder in folders
        if ".venv" not in folder.parts
        for path in folder.rglob("*.html")
    ]


@pytest.mark.parametrize("name, path", _templates(), ids=lambda v: str(v))
def test_no_template_has_inline_script_or_style(name, path):
    if name in PDF_TEMPLATES:
        pytest.skip("rendered to PDF, never served")
    text = path.read_text()
    found = [what for pattern, what in INLINE if pattern.search(text)]
    assert not found, f"{name} has {', '.join(found)}"
