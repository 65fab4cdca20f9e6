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
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal, Self

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.admin import create_staff
from app.auth.models import Consumer, Role, User
from app.auth.principal import Principal
from app.auth.service import PHONE_FIELD, principal_of_user
from app.cards import service as cards
from app.clock import ManualClock, today, use_clock, utcnow
from app.db import create_engine, session_factory
from app.demo.district import (
    DISTRICT,
    District,
    Grievance,
    draw,
    phone_of,
    shop_username,
)
from app.demo.onboarding import TERMS, Protection, onboard
from app.insurance.models import Claim, ClaimKind
from app.insurance.service import acknowledge
from app.insurance.service import pay as pay_claim
from app.merchants import service as merchants
from app.merchants.models import Merchant, MerchantStatus
from app.merchants.rules import ProductDraft
from app.outbox.service import create_insurer
from app.payables import service as payables
from app.payments.sandbox import SandboxProvider
from app.qrcodes.service import keyring
from app.risk import ingest
from app.risk.models import IndicatorImport, Rating
from app.risk.service import add_model, rerate_all
from app.security.pii import PiiCipher
from app.settings import get_settings
from app.supervision import disputes
from app.supervision.measures import declare_default
from app.supervision.models import Dispute
from escrow.models import Card
from scoring.indicators import Source, format_value

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Select
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from scoring.indicators import Indicator

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - printed for everyone to use: it is a demo
OPERATOR = "demo-operator"
REGULATOR = "demo-regulator"
CITY_REGULATOR = "demo-city-regulator"
INSURER = "demo-insurer"
INSURER_NAME = "平安财产保险杭州分公司"
CUSTODY_BANK = "杭州银行"
DEMO_ORIGIN = "demo"
"""The origin of the demo's indicator files."""
COVERAGE_FEN = 500_000_000
"""Each policy's cover: ¥5,000,000."""
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


class DemoRefused(Exception):
    """The demo will not load here (production, or a database that holds other data)."""


@dataclass(frozen=True)
class Options:
    """How big a district to load."""

    seed: int = 7
    merchants: int = 60
    cards: int = 3000


@dataclass(frozen=True)
class Summary:
    """What the database holds, for the printout."""

    merchants: int
    grades: dict[str, int]
    industries: int
    cards: int
    partly_used: int
    consumers: int
    complaints: int
    defaulted: str | None
    claim_fen: int | None
    claim_cards: int | None
    claim_status: str | None
    shop_name: str | None


@dataclass
class Outcome:
    """What ``load`` did: ``loaded``, ``present`` (loaded before), or ``skipped`` (not empty)."""

    status: Literal["loaded", "present", "skipped"]
    summary: Summary | None = None
    note: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


def _quiet(_: str) -> None:
    pass


# -- the whole run ------------------------------------------------------------------------


