"""A simulated district living day by day against the real services and a real PostgreSQL.

The clock is a :class:`~app.clock.ManualClock`: each simulated day starts at 09:00 Shanghai
time, people act through the same use cases the API and the pages call (ordering and paying
through the sandbox provider's signed notifications, showing one-time codes, asking for
refunds, complaining; merchants answering; the regulator deciding and taking measures; the
insurer acknowledging and paying claims; bureaus sending records; the custody bank sending
statements, some of them short or partial), and in the evening the workers run (re-rating,
the payables' deadline, dispute escalation). Then the day is checked (:mod:`app.simulation
.checks`); the first broken check stops the run with the seed and the day, which replay it.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.auth.admin import create_staff
from app.auth.models import Consumer, Role, User
from app.auth.service import PHONE_FIELD, principal_of_user
from app.clock import today
from app.demo.onboarding import TERMS, Protection, onboard
from app.merchants import service as merchant_service
from app.merchants.rules import ProductDraft
from app.outbox.service import create_insurer
from app.qrcodes.service import keyring
from app.risk.service import add_model, rerate_all
from app.simulation import customers, institutions, merchants
from app.simulation.institutions import STATEMENT_EVERY
from app.simulation.state import Run, Shop, Summary
from app.simulation.world import DISTRICT

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.simulation.world import MerchantPlan

PASSWORD = "simulated-district-2027"  # noqa: S105 - accounts of a throw-away database
NIGHTLY_EVERY = 7
"""The nightly re-rating of every merchant, run once a simulated week to keep runs short
(the live re-rating runs every evening)."""
PROGRESS_EVERY = 50


class District(Run):
    """One run: the days, each from morning to night, then checked.

    The day's acts are :mod:`app.simulation.customers`', :mod:`app.simulation.merchants`' and
    :mod:`app.simulation.institutions`'; what they share is the :class:`Run`.
    """

    async def setup(self, model: bytes) -> None:
        """Day 0 morning: staff, insurer, consumers, the live model, every merchant onboard."""
        self.at(time(8))
        async with self.sessions() as session, session.begin():
            insurer, _ = await create_insurer(session, self.cipher, name="模拟保险公司")
            for username, role, extra in (
                ("regulator@sim", Role.REGULATOR, {"district": "上城区"}),
                ("insurer@sim", Role.INSURER, {"insurer_id": insurer.id}),
            ):
                await create_staff(
                    session,
                    username=username,
                    password=PASSWORD,
                    role=role,
                    organisation=username,
                    **extra,
                )
            for person in self.world.consumers:
                session.add(
                    Consumer(
                        phone_hash=self.cipher.lookup_hash(person.phone, field=PHONE_FIELD),
                        phone_enc=self.cipher.encrypt(person.phone, field=PHONE_FIELD),
                        real_name_enc=self.cipher.encrypt(person.real_name, field="real_name"),
                        id_number_enc=self.cipher.encrypt(person.id_number, field="id_number"),
                        id_number_hash=self.cipher.lookup_hash(person.id_number, field="id_number"),
                    )
                )
            await keyring(session, signing=True)
            await add_model(session, model, activate=True, by=None)
            await session.flush()
            self.regulator = principal_of_user(await self._user(session, "regulator@sim"))
            self.insurer = principal_of_user(await self._user(session, "insurer@sim"))
            hashes = [
                self.cipher.lookup_hash(p.phone, field=PHONE_FIELD) for p in self.world.consumers
            ]
            found = dict(
                (
                    await session.execute(
                        select(Consumer.phone_hash, Consumer.id).where(
                            Consumer.phone_hash.in_(hashes)
                        )
                    )
                ).all()
            )
            self.people = [found[h] for h in hashes]
        for plan in self.world.merchants:
            async with self.sessions() as session, session.begin():
                self.shops.append(await self._onboard(session, plan))
        self.summary.merchants = len(self.shops)
        self.summary.consumers = len(self.people)

    async def run(self) -> Summary:
        """Every day of the world, checked after each; raises :class:`SimulationBroke`."""
        started = datetime.now(UTC)
        for day in range(self.world.days):
            self.day = day
            await self.live_one_day()
            self.summary.days = day + 1
            if (day + 1) % PROGRESS_EVERY == 0:
                seconds = (datetime.now(UTC) - started).total_seconds()
                self.say(
                    f"day {day + 1}: {self.summary.operations.get('sales', 0):,} sales,"
                    f" {len(self.open_cards):,} cards open, {self.checks.count:,} checks passed"
                    f" ({seconds:.0f} s)"
                )
        self.summary.seconds = (datetime.now(UTC) - started).total_seconds()
        report = await self.checks.verify_all()
        self.check(report)
        self.summary.entries = self.checks.entries
        self.summary.refunds_by_path = dict(self.checks.settled)
        self.summary.checks = self.checks.count
        self.summary.grade_changes, self.summary.warnings = await self.checks.tallies()
        return self.summary

    async def live_one_day(self) -> None:
        """Morning to night of one day, then its checks."""
        day = self.day
        self.at(time(9))
        await institutions.records(self)
        await institutions.insurer_work(self)
        await merchants.answers(self)
        self.at(time(11))
        await customers.sales(self)
        self.at(time(14))
        await customers.uses(self)
        await customers.refunds(self)
        await customers.complaints(self)
        await merchants.pay_refunds(self)
        self.at(time(16))
        if day % STATEMENT_EVERY == STATEMENT_EVERY - 1:
            await institutions.statement(self)
        await institutions.regulator_work(self)
        self.at(time(20))
        await institutions.workers(self)
        if day % NIGHTLY_EVERY == NIGHTLY_EVERY - 1:
            self.at(time(23))
            await rerate_all(self.sessions, cause="nightly re-rating")
            self.summary.count("nightly re-ratings")
        self.check(await self.checks.end_of_day(day, today()))

    async def _onboard(self, session: AsyncSession, plan: MerchantPlan) -> Shop:
        done = await onboard(
            session,
            self.cipher,
            merchant_service.Registration(
                uscc=plan.uscc,
                legal_name=plan.legal_name,
                industry=plan.industry,
                district=DISTRICT,
                address=f"杭州市上城区模拟路{plan.number}号",
                owner_username=plan.username,
                owner_password=PASSWORD,
            ),
            regulator=self.regulator,
            protection=Protection(
                "模拟银行",
                plan.custody_account,
                f"SIM-{self.world.seed}-{plan.number:04d}",
                10**10,
                self.insurer,
            ),
            products=[
                ProductDraft(
                    name=spec.name,
                    kind=spec.kind,
                    price=spec.price,
                    units=spec.units,
                    validity_days=None,
                    anonymous=False,
                    terms=TERMS,
                )
                for spec in plan.products
            ],
        )
        self.checks.expect_rated(done.merchant_id)
        self.summary.count("onboardings")
        prices = [(spec.price, spec.units) for spec in plan.products]
        products = [(pid, *price) for pid, price in zip(done.products, prices, strict=True)]
        return Shop(plan, done.merchant_id, done.owner, done.counter, products)

    @staticmethod
    async def _user(session: AsyncSession, username: str) -> User:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:  # pragma: no cover - made just before
            raise LookupError(username)
        return user
