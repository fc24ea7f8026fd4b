"""Every API error speaks Chinese under "zh" and English under "en", the field
validation errors of DRF (whose own messages follow the request's language) included."""

import re

import pytest
from rest_framework.test import APIClient

CJK = re.compile(r"[\u4e00-\u9fff]")
DIGEST = "ab" * 32
RECORD = {"sha256": DIGEST, "sm3": DIGEST, "category": "evidence", "title": "聊天记录"}


def _assert_bilingual(response, status: int, field: str | None, code: str) -> None:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert (error.get("field"), error["code"]) == (field, code)
    zh, en = error["message"]["zh"], error["message"]["en"]
    assert CJK.search(zh), zh
    assert en.isascii() and not CJK.search(en), en


@pytest.mark.parametrize(
    "change, field, code",
    [
        ({"title": None}, "title", "required"),
        ({"category": "bogus"}, "category", "invalid_choice"),
        ({"title": "x" * 301}, "title", "too_long"),
        ({"parties": "张三"}, "parties", "not_a_list"),
        ({"parties": ["张" * 101]}, "parties.0", "too_long"),
        ({"allow_download": "perhaps"}, "allow_download", "invalid"),
        ({"sha256": "xyz"}, "sha256", "malformed_digest"),
        ({"stamp": True}, "stamp", "stamp_needs_file"),
    ],
)
def test_court_api_errors_are_chinese_and_english(owner, change, field, code):
    payload = {**RECORD, **change}
    payload = {name: value for name, value in payload.items() if value is not None}
    _assert_bilingual(owner.post("/api/v1/records", payload, format="json"), 400, field, code)


def test_a_batch_item_error_is_chinese_and_english(owner):
    items = [RECORD, {**RECORD, "category": "bogus"}]
    response = owner.post("/api/v1/records/batch", {"records": items}, format="json")
    _assert_bilingual(response, 400, "records.1.category", "invalid_choice")


@pytest.mark.parametrize(
    "path, body, status, field, code",
    [
        ("/api/v1/verifications", {"sha256": "xyz"}, 400, "sha256", "malformed_digest"),
        (
            "/api/v1/verifications",
            {"sha256": DIGEST, "code": "7K3M9Q"},
            400,
            "code",
            "malformed_code",
        ),
        ("/api/v1/verifications", {}, 400, "sha256", "missing_digest"),
        ("/api/v1/verifications/batch", {"items": []}, 400, "items", "missing_items"),
        (
            "/api/v1/verifications/batch",
            {"items": [{"sm3": "1"}]},
            400,
            "items.0.sm3",
            "malformed_digest",
        ),
    ],
)
def test_verification_api_errors_are_chinese_and_english(db, path, body, status, field, code):
    response = APIClient().post(path, body, format="json")
    _assert_bilingual(response, status, field, code)


def test_unauthenticated_is_chinese_and_english(db):
    response = APIClient().get("/api/v1/records")
    _assert_bilingual(response, 401, None, "not_authenticated")
