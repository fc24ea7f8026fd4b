"""Downloads are named with the record code and an extension that opens the file."""

import pytest

from documents.models import Record

CODE = "7K3M9QXD4RTW2HVBP8"


@pytest.mark.parametrize(
    "fields, name",
    [
        ({"stamped": True, "media_type": "application/pdf", "filename": "判决书"}, ".pdf"),
        ({"media_type": "application/pdf", "filename": "judgment"}, ".pdf"),
        ({"media_type": "text/plain", "filename": "聊天记录.TXT"}, ".txt"),
        ({"media_type": "video/mp4", "filename": "现场录像"}, ".mp4"),
        ({"media_type": "", "filename": "evil.<script>"}, ""),
        ({"media_type": "application/octet-stream", "filename": ""}, ".bin"),
    ],
)
def test_the_name_is_the_code_and_an_extension_that_opens_it(fields, name):
    assert Record(code=CODE, **fields).download_name() == f"7K3M9Q-XD4RTW-2HVBP8{name}"


@pytest.mark.django_db(transaction=True)
def test_an_original_that_is_not_a_pdf_downloads_with_its_extension(client, ledger):
    from demo.builders import record_file

    record = record_file(
        ledger.court,
        Record.Category.EVIDENCE,
        "聊天记录",
        "聊天记录 chat log".encode(),
        "chat.txt",
        allow_download=True,
    )
    response = client.get(f"/v/{record.code}/file")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment") and ".txt" in disposition, disposition
