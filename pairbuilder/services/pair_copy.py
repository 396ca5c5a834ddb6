"""Bulk transfer of a pair build's arrays with PostgreSQL binary COPY, in bounded memory.

Why (issue 14): at a million anchors a build reads ~44 M candidate rows and writes ~54 M pair
rows. A Python tuple per row (``values_list``, ``write_row``) cost more than the rules
themselves; here rows move as NumPy records, a chunk at a time, with no Python object per row.

- :func:`int_columns_copy_out` reads a query's ``bigint NOT NULL`` columns into an (R, W) int64
  array (``COPY (query) TO STDOUT`` in binary, parsed as fixed-width records as they arrive).
- :func:`pair_copy_payload` is the binary COPY payload of some labelled pairs (pure, tested
  without a database); :func:`pairs_copy` writes it.
"""

from __future__ import annotations

import numpy as np
from django.db import connection

from core.pg_copy import COPY_HEADER, COPY_TRAILER, copy_records
from pairbuilder import rules
from pairbuilder.models import Pair

PAIR_COLUMNS = ("build_id", "sticker_a_id", "sticker_b_id", "label", "co_selected",
                "co_displayed", "query_overlap", "text_cosine")
COPY_OUT_HEADER = 19  # signature (11) + flags (4) + header extension length (4), no extension
# Bytes of COPY rows parsed at once: 8 MiB is ~300,000 rows of three bigints.
COPY_OUT_BLOCK = 8 << 20


def cosine_rounded(cosine: np.ndarray) -> np.ndarray:
    """``round(c, 6)`` for each value, exactly as Python's ``round`` (what the text COPY wrote).

    ``np.round`` (scale, round half to even, unscale) agrees with it except where the scaled
    value sits within rounding error of a half; those few are redone with ``round``.
    """
    out = np.round(cosine, 6)
    scaled = np.abs(cosine) * 1e6
    near_half = np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6)
    for i in near_half.tolist():
        out[i] = round(float(cosine[i]), 6)
    return out


def pair_copy_payload(build_pk: int, result: rules.LabelledPairs, sticker_pks: np.ndarray,
                      part: slice) -> bytes:
    """The binary COPY records (no header) of ``result[part]`` as Pair rows of ``build_pk``:
    sticker indices as the stickers' pks, text cosine rounded to 6 places, NaN as NULL."""
    cosine = result.text_cosine[part]
    missing = np.isnan(cosine)  # (n,)
    rounded = np.where(missing, np.nan, cosine_rounded(np.nan_to_num(cosine)))
    values = (build_pk, sticker_pks[result.a[part]], sticker_pks[result.b[part]],
              result.label[part], result.co_selected[part], result.co_displayed[part],
              result.query_overlap[part], rounded)
    kinds = ("int8", "int8", "int8", "int2", "int4", "int4", "int4", "float8_or_null")
    return copy_records(list(zip(PAIR_COLUMNS, kinds, values, strict=True)), len(cosine))


def pairs_copy(build_pk: int, result: rules.LabelledPairs, sticker_pks: np.ndarray,
               part: slice) -> None:
    """COPY ``result[part]`` into the Pair table (in the caller's transaction)."""
    table = connection.ops.quote_name(Pair._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in PAIR_COLUMNS)
    payload = pair_copy_payload(build_pk, result, sticker_pks, part)
    # Django's exception types (IntegrityError...), as its own cursor methods raise them.
    with connection.wrap_database_errors, connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT BINARY)"
                                ) as copy:
            copy.write(COPY_HEADER)
            copy.write(payload)
            copy.write(COPY_TRAILER)


def int_columns_copy_out(query: str, params: list, width: int) -> np.ndarray:
    """The rows of ``query`` (``width`` bigint columns, none NULL) as an (R, width) int64
    array, read with one binary ``COPY ... TO STDOUT``: no Python object per row, and memory of
    the array plus ``COPY_OUT_BLOCK`` bytes."""
    record = np.dtype([("count", ">i2")] + [
        item for k in range(width) for item in ((f"len{k}", ">i4"), (f"v{k}", ">i8"))])
    parts: list[np.ndarray] = []
    pending = bytearray()
    with connection.wrap_database_errors, connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT BINARY)",
                                params) as copy:
            for block in copy:  # PostgreSQL sends one message a row: parse many at once
                pending += block
                if len(pending) >= COPY_OUT_BLOCK:
                    parts.append(_records_parse(pending, record, width, len(parts) == 0))
    parts.append(_records_parse(pending, record, width, len(parts) == 0))
    # What is left is the 2-byte trailer (-1); anything else is a row of another shape.
    if bytes(pending) != b"\xff\xff":
        raise ValueError(f"COPY rows are not all non-NULL bigint columns ({len(pending)} "
                         "bytes left after the last whole row)")
    return np.concatenate(parts)


def _records_parse(pending: bytearray, record: np.dtype, width: int, first: bool) -> np.ndarray:
    """The whole records at the start of ``pending`` (removed from it) as (r, width) int64."""
    if first:
        del pending[:COPY_OUT_HEADER]
    whole = (max(len(pending) - 2, 0)) // record.itemsize * record.itemsize  # keep the trailer
    rows = np.frombuffer(bytes(pending[:whole]), dtype=record)
    del pending[:whole]
    if (rows["count"] != width).any() or any((rows[f"len{k}"] != 8).any()
                                             for k in range(width)):
        raise ValueError("COPY rows are not all non-NULL bigint columns")
    return np.stack([rows[f"v{k}"].astype(np.int64) for k in range(width)], axis=1)
