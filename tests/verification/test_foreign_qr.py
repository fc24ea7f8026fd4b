"""A QR code whose URL leads to another website is never followed silently: the photo
flow shows a warning naming that website and lets the person look the code up here."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents import codes, qr

pytestmark = pytest.mark.django_db

CODE = codes.new_code()
SHOWN = codes.display(CODE)


def _photo_of(url: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.png", qr.png(url, "M", box_size=6), "image/png")


def _scan(client, url: str):
    return client.post("/verify/photo", {"photo": _photo_of(url)})


@pytest.mark.parametrize(
    "url, host",
    [
        (f"https://evil.example/v/{SHOWN}", "evil.example"),
        (f"http://evil.example:8000/v/{CODE}", "evil.example:8000"),
        (f"http://localhost.evil.example/v/{SHOWN}", "localhost.evil.example"),
        (f"https://127.0.0.1:8000@evil.example/v/{SHOWN}", "evil.example"),
        # A browser reads a backslash as a slash: this goes to evil.example.
        (f"https://evil.example\\@127.0.0.1:8000/v/{SHOWN}", "evil.example"),
        # Another port of this host is another website.
        (f"http://127.0.0.1:9000/v/{SHOWN}", "127.0.0.1:9000"),
        # A look-alike in Cyrillic letters, shown in the form the browser would use.
        (f"https://\u0435xample.com/v/{SHOWN}", "xn--xample-2of.com"),
    ],
)
def test_a_code_pointing_at_another_website_is_a_warning_not_a_redirect(client, url, host):
    response = _scan(client, url)
    assert response.status_code == 200, response.get("Location")
    page = response.content.decode()
    assert "此二维码指向其他网站" in page and "This QR code points at another website" not in page
    assert f"<code>{host}</code>" in page
    # This portal's record page for the same code is offered, never followed.
    assert f'href="/v/{SHOWN}"' in page
    assert "在本平台查询该核验码" in page


def test_the_warning_in_english_is_in_english_alone(client):
    photo = _photo_of(f"https://evil.example/v/{SHOWN}")
    page = client.post("/verify/photo", {"photo": photo}, HTTP_ACCEPT_LANGUAGE="en").content
    page = page.decode()
    assert "This QR code points at another website" in page and "<code>evil.example</code>" in page
    assert "Look up this code on this portal" in page
    assert "此二维码指向其他网站" not in page and "在本平台查询" not in page


def test_a_code_from_another_website_that_is_not_a_code_offers_no_look_up(client):
    response = _scan(client, "https://evil.example/v/NOT-A-CODE")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<code>evil.example</code>" in page
    assert "/v/" not in page.split("<main", 1)[1].split("</main>", 1)[0]


@pytest.mark.parametrize(
    "url",
    [
        f"http://127.0.0.1:8000/v/{SHOWN}",  # PUBLIC_BASE_URL, as QR codes are printed
        f"https://127.0.0.1:8000/v/{SHOWN}",
        f"http://localhost/v/{CODE.lower()}",  # a name of ALLOWED_HOSTS
        f"https://evil.example@127.0.0.1:8000/v/{SHOWN}",  # goes to this portal all the same
    ],
)
def test_a_code_of_this_portal_opens_its_record_page(client, url):
    response = _scan(client, url)
    assert response.status_code == 302
    assert response["Location"] == f"/v/{SHOWN}"


def test_the_portals_own_public_address_counts_as_its_own(client, settings):
    settings.PUBLIC_BASE_URL = "https://verify.court.example"
    response = _scan(client, f"https://verify.court.example/v/{SHOWN}")
    assert response["Location"] == f"/v/{SHOWN}"
    assert _scan(client, f"https://verify.court.example.cn/v/{SHOWN}").status_code == 200
