"""Sign-in use cases: staff by password, consumers by phone and SMS code, and sign-out.

The steps only flush and the caller owns the transaction. The front doors call the three
whole sign-ins at the end (:func:`staff_sign_in`, :func:`request_sms_code`,
:func:`sms_sign_in`): each counts the attempt against the rate limits in a transaction of its
own (:func:`app.auth.ratelimit.limit_sign_in`), then runs its step in another.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select, update

from app.auth.models import AuthToken, Consumer, OtpCode, Role, User
from app.auth.principal import Principal
from app.auth.ratelimit import limit_sign_in
from app.clock import utcnow
from app.exceptions import Invalid, NotAuthenticated
from app.i18n import LANGS, gettext
from app.security.passwords import verify_password
from app.security.tokens import digest, new_secret, numeric_code
from app.settings import get_settings

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.sms import SmsSender
    from app.security.pii import PiiCipher

log = structlog.get_logger(__name__)

PHONE = re.compile(r"^1[3-9]\d{9}$")
OTP_MAX_ATTEMPTS = 5
PHONE_FIELD = "phone"


def normalise_phone(phone: str) -> str:
    """A mainland mobile number, digits only; anything else is refused."""
    digits = re.sub(r"[\s-]", "", phone.removeprefix("+86"))
    if not PHONE.match(digits):
        raise Invalid("phone-not-mainland-mobile", fields={"phone": "phone-not-mainland"})
    return digits


async def _issue_token(session: AsyncSession, principal: Principal) -> tuple[str, datetime]:
    token = new_secret()
    expires = utcnow() + timedelta(minutes=get_settings().security.token_ttl_minutes)
    session.add(
        AuthToken(
            token_hash=digest(token),
            role=principal.role,
            user_id=principal.user_id,
            consumer_id=principal.consumer_id,
            expires_at=expires,
        )
    )
    await session.flush()
    return token, expires


def principal_of_user(user: User) -> Principal:
    """The principal a staff user signs in as."""
    return Principal(
        role=Role(user.role),
        user_id=user.id,
        merchant_id=user.merchant_id,
        district=user.district,
        organisation=user.organisation,
        insurer_id=user.insurer_id,
        organisation_id=user.organisation_id,
    )


async def sign_in(
    session: AsyncSession, username: str, password: str
) -> tuple[str, datetime, Principal]:
    """A token for a staff user whose password matches."""
    user = await session.scalar(select(User).where(User.username == username.strip().lower()))
    # Argon2 takes ~0.1 s of CPU by design: off the event loop, or it stalls every request
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        raise NotAuthenticated("wrong-username-or-password")
    principal = principal_of_user(user)
    token, expires = await _issue_token(session, principal)
    return token, expires, principal


async def send_otp(session: AsyncSession, phone: str, cipher: PiiCipher, sms: SmsSender) -> int:
    """Text a 6-digit sign-in code; return how long it lasts, in seconds.

    Only the newest code signs in: a new one spends the earlier ones, so that a guess tests
    one code, not every code still alive (requests are rate-limited per phone and address).
    """
    phone = normalise_phone(phone)
    ttl = get_settings().security.otp_ttl_seconds
    code = numeric_code()
    phone_hash = cipher.lookup_hash(phone, field=PHONE_FIELD)
    now = utcnow()
    await session.execute(
        update(OtpCode)
        .where(OtpCode.phone_hash == phone_hash, OtpCode.used_at.is_(None))
        .values(used_at=now)
    )
    session.add(
        OtpCode(
            phone_hash=phone_hash,
            code_hash=digest(f"{phone}:{code}"),
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    # one text in both languages: the phone's owner has not chosen a language yet
    body = " ".join(
        gettext(lang, "sms.sign-in-code", code=code, minutes=ttl // 60) for lang in LANGS
    )
    await sms.send(session, phone, phone_hash, body)
    await session.flush()
    return ttl


async def verify_otp(
    session: AsyncSession, phone: str, code: str, cipher: PiiCipher
) -> tuple[str, datetime, Principal] | None:
    """A consumer token for a phone whose newest code matches; the consumer is made on first use.

    ``None`` for a wrong, expired or superseded code; the caller commits anyway, so that the
    failed attempt counts against the code.
    """
    phone = normalise_phone(phone)
    phone_hash = cipher.lookup_hash(phone, field=PHONE_FIELD)
    now = utcnow()
    newest = await session.scalar(
        select(OtpCode)
        .where(
            OtpCode.phone_hash == phone_hash,
            OtpCode.used_at.is_(None),
            OtpCode.expires_at > now,
            OtpCode.attempts < OTP_MAX_ATTEMPTS,
        )
        .order_by(OtpCode.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if newest is None:
        return None
    if not hmac.compare_digest(newest.code_hash, digest(f"{phone}:{code.strip()}")):
        newest.attempts += 1
        await session.flush()
        return None
    newest.used_at = now
    consumer = await session.scalar(select(Consumer).where(Consumer.phone_hash == phone_hash))
    if consumer is None:
        consumer = Consumer(
            phone_hash=phone_hash, phone_enc=cipher.encrypt(phone, field=PHONE_FIELD)
        )
        session.add(consumer)
        await session.flush()
    principal = Principal(role=Role.CONSUMER, consumer_id=consumer.id)
    token, expires = await _issue_token(session, principal)
    return token, expires, principal


async def resolve(session: AsyncSession, token: str) -> Principal | None:
    """The principal a bearer token stands for, or ``None`` if it is unknown or expired."""
    row = await session.scalar(
        select(AuthToken).where(
            AuthToken.token_hash == digest(token), AuthToken.expires_at > utcnow()
        )
    )
    if row is None:
        return None
    if row.consumer_id is not None:
        return Principal(role=Role.CONSUMER, consumer_id=row.consumer_id)
    user = await session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    return principal_of_user(user)


async def sign_out(session: AsyncSession, token: str) -> None:
    """End a sign-in at once."""
    await session.execute(
        update(AuthToken).where(AuthToken.token_hash == digest(token)).values(expires_at=utcnow())
    )


Token = tuple[str, "datetime", Principal]
"""A bearer token, when it expires, and who it stands for."""


async def staff_sign_in(
    session: AsyncSession, username: str, password: str, *, client: str | None
) -> Token:
    """A staff sign-in, counted against the limits first (``client``: the caller's address)."""
    if await limit_sign_in(session, f"user:{username.strip().lower()}", client):
        await asyncio.sleep(get_settings().security.sign_in_slow_seconds)
    async with session.begin():
        return await sign_in(session, username, password)


async def request_sms_code(
    session: AsyncSession, phone: str, cipher: PiiCipher, sms: SmsSender, *, client: str | None
) -> tuple[str, int]:
    """Text a sign-in code; return the phone as normalised and how long the code lasts."""
    normal = normalise_phone(phone)
    await limit_sign_in(
        session,
        f"sms:{cipher.lookup_hash(normal, field=PHONE_FIELD).hex()}",
        client,
        cap_identity=True,
    )
    async with session.begin():
        return normal, await send_otp(session, normal, cipher, sms)


async def sms_sign_in(
    session: AsyncSession, phone: str, code: str, cipher: PiiCipher, *, client: str | None
) -> Token:
    """A consumer sign-in with the code texted; a wrong or expired code still counts."""
    normal = normalise_phone(phone)
    phone_key = f"phone:{cipher.lookup_hash(normal, field=PHONE_FIELD).hex()}"
    if await limit_sign_in(session, phone_key, client):
        await asyncio.sleep(get_settings().security.sign_in_slow_seconds)
    async with session.begin():
        result = await verify_otp(session, normal, code, cipher)
    if result is None:
        raise NotAuthenticated("sms-code-wrong", fields={"code": "sms-code-wrong"})
    return result
