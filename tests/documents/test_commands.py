"""court_create and court_token, used as an operator would."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from documents.models import Court


@pytest.mark.django_db
def test_create_a_court_and_a_token_that_works_once_printed():
    call_command(
        "court_create",
        code="GZ0104",
        name_zh="广州市越秀区人民法院",
        name_en="Yuexiu Court",
        stdout=StringIO(),
    )
    assert Court.objects.get(code="GZ0104").name_en == "Yuexiu Court"
    out = StringIO()
    call_command("court_token", "GZ0104", label="case system", stdout=out)
    token = out.getvalue().strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/records").status_code == 200
    # Only a digest is stored.
    assert token not in str(list(Court.objects.get(code="GZ0104").tokens.values()))


@pytest.mark.django_db
def test_refusals_are_clear():
    call_command("court_create", code="GZ0104", name_zh="甲", name_en="A", stdout=StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("court_create", code="GZ0104", name_zh="甲", name_en="A")
    with pytest.raises(CommandError, match="code"):
        call_command("court_create", code="bad code!", name_zh="甲", name_en="A")
    with pytest.raises(CommandError, match="no court"):
        call_command("court_token", "NOPE")


@pytest.mark.django_db
def test_a_court_is_created_with_its_contact_details_and_a_bad_website_is_refused():
    call_command(
        "court_create",
        "--code=SZ0303",
        "--name-zh=深圳市罗湖区人民法院",
        "--name-en=Luohu Court",
        "--phone=0755-0000 0000",
        "--address-zh=深圳市罗湖区示例路 2 号",
        "--website=https://court.example/luohu",
        stdout=StringIO(),
    )
    court = Court.objects.get(code="SZ0303")
    assert (court.phone, court.address_zh) == ("0755-0000 0000", "深圳市罗湖区示例路 2 号")
    assert court.website == "https://court.example/luohu" and court.has_contact
    with pytest.raises(CommandError, match="website"):
        call_command(
            "court_create", "--code=SZ0304", "--name-zh=甲", "--name-en=A", "--website=not a url"
        )
