"""Signing in on the pages: forms in Chinese or English, errors beside the form, the cookie."""

from __future__ import annotations

from app.auth.middleware import SESSION_COOKIE
from app.auth.models import Role
from tests.e2e.api import Api, sign_in_form


async def test_sign_in_page_speaks_chinese_then_english(api: Api) -> None:
    page = await api.client.get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "工作人员登录" in page.text
    assert '<html lang="zh-CN">' in page.text
    switched = await api.client.get("/lang/en?next=/login", follow_redirects=False)
    assert switched.status_code == 303
    assert switched.headers["location"] == "/login"
    api.client.cookies.set("lang", "en")
    english = await api.client.get("/login")
    assert "Staff sign-in" in english.text
    api.client.cookies.delete("lang")
    outside = await api.client.get("/lang/en?next=//evil.example", follow_redirects=False)
    assert outside.headers["location"] == "/"


async def test_wrong_password_is_shown_on_the_form_and_sets_no_cookie(api: Api) -> None:
    await api.staff(Role.REGULATOR, "上城区")
    response = await api.client.post(
        "/login", data={"username": "nobody-here", "password": "wrong password"}
    )
    assert response.status_code == 200
    assert 'role="alert"' in response.text
    assert SESSION_COOKIE not in response.cookies


async def test_staff_land_on_their_page_and_sign_out(api: Api) -> None:
    signed = await sign_in_form(api.client, await api.staff_user(Role.OPERATOR))
    assert signed.headers["location"] == "/dashboard"
    assert "httponly" in signed.headers["set-cookie"].lower()
    assert "samesite=strict" in signed.headers["set-cookie"].lower()
    assert api.client.cookies.get(SESSION_COOKIE)
    home = await api.client.get("/", follow_redirects=False)
    assert home.headers["location"] == "/dashboard"
    forged = await api.client.post(
        "/logout", headers={"origin": "https://evil.example"}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert "此表单来自其他网站" in forged.text  # error.cross-site-form, in the page's Chinese
    out = await api.client.post("/logout", follow_redirects=False)
    assert out.status_code == 303
    assert not api.client.cookies.get(SESSION_COOKIE)
    after = await api.client.get("/", follow_redirects=False)
    assert after.headers["location"] == "/login"