async def load(
    sessions: async_sessionmaker[AsyncSession],
    options: Options = Options(),
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
    async with sessions() as session:
        state = await _state(session)
    if state == "complete":
        async with sessions() as session:
            return Outcome("present", await summarise(session))
    if state == "foreign":
        if only_if_empty:
            return Outcome("skipped", note=_FOREIGN)
        raise DemoRefused(_FOREIGN)
    outcome = Outcome("loaded")
    timer = _Timer(outcome.seconds)
    day = today()
    district = await asyncio.to_thread(_draw, options, day)
    async with _Helpers(sessions, processes - 1) as helpers:  # they start during step 1
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
        await _trade(sessions, district, helpers, options, day, workers)
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


def _draw(options: Options, day: date) -> District:
    return draw(seed=options.seed, merchants=options.merchants, cards=options.cards, today=day)


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


def train_model(seed: int) -> bytes:
    """A live model fitted on ``generate(2000, seed)``, as ``pguard scoring train`` saves it."""
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    import scoring as sc  # noqa: PLC0415
    from scoring.dataset import LABEL, POSITIVE, training_rows  # noqa: PLC0415

    header, rows = training_rows(sc.generate(2000, seed))
    with tempfile.TemporaryDirectory(prefix="pguard-demo-") as folder:
        path = Path(folder) / "training.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        table = sc.read_table(path, label=LABEL, positive=POSITIVE)
    trained = sc.train(table, folds=0, monotone=dict(sc.MONOTONE), params=sc.Params(seed=seed))
    data, _ = sc.dumps(
        trained.model,
        training=table.summary(),
        metrics=trained.metrics(),
        reference=trained.reference,
    )
    return data


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


# -- step 2: each merchant, in a transaction of its own -----------------------------------


@dataclass(frozen=True)
class _Context:
    """The staff and consumers, read from the database (so an interrupted run can go on)."""

    regulator: Principal
    city: Principal
    insurer: Principal
    consumers: list[uuid.UUID]
    """Per person."""

    def supervisor(self, district: str) -> Principal:
        """The district's regulator; the city's for the other districts."""
        return self.regulator if district == DISTRICT else self.city


_MISMATCH = (
    "the database holds part of a demo district drawn with other --seed/--merchants/--cards;"
    " run `pguard demo` again with those"
)


async def _context(sessions: async_sessionmaker[AsyncSession], district: District) -> _Context:
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
        return _Context(
            regulator=principal_of_user(await _user(session, REGULATOR)),
            city=principal_of_user(await _user(session, CITY_REGULATOR)),
            insurer=principal_of_user(await _user(session, INSURER)),
            consumers=[people[h] for h in hashes],
        )


async def _trade(
    sessions: async_sessionmaker[AsyncSession],
    district: District,
    helpers: _Helpers,
    options: Options,
    day: date,
    workers: int,
) -> None:
    """Every merchant in a transaction of its own, several at once.

    A merchant's transaction writes its own rows (merchant, book, cards, complaints) and only
    reads what others share, so the transactions neither wait for nor deadlock each other.
    The work is more Python than database, so the merchants are dealt out to this process
    and its helpers, the busiest first.
    """
    work = _Work.of(district)
    await _story_shop(sessions, district, work)
    shops = sorted(
        (shop for shop in range(len(district.shops)) if shop != STORY_SHOP),
        key=lambda shop: -len(work.sales.get(shop, [])),
    )
    parts: list[list[int]] = [[] for _ in range(helpers.count + 1)]
    for shop in shops:
        min(parts, key=lambda part: sum(len(work.sales.get(s, [])) + 10 for s in part)).append(shop)
    jobs = [trade_shops(sessions, district, parts[0], workers)]
    jobs += [
        helpers.trade(index, options, day, part, workers)
        for index, part in enumerate(parts[1:])
        if part
    ]
    await asyncio.gather(*jobs)


async def trade_shops(
    sessions: async_sessionmaker[AsyncSession],
    district: District,
    shops: Sequence[int],
    workers: int,
) -> None:
    """Onboard these shops and load their cards, use and complaints, ``workers`` at a time."""
    context = await _context(sessions, district)
    work = _Work.of(district)
    pending = iter(shops)

    async def worker() -> None:
        for shop in pending:
            uscc = district.shops[shop].uscc
            async with sessions() as session, session.begin():
                await session.execute(_SHOP_LOCK, {"shop": uscc})
                if await session.scalar(select(Merchant.id).where(Merchant.uscc == uscc)):
                    continue  # done by an earlier run
                await _Shop(session, context, district, shop).run(work)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, workers)):
            group.create_task(worker())


STORY_SHOP = 0
"""``demo-shop-01``: its trading happens in the past, then three refunds of the printed
consumer settle in each way a merchant's part can: by the insurer at the deadline, by the
merchant through the provider, and out of the merchant's next sale."""
STORY_DAYS = 14
STORY_CARDS = 4
"""The stories' cards: three refunded ones, and the sale that pays one of them."""


