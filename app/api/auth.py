"""Sign-in routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from app.auth import service
from app.auth.models import Role
from app.auth.principal import Principal, public, requires
from app.deps import Cipher, Db, Me, Sms, client_address

ALL_ROLES = tuple(Role)


class SignIn(msgspec.Struct, forbid_unknown_fields=True):
    """Staff sign-in."""

    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class SmsCodeRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Ask for a sign-in code by SMS."""

    phone: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]


class SmsSignIn(msgspec.Struct, forbid_unknown_fields=True):
    """Consumer sign-in with the code received."""

    phone: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    code: Annotated[str, msgspec.Meta(pattern=r"^\s*\d{6}\s*$")]


class Token(msgspec.Struct):
    """A bearer token and who it stands for."""

    token: str
    expires_at: datetime
    role: str
    merchant_id: str | None = None


class CodeSent(msgspec.Struct):
    """The code is on its way."""

    sent: bool
    expires_in: int


class WhoAmI(msgspec.Struct):
    """The signed-in caller."""

    role: str
    user_id: str | None
    consumer_id: str | None
    merchant_id: str | None
    district: str | None
    organisation: str | None


def _token(token: str, expires: datetime, who: Principal) -> Token:
    return Token(
        token=token,
        expires_at=expires,
        role=who.role.value,
        merchant_id=str(who.merchant_id) if who.merchant_id else None,
    )


class AuthController(Controller):
    """Staff sign in with a password, consumers with their phone; everyone can sign out."""

    path = "/auth"
    tags = ["auth"]  # noqa: RUF012

    @post("/sign-in", guards=[public], status_code=HTTP_200_OK)
    async def sign_in(
        self, data: JSONBody[SignIn], db: Db, request: Request[Any, Any, Any]
    ) -> Token:
        """Merchant staff, regulators, insurers and operators."""
        signed = await service.staff_sign_in(
            db, data.username, data.password, client=client_address(request)
        )
        return _token(*signed)

    @post("/sms-code", guards=[public], status_code=HTTP_202_ACCEPTED)
    async def sms_code(
        self,
        data: JSONBody[SmsCodeRequest],
        db: Db,
        cipher: Cipher,
        sms: Sms,
        request: Request[Any, Any, Any],
    ) -> CodeSent:
        """Text a consumer a 6-digit sign-in code."""
        _, ttl = await service.request_sms_code(
            db, data.phone, cipher, sms, client=client_address(request)
        )
        return CodeSent(sent=True, expires_in=ttl)

    @post("/sms-sign-in", guards=[public], status_code=HTTP_200_OK)
    async def sms_sign_in(
        self, data: JSONBody[SmsSignIn], db: Db, cipher: Cipher, request: Request[Any, Any, Any]
    ) -> Token:
        """A consumer signs in with the code (an account is made on first sign-in)."""
        signed = await service.sms_sign_in(
            db, data.phone, data.code, cipher, client=client_address(request)
        )
        return _token(*signed)

    @post("/sign-out", guards=[requires(*ALL_ROLES)], status_code=HTTP_204_NO_CONTENT)
    async def sign_out(self, db: Db, request: Request[Any, Any, Any]) -> None:
        """End this sign-in."""
        async with db.begin():
            await service.sign_out(db, str(request.auth))

    @get("/me", guards=[requires(*ALL_ROLES)])
    async def me(self, me: Me) -> WhoAmI:
        """Who the token stands for."""
        return WhoAmI(
            role=me.role.value,
            user_id=str(me.user_id) if me.user_id else None,
            consumer_id=str(me.consumer_id) if me.consumer_id else None,
            merchant_id=str(me.merchant_id) if me.merchant_id else None,
            district=me.district,
            organisation=me.organisation,
        )
