"""Indicator ingestion, the regulator's view of ratings, drift, and a merchant's own grade."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app.auth.models import Role
from app.auth.principal import requires
from app.deps import Db, Me
from app.i18n import reason_sentence
from app.merchants import service as merchants
from app.risk import drift as drift_service
from app.risk import ingest, supervision
from app.risk import service as ratings
from scoring import FEATURES

if TYPE_CHECKING:
    from app.risk.models import Rating, RatingChange

MAX_BATCH = 10_000
SUPERVISORS = requires(Role.REGULATOR, Role.OPERATOR)
DATA_FEEDS = requires(Role.OPERATOR)
"""Bureau feeds run as the platform operator; a district regulator could mis-rate another
district's merchants with a single record."""


class RecordIn(msgspec.Struct, forbid_unknown_fields=True):
    """One indicator record: a fact about a merchant from one source, as of a day."""

    uscc: Annotated[str, msgspec.Meta(max_length=40)]
    source: Annotated[str, msgspec.Meta(max_length=32)]
    kind: Annotated[str, msgspec.Meta(max_length=64)]
    value: float | bool | str
    as_of: Annotated[str, msgspec.Meta(max_length=32)]
    provenance: Annotated[str, msgspec.Meta(max_length=500)]


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    """A batch of records; ``refuse`` imports all or nothing, ``skip`` takes the valid rows."""

    records: Annotated[list[RecordIn], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]
    on_error: Literal["refuse", "skip"] = "refuse"


class RatingRow(msgspec.Struct):
    """A merchant in the regulator's list, with its grade (``NR`` when not rated yet)."""

    merchant_id: uuid.UUID
    uscc: str
    legal_name: str
    district: str
    industry: str
    status: str
    grade: str
    probability: float | None
    rated_at: datetime | None


class FailureOut(msgspec.Struct):
    """A merchant set aside because it could not be rated, and when it is tried again."""

    merchant_id: uuid.UUID
    error: str
    attempts: int
    cause: str
    failed_at: datetime
    last_failed_at: datetime
    next_attempt_at: datetime


class ReasonOut(msgspec.Struct):
    """Why the grade is what it is: one signal, in words, with the record it comes from."""

    feature: str
    text: str
    contribution: float
    value: float | str | None
    record: dict[str, Any] | None


class ChangeOut(msgspec.Struct):
    """One grade change and its cause."""

    at: datetime
    from_grade: str | None
    to_grade: str
    probability: float
    cause: str
    cause_ref: str | None
    model_version: str


class RatingOut(msgspec.Struct):
    """A merchant's rating in full, as regulators and operators see it."""

    merchant_id: uuid.UUID
    legal_name: str
    grade: str
    model_grade: str
    colour: str
    probability: float
    reference_probability: float
    overrides: list[str]
    reasons: list[ReasonOut]
    contributions: dict[str, float]
    model_version: str
    cut_points_version: str
    scored_for: date
    rated_at: datetime
    cause: str
    history: list[ChangeOut]


class OwnRatingOut(msgspec.Struct):
    """What a merchant sees of its own rating: the grade, the reasons and their records."""

    grade: str
    colour: str
    overrides: list[str]
    reasons: list[ReasonOut]
    model_version: str
    rated_at: datetime
    history: list[ChangeOut]


def reasons_out(rating: Rating) -> list[ReasonOut]:
    """A rating's reasons, each in words with the record it comes from."""
    return [
        ReasonOut(
            feature=r["feature"],
            text=reason_sentence(r, "en"),
            contribution=r["contribution"],
            value=r.get("value"),
            record=r.get("record"),
        )
        for r in rating.reasons
    ]


def _history(changes: list[RatingChange]) -> list[ChangeOut]:
    return [
        ChangeOut(
            at=c.changed_at,
            from_grade=c.from_grade,
            to_grade=c.to_grade,
            probability=c.probability,
            cause=c.cause,
            cause_ref=c.cause_ref,
            model_version=c.model_version,
        )
        for c in changes
    ]