async def _story_shop(
    sessions: async_sessionmaker[AsyncSession], district: District, work: _Work
) -> None:
    """The story shop, alone in this process: its clock starts two weeks ago.

    A refund's deadline is days long and the insurer pays after it, so the shop lives its
    trading and the three refunds from two weeks ago to yesterday, in one transaction, on a
    clock of its own; nothing else runs in this process meanwhile.
    """
    context = await _context(sessions, district)
    uscc = district.shops[STORY_SHOP].uscc
    clock = ManualClock(utcnow() - timedelta(days=STORY_DAYS))
    async with sessions() as session, session.begin():
        await session.execute(_SHOP_LOCK, {"shop": uscc})
        if await session.scalar(select(Merchant.id).where(Merchant.uscc == uscc)):
            return  # done by an earlier run
        with use_clock(clock):
            shop = _Shop(session, context, district, STORY_SHOP)
            await shop.run(work)
            await shop.refund_stories(clock)


class _Helpers:
    """Processes that load merchants beside this one: fresh interpreters (``app.demo.helper``).

    Each is started early, so that it has imported the app by the time step 2 needs it, and
    then waits for its job on stdin (the database URL never shows in a process list). Closing
    its stdin without a job lets it exit.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], count: int) -> None:
        bind = sessions.kw.get("bind")
        self.url = (
            bind.url.render_as_string(hide_password=False) if isinstance(bind, AsyncEngine) else ""
        )
        self.count = max(0, count) if self.url else 0
        self.processes: list[asyncio.subprocess.Process] = []

    async def __aenter__(self) -> Self:
        for _ in range(self.count):
            self.processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "app.demo.helper",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                )
            )
        return self

    async def trade(
        self, index: int, options: Options, day: date, shops: list[int], workers: int
    ) -> None:
        """Load ``shops`` in helper ``index``; its failure is this process's."""
        job = {
            "url": self.url,
            "options": dataclasses.asdict(options),
            "day": day.isoformat(),
            "shops": shops,
            "workers": workers,
        }
        process = self.processes[index]
        _, err = await process.communicate(json.dumps(job).encode())
        if process.returncode != 0:
            raise HelperFailed(err.decode(errors="replace").strip()[-4000:])

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        for process in self.processes:
            if process.returncode is not None:
                continue
            if kind is not None:  # stop its transaction: what it committed is consistent
                process.kill()
            elif process.stdin is not None:
                process.stdin.close()  # never given a job: it exits
            await process.wait()


class HelperFailed(RuntimeError):
    """A helper process of step 2 failed; its error output says why."""


async def trade_elsewhere(job: dict[str, Any]) -> None:
    """A helper process's share of step 2 (``job`` as :meth:`_Helpers.trade` writes it)."""
    workers = int(job["workers"])
    engine = create_engine(str(job["url"]), pool_size=workers + 1)
    try:
        district = _draw(Options(**job["options"]), date.fromisoformat(job["day"]))
        await trade_shops(session_factory(engine), district, job["shops"], workers)
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class _Work:
    """The district's sales, uses and complaints (their numbers), by shop."""

    sales: dict[int, list[int]]
    uses: dict[int, list[int]]
    grievances: dict[int, list[int]]

    @classmethod
    def of(cls, district: District) -> _Work:
        work = cls({}, {}, {})
        for number, sale in enumerate(district.sales):
            work.sales.setdefault(sale.shop, []).append(number)
        for number, use in enumerate(district.uses):
            work.uses.setdefault(district.sales[use.sale].shop, []).append(number)
        for number, grievance in enumerate(district.grievances):
            work.grievances.setdefault(district.sales[grievance.sale].shop, []).append(number)
        return work


_SHOP_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('pguard-demo'), hashtext(:shop))")


