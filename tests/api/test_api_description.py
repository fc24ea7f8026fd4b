"""The OpenAPI description speaks to its three audiences in both languages, under the
operation ids docs/api.md lists; the documentation page's frame is in the reader's language."""

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Za-z]+ [a-z]+ [a-z]+")  # three words


def _english(text: str) -> bool:
    return bool(ENGLISH.search(text)) and not CHINESE.search(text)


def _schema(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _documented() -> dict[str, tuple[str, str]]:
    """docs/api.md's table of operations: operationId -> (tag, "METHOD /path")."""
    rows, tag = {}, None
    for line in API_MD.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`\w+`", cells[2]) and cells[3].startswith("`"):
            tag = cells[0].strip("`") or tag
            rows[cells[2].strip("`")] = (tag, cells[3].strip("`"))
    return rows


def test_every_operation_has_its_documented_id_tag_and_bilingual_texts(client):
    schema = _schema(client)
    assert [t["name"] for t in schema["tags"]] == ["ledger", "courts", "verification"]
    for text in [schema["info"]["description"], *(t["description"] for t in schema["tags"])]:
        first, *then = text.split("\n\n")  # Chinese first, then English
        assert CHINESE.search(first) and any(_english(p) for p in then), text
    # The error shape it shows is the one the API answers with.
    shown = json.loads(schema["info"]["description"].split("```json\n")[1].split("```")[0])
    real = client.get("/api/v1/ledger/entries?sha256=xyz").json()
    assert real["error"]["field"] == "sha256"
    assert shown["error"].keys() == real["error"].keys()
    assert shown["error"]["message"].keys() == real["error"]["message"].keys() == {"zh", "en"}

    found = {}
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            found[op["operationId"]] = (op["tags"][0], f"{method.upper()} {path}")
            assert len(op["tags"]) == 1, op["operationId"]
            zh, en = op["summary"].split(" · ")
            assert CHINESE.search(zh) and not CHINESE.search(en), op["summary"]
            zh, en = op["description"].split("\n\n")
            assert CHINESE.search(zh) and _english(en), op["description"]
            # Only the court API asks for a token.
            assert ("security" in op) == (op["tags"] == ["courts"]), op["operationId"]
    assert found == _documented()


@pytest.mark.parametrize(
    ("accept", "lang", "title"),
    [
        ("zh-CN", "zh-Hans", "接口文档 · 司法文书核验平台"),
        ("en", "en", "API · Judicial Verification Portal"),
    ],
)
def test_the_documentation_pages_frame_follows_the_readers_language(client, accept, lang, title):
    page = client.get("/api/docs/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert f'<html lang="{lang}">' in page
    assert f"<title>{title}</title>" in page
    assert "<redoc spec-url=" in page