class IndicatorController(Controller):
    """Data feeds push indicator records here (CSV files go through ``pguard scoring import``)."""

    path = "/indicators"
    tags = ["risk"]  # noqa: RUF012

    @post("/", guards=[DATA_FEEDS], status_code=HTTP_201_CREATED)
    async def ingest(self, data: JSONBody[BatchIn], db: Db, me: Me) -> Response[dict[str, Any]]:
        """Import a batch; answers with what was accepted, duplicated, unknown or malformed.

        The same batch sent again is recognised (200, ``replayed``) and changes nothing.
        """
        rows = [
            ingest.Row(i, r.uscc, r.source, r.kind, r.value, r.as_of, r.provenance)
            for i, r in enumerate(data.records, start=1)
        ]
        digest = ingest.batch_digest([msgspec.to_builtins(r) for r in data.records])
        async with db.begin():
            report = await ingest.import_rows(
                db,
                rows,
                channel="api",
                origin=f"api:{me.role.value}:{me.user_id}",
                digest=digest,
                source=None,
                on_error=data.on_error,
                imported_by=me.user_id,
            )
        status = HTTP_200_OK if report.replayed else HTTP_201_CREATED
        return Response(report.to_dict(), status_code=status)


class RatingController(Controller):
    """Ratings for regulators (their district) and operators (everyone)."""

    path = "/ratings"
    tags = ["risk"]  # noqa: RUF012
    guards = [SUPERVISORS]  # noqa: RUF012

    @get("/")
    async def list_(
        self,
        db: Db,
        me: Me,
        grade: FromQuery[list[str] | None] = None,
        district: FromQuery[str | None] = None,
        industry: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> list[RatingRow]:
        """Merchants with their grades, worst first; ``grade`` may repeat, ``NR`` = not rated."""
        grades = supervision.check_grades(grade or [])
        rows = await supervision.rated_merchants(
            db, me, grades=grades, district=district, industry=industry, limit=limit, offset=offset
        )
        return [
            RatingRow(
                merchant_id=m.id,
                uscc=m.uscc,
                legal_name=m.legal_name,
                district=m.district,
                industry=m.industry,
                status=m.status,
                grade=r.grade if r else supervision.UNRATED,
                probability=r.probability if r else None,
                rated_at=r.rated_at if r else None,
            )
            for m, r in rows
        ]

    @get("/drift")
    async def drift(
        self,
        db: Db,
        me: Me,
        expected: FromQuery[date],
        actual: FromQuery[date],
        district: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """PSI of the score and of every feature, as known on ``expected`` against ``actual``.

        Both populations are scored by the active model from the records dated before each
        day, so the report isolates how the merchants changed. 0.10 investigate, 0.25 act.
        """
        return await drift_service.report(db, me, expected, actual, district=district)

    @get("/failures", guards=[DATA_FEEDS])
    async def failures(self, db: Db) -> list[FailureOut]:
        """Merchants that could not be rated (the operator mends their data), oldest first."""
        return [
            FailureOut(
                merchant_id=f.merchant_id,
                error=f.error,
                attempts=f.attempts,
                cause=f.cause,
                failed_at=f.failed_at,
                last_failed_at=f.last_failed_at,
                next_attempt_at=f.next_attempt_at,
            )
            for f in await ratings.failures(db)
        ]

    @get("/{merchant_id:uuid}")
    async def one(self, merchant_id: FromPath[uuid.UUID], db: Db, me: Me) -> RatingOut:
        """A merchant's rating with every reason, each tied to its record, and its history."""
        merchant = await merchants.visible_merchant(db, me, merchant_id)
        rating = ratings.require(await ratings.current(db, merchant.id))
        changes = list(await ratings.history(db, merchant.id))
        return RatingOut(
            merchant_id=merchant.id,
            legal_name=merchant.legal_name,
            grade=rating.grade,
            model_grade=rating.model_grade,
            colour=supervision.colour(rating.grade),
            probability=rating.probability,
            reference_probability=rating.reference_probability,
            overrides=rating.overrides,
            reasons=reasons_out(rating),
            contributions=dict(zip(FEATURES, rating.contributions, strict=True)),
            model_version=rating.model_version,
            cut_points_version=rating.cut_points_version,
            scored_for=rating.scored_for,
            rated_at=rating.rated_at,
            cause=rating.cause,
            history=_history(changes),
        )


class MerchantRatingController(Controller):
    """A merchant's own grade and the reasons for it."""

    path = "/merchants/me/rating"
    tags = ["merchants"]  # noqa: RUF012

    @get("/", guards=[requires(Role.MERCHANT)])
    async def mine(self, db: Db, me: Me) -> OwnRatingOut:
        """The caller's merchant's grade, reasons and grade history."""
        merchant = await merchants.own_merchant(db, me)
        rating = ratings.require(await ratings.current(db, merchant.id))
        return OwnRatingOut(
            grade=rating.grade,
            colour=supervision.colour(rating.grade),
            overrides=rating.overrides,
            reasons=reasons_out(rating),
            model_version=rating.model_version,
            rated_at=rating.rated_at,
            history=_history(list(await ratings.history(db, merchant.id))),
        )
