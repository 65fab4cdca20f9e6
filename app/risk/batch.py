"""Rating merchants in sets: what they hold as one matrix, and their ratings in one statement.

A re-rating of a thousand merchants used to be a thousand of everything: records as objects,
features as dicts, reasons as objects, JSON per merchant. Here a batch is arrays end to end:

* :func:`read_sets` reads, in one statement, the latest record of each catalogued (source,
  kind) dated before the scoring day for every merchant of the batch (``DISTINCT ON`` over
  ``ix_indicator_records_latest``), as four arrays: the merchant's place in the batch, the
  feature column, the value as a number and the record's id. The value is read as
  :func:`scoring.features.features_at` reads it: a number, ``true`` as 1 and ``false`` as 0,
  a category by its place in the catalogue (then coded as the model's schema codes it).
  A merchant whose records have not changed since its last read keeps what that read gave
  (``rating_inputs``, checked against ``record_stamps``, which triggers on the records keep;
  see ``_READ``): only the others are read from their records. The exit path's events are
  read for all, since its window moves with the day.
* :meth:`scoring.Rater.assess` grades the matrix column-wise.
* :func:`write` upserts every rating with one ``INSERT … SELECT FROM unnest(…)``; the reasons'
  JSON, with the record each cites, is built by PostgreSQL from the ids, and only where what
  it is built from changed (:func:`bases`). The numbers go as binary arrays
  (:mod:`app.arrays`), not as one Python object each.

:func:`read_records` is the other way to the same matrix: the records as objects, through
``features_at``, as the regulator's merchant page and the drift report read them. The two must
give the same ratings (``tests/e2e/test_rating_paths.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import text

from app.arrays import Float8s, Int8s, Uuids, text_array
from scoring import CATALOGUE, FEATURES, GRADES, BadData, Indicator, Source, exit_pattern
from scoring.features import EXIT_WINDOW, features_at, latest_records
from scoring.table import category_codes, table_from_features

if TYPE_CHECKING:
    import uuid
    from collections.abc import Mapping, Sequence
    from datetime import date, datetime

    from numpy.typing import NDArray
    from sqlalchemy.ext.asyncio import AsyncSession

    from scoring import Rater
    from scoring.rating import Assessment
    from scoring.table import Schema

_TYPES = [k.type for k in CATALOGUE]
_IS_CATEGORY = np.array([t == "category" for t in _TYPES])
_CATALOGUE = {
    "sources": text_array(k.source.value for k in CATALOGUE),
    "kinds": text_array(k.name for k in CATALOGUE),
    "types": text_array(_TYPES),
}
_CATEGORY_PLACE = [{c: i for i, c in enumerate(k.categories)} for k in CATALOGUE]
_FEATURES = text_array(FEATURES)
"""The catalogue as parallel arrays, column ``j`` of the model being entry ``j`` (each sent as
one ``text[]`` literal: they go with every statement)."""


def compact(sql: str) -> str:
    """``sql`` with each run of white space made one space (none is inside a literal here).

    psycopg caches how it converts a statement only up to 4,096 characters; the batch's write
    is longer as written, and converting it again cost a rating of one merchant 0.25 ms.
    """
    return " ".join(sql.split())


_EXIT_KINDS = ("capital_change", "equity_transfer", "legal_representative_change")
"""The registration kinds of the exit path (``scoring.exit_pattern``)."""

_EXIT_STEPS_SQL = f"""
    SELECT merchant_id, id, source, kind, value, as_of, provenance
      FROM indicator_records
     WHERE merchant_id = ANY(CAST(:ids AS uuid[])) AND as_of < :at AND as_of >= :since
       AND source = 'registration' AND kind IN {_EXIT_KINDS!r}
