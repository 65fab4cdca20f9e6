"""Loading the demo district through the product's own use cases.

Nothing here writes a ledger row, a rating or a warning by hand: merchants register, are
approved by their regulator, set their custody account, get a policy from the insurer and
activate; cards are ordered and paid by signed sandbox notifications; cards are used with
their holders' one-time codes; complaints are filed, answered and decided; ratings come from
the live model; the default is declared as a regulator would declare it. So the demo shows
exactly what real use produces, every invariant included. Everything happens "now": the
service cannot backdate a sale, and the demo does not pretend otherwise (only the indicator
histories, which are the bureaus' data, reach back in time).

It runs in five steps, each safe to repeat:

1. one transaction: the staff, the insurer, the consumers, the first QR signing key and the
   live model (trained meanwhile on a thread);
2. one transaction per merchant, several at once (in this process and a helper process): it
   onboards (registration, approval, custody account, policy, activation, products), sells
   its cards, sees some used and answers its complaints; a merchant that exists is done;
3. one transaction: the indicator histories, one file per source as a bureau delivers them
   (importing a file again changes nothing);
4. ``rerate_all``: every merchant is rated with the live model;
5. one transaction: the default, its claim acknowledged by the insurer, and last the operator
   account, the marker that the demo is complete.

A failure leaves whole steps and whole merchants behind, never half of one. The next run
with the same options finishes the work; a database holding anything else is not touched.

This module runs the steps and holds steps 3 and 5; step 1's people are
:mod:`app.demo.accounts`', step 2 is :mod:`app.demo.trading` (each merchant
:mod:`app.demo.shop`), the model :mod:`app.demo.training`'s.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from sqlalchemy import func, select, text

from app.auth.admin import create_staff
from app.auth.models import Role, User
from app.auth.service import principal_of_user
from app.clock import today
from app.demo.accounts import (
    CITY_REGULATOR,
    DEMO_PASSWORD,
    INSURER,
    OPERATOR,
    REGULATOR,
    departments,
    prepare,
    user,
)
from app.demo.options import DEFAULT_OPTIONS, DemoRefused, Options, draw_district
from app.demo.printout import Outcome, summarise
from app.demo.sandbox import NotSandbox, sandbox_provider
from app.demo.trading import Helpers, trade
from app.demo.training import train_model
from app.insurance.service import acknowledge
from app.merchants.models import Merchant, MerchantStatus
from app.risk import ingest
from app.risk.models import IndicatorImport, ScoringModel
from app.risk.service import add_model, rerate_all
from app.settings import get_settings
from app.supervision.measures import declare_default
from scoring.indicators import Source, format_value

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.demo.district import District
    from scoring.indicators import Indicator

DEMO_ORIGIN = "demo"
"""The origin of the demo's indicator files."""
DEFAULT_REASON = "店主失联、门店关闭，会员集中投诉；经核实停止经营，依法认定违约。"
SOURCES = tuple(source.value for source in Source)
"""Every indicator source, one import file each."""
PROCESSES = 2
"""Processes that load merchants in step 2: the work is more Python than database."""
WORKERS = 2
"""Merchants each process loads at once in step 2, each in a transaction and connection."""
_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('pguard-demo'))")

State = Literal["empty", "loading", "complete", "foreign"]
Say = Callable[[str], None]

__all__ = [  # the demo's public face: what the command and the tests use
    "CITY_REGULATOR",
    "DEMO_PASSWORD",
    "INSURER",
    "OPERATOR",
    "PROCESSES",
    "REGULATOR",
    "WORKERS",
    "DemoRefused",
    "Options",
    "Outcome",
    "load",
]


def _quiet(_: str) -> None:
    pass


# -- the whole run ------------------------------------------------------------------------


async def load(
    sessions: async_sessionmaker[AsyncSession],
    options: Options = DEFAULT_OPTIONS,
    *,
    only_if_empty: bool = False,
    say: Say = _quiet,
    processes: int = PROCESSES,
    workers: int = WORKERS,
) -> Outcome:
    """Load the demo district unless it is there already; return what was done.

    Raises :class:`DemoRefused` in production, and (unless ``only_if_empty``, which then
    reports ``skipped``) on a database that holds merchants of its own.
    """
    if get_settings().environment == "production":
        raise DemoRefused("the demo is never loaded with PGUARD_ENV=production")
    try:
        sandbox_provider()  # refused before anything is written, not in the middle
    except NotSandbox as exc:
        raise DemoRefused(str(exc)) from None
    async with sessions() as session:
        state = await _state(session)
    if state == "complete":
        await _replace_a_retired_model(sessions, options.seed)
        async with sessions() as session:
            return Outcome("present", await summarise(session))
    if state == "foreign":
        if only_if_empty:
            return Outcome("skipped", note=_FOREIGN)
        raise DemoRefused(_FOREIGN)
    outcome = Outcome("loaded")
    timer = _Timer(outcome.seconds)
    day = today()
    district = await asyncio.to_thread(draw_district, options, day)
    async with Helpers(sessions, processes - 1) as helpers:  # they start during step 1
        if state == "empty":
            say(
                "creating the staff, the insurer and the consumers; training the live model"
                " on 2,000 synthetic merchants"
            )
            await _first_step(sessions, district)
        timer.lap("staff, consumers and model")
        say(
            f"{len(district.shops)} merchants onboard and sell {len(district.sales):,} cards"
            f" to {len(district.people):,} consumers; {len(district.uses):,} are partly used,"
            f" {len(district.grievances)} complained about"
        )
        await trade(sessions, district, helpers, options, day, workers)
    timer.lap("merchants, cards, use and complaints")
    say("importing the merchants' indicator histories")
    async with sessions() as session, session.begin():
        await session.execute(_LOCK)
        await _histories(session, district)
    timer.lap("histories")
    say("rating every merchant with the live model")
    await rerate_all(sessions, cause="demo: rated on loading")
    timer.lap("rating")
    async with sessions() as session, session.begin():
        await session.execute(_LOCK)
        if await _state(session) != "complete":
            say(f"the regulator declares {district.vanishing.legal_name} in default")
            await finish(session, district)
    timer.lap("default")
    outcome.seconds["total"] = timer.total()
    async with sessions() as session:
        outcome.summary = await summarise(session)
    return outcome


