"""NumPy arrays sent to PostgreSQL as array parameters in binary, with no Python object per value.

A batch of ratings sends tens of thousands of numbers (every merchant's contributions, every
reason's place, feature, value and record). As Python lists psycopg adapts them one object at a
time, which cost about as much as the statement itself. Wrapped in :class:`Float8s` or
:class:`Int8s` they are written straight into PostgreSQL's binary array format by NumPy.

:meth:`Float8s.parse` and :meth:`Int8s.parse` read such arrays back, as ``array_send`` answers
them.

NULL elements are marked by a mask (NaN is a number to PostgreSQL, so missing values must be
marked, never left as NaN by accident).

:class:`Uuids` is the same idea for ids (a list that psycopg sends as one binary ``uuid[]``),
and :func:`uuids` for a filter by many ids in a SQLAlchemy statement: ``column ==
any_(uuids(ids))`` sends one ``uuid[]``, where ``column.in_(ids)`` sends (and the server plans)
one parameter per id.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import bindparam
from sqlalchemy.types import UserDefinedType

if TYPE_CHECKING:
    import uuid
    from collections.abc import Iterable

    from numpy.typing import ArrayLike, NDArray
    from sqlalchemy import BindParameter


_FEW = 32
"""Up to this many values are packed one by one: NumPy's setup costs more for a few (a rating
of one merchant sends a dozen small arrays)."""


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
        if n <= _FEW:
            element = struct.Struct(">id" if self.values.dtype.kind == "f" else ">iq")
            missing = struct.pack(">i", -1)
            return header + b"".join(
                missing if null else element.pack(width, value)
                for value, null in zip(self.values.tolist(), nulls.tolist(), strict=True)
            )
        lengths = np.where(nulls, 0, width) + 4
        starts = np.cumsum(lengths) - lengths
        out = np.zeros(int(lengths.sum()), dtype=np.uint8)
        prefix = np.where(nulls, -1, width).astype(">i4").view(np.uint8).reshape(n, 4)
        out[starts[:, None] + np.arange(4)] = prefix
        kept = ~nulls
        data = self.values[kept].astype(f">{self.values.dtype.kind}{width}")
        out[starts[kept][:, None] + 4 + np.arange(width)] = data.view(np.uint8).reshape(-1, width)
        return header + out.tobytes()

    @classmethod
    def parse(cls, data: bytes | None) -> NDArray[Any]:
        """An array as ``array_send`` answers it (``NULL`` for no rows: empty), without NULLs.

        The reverse of :meth:`binary`: a result of tens of thousands of numbers read in one
        NumPy call, where psycopg would make a Python object of each.
        """
        if data is None:
            return np.empty(0, dtype=cls.dtype)
        ndim, has_null, oid = struct.unpack_from(">iii", data)
        if oid != psycopg.postgres.types[cls.element].oid:
            msg = f"not an array of {cls.element}"
            raise ValueError(msg)
        if ndim == 0:
            return np.empty(0, dtype=cls.dtype)
        if ndim != 1 or has_null:
            msg = "expected a one-dimensional array without NULLs"
            raise ValueError(msg)
        (n,) = struct.unpack_from(">i", data, 12)
        element = np.dtype(cls.dtype)
        layout = np.dtype([("length", ">i4"), ("value", element.newbyteorder(">"))])
        found = np.frombuffer(data, dtype=layout, count=n, offset=20)
        if (found["length"] != element.itemsize).any():
            msg = "malformed binary array"
            raise ValueError(msg)
        return found["value"].astype(element)


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


class Uuids(tuple["uuid.UUID", ...]):  # noqa: SLOT001 - it keeps its binary form: needs a __dict__
    """Ids that psycopg sends as one binary ``uuid[]``, built once however often it is sent.

    A batch sends its thousand merchant ids with most of its statements; as a list each id is
    dumped (and checked for quoting) one at a time, every time.
    """

    _binary: bytes | None = None

    @classmethod
    def of(cls, ids: Iterable[uuid.UUID]) -> Uuids:
        """``ids`` as :class:`Uuids` (the same object if it is one already)."""
        return ids if isinstance(ids, Uuids) else cls(ids)

    def binary(self) -> bytes:
        """PostgreSQL's binary array format: each id as its length (16) and its 16 bytes."""
        if self._binary is None:
            self._binary = self._build()
        return self._binary

    def _build(self) -> bytes:
        oid = psycopg.postgres.types["uuid"].oid
        n = len(self)
        if n == 0:
            return struct.pack(">iii", 0, 0, oid)
        out = np.empty((n, 20), dtype=np.uint8)
        out[:, :4] = np.frombuffer(struct.pack(">i", 16), dtype=np.uint8)
        out[:, 4:] = np.frombuffer(b"".join(u.bytes for u in self), dtype=np.uint8).reshape(n, 16)
        return struct.pack(">iiiii", 1, 0, oid, n, 1) + out.tobytes()


class _UuidsDumper(Dumper):
    format = Format.BINARY
    oid = psycopg.postgres.types["uuid"].array_oid

    def dump(self, obj: Uuids) -> bytes:
        return obj.binary()


psycopg.adapters.register_dumper(Float8s, _Float8sDumper)
psycopg.adapters.register_dumper(Int8s, _Int8sDumper)
psycopg.adapters.register_dumper(Uuids, _UuidsDumper)


class _UuidArray(UserDefinedType[Uuids]):
    """``uuid[]`` for a :class:`Uuids` value, passed to psycopg as it is.

    SQLAlchemy's ``ARRAY(Uuid)`` would copy it into a plain list, one element at a time.
    """

    cache_ok = True

    def get_col_spec(self, **_: object) -> str:
        return "uuid[]"


def text_array(values: Iterable[str]) -> str:
    """Strings as one ``text[]`` literal, for ``CAST(:param AS text[])``.

    For a constant list sent with every statement: one string to send, where a list is dumped
    (and every element checked for quoting) each time.
    """
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def uuids(ids: Iterable[uuid.UUID]) -> BindParameter[Uuids]:
    """Ids as one binary ``uuid[]`` parameter, for ``column == any_(uuids(ids))``."""
    return bindparam(None, Uuids.of(ids), type_=_UuidArray())