"""  # noqa: S608 - module constants, no input
"""The registration events of the exit path's window (``scoring.exit_pattern``), found in
``ix_indicator_records_exit_steps``, a partial index of those events alone (its condition
written as constants, so that generic plans use it too; through the main index a thousand
merchants cost three thousand probes, 6 ms)."""

_READ = text(
    compact(
        """
    WITH state AS MATERIALIZED (
      SELECT b.place, b.merchant_id, coalesce(s.version, 0) AS version, i.held,
             coalesce(i.version = coalesce(s.version, 0) AND octet_length(i.held) = :held_size
                      AND substring(i.held FROM 1 FOR 8) = :catalogue
                      AND coalesce(s.newest_as_of, '-infinity') < least(i.read_for, :at),
                      false) AS kept
        FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS b(merchant_id, place)
        LEFT JOIN LATERAL (SELECT version, newest_as_of FROM record_stamps
                            WHERE merchant_id = b.merchant_id LIMIT 1) AS s ON true
        LEFT JOIN LATERAL (SELECT version, read_for, held FROM rating_inputs
                            WHERE merchant_id = b.merchant_id LIMIT 1) AS i ON true
    )
    SELECT latest.*, kept.*, steps.* FROM (
    SELECT array_send(array_agg(place)), array_send(array_agg(j)),
           array_send(array_agg(coalesce(number, 'NaN'))), array_send(array_agg(id)),
           (array_agg(id) FILTER (WHERE NOT typed))[1], (array_agg(j) FILTER (WHERE NOT typed))[1],
           array_agg(category) FILTER (WHERE type = 'category')
      FROM (
        SELECT b.place, f.j, l.id, f.type,
               CASE f.type
                 WHEN 'bool' THEN CASE WHEN l.value = 'true'::jsonb THEN 1 ELSE 0 END
                 WHEN 'number' THEN CASE WHEN jsonb_typeof(l.value) = 'number'
                                         THEN l.value::float8 END
               END::float8 AS number,
               CASE f.type WHEN 'category' THEN l.value #>> '{}' END AS category,
               CASE f.type WHEN 'number' THEN jsonb_typeof(l.value) = 'number'
                           WHEN 'bool' THEN jsonb_typeof(l.value) = 'boolean'
                           ELSE true END AS typed
          FROM (SELECT DISTINCT ON (merchant_id, source, kind) merchant_id, id, source, kind, value
                  FROM indicator_records
                 WHERE merchant_id = ANY(ARRAY(SELECT merchant_id FROM state WHERE NOT kept))
                   AND as_of < :at
                 ORDER BY merchant_id DESC, source DESC, kind DESC, as_of DESC, id DESC) AS l
          JOIN state AS b ON b.merchant_id = l.merchant_id AND NOT b.kept
          JOIN unnest(CAST(:sources AS text[]), CAST(:kinds AS text[]), CAST(:types AS text[]))
                 WITH ORDINALITY AS f(source, kind, type, j)
            USING (source, kind)
      ) AS held
    ) AS latest, (
      SELECT array_send(array_agg(place ORDER BY place) FILTER (WHERE kept)),
             string_agg(held, ''::bytea ORDER BY place) FILTER (WHERE kept),
             array_send(array_agg(version ORDER BY place))
        FROM state
    ) AS kept, (
      SELECT array_agg(merchant_id ORDER BY as_of, id), array_agg(id ORDER BY as_of, id),
             array_agg(kind ORDER BY as_of, id), array_agg(value ORDER BY as_of, id),
             array_agg(as_of ORDER BY as_of, id), array_agg(provenance ORDER BY as_of, id)
        FROM ("""  # noqa: S608 - constants joined, no input
        + _EXIT_STEPS_SQL
        + """) AS e
    ) AS steps
"""
    )
)
"""A batch's inputs in one statement: what its merchants hold, and the exit path's events.

