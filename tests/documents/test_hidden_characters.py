"""The court API refuses record text that would not read as it is recorded: control
characters, ANSI escape sequences, bidirectional controls, invisible formatting characters
(400 `invalid_characters`, naming the field), and accepts real Chinese court text."""

import pytest

from documents.models import Record
from documents.serializers import EventInput, RecordInput
from plumbing.errors import Refusal
from tests.documents.conftest import upload

# One of each kind, as a court clerk's system might send it by accident or on purpose.
HIDDEN = {
    "line end": "民事\n判决书",
    "tab": "民事\t判决书",
    "nul": "民事\x00判决书",
    "c1 control": "民事\x85判决书",
    "ansi escape": "\x1b[32m民事判决书\x1b[0m",
    "csi": "\x9b2J民事判决书",
    "right-to-left override": "被告\u202e三张",
    "isolate": "被告\u2067张三\u2069",
    "zero width space": "张\u200b三",
    "byte order mark": "\ufeff民事判决书",
    "line separator": "民事\u2028判决书",
    "lone surrogate": "民事\ud800判决书",
}
DIGESTS = {"sha256": "ab" * 32, "sm3": "cd" * 32}
RECORD = {**DIGESTS, "category": "evidence", "title": "聊天记录", "case_number": "（2026）京1号"}


def _record_with(field: str, text: str) -> dict:
    if field == "parties":
        return {**RECORD, "parties": ["张三", text]}
    return {**RECORD, field: text}


def _refusal(serializer_class, data: dict) -> Refusal:
    with pytest.raises(Refusal) as refused:
        serializer_class(data=data).is_valid(raise_exception=True)
    return refused.value


@pytest.mark.parametrize("kind", HIDDEN)
@pytest.mark.parametrize(
    "field, path", [("title", "title"), ("case_number", "case_number"), ("parties", "parties.1")]
)
def test_each_record_field_refuses_each_kind(field, path, kind):
    refusal = _refusal(RecordInput, _record_with(field, HIDDEN[kind]))
    assert refusal.status_code == 400
    assert refusal.body["error"]["code"] == "invalid_characters"
    assert refusal.body["error"]["field"] == path
    message = refusal.body["error"]["message"]
    assert f"'{field}'" in message["en"] and field in message["zh"]
    assert message["en"].isascii()


@pytest.mark.parametrize("kind", HIDDEN)
@pytest.mark.parametrize(
    "payload, path",
    [
        ({"addressee": "{}"}, "addressee"),
        ({"contact": "{}"}, "contact"),
        ({"details": {"送达地址": "{}"}}, "details.送达地址"),
        ({"details": {"notes": ["ok", "{}"]}}, "details.notes.1"),
    ],
)
def test_each_event_field_refuses_each_kind(payload, path, kind):
    text = HIDDEN[kind]
    data = {"event": "sent", "channel": "post"}
    for name, value in payload.items():
        if isinstance(value, dict):
            value = {
                k: (v.format(text) if isinstance(v, str) else [*v[:-1], text])
                for k, v in value.items()
            }
        else:
            value = value.format(text)
        data[name] = value
    refusal = _refusal(EventInput, data)
    assert (refusal.body["error"]["code"], refusal.body["error"]["field"]) == (
        "invalid_characters",
        path,
    )


def test_the_message_says_which_character_and_where():
    refusal = _refusal(RecordInput, {**RECORD, "title": "被告\u202e三张"})
    assert refusal.body["error"]["message"] == {
        "zh": "字段 title 的第 3 个字符是双向文本控制符（U+202E）。记录字段不能含有控制字符、"
        "转义序列、双向文本控制符或其他不可见字符，以免显示的内容与登记的内容不同。",
        "en": "The field 'title' has a bidirectional text control (U+202E) at character 3. "
        "Record fields cannot hold control characters, escape sequences, bidirectional "
        "controls or other invisible characters, so that what is shown is what is recorded.",
    }


def test_a_trailing_line_end_is_refused_not_trimmed():
    refusal = _refusal(RecordInput, {**RECORD, "title": "民事判决书\n"})
    assert refusal.body["error"]["field"] == "title"


def test_the_api_answers_400_naming_the_field_and_records_nothing(owner):
    response = owner.post("/api/v1/records", {**RECORD, "title": "判决书\x1b[2J"}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_characters"
    assert response.json()["error"]["field"] == "title"
    assert not Record.objects.exists()


def test_an_uploaded_file_name_is_recorded_without_its_hidden_characters(owner):
    """Django's multipart parser drops unprintable characters from a file's name before
    any view sees it: the name recorded, and shown, is the one left."""
    response = owner.post(
        "/api/v1/records",
        {
            "file": upload(b"evidence", "invoice\u202efdp.exe"),
            "category": "evidence",
            "title": "发票",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert Record.objects.get().filename == "invoicefdp.exe"


@pytest.mark.parametrize(
    "fields, path",
    [
        ({"title": "发\x07票"}, "title"),
        ({"title": "发票", "parties": ["张三", "李\u2066四"]}, "parties.1"),
    ],
)
def test_a_form_field_with_a_hidden_character_is_refused(owner, fields, path):
    response = owner.post(
        "/api/v1/records",
        {"file": upload(b"evidence", "a.txt"), "category": "evidence", **fields},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == path


def test_a_batch_item_names_its_position_and_field(owner):
    records = [RECORD, {**RECORD, "sha256": "ef" * 32, "parties": ["张三", "李\u200b四"]}]
    response = owner.post("/api/v1/records/batch", {"records": records}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_characters"
    assert response.json()["error"]["field"] == "records.1.parties.1"
    assert not Record.objects.exists()


def test_real_court_text_is_recorded_exactly_as_sent(owner):
    fields = {
        **DIGESTS,
        "category": "litigation_document",
        "title": "民事判决书（一审）　第一页",
        "case_number": "（2026）京0105民初12345号",
        "parties": ["张三·李四", "北京某某科技有限公司", "葛\U000e0100优"],
    }
    response = owner.post("/api/v1/records", fields, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["title"], body["case_number"], body["parties"]) == (
        fields["title"],
        fields["case_number"],
        fields["parties"],
    )


@pytest.mark.django_db
def test_court_names_from_the_command_refuse_hidden_characters():
    from django.core.management import CommandError, call_command

    from documents.models import Court

    with pytest.raises(CommandError, match="invalid|U\\+202E"):
        call_command("court_create", code="BJ0106", name_zh="朝阳\u202e法院", name_en="Chaoyang")
    assert not Court.objects.filter(code="BJ0106").exists()
    call_command("court_create", code="BJ0106", name_zh="北京市朝阳区人民法院", name_en="Chaoyang")
    assert Court.objects.filter(code="BJ0106").exists()