class _Shop:
    """One merchant: onboarding, sales, use and complaints, in one transaction."""

    def __init__(
        self, session: AsyncSession, context: _Context, district: District, shop: int
    ) -> None:
        self.session = session
        self.context = context
        self.district = district
        self.shop = district.shops[shop]
        self.number = shop
        self.cards: dict[int, uuid.UUID] = {}
        self.provider = SandboxProvider()
        self.cipher = PiiCipher.from_master_key()
        self.owner = Principal(role=Role.MERCHANT)
        self.counter = ("", "", "")
        self.merchant_id = uuid.UUID(int=0)
        self.products: list[uuid.UUID] = []

    async def run(self, work: _Work) -> None:
        """Onboard, sell the shop's cards, then use some, then the complaints."""
        await self.onboard()
        for number in work.sales.get(self.number, []):
            await self.sell(number)
        for number in work.uses.get(self.number, []):
            await self.use(number)
        for number in work.grievances.get(self.number, []):
            await self.complain(self.district.grievances[number])

    async def onboard(self) -> None:
        """Registration, approval, custody account, policy, activation, products, counter QR."""
        shop = self.shop
        done = await onboard(
            self.session,
            self.cipher,
            merchants.Registration(
                uscc=shop.uscc,
                legal_name=shop.legal_name,
                industry=shop.industry,
                district=shop.district,
                address=shop.address,
                owner_username=shop.username,
                owner_password=DEMO_PASSWORD,
            ),
            regulator=self.context.supervisor(shop.district),
            protection=Protection(
                CUSTODY_BANK,
                shop.custody_account,
                shop.policy_number,
                COVERAGE_FEN,
                self.context.insurer,
            ),
            products=[
                ProductDraft(
                    name=spec.name,
                    kind=spec.kind,
                    price=spec.price,
                    units=spec.units,
                    validity_days=spec.validity_days,
                    anonymous=spec.anonymous,
                    terms=TERMS,
                )
                for spec in shop.products
            ],
        )
        self.owner, self.merchant_id = done.owner, done.merchant_id
        self.products, self.counter = done.products, done.counter

    async def _buy(self, person: int, product: int, key: str) -> uuid.UUID:
        """The person orders at the counter code; the signed notification issues the card."""
        merchant_id, kid, signature = self.counter
        made = await cards.create_order(
            self.session,
            self._person(person),
            cards.OrderRequest(
                merchant_id=merchant_id,
                kid=kid,
                signature=signature,
                product_id=self.products[product],
            ),
            key,
            self.provider,
            self.cipher,
        )
        order = made.order
        headers, body = self.provider.notification(order.provider_order_id, order.amount)
        event = self.provider.verify_notification(headers, body)
        outcome = await cards.apply_payment(self.session, event)
        if outcome != "issued" or order.card_id is None:  # pragma: no cover
            raise LookupError(f"order {order.id}: {outcome}")
        return order.card_id

    async def _refund(self, person: int, card_id: uuid.UUID, key: str) -> None:
        holder = await cards.holder_for(
            self.session, self._person(person), card_id=card_id, lock=True
        )
        outcome = await cards.request_refund(self.session, holder, "计划有变，冷静期内退卡", key)
        if outcome.status != "refunded":  # pragma: no cover - unused, in cooling-off
            raise LookupError(f"card {card_id} was not refunded at once")

    async def refund_stories(self, clock: ManualClock) -> None:
        """Three refunds of the printed consumer, each settled another way."""
        seed = self.district.seed
        # The insurer pays: the merchant lets the deadline pass.
        card = await self._buy(0, 0, f"demo-{seed}-story-insurer")
        await self._refund(0, card, f"demo-{seed}-story-insurer")
        clock.advance(timedelta(days=6))
        await payables.claim_merchant_overdue(self.session, self.merchant_id, utcnow())
        claim = await self.session.scalar(
            select(Claim).where(
                Claim.merchant_id == self.merchant_id, Claim.kind == ClaimKind.REFUND_PAYABLE
            )
        )
        if claim is None:  # pragma: no cover - the merchant has a policy
            raise LookupError("the deadline opened no claim")
        clock.advance(timedelta(hours=3))
        await acknowledge(self.session, self.context.insurer, claim.id)
        clock.advance(timedelta(days=1))
        await pay_claim(self.session, self.context.insurer, claim.id, payment_ref=f"PA-{seed}-0001")
        # The merchant pays its part itself, through the payment provider.
        clock.advance(timedelta(days=1))
        card = await self._buy(0, 0, f"demo-{seed}-story-merchant")
        await self._refund(0, card, f"demo-{seed}-story-merchant")
        clock.advance(timedelta(hours=2))
        started = await payables.start_payment(
            self.session, self.owner, self.provider, f"demo-{seed}-story-payment"
        )
        payment = started.payment
        headers, body = self.provider.notification(payment.provider_order_id, payment.amount)
        await payables.apply_payment(self.session, self.provider.verify_notification(headers, body))
        # The next sale pays it: withheld from the merchant's proceeds.
        clock.advance(timedelta(days=1))
        card = await self._buy(0, 0, f"demo-{seed}-story-netting")
        await self._refund(0, card, f"demo-{seed}-story-netting")
        clock.advance(timedelta(hours=1))
        await self._buy(1, 0, f"demo-{seed}-story-next-sale")

    def _person(self, person: int) -> Principal:
        return Principal(role=Role.CONSUMER, consumer_id=self.context.consumers[person])

    def _buyer(self, sale: int) -> Principal:
        return self._person(self.district.sales[sale].buyer)

    async def sell(self, number: int) -> None:
        """The consumer orders at the counter code; the signed notification issues the card."""
        sale = self.district.sales[number]
        self.cards[number] = await self._buy(
            sale.buyer, sale.product, f"demo-{self.district.seed}-order-{number:06d}"
        )

    async def use(self, number: int) -> None:
        """The holder shows a one-time code for ``units``; the merchant redeems with it."""
        use = self.district.uses[number]
        holder = await cards.holder_for(
            self.session, self._buyer(use.sale), card_id=self.cards[use.sale]
        )
        code = await cards.issue_redemption_code(self.session, holder, use.units)
        await cards.redeem(
            self.session,
            self.owner,
            token=code.token,
            digits=None,
            units=use.units,
            idempotency_key=f"demo-{self.district.seed}-use-{number:06d}",
        )

    async def complain(self, grievance: Grievance) -> None:
        """Filed by the holder; then, as far as it got, answered, decided and confirmed."""
        who = self._buyer(grievance.sale)
        holder = await cards.holder_for(
            self.session, who, card_id=self.cards[grievance.sale], lock=True
        )
        filed = await disputes.file_complaint(
            self.session,
            holder,
            disputes.Complaint(
                kind=disputes.DisputeKind(grievance.kind),
                text=grievance.text,
                amount_asked=grievance.amount_asked,
            ),
        )
        dispute_id = filed.view.dispute.id
        if grievance.progress == "filed":
            return
        await disputes.answer(self.session, self.owner, dispute_id, grievance.answer)
        if grievance.progress == "answered":
            return
        partial = grievance.decision == "partial"
        await disputes.decide(
            self.session,
            self.context.supervisor(self.shop.district),
            dispute_id,
            disputes.Ruling(
                disputes.Decision(grievance.decision),
                grievance.decision_text,
                amount_fen=grievance.decision_amount if partial else None,
            ),
        )
        if grievance.progress == "confirmed":
            await disputes.confirm(self.session, disputes.ConsumerSide.of(who), dispute_id)


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