_FOREIGN = (
    "this database already holds merchants that are not the demo's; the demo loads only into"
    " an empty database (point DATABASE_URL at a new one, or use another PGUARD_VAR_DIR)"
)


class _Timer:
    """Seconds spent in each step, for the printout."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self.started = self.mark = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self.mark
        self.mark = now

    def total(self) -> float:
        return time.perf_counter() - self.started


async def _state(session: AsyncSession) -> State:
    names = set(
        (
            await session.scalars(
                select(User.username).where(User.username.in_([REGULATOR, OPERATOR]))
            )
        ).all()
    )
    if OPERATOR in names and REGULATOR in names:
        return "complete"
    if REGULATOR in names:
        return "loading"
    if await session.scalar(select(func.count()).select_from(Merchant)):
        return "foreign"
    return "empty"


# -- step 1: staff, consumers, the model ---------------------------------------------------


async def _first_step(sessions: async_sessionmaker[AsyncSession], district: District) -> None:
    """One transaction; the model is trained on a thread meanwhile."""
    training = asyncio.create_task(asyncio.to_thread(train_model, district.seed))
    try:
        async with sessions() as session, session.begin():
            await session.execute(_LOCK)
            if await _state(session) == "empty":
                await prepare(session, district)
                await add_model(session, await training, activate=True, by=None)
    finally:
        await asyncio.gather(training, return_exceptions=True)


async def _replace_a_retired_model(sessions: async_sessionmaker[AsyncSession], seed: int) -> None:
    """A demo whose model file format was retired (migration 0011) gets the model again."""
    async with sessions() as session:
        if await session.scalar(select(ScoringModel.version).where(ScoringModel.active)):
            return
    data = await asyncio.to_thread(train_model, seed)
    async with sessions() as session, session.begin():
        await add_model(session, data, activate=True, by=None)


# -- step 3: the indicator histories -------------------------------------------------------


def _csv(records: Sequence[Indicator]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ingest.COLUMNS)
    for r in records:
        writer.writerow([r.uscc, r.kind, format_value(r.value), r.as_of.isoformat(), r.provenance])
    return out.getvalue().encode()


async def _histories(session: AsyncSession, district: District) -> None:
    """One file per source, as a bureau delivers it, imported as ``pguard scoring import`` does.

    Done once: a run that goes on another day (whose files would be dated differently) finds
    the demo's files imported and leaves them.
    """
    if await session.scalar(
        select(IndicatorImport.id).where(IndicatorImport.origin == DEMO_ORIGIN).limit(1)
    ):
        return
    for source in SOURCES:
        records = [r for shop in district.shops for r in shop.records if r.source == source]
        if not records:
            continue
        data = _csv(records)
        await ingest.import_rows(
            session,
            ingest.parse_csv(data, source),
            channel="csv",
            origin=DEMO_ORIGIN,
            digest=ingest.csv_digest(data, source),
            source=source,
            on_error="refuse",
            imported_by=None,
        )


# -- step 5 -------------------------------------------------------------------------------


async def finish(session: AsyncSession, district: District) -> None:
    """Step 5, in the caller's transaction: the default, its claim acknowledged, the marker."""
    vanishing = await session.scalar(
        select(Merchant).where(Merchant.uscc == district.vanishing.uscc)
    )
    if vanishing is None:
        raise DemoRefused(
            "an earlier `pguard demo` stopped midway with other --seed/--merchants/--cards;"
            " run it again with those"
        )
    if vanishing.status != MerchantStatus.DEFAULTED:
        regulator = principal_of_user(await user(session, REGULATOR))
        _, _, claim = await declare_default(session, regulator, vanishing.id, reason=DEFAULT_REASON)
        if claim is not None:
            insurer = principal_of_user(await user(session, INSURER))
            await acknowledge(session, insurer, claim.id)
    await create_staff(
        session,
        username=OPERATOR,
        password=DEMO_PASSWORD,
        role=Role.OPERATOR,
        organisation="预付卡保障平台运营中心",
    )
    await departments(session)
