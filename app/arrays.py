"""NumPy arrays sent to PostgreSQL as array parameters in binary, with no Python object per value.

A batch of ratings sends tens of thousands of numbers (every merchant's contributions, every
reason's place, feature, value and record). As Python lists psycopg adapts them one object at a
time, which cost about as much as the statement itself. Wrapped in :class:`Float8s` or
:class:`Int8s` they are written straight into PostgreSQL's binary array format by NumPy.

NULL elements are marked by a mask (NaN is a number to PostgreSQL, so missing values must be
marked, never left as NaN by accident).

:func:`uuids` is the same idea for a filter by many ids: ``column == any_(uuids(ids))`` sends
one ``uuid[]``, where ``column.in_(ids)`` sends (and the server plans) one parameter per id.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import Uuid, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterable

    from numpy.typing import ArrayLike, NDArray
    from sqlalchemy import BindParameter
    from sqlalchemy.types import TypeEngine


class _Array:
    """A one-dimensional array parameter; ``nulls[i]`` makes element ``i`` NULL."""

    element: ClassVar[str]
    dtype: ClassVar[str]

    def __init__(self, values: ArrayLike, nulls: ArrayLike | None = None) -> None:
        self.values = np.ravel(np.asarray(values, dtype=self.dtype))
        self.nulls: NDArray[np.bool_] | None = (
            None if nulls is None else np.ravel(np.asarray(nulls, dtype=bool))
        )
        if self.nulls is not None and self.nulls.shape != self.values.shape:
            msg = "one null flag a value"
            raise ValueError(msg)
        if self.nulls is None and self.values.dtype.kind == "f" and np.isnan(self.values).any():
            msg = "NaN in an array parameter: mark missing values as nulls"
            raise ValueError(msg)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.values)} values)"

    def binary(self) -> bytes:
        """PostgreSQL's binary array format: header, dimension, then length-prefixed values."""
        oid = psycopg.postgres.types[self.element].oid
        n = len(self.values)
        if n == 0:
            return struct.pack(">iii", 0, 0, oid)
        nulls = self.nulls if self.nulls is not None else np.zeros(n, dtype=bool)
        width = self.values.dtype.itemsize
        header = struct.pack(">iiiii", 1, int(nulls.any()), oid, n, 1)
        lengths = np.where(nulls, 0, width) + 4
        starts = np.cumsum(lengths) - lengths
        out = np.zeros(int(lengths.sum()), dtype=np.uint8)
        prefix = np.where(nulls, -1, width).astype(">i4").view(np.uint8).reshape(n, 4)
        out[starts[:, None] + np.arange(4)] = prefix
        kept = ~nulls
        data = self.values[kept].astype(f">{self.values.dtype.kind}{width}")
        out[starts[kept][:, None] + 4 + np.arange(width)] = data.view(np.uint8).reshape(-1, width)
        return header + out.tobytes()


class Float8s(_Array):
    """A ``float8[]`` parameter."""

    element = "float8"
    dtype = "float64"


class Int8s(_Array):
    """An ``int8[]`` parameter."""

    element = "int8"
    dtype = "int64"


class _Float8sDumper(Dumper):
    format = Format.BINARY
    oid = psycopg.postgres.types["float8"].array_oid

    def dump(self, obj: Float8s) -> bytes:
        return obj.binary()


class _Int8sDumper(Dumper):
    format = Format.BINARY
    oid = psycopg.postgres.types["int8"].array_oid

    def dump(self, obj: Int8s) -> bytes:
        return obj.binary()


psycopg.adapters.register_dumper(Float8s, _Float8sDumper)
psycopg.adapters.register_dumper(Int8s, _Int8sDumper)


def text_array(values: Iterable[str]) -> str:
    """Strings as one ``text[]`` literal, for ``CAST(:param AS text[])``.

    For a constant list sent with every statement: one string to send, where a list is dumped
    (and every element checked for quoting) each time.
    """
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def uuids(ids: Iterable[uuid.UUID]) -> BindParameter[list[uuid.UUID]]:
    """Ids as one ``uuid[]`` parameter, for ``column == any_(uuids(ids))``."""
    array: TypeEngine[list[uuid.UUID]] = ARRAY(Uuid())  # type: ignore[assignment]
    return bindparam(None, list(ids), type_=array)