async def _user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise DemoRefused(
            f"the demo's user {username} is missing: load the demo into a new database"
        )
    return user


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
        regulator = principal_of_user(await _user(session, REGULATOR))
        _, _, claim = await declare_default(session, regulator, vanishing.id, reason=DEFAULT_REASON)
        if claim is not None:
            insurer = principal_of_user(await _user(session, INSURER))
            await acknowledge(session, insurer, claim.id)
    await create_staff(
        session,
        username=OPERATOR,
        password=DEMO_PASSWORD,
        role=Role.OPERATOR,
        organisation="预付卡保障平台运营中心",
    )


# -- what is there ------------------------------------------------------------------------


async def summarise(session: AsyncSession) -> Summary:
    """Counts for the printout, read from the database."""
    grades = dict(
        (await session.execute(select(Rating.grade, func.count()).group_by(Rating.grade))).all()
    )
    claim = await session.scalar(select(Claim).where(Claim.kind == ClaimKind.DEFAULT).limit(1))
    defaulted = await session.scalar(
        select(Merchant.legal_name).where(Merchant.status == MerchantStatus.DEFAULTED).limit(1)
    )
    shop = await session.scalar(
        select(Merchant.legal_name)
        .join(User, User.merchant_id == Merchant.id)
        .where(User.username == shop_username(1))
    )
    return Summary(
        merchants=await _count(session, select(func.count()).select_from(Merchant)),
        grades={g: int(n) for g, n in sorted(grades.items())},
        industries=await _count(session, select(func.count(func.distinct(Merchant.industry)))),
        cards=await _count(session, select(func.count()).select_from(Card)),
        partly_used=await _count(
            session,
            select(func.count()).where(
                Card.units_remaining < Card.units_total, Card.units_remaining > 0
            ),
        ),
        consumers=await _count(session, select(func.count()).select_from(Consumer)),
        complaints=await _count(session, select(func.count()).select_from(Dispute)),
        defaulted=defaulted,
        claim_fen=claim.total_fen if claim else None,
        claim_cards=claim.cards if claim else None,
        claim_status=claim.status if claim else None,
        shop_name=shop,
    )


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(query) or 0)


