"""NumPy arrays written as binary PostgreSQL arrays arrive as the same numbers, NULLs in place;
arrays read back from ``array_send`` are the numbers PostgreSQL held."""

from __future__ import annotations

import math
import uuid
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Uuid, any_, column, select, text, values

from app.arrays import Float8s, Int8s, Uuids, text_array, uuids

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

FLOATS = st.floats(allow_nan=False, width=64)
INTS = st.integers(min_value=-(2**63), max_value=2**63 - 1)


async def _echo(session: AsyncSession, param: object, cast: str) -> list[object]:
    result = await session.scalar(text(f"SELECT CAST(:a AS {cast})"), {"a": param})
    assert isinstance(result, list)
    return result


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.tuples(FLOATS, st.booleans()), max_size=80))
async def test_float8s_round_trip(
    sessions: async_sessionmaker[AsyncSession], values: list[tuple[float, bool]]
) -> None:
    numbers = np.array([v for v, _ in values], dtype=np.float64)
    nulls = np.array([n for _, n in values], dtype=bool)
    async with sessions() as s:
        back = await _echo(s, Float8s(numbers, nulls=nulls), "float8[]")
    assert back == [None if n else v for v, n in values]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.tuples(INTS, st.booleans()), max_size=80))
async def test_int8s_round_trip(
    sessions: async_sessionmaker[AsyncSession], values: list[tuple[int, bool]]
) -> None:
    numbers = np.array([v for v, _ in values], dtype=np.int64)
    nulls = np.array([n for _, n in values], dtype=bool)
    async with sessions() as s:
        back = await _echo(s, Int8s(numbers, nulls=nulls), "int8[]")
    assert back == [None if n else v for v, n in values]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00")), max_size=12)
)
async def test_text_array_round_trip(
    sessions: async_sessionmaker[AsyncSession], values: list[str]
) -> None:
    async with sessions() as s:
        assert await _echo(s, text_array(values), "text[]") == values


async def test_text_array_keeps_what_array_syntax_would_eat(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tricky = ["", "NULL", "a,b", "{x}", '"quoted"', "back\\slash", " spaced ", "失信"]
    async with sessions() as s:
        assert await _echo(s, text_array(tricky), "text[]") == tricky


async def test_a_two_dimensional_array_is_sent_row_by_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    matrix = np.arange(6, dtype=np.float64).reshape(2, 3)
    async with sessions() as s:
        assert await _echo(s, Float8s(matrix), "float8[]") == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


async def test_infinities_are_numbers_but_nan_must_be_marked() -> None:
    assert Float8s([math.inf, -math.inf]).values.tolist() == [math.inf, -math.inf]
    with pytest.raises(ValueError, match="NaN"):
        Float8s([1.0, math.nan])
    with pytest.raises(ValueError, match="one null flag a value"):
        Float8s([1.0, 2.0], nulls=[True])


async def test_uuids_filters_by_one_array_parameter(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    known = [uuid.uuid4() for _ in range(5)]
    rows = values(column("id", Uuid()), name="known").data([(k,) for k in known])
    query = select(rows.c.id).where(rows.c.id == any_(uuids(known[1:4])))
    condition = (rows.c.id == any_(uuids(known))).compile()
    assert [list(p) for p in condition.params.values()] == [known]  # one, however many ids
    async with sessions() as s:
        assert sorted((await s.scalars(query)).all()) == sorted(known[1:4])
        nothing = select(rows.c.id).where(rows.c.id == any_(uuids([])))
        assert (await s.scalars(nothing)).all() == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(floats=st.lists(FLOATS, max_size=40), ints=st.lists(INTS, max_size=40))
async def test_arrays_read_back_from_array_send(
    sessions: async_sessionmaker[AsyncSession], floats: list[float], ints: list[int]
) -> None:
    query = text("SELECT array_send(CAST(:f AS float8[])), array_send(CAST(:i AS int8[]))")
    async with sessions() as s:
        sent_floats, sent_ints = (await s.execute(query, {"f": floats, "i": ints})).one()
    assert Float8s.parse(sent_floats).tolist() == floats
    assert Int8s.parse(sent_ints).tolist() == ints


async def test_a_read_back_array_must_be_of_its_type_and_whole(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as s:
        ints, with_null, nothing = (
            await s.execute(
                text(
                    "SELECT array_send(ARRAY[1, 2]::int8[]), array_send(ARRAY[1, NULL]::int8[]),"
                    " array_send(array_agg(x)) FROM (SELECT 1::int8 AS x WHERE false) AS none"
                )
            )
        ).one()
    assert Int8s.parse(ints).tolist() == [1, 2]
    assert Int8s.parse(nothing).tolist() == []  # array_agg of no rows is NULL
    with pytest.raises(ValueError, match="not an array of float8"):
        Float8s.parse(ints)
    with pytest.raises(ValueError, match="without NULLs"):
        Int8s.parse(with_null)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ids=st.lists(st.uuids(), max_size=30))
async def test_uuids_round_trip_and_keep_their_binary_form(
    sessions: async_sessionmaker[AsyncSession], ids: list[uuid.UUID]
) -> None:
    sent = Uuids(ids)
    async with sessions() as s:
        assert await _echo(s, sent, "uuid[]") == ids
        assert await _echo(s, sent, "uuid[]") == ids  # the second time from the kept form
    assert Uuids.of(sent) is sent
