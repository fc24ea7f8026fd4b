"""The judges' sign-in: a refused sign-in is said beside its fields and in a summary that
leads to them, in the reader's language, with the username kept."""

import re

import pytest

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")


def _main(response) -> str:
    return response.content.decode().split("<main", 1)[1].split("</main>", 1)[0]


def test_the_sign_in_page_in_chinese_and_in_english(client):
    chinese = _main(client.get("/accounts/login/"))
    assert "<h1>法官登录</h1>" in chinese and 'for="id_username">用户名</label>' in chinese
    assert "Sign in" not in chinese and "aria-invalid" not in chinese
    english = _main(client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "<h1>Judges' sign-in</h1>" in english and ">Sign in</button>" in english
    assert not CJK.search(english), CJK.findall(english)


def test_a_wrong_password_is_said_beside_the_fields_and_the_username_is_kept(client):
    response = client.post("/accounts/login/", {"username": "judge-wang", "password": "wrong"})
    assert response.status_code == 200
    main = _main(response)
    summary = main.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert "登录未成功" in summary and 'href="#id_username">请输入一个正确的' in summary
    assert '<p class="error field-error" id="sign-in-error">请输入一个正确的' in main
    username = re.search(r"<input id=\"id_username\"[^>]*>", main).group(0)
    assert 'value="judge-wang"' in username and 'aria-invalid="true"' in username
    assert 'aria-describedby="sign-in-error"' in username
    password = re.search(r"<input type=\"password\"[^>]*>", main).group(0)
    assert 'aria-invalid="true"' in password and "wrong" not in password
    assert "<title>错误: 法官登录" in response.content.decode()


def test_empty_fields_are_each_marked_in_english(client):
    response = client.post(
        "/accounts/login/", {"username": "", "password": ""}, HTTP_ACCEPT_LANGUAGE="en"
    )
    main = _main(response)
    assert '<a href="#id_username">This field is required.</a>' in main
    assert '<a href="#id_password">This field is required.</a>' in main
    for field in ("id_username", "id_password"):
        assert (
            f'<p class="error field-error" id="{field}-error">This field is required.</p>' in main
        )
        assert f'aria-invalid="true" aria-describedby="{field}-error"' in main
    assert "The sign-in did not succeed" in main and not CJK.search(main)
