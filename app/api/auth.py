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
from app.auth.ratelimit import hit
from app.deps import Cipher, Db, Me
from app.exceptions import NotAuthenticated
from app.settings import get_settings

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


async def limit_attempts(db: Db, request: Request[Any, Any, Any], identity: str) -> None:
    """Count one attempt per identity and per client address, committed on its own."""
    limits = get_settings().security
    client = request.client.host if request.client else "unknown"
    async with db.begin():
        for bucket, limit in (
            (f"signin:{identity}", limits.sign_in_limit),
            (f"signin-ip:{client}", limits.sign_in_ip_limit),
        ):
            await hit(db, bucket, limit=limit, window_seconds=limits.sign_in_window_seconds)


class AuthController(Controller):
    """Staff sign in with a password, consumers with their phone; everyone can sign out."""

    path = "/auth"
    tags = ["auth"]  # noqa: RUF012

    @post("/sign-in", guards=[public], status_code=HTTP_200_OK)
    async def sign_in(
        self, data: JSONBody[SignIn], db: Db, request: Request[Any, Any, Any]
    ) -> Token:
        """Merchant staff, regulators, insurers and operators."""
        await limit_attempts(db, request, f"user:{data.username.strip().lower()}")
        async with db.begin():
            token, expires, who = await service.sign_in(db, data.username, data.password)
        return _token(token, expires, who)

    @post("/sms-code", guards=[public], status_code=HTTP_202_ACCEPTED)
    async def sms_code(
        self,
        data: JSONBody[SmsCodeRequest],
        db: Db,
        cipher: Cipher,
        request: Request[Any, Any, Any],
    ) -> CodeSent:
        """Text a consumer a 6-digit sign-in code."""
        phone = service.normalise_phone(data.phone)
        await limit_attempts(db, request, f"sms:{cipher.lookup_hash(phone, field='phone').hex()}")
        async with db.begin():
            ttl = await service.send_otp(db, phone, cipher)
        return CodeSent(sent=True, expires_in=ttl)

    @post("/sms-sign-in", guards=[public], status_code=HTTP_200_OK)
    async def sms_sign_in(
        self, data: JSONBody[SmsSignIn], db: Db, cipher: Cipher, request: Request[Any, Any, Any]
    ) -> Token:
        """A consumer signs in with the code (an account is made on first sign-in)."""
        phone = service.normalise_phone(data.phone)
        await limit_attempts(db, request, f"phone:{cipher.lookup_hash(phone, field='phone').hex()}")
        async with db.begin():
            result = await service.verify_otp(db, phone, data.code, cipher)
        if result is None:
            raise NotAuthenticated("the code is wrong or has expired; ask for a new one")
        return _token(*result)

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
