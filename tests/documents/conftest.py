"""Courts and their clients for the court API tests: owner, other court, revoked, nobody.

The API waits for the ledger, so these tests use the suite's `running_sequencer`.
"""

import io

import pytest
from rest_framework.test import APIClient

from documents.models import Court, CourtToken


@pytest.fixture
def court(running_sequencer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return Court.objects.create(
        code="BJ0105", name_zh="北京市朝阳区人民法院", name_en="Chaoyang Court"
    )


@pytest.fixture
def other_court(running_sequencer):
    return Court.objects.create(
        code="SH0101", name_zh="上海市黄浦区人民法院", name_en="Huangpu Court"
    )


def _client(token: str | None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def owner(court):
    """A system of the court that owns the records."""
    return _client(CourtToken.issue(court, "case system")[1])


@pytest.fixture
def outsider(other_court):
    """A system of another court."""
    return _client(CourtToken.issue(other_court, "their system")[1])


@pytest.fixture
def revoked(court):
    row, token = CourtToken.issue(court, "old system")
    row.revoke()
    return _client(token)


@pytest.fixture
def anonymous():
    return _client(None)


@pytest.fixture(scope="session")
def judgment_pdf() -> bytes:
    """A real two-page Chinese PDF (WeasyPrint), rendered once for the session."""
    from demo.builders import judgment_pdf

    court = Court(name_zh="北京市朝阳区人民法院")
    return judgment_pdf(
        court, "（2026）京0105民初1号", "民事判决书", ["原告张三诉被告李四。", "判决如下。"]
    )


def upload(content: bytes, name: str = "judgment.pdf"):
    buffer = io.BytesIO(content)
    buffer.name = name
    return buffer