``state``: which merchants' kept inputs still hold. They hold when the merchant's records have
not changed since they were read (the same ``record_stamps`` version), they were read with
this catalogue (:data:`_CATALOGUE_DIGEST`), and every record was dated before both the day
they were read for and the day now rated for: then the records dated
before either day are all of them, the same set. Each merchant's stamp and inputs are looked
up by key (a lateral join; ``LIMIT 1`` keeps PostgreSQL from making it a join that reads every
merchant's stamp, 26 ms a thousand). The versions come from the statement that reads the
records, so a change committed after it makes the next re-rating read afresh.

``latest``: the latest records of the other merchants, as arrays (module docstring). What it
reads is all in ``ix_indicator_records_latest`` (the value is included), so PostgreSQL walks
the index backwards in the order ``DISTINCT ON`` needs, neither sorting nor visiting the table.
The numeric arrays come back in PostgreSQL's binary format (``array_send``), read by NumPy
without a Python object per element; a category comes back as its text, mapped to its place in
the catalogue here. A record whose value has the wrong type for its kind is named by the first
such record's id and column.

``kept``: the places and kept inputs that hold, and every merchant's version. ``steps``: the
exit path's events of every merchant, oldest first (its window moves with the day, so they
are read every time)."""

_HELD = np.dtype(
    [
        ("catalogue", "S8"),
        ("values", "<f8", (len(FEATURES),)),
        ("records", "<i8", (len(FEATURES),)),
    ]
)
"""A merchant's kept inputs (``rating_inputs.held``): the catalogue they were read with, its
values, then their records."""

_CATALOGUE_DIGEST = hashlib.blake2b(
    repr([(k.source.value, k.name, k.type, k.categories) for k in CATALOGUE]).encode(),
    digest_size=8,
).digest()
"""The catalogue the kept inputs were read with: values kept under another catalogue (features
added, moved or recoded) never hold."""

_LATEST = text(
    """
    SELECT * FROM (
      SELECT DISTINCT ON (merchant_id, source, kind)
             merchant_id, id, source, kind, value, as_of, provenance
        FROM indicator_records
       WHERE merchant_id = ANY(CAST(:ids AS uuid[])) AND as_of < :at
       ORDER BY merchant_id, source, kind, as_of DESC, id DESC
    ) AS latest
    UNION"""  # noqa: S608 - constants joined, no input
    + _EXIT_STEPS_SQL
    + " ORDER BY as_of, id"
)
"""The latest record of each kind, and the exit path's events, oldest first: on equal dates
the later record wins."""


@dataclass(frozen=True)
class Held:
    """What a batch of merchants holds: the model's feature matrix and where each value is from.

    ``records[i, j]`` is the id of the record feature ``j`` of merchant ``i`` was read from
    (0: none); ``exit_path[i]`` whether its registration events show the exit path.
    """

    ids: Uuids
    features: NDArray[np.float64]
    records: NDArray[np.int64]
    exit_path: NDArray[np.bool_]
    exit_steps: dict[uuid.UUID, tuple[Indicator, ...]]
    """The records of the exit path, for the merchants that show it (a warning cites them)."""
    inputs: Inputs | None = None
    """What to keep for the next re-rating (:func:`read_sets` only)."""


@dataclass(frozen=True)
class Inputs:
    """The merchants read afresh from their records, and what to keep of them (``_READ``)."""

    fresh: NDArray[np.intp]
    """Their places in the batch."""
    versions: NDArray[np.int64]
    """Their records' versions when read."""
    held: bytes
    """Their kept inputs, one ``_HELD`` each."""


async def read_sets(
    session: AsyncSession, ids: Sequence[uuid.UUID], at: date, schema: Schema
) -> Held:
    """The batch's matrix: kept inputs where they hold, records for the rest (module docstring)."""
    ids = Uuids.of(ids)
    n, k = len(ids), len(FEATURES)
    features = np.full((n, k), np.nan)
    records = np.zeros((n, k), dtype=np.int64)
    row = (
        await session.execute(
            _READ,
            {
                "ids": ids,
                "at": at,
                "held_size": _HELD.itemsize,
                "catalogue": _CATALOGUE_DIGEST,
                **_CATALOGUE,
                "since": at - EXIT_WINDOW - timedelta(days=1),
            },
        )
    ).one()
    kept_places = Int8s.parse(row[7]) - 1
    if len(kept_places):
        held = np.frombuffer(row[8], dtype=_HELD)
        features[kept_places] = held["values"]
        records[kept_places] = held["records"]
    fresh = np.setdiff1d(np.arange(n), kept_places)
    if row[4] is not None:
        feature = FEATURES[row[5] - 1]
        raise BadData(
            f"record {row[4]} gives {feature} a value of the wrong type",
            code="record-value-wrong-type",
            column=feature,
        )
    place = Int8s.parse(row[0]) - 1
    column = Int8s.parse(row[1]) - 1
    values = Float8s.parse(row[2])
    if row[6]:
        # A category's place in the catalogue (-1: not one of them).
        categories = np.flatnonzero(_IS_CATEGORY[column])
        values[categories] = [
            _CATEGORY_PLACE[j].get(text, -1)
            for j, text in zip(column[categories].tolist(), row[6], strict=True)
        ]
    features[place, column] = values
    records[place, column] = Int8s.parse(row[3])
    inputs = np.empty(len(fresh), dtype=_HELD)
    inputs["catalogue"] = _CATALOGUE_DIGEST
    inputs["values"] = features[fresh]
    inputs["records"] = records[fresh]
    kept_inputs = Inputs(fresh, Int8s.parse(row[9])[fresh], inputs.tobytes())
    for j, (kind, spec) in enumerate(zip(schema.columns, CATALOGUE, strict=True)):
        if spec.type != "category":
            continue
        # Catalogue place -> the schema's code; no record is the word "missing", as in training.
        lookup = category_codes(kind, [*spec.categories, "missing"])
        places = features[:, j]
        features[:, j] = lookup[np.where(np.isnan(places) | (places < 0), -1, places).astype(int)]
    steps: dict[uuid.UUID, list[Indicator]] = defaultdict(list)
    if row[10] is not None:
        for merchant_id, *record in zip(*row[10:], strict=True):
            steps[merchant_id].append(
                _indicator(merchant_id, record[0], "registration", *record[1:])
            )
    return replace(_held(ids, features, records, steps, at), inputs=kept_inputs)