def _yuan(fen: int) -> str:
    return f"¥{fen / 100:,.2f}"


def sign_ins(outcome: Outcome, options: Options = Options()) -> list[str]:
    """The lines printed at the end: what is loaded, where, and one sign-in per role."""
    server = get_settings().server
    url = f"http://{server.host}:{server.port}/"
    s = outcome.summary
    lines = []
    if outcome.status == "skipped":
        return [f"demo not loaded: {outcome.note}"]
    if outcome.status == "present":
        lines.append("the demo district is already loaded; nothing was changed")
    else:
        lines.append(
            f"demo district loaded in {outcome.seconds.get('total', 0):.0f} s (seed {options.seed})"
        )
    if s is not None:
        grades = ", ".join(f"{g} {n}" for g, n in s.grades.items()) or "not rated"
        lines.append(
            f"  {s.merchants} merchants in {s.industries} industries (grades: {grades});"
            f" {s.cards:,} cards ({s.partly_used:,} partly used) held by {s.consumers:,}"
            f" consumers; {s.complaints} complaints"
        )
        if s.defaulted and s.claim_fen is not None:
            lines.append(
                f"  in default: {s.defaulted}; its claim of {_yuan(s.claim_fen)} over"
                f" {s.claim_cards} card{'' if s.claim_cards == 1 else 's'} is {s.claim_status} by"
                f" {INSURER_NAME}"
            )
    last_phone = phone_of(max(0, s.consumers - 1)) if s and s.consumers else phone_of(0)
    lines += [
        f"Prepaid Guard demo on {url}",
        f"  staff and merchants sign in at {url}login with the password {DEMO_PASSWORD}",
        f"    operator   {OPERATOR}",
        f"    regulator  {REGULATOR} ({DISTRICT}); {CITY_REGULATOR} sees the whole city",
        f"    insurer    {INSURER} ({INSURER_NAME})",
        f"    merchant   {shop_username(1)}"
        + (f" ({s.shop_name})" if s and s.shop_name else "")
        + (f"; every shop has one, up to {shop_username(s.merchants)}" if s else ""),
        f"  consumers sign in at {url}login/phone",
        f"    consumer   {phone_of(0)} (any of {phone_of(0)} to {last_phone})",
        "               sandbox SMS: the code appears in the server log and the sandbox_sms table",
    ]
    return lines
