"""The demo's people: its staff and insurer and consumers, made in step 1 and read back later.

Step 1 makes them in one transaction (:func:`prepare`); every later step, in this process or
a helper process, reads them back from the database (:func:`context`), so that an interrupted
run can go on where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.auth.admin import create_staff
from app.auth.models import Consumer, Role, User
from app.auth.service import PHONE_FIELD, principal_of_user
from app.cases.directory import add
from app.demo.district import DISTRICT
from app.demo.options import DemoRefused
from app.demo.sandbox import sandbox_provider
from app.merchants.models import Merchant
from app.outbox.service import create_insurer
from app.qrcodes.service import keyring
from app.security.pii import PiiCipher

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.auth.principal import Principal
    from app.demo.district import District
    from app.payments.sandbox import SandboxProvider

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - printed for everyone to use: it is a demo
OPERATOR = "operator@demo"
REGULATOR = "regulator@shangcheng"
CITY_REGULATOR = "regulator@hangzhou"
INSURER = "claims@pingan"
INSURER_NAME = "平安财产保险杭州分公司"
DEPARTMENT_OFFICER = "officer@market.shangcheng"
STREET_OFFICER = "officer@hubin.shangcheng"
DEPARTMENTS = (
    ("department", "commerce", "上城区商务局", "Shangcheng Commerce Bureau"),
    ("department", "market", "上城区市场监督管理局", "Shangcheng Market Supervision Bureau"),
    ("department", "health", "上城区卫生健康局", "Shangcheng Health Bureau"),
    ("department", "education", "上城区教育局", "Shangcheng Education Bureau"),
    ("street", "street-hubin", "湖滨街道", "Hubin Street Office"),
    ("street", "street-xiaoying", "小营街道", "Xiaoying Street Office"),
)
"""The demo district's departments and street offices (多跨协同)."""

_MISMATCH = (
    "the database holds part of a demo district drawn with other --seed/--merchants/--cards;"
    " run `pguard demo` again with those"
)


async def prepare(session: AsyncSession, district: District) -> None:
    """Step 1 but the model, in the caller's transaction."""
    cipher = PiiCipher.from_master_key()
    insurer, _ = await create_insurer(session, cipher, name=INSURER_NAME)
    await create_staff(
        session,
        username=REGULATOR,
        password=DEMO_PASSWORD,
        role=Role.REGULATOR,
        district=DISTRICT,
        organisation=f"杭州市{DISTRICT}市场监督管理局",
    )
    await create_staff(
        session,
        username=CITY_REGULATOR,
        password=DEMO_PASSWORD,
        role=Role.REGULATOR,
        organisation="杭州市市场监督管理局",
    )
    await create_staff(
        session,
        username=INSURER,
        password=DEMO_PASSWORD,
        role=Role.INSURER,
        organisation=INSURER_NAME,
        insurer_id=insurer.id,
    )
    _consumers(session, district, cipher)
    await keyring(session, signing=True)  # the platform's first QR signing key
    await session.flush()


def _consumers(session: AsyncSession, district: District, cipher: PiiCipher) -> None:
    """Each person as a first SMS sign-in makes them, with the real name and ID number on file.

    A consumer's name and ID number are kept on file the first time a registered card is
    bought (``app.cards.service``); here they are on file from the start, so that the cards
    of one consumer can be sold in several merchants' transactions at once.
    """
    for person in district.people:
        session.add(
            Consumer(
                phone_hash=cipher.lookup_hash(person.phone, field=PHONE_FIELD),
                phone_enc=cipher.encrypt(person.phone, field=PHONE_FIELD),
                real_name_enc=cipher.encrypt(person.real_name, field="real_name"),
                id_number_enc=cipher.encrypt(person.id_number, field="id_number"),
                id_number_hash=cipher.lookup_hash(person.id_number, field="id_number"),
            )
        )


async def departments(session: AsyncSession) -> None:
    """The district's departments and streets, and an officer of each kind.

    Every merchant of the district is put on one of the two streets (in turn, by credit code).
    """
    made = {
        code: await add(session, district=DISTRICT, kind=kind, code=code, zh=zh, en=en)
        for kind, code, zh, en in DEPARTMENTS
    }
    for username, code in ((DEPARTMENT_OFFICER, "market"), (STREET_OFFICER, "street-hubin")):
        await create_staff(
            session,
            username=username,
            password=DEMO_PASSWORD,
            role=Role.DEPARTMENT,
            organisation=made[code].name_zh,
            organisation_id=made[code].id,
        )
    streets = [made["street-hubin"], made["street-xiaoying"]]
    merchants = (
        await session.scalars(
            select(Merchant).where(Merchant.district == DISTRICT).order_by(Merchant.uscc)
        )
    ).all()
    for n, merchant in enumerate(merchants):
        merchant.street_id = streets[n % len(streets)].id
    await session.flush()


@dataclass(frozen=True)
class Context:
    """The staff and consumers, read from the database, and the provider the shops are paid by."""

    regulator: Principal
    city: Principal
    insurer: Principal
    consumers: list[uuid.UUID]
    """Per person."""
    provider: SandboxProvider

    def supervisor(self, district: str) -> Principal:
        """The district's regulator; the city's for the other districts."""
        return self.regulator if district == DISTRICT else self.city


async def context(sessions: async_sessionmaker[AsyncSession], district: District) -> Context:
    """Who step 2 acts as, read back from step 1's rows."""
    cipher = PiiCipher.from_master_key()
    async with sessions() as session:
        hashes = [cipher.lookup_hash(p.phone, field=PHONE_FIELD) for p in district.people]
        people = dict(
            (
                await session.execute(
                    select(Consumer.phone_hash, Consumer.id).where(Consumer.phone_hash.in_(hashes))
                )
            ).all()
        )
        if len(people) < len(hashes):
            raise DemoRefused(_MISMATCH)
        return Context(
            regulator=principal_of_user(await user(session, REGULATOR)),
            city=principal_of_user(await user(session, CITY_REGULATOR)),
            insurer=principal_of_user(await user(session, INSURER)),
            consumers=[people[h] for h in hashes],
            provider=sandbox_provider(),
        )


async def user(session: AsyncSession, username: str) -> User:
    """One of the demo's staff; missing, the database is not the demo's."""
    found = await session.scalar(select(User).where(User.username == username))
    if found is None:
        raise DemoRefused(
            f"the demo's user {username} is missing: load the demo into a new database"
        )
    return found