async def records_for(
    session: AsyncSession, merchant_ids: Sequence[uuid.UUID], at: date
) -> dict[uuid.UUID, list[Indicator]]:
    """Per merchant, the records a rating reads, each with its id.

    The latest record of each kind dated before ``at``, and the registration events of the
    exit path's window.
    """
    found: dict[uuid.UUID, list[Indicator]] = {m: [] for m in merchant_ids}
    since = at - EXIT_WINDOW - timedelta(days=1)
    rows = await session.execute(
        _LATEST,
        {"ids": Uuids.of(merchant_ids), "at": at, "since": since},
    )
    for row in rows:
        found[row[0]].append(_indicator(*row))
    return found


def _indicator(
    merchant_id: uuid.UUID,
    record_id: int,
    source: str,
    kind: str,
    value: object,
    as_of: date,
    provenance: str,
) -> Indicator:
    """A stored record as the scoring package reads it (a whole number is a float there)."""
    return Indicator(
        uscc=str(merchant_id),
        source=Source(source),
        kind=kind,
        value=float(value) if isinstance(value, int) and not isinstance(value, bool) else value,  # type: ignore[arg-type]
        as_of=as_of,
        provenance=provenance,
        ref=str(record_id),
    )


async def read_records(
    session: AsyncSession, ids: Sequence[uuid.UUID], at: date, schema: Schema
) -> Held:
    """The batch's matrix from its records as objects, through ``features_at``."""
    found = await records_for(session, ids, at)
    rows, held = [], []
    for merchant_id in ids:
        records = found[merchant_id]
        held.append(latest_records(records, at))
        rows.append(features_at(records, at))
    features = table_from_features(schema, rows, source="ratings").features
    record_ids = np.zeros(features.shape, dtype=np.int64)
    for i, latest in enumerate(held):
        for j, spec in enumerate(CATALOGUE):
            record = latest.get((spec.source, spec.name))
            if record is not None and record.ref is not None:
                record_ids[i, j] = int(record.ref)
    steps = {m: tuple(r for r in found[m] if r.kind in _EXIT_KINDS) for m in ids}
    return _held(Uuids.of(ids), features, record_ids, steps, at)


def _held(
    ids: Uuids,
    features: NDArray[np.float64],
    records: NDArray[np.int64],
    steps: Mapping[uuid.UUID, Sequence[Indicator]],
    at: date,
) -> Held:
    exit_path = np.zeros(len(ids), dtype=bool)
    shown: dict[uuid.UUID, tuple[Indicator, ...]] = {}
    for i, merchant_id in enumerate(ids):
        if steps.get(merchant_id) and (path := exit_pattern(steps[merchant_id], at)):
            exit_path[i] = True
            shown[merchant_id] = path
    return Held(ids, features, records, exit_path, shown)


