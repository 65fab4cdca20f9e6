"""Signing in and out on the pages, the language switch, and the home page by role."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from app.auth import service
from app.auth.middleware import SESSION_COOKIE
from app.auth.models import Role
from app.auth.principal import principal_of, public
from app.auth.service import PHONE_FIELD
from app.auth.sms import SandboxTexts
from app.clock import utcnow
from app.deps import Cipher, Db, Sms, client_address
from app.exceptions import AppError
from app.i18n import LANG_COOKIE, LANGS, describe
from app.pages.render import Form, back_to, lang_of, page, refusal
from app.settings import get_settings

if TYPE_CHECKING:
    from datetime import datetime

NextPage = Annotated[str | None, QueryParameter(name="next")]
"""Where to go after signing in (only this site's paths are followed)."""

HOME_OF = {
    Role.CONSUMER: "/my/cards",
    Role.MERCHANT: "/console",
    Role.REGULATOR: "/dashboard",
    Role.OPERATOR: "/dashboard",
    Role.INSURER: "/insurer-view",
    Role.DEPARTMENT: "/dept",
}
"""Where each role lands after signing in."""


def _session_cookie(token: str, expires: datetime) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path="/",
        httponly=True,
        secure=get_settings().security.secure_cookies,
        samesite="strict",
        max_age=max(0, int((expires - utcnow()).total_seconds())),
    )


def _landing(role: Role, wanted: str | None) -> Redirect:
    return back_to(wanted or HOME_OF[role], HOME_OF[role])


class PageAuthController(Controller):
    """Sign-in forms, sign-out, the language switch and ``/``."""

    include_in_schema = False
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    @get("/", guards=[public])
    async def home(self, request: Request[Any, Any, Any]) -> Redirect:
        """Each role's own start page; visitors are asked to sign in."""
        who = principal_of(request)
        return back_to(HOME_OF[who.role] if who else "/login")

    @get("/login", guards=[public])
    async def login_form(
        self,
        request: Request[Any, Any, Any],
        next_: NextPage = None,
    ) -> Template:
        """Staff: merchants, regulators, insurers, operators."""
        return page(request, "login.html", next=next_ or "", username="", errors={})

    @post("/login", guards=[public])
    async def login(
        self, request: Request[Any, Any, Any], data: Form, db: Db
    ) -> Template | Redirect:
        """Sign in; on success the session cookie is set and the role's page opens."""
        username = data.get("username", "").strip()
        wanted = data.get("next") or None
        try:
            token, expires, who = await service.staff_sign_in(
                db, username, data.get("password", ""), client=client_address(request)
            )
        except AppError as exc:
            return page(
                request,
                "login.html",
                next=wanted or "",
                username=username,
                errors={},
                error=describe(exc, lang_of(request)),
            )
        response = _landing(who.role, wanted)
        response.cookies.append(_session_cookie(token, expires))
        return response

    @get("/login/phone", guards=[public])
    async def phone_form(
        self,
        request: Request[Any, Any, Any],
        next_: NextPage = None,
    ) -> Template:
        """Consumers: phone, then the code texted to it."""
        return page(request, "login_phone.html", next=next_ or "", phone="", errors={})

    @post("/login/phone/code", guards=[public])
    async def phone_code(
        self, request: Request[Any, Any, Any], data: Form, db: Db, cipher: Cipher, sms: Sms
    ) -> Template:
        """Text a code, then ask for it."""
        phone = data.get("phone", "")
        wanted = data.get("next", "")
        try:
            normal, _ = await service.request_sms_code(
                db, phone, cipher, sms, client=client_address(request)
            )
        except AppError as exc:
            errors = refusal(exc, lang_of(request), default_field="phone")
            return page(request, "login_phone.html", next=wanted, phone=phone, errors=errors)
        # the sandbox's "phone" is this page: the demo's visitor reads the text here
        sandbox_text = (
            await sms.last_text(db, cipher.lookup_hash(normal, field=PHONE_FIELD))
            if isinstance(sms, SandboxTexts)
            else None
        )
        return page(
            request,
            "login_phone.html",
            next=wanted,
            phone=normal,
            code_sent=True,
            sandbox_text=sandbox_text,
            errors={},
        )

    @post("/login/phone", guards=[public])
    async def phone_sign_in(
        self, request: Request[Any, Any, Any], data: Form, db: Db, cipher: Cipher
    ) -> Template | Redirect:
        """Sign in with the code (an account is made on first sign-in)."""
        phone = data.get("phone", "")
        wanted = data.get("next") or None
        try:
            token, expires, who = await service.sms_sign_in(
                db, phone, data.get("code", "").strip(), cipher, client=client_address(request)
            )
        except AppError as exc:
            return page(
                request,
                "login_phone.html",
                next=wanted or "",
                phone=phone,
                code_sent=True,
                errors=refusal(exc, lang_of(request), default_field="code"),
            )
        response = _landing(who.role, wanted)
        response.cookies.append(_session_cookie(token, expires))
        return response

    @post("/logout", guards=[public])
    async def logout(self, request: Request[Any, Any, Any], db: Db) -> Redirect:
        """End the sign-in and forget the cookie."""
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            async with db.begin():
                await service.sign_out(db, token)
        response = back_to("/login")
        response.cookies.append(Cookie(key=SESSION_COOKIE, value="", path="/", max_age=0))
        return response

    @get("/lang/{code:str}", guards=[public])
    async def language(self, code: FromPath[str], next_: NextPage = None) -> Redirect:
        """Switch language for this browser (a cookie), and go back where it was."""
        response = back_to(next_ or "/")
        if code in LANGS:
            response.cookies.append(
                Cookie(key=LANG_COOKIE, value=code, path="/", samesite="lax", max_age=365 * 86400)
            )
        return response
