"""The set-based batch rates exactly as the records-as-objects path does.

Three thousand synthetic merchants with their whole indicator histories (several records of
a kind, corrections on the same day, records dated after the scoring day, the exit path, the
hard overrides) are rated twice in a database of their own: once reading records as objects
through ``features_at`` (how the regulator's page and the drift report read them), once with
the one-statement reader the batch uses. The stored ratings must agree: the same grades,
overrides and reasons (with the same cited records), probabilities and contributions to 1e-9.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import psycopg
import pytest
from sqlalchemy import select, text

from app.clock import today
from app.db import libpq_url
from app.risk.batch import read_records, read_sets
from app.risk.models import Rating
from app.risk.service import Cause, rate
from scoring import CATALOGUE, FEATURES, generate
from scoring.intake import fingerprint, stored_value
from tests.e2e.background import rated_database

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from tests.conftest import Databases

MERCHANTS = 3000
BATCH = 1000


@pytest.fixture(scope="module")
async def engine(databases: Databases) -> AsyncIterator[AsyncEngine]:
    async with rated_database(databases) as engine:
        yield engine


def _load(
    url: str, count: int = MERCHANTS, seed: int = 11, future: int | None = None
) -> list[uuid.UUID]:
    """Merchants with their synthetic histories, shifted so the latest month ends yesterday.

    The histories go on past the scoring day; only the first ``future`` merchants (all, if
    not given) keep the records dated after today.
    """
    world = generate(count, seed=seed)
    rng = random.Random(seed)  # noqa: S311 - ids for test data, not secrets
    now = datetime.now(UTC)
    day = today()
    ids = []
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY merchants (id, uscc, legal_name, industry, district, address, status,"
            " custody_ratio_bp, created_at) FROM STDIN"
        ) as copy:
            for n, merchant in enumerate(world.merchants):
                merchant_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                ids.append(merchant_id)
                copy.write_row(
                    (merchant_id, merchant.uscc, f"测试商户{seed}-{n:05d}", "retail", "上城区",
                     f"文三路{n}号", "active", 3000, now)
                )  # fmt: skip
        with cur.copy(
            "COPY indicator_records (merchant_id, source, kind, value, as_of, provenance,"
            " fingerprint, received_at) FROM STDIN"
        ) as copy:
            for n, (merchant_id, merchant) in enumerate(zip(ids, world.merchants, strict=True)):
                # The scoring date falls on tomorrow: later records must not count.
                shift = day + timedelta(days=1) - merchant.scoring_date
                for record in world.records[merchant.uscc]:
                    as_of = record.as_of + shift
                    if future is not None and n >= future and as_of > day:
                        continue
                    copy.write_row(
                        (merchant_id, record.source.value, record.kind,
                         json.dumps(stored_value(record.value)), as_of, record.provenance,
                         fingerprint(record), now)
                    )  # fmt: skip
        conn.commit()
    return ids


async def _ratings(
    engine: AsyncEngine, ids: list[uuid.UUID], read, now: datetime | None = None
) -> dict[uuid.UUID, Rating]:
    from app.db import session_factory  # noqa: PLC0415

    sessions = session_factory(engine)
    for begin in range(0, len(ids), BATCH):
        causes = {m: Cause("paths compared") for m in ids[begin : begin + BATCH]}
        async with sessions() as session, session.begin():
            rated = await rate(session, causes, read=read, with_sales=False, now=now)
            assert rated == len(causes)
    async with sessions() as session:
        rows = (await session.scalars(select(Rating).where(Rating.merchant_id.in_(ids)))).all()
        for row in rows:
            session.expunge(row)
        return {row.merchant_id: row for row in rows}


async def test_both_readers_give_the_same_ratings(engine: AsyncEngine) -> None:
    ids = _load(libpq_url(engine.url.render_as_string(hide_password=False)))
    by_objects = await _ratings(engine, ids, read_records)
    await _forget_bases(engine, ids)  # or the second pass would keep the first one's reasons
    by_sets = await _ratings(engine, ids, read_sets)
    assert len(by_objects) == len(by_sets) == MERCHANTS
    grades, overridden, cited = set(), 0, 0
    for merchant_id in ids:
        one, other = by_objects[merchant_id], by_sets[merchant_id]
        assert one.grade == other.grade, merchant_id
        assert one.model_grade == other.model_grade, merchant_id
        assert one.overrides == other.overrides, merchant_id
        assert one.probability == pytest.approx(other.probability, abs=1e-9)
        assert one.contributions == pytest.approx(other.contributions, abs=1e-9)
        assert one.reasons == other.reasons, merchant_id
        assert one.basis == other.basis, merchant_id
        grades.add(one.grade)
        overridden += bool(one.overrides)
        cited += sum(r["record"] is not None for r in one.reasons)
    # The comparison covered what it is about: every grade, overrides, cited records.
    assert grades == {"A", "B", "C", "D", "E"}, grades
    assert overridden > 10
    assert cited > MERCHANTS


async def _forget_bases(engine: AsyncEngine, ids: list[uuid.UUID]) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE ratings SET basis = NULL WHERE merchant_id = ANY(:ids)"), {"ids": ids}
        )


async def test_a_re_rating_rebuilds_reasons_only_when_what_they_show_changed(
    engine: AsyncEngine,
) -> None:
    ids = _load(libpq_url(engine.url.render_as_string(hide_password=False)), count=40, seed=12)
    first = await _ratings(engine, ids, read_sets)
    kept, edited, unknown = ids[0], ids[1], ids[2]
    # A number the reasons of ``edited`` cite, changed in place under the same record id, as
    # a platform snapshot is updated during its day (slightly: the reason keeps its rank).
    numbers = {f for f, spec in zip(FEATURES, CATALOGUE, strict=True) if spec.type == "number"}
    cited = next(r for r in first[edited].reasons if r["record"] and r["feature"] in numbers)
    marker = [{"feature": "marker"}]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE indicator_records SET value = to_jsonb(CAST(:v AS float8)) WHERE id = :id"
            ),
            {"v": cited["value"] + 0.001, "id": int(cited["record"]["ref"])},
        )
        # Stored reasons that a rebuild would replace: they stay only if they are kept.
        await conn.execute(
            text("UPDATE ratings SET reasons = CAST(:m AS jsonb) WHERE merchant_id = ANY(:ids)"),
            {"m": json.dumps(marker), "ids": [kept, edited, unknown]},
        )
        await conn.execute(
            text("UPDATE ratings SET basis = NULL WHERE merchant_id = :id"), {"id": unknown}
        )

    second = await _ratings(engine, ids, read_sets)

    assert second[kept].basis == first[kept].basis
    assert second[kept].reasons == marker  # same basis: the stored reasons were not rebuilt
    assert second[kept].rated_at > first[kept].rated_at  # ... but the merchant was re-rated
    assert second[edited].basis != first[edited].basis
    shown = {r["feature"]: r for r in second[edited].reasons}[cited["feature"]]
    assert shown["value"] == pytest.approx(cited["value"] + 0.001)
    assert shown["record"]["value"] == pytest.approx(cited["value"] + 0.001)
    assert second[unknown].basis == first[unknown].basis  # no basis on record: rebuilt
    assert second[unknown].reasons == first[unknown].reasons


async def test_kept_inputs_rate_as_the_records_would(engine: AsyncEngine) -> None:
    """A re-rating takes kept inputs only where the records could not give anything else."""
    url = libpq_url(engine.url.render_as_string(hide_password=False))
    ids = _load(url, count=60, seed=13, future=30)
    inserted, updated, deleted, in_force_later, recoded = ids[30:35]
    now = datetime.now(UTC)
    later = now + timedelta(days=5)
    # Dated after the first scoring day but before the second: it counts only the second time.
    await _add_record(engine, in_force_later, today() + timedelta(days=3))
    fresh: list[uuid.UUID] = []

    async def spied(session, merchant_ids, at, schema):
        held = await read_sets(session, merchant_ids, at, schema)
        assert held.inputs is not None
        fresh.extend(held.ids[i] for i in held.inputs.fresh.tolist())
        return held

    first_basis = {m: r.basis for m, r in (await _ratings(engine, ids, spied, now=now)).items()}
    assert sorted(fresh) == sorted(ids)  # nothing kept yet

    await _add_record(engine, inserted, today() - timedelta(days=1))
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE indicator_records SET value = to_jsonb(12345.0)"
                 " WHERE id = (SELECT max(id) FROM indicator_records"
                 "             WHERE merchant_id = :m AND source = :s AND kind = :k)"),
            {"m": updated, "s": NUMBER.source.value, "k": NUMBER.name},
        )  # fmt: skip
        await conn.execute(
            text("DELETE FROM indicator_records WHERE id = (SELECT max(id)"
                 " FROM indicator_records WHERE merchant_id = :m)"),
            {"m": deleted},
        )  # fmt: skip
        # Inputs kept under another catalogue (as if a feature had moved) never hold.
        await conn.execute(
            text("UPDATE rating_inputs SET held = overlay(held PLACING :other FROM 1 FOR 8)"
                 " WHERE merchant_id = :m"),
            {"m": recoded, "other": b"another!"},
        )  # fmt: skip
    async with engine.connect() as conn:
        # Merchants with records yet to come into force on the first scoring day: their kept
        # inputs cannot hold either.
        pending = set(
            (
                await conn.scalars(
                    text("SELECT merchant_id FROM indicator_records WHERE merchant_id = ANY(:ids)"
                         " GROUP BY merchant_id HAVING max(as_of) > :day"),
                    {"ids": ids, "day": today()},
                )
            ).all()
        )  # fmt: skip
    fresh.clear()
    by_kept = await _ratings(engine, ids, spied, now=later)
    assert set(fresh) == {inserted, updated, deleted, in_force_later, recoded} | pending
    assert len(ids) - len(fresh) == 25  # and the others' inputs were kept

    async with engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM rating_inputs WHERE merchant_id = ANY(:ids)"), {"ids": ids}
        )
    await _forget_bases(engine, ids)
    fresh.clear()
    by_records = await _ratings(engine, ids, spied, now=later)
    assert sorted(fresh) == sorted(ids)
    for merchant_id in ids:
        one, other = by_kept[merchant_id], by_records[merchant_id]
        assert (one.grade, one.overrides, one.reasons) == (
            other.grade,
            other.overrides,
            other.reasons,
        )
        assert one.probability == other.probability, merchant_id
        assert one.contributions == other.contributions, merchant_id
    # The changes reached the ratings they were made to.
    for merchant_id in (inserted, updated, deleted, in_force_later):
        assert by_kept[merchant_id].basis != first_basis[merchant_id], merchant_id


NUMBER = next(spec for spec in CATALOGUE if spec.type == "number")
"""A catalogued number, for records the tests add or change."""


async def _add_record(engine: AsyncEngine, merchant_id: uuid.UUID, as_of: date) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO indicator_records (merchant_id, source, kind, value, as_of,"
                 " provenance, fingerprint, received_at)"
                 " VALUES (:m, :s, :k, to_jsonb(9876.0), :d, 'test', :f, now())"),
            {"m": merchant_id, "s": NUMBER.source.value, "k": NUMBER.name, "d": as_of,
             "f": uuid.uuid4().bytes},
        )  # fmt: skip