_WRITE = text(
    compact("""
    WITH previous AS (
      SELECT merchant_id, grade, overrides, basis FROM ratings
       WHERE merchant_id = ANY(CAST(:ids AS uuid[]))
    ),
    rated AS (
      SELECT r.*,
             substring(CAST(:basis AS bytea) FROM CAST(r.place AS int) * 16 - 15 FOR 16) AS basis
        FROM unnest(CAST(:ids AS uuid[]), CAST(:probability AS float8[]),
                    string_to_array(:grade, NULL), string_to_array(:model_grade, NULL),
                    CAST(:overrides AS text[]), CAST(:cause AS text[]))
             WITH ORDINALITY AS r(merchant_id, probability, grade, model_grade, overrides,
                                  cause, place)
    ),
    rebuilt AS (
      SELECT r.place FROM rated AS r LEFT JOIN previous AS p USING (merchant_id)
       WHERE p.basis IS DISTINCT FROM r.basis
    ),
    feature AS (
      SELECT * FROM unnest(CAST(:features AS text[]), CAST(:sources AS text[]),
                           CAST(:kinds AS text[]), CAST(:types AS text[]),
                           CAST(:references AS text[]))
             WITH ORDINALITY AS f(feature, source, kind, type, reference, j)
    ),
    cited AS MATERIALIZED (
      SELECT x.* FROM unnest(CAST(:reason_place AS int8[]), CAST(:reason_rank AS int8[]),
                             CAST(:reason_feature AS int8[]),
                             CAST(:reason_contribution AS float8[]),
                             CAST(:reason_value AS float8[]), CAST(:reason_record AS int8[]))
                      AS x(place, rank, j, contribution, value, record)
       WHERE x.place IN (SELECT place FROM rebuilt)
    ),
    reason AS (
      SELECT x.place, jsonb_agg(jsonb_build_object(
               'feature', f.feature, 'source', f.source, 'kind', f.kind,
               'value', CASE WHEN f.type = 'category' THEN to_jsonb(rec.value #>> '{}')
                             ELSE to_jsonb(x.value) END,
               'reference', f.reference::jsonb,
               'contribution', x.contribution,
               'record', CASE WHEN rec.id IS NULL THEN NULL ELSE jsonb_build_object(
                   'ref', rec.id::text, 'source', rec.source, 'kind', rec.kind,
                   'value', rec.value, 'as_of', rec.as_of, 'provenance', rec.provenance) END)
               ORDER BY x.rank) AS reasons
        FROM cited AS x
        JOIN feature AS f USING (j)
        LEFT JOIN indicator_records AS rec ON rec.id = x.record
       GROUP BY x.place
    ),
    kept AS (
      INSERT INTO rating_inputs AS i (merchant_id, version, read_for, held)
      SELECT merchant_id, version, :scored_for,
             substring(CAST(:held AS bytea) FROM CAST(n AS int) * :held_size - :held_size + 1
                       FOR :held_size)
        FROM unnest(CAST(:fresh_ids AS uuid[]), CAST(:fresh_versions AS int8[]))
             WITH ORDINALITY AS f(merchant_id, version, n)
      ON CONFLICT (merchant_id) DO UPDATE SET
        version = excluded.version, read_for = excluded.read_for, held = excluded.held
    ),
    written AS (
    INSERT INTO ratings (merchant_id, probability, reference_probability, grade, model_grade,
                         overrides, reasons, contributions, model_version, cut_points_version,
                         scored_for, rated_at, cause, basis)
    SELECT r.merchant_id, r.probability, :reference_probability, r.grade, r.model_grade,
           to_jsonb(string_to_array(r.overrides, ',')), coalesce(reason.reasons, '[]'),
           (CAST(:contributions AS float8[]))[(r.place - 1) * :k + 1 : r.place * :k],
           :model_version, :cut_points_version, :scored_for, :rated_at, r.cause, r.basis
      FROM rated AS r LEFT JOIN reason USING (place)
    ON CONFLICT (merchant_id) DO UPDATE SET
      probability = excluded.probability,
      reference_probability = excluded.reference_probability,
      grade = excluded.grade, model_grade = excluded.model_grade,
      overrides = excluded.overrides,
      reasons = CASE WHEN ratings.basis = excluded.basis THEN ratings.reasons
                     ELSE excluded.reasons END,
      contributions = CASE WHEN ratings.basis = excluded.basis THEN ratings.contributions
                           ELSE excluded.contributions END,
      basis = excluded.basis,
      model_version = excluded.model_version,
      cut_points_version = excluded.cut_points_version, scored_for = excluded.scored_for,
      rated_at = excluded.rated_at, cause = excluded.cause
    )
    SELECT string_agg(coalesce(p.grade, '-'), '' ORDER BY r.place),
           array_agg(r.place ORDER BY r.place) FILTER (WHERE p.overrides <> '[]'),
           array_agg(p.overrides::text ORDER BY r.place) FILTER (WHERE p.overrides <> '[]')
      FROM rated AS r LEFT JOIN previous AS p USING (merchant_id)
""")
)
"""Every rating upserted, answering with the ratings they replace: all parts of one statement
see the table as it was before it, so ``previous`` is what the merchants held. The answer is
one row: the grades held, one letter a merchant in batch order (``-``: never rated), and the
overrides held where there are any (a thousand rows would cost more to read than to write).
Grades go as one string of letters, and the digests as one ``bytea`` of 16 bytes each. The
inputs read afresh are kept for the next re-rating (``kept``). Reasons are
built only where the rating's basis (:func:`bases`) differs from the stored one, and elsewhere
the stored reasons and contributions stay. ``cited`` is materialized so that the reasons left
out are left out first: otherwise PostgreSQL looks up every reason's record and drops the
unchanged ones afterwards (35 ms a thousand merchants)."""


