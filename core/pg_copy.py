"""PostgreSQL binary ``COPY ... FROM STDIN`` payloads built from NumPy columns: one record
array per payload, no Python object per row (issue 14: tens of millions of candidate and pair
rows). Pure NumPy; the callers send the bytes with psycopg's ``cursor.copy``."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # binary COPY timestamps count from here
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
# PostgreSQL binary formats of the column kinds (big-endian, fixed width). "float8_or_null"
# is float8 whose NaN values are written as NULL.
PG_BINARY = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float8": ">f8",
             "float8_or_null": ">f8", "timestamptz": ">i8"}


def copy_records(columns: Sequence[tuple[str, str, object]], n: int) -> bytes:
    """The binary COPY records (no header, no trailer) of ``n`` rows.

    ``columns``: (name, kind, value) where kind is a key of PG_BINARY or "text", and value an
    (n,) array or one value for every row (a text column takes one value: its rows are built
    as fixed-width records). A NULL has no value bytes, so rows holding one are cut short.
    """
    fields: list[tuple[str, str]] = [("count", ">i2")]
    lengths: dict[str, int] = {}
    for name, kind, value in columns:
        if kind == "text":
            encoded = str(value).encode()
            lengths[name] = len(encoded)
            fields.append((f"{name}_len", ">i4"))
            if encoded:
                fields.append((name, f"S{len(encoded)}"))
        else:
            lengths[name] = np.dtype(PG_BINARY[kind]).itemsize
            fields += [(f"{name}_len", ">i4"), (name, PG_BINARY[kind])]
    records = np.empty(n, dtype=fields)
    records["count"] = len(columns)
    nulls: list[tuple[str, np.ndarray]] = []
    for name, kind, value in columns:
        records[f"{name}_len"] = lengths[name]
        if kind == "text":
            if lengths[name]:
                records[name] = str(value).encode()
        elif kind == "timestamptz":  # microseconds since 2000-01-01 UTC
            records[name] = (value - PG_EPOCH) // timedelta(microseconds=1)
        elif kind == "float8_or_null":
            missing = np.isnan(value)  # (n,)
            records[f"{name}_len"] = np.where(missing, -1, lengths[name])
            records[name] = np.where(missing, 0.0, value)
            if missing.any():
                nulls.append((name, missing))
        else:
            records[name] = value
    if not nulls:
        return records.tobytes()
    keep = np.ones((n, records.dtype.itemsize), dtype=bool)  # (n, record bytes)
    for name, missing in nulls:
        offset = records.dtype.fields[name][1]
        keep[missing, offset:offset + lengths[name]] = False
    return records.view(np.uint8).reshape(n, -1)[keep].tobytes()