async def write(
    session: AsyncSession,
    rater: Rater,
    held: Held,
    assessed: Assessment,
    causes: Sequence[str],
    *,
    at: date,
    now: datetime,
) -> list[tuple[str | None, frozenset[str]]]:
    """Upsert the batch's ratings in one statement (module docstring).

    Returns the grade and overrides each merchant held before, in batch order (``None`` and
    none for a merchant never rated).
    """
    rows, ranks, columns = assessed.reason_row, assessed.reason_rank, assessed.reason_feature
    values = held.features[rows, columns]
    numeric = np.array([t != "category" for t in _TYPES])[columns]
    reference = [_json(v) for v in rater.reference_shown]
    cited = held.records[rows, columns]
    params: dict[str, Any] = {
        "ids": held.ids,
        "probability": Float8s(assessed.probability),
        "grade": "".join(GRADES[b] for b in assessed.band.tolist()),
        "model_grade": "".join(GRADES[b] for b in assessed.model_band.tolist()),
        "overrides": text_array(",".join(o.value for o in found) for found in assessed.overrides),
        "cause": text_array(causes),
        "basis": b"".join(bases(rater, held)),
        **_kept(held),
        **_CATALOGUE,
        "features": _FEATURES,
        "references": text_array(reference),
        "reason_place": Int8s(rows + 1),
        "reason_rank": Int8s(ranks),
        "reason_feature": Int8s(columns + 1),
        "reason_contribution": Float8s(assessed.contributions[rows, columns]),
        "reason_value": Float8s(values, nulls=~numeric | np.isnan(values)),
        "reason_record": Int8s(cited, nulls=cited == 0),
        "reference_probability": assessed.reference_probability,
        "contributions": Float8s(assessed.contributions),
        "k": len(FEATURES),
        "model_version": rater.model_version,
        "cut_points_version": rater.cut_points.version,
        "scored_for": at,
        "rated_at": now,
    }
    grades, places, overrides = (await session.execute(_WRITE, params)).one()
    held_overrides = dict(zip(places or (), overrides or (), strict=True))
    return [
        (
            None if grade == "-" else grade,
            frozenset(json.loads(held_overrides[place]))
            if place in held_overrides
            else frozenset(),
        )
        for place, grade in enumerate(grades, start=1)
    ]


def _kept(held: Held) -> dict[str, Any]:
    """The write's parameters for the inputs to keep (none from :func:`read_records`)."""
    inputs = held.inputs
    fresh = [] if inputs is None else inputs.fresh.tolist()
    return {
        "fresh_ids": Uuids(held.ids[i] for i in fresh),
        "fresh_versions": Int8s(inputs.versions if inputs else []),
        "held": inputs.held if inputs else b"",
        "held_size": _HELD.itemsize,
    }


def bases(rater: Rater, held: Held) -> list[bytes]:
    """Per merchant, a digest of everything its reasons are built from.

    The model and its cut points (which give the contributions, the reference values and the
    order), the feature values (also the value of a platform snapshot record, which is
    updated in place under the same id) and the ids of the records they came from (the
    record shown beside each reason). Equal digests mean equal reasons.
    """
    prefix = hashlib.blake2b(
        f"{rater.model_version}\0{rater.cut_points.version}".encode(), digest_size=16
    )
    rows = np.ascontiguousarray(
        np.concatenate([held.features.view(np.int64), held.records], axis=1)
    )
    found = []
    for row in rows:
        digest = prefix.copy()
        digest.update(row)
        found.append(digest.digest())
    return found


def _json(value: float | str | None) -> str:
    """A reference value as JSON text (``null`` for missing)."""
    return json.dumps(value)
