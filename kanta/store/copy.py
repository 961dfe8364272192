"""Decoding PostgreSQL's binary row formats with NumPy, for reading many descriptors fast.

Two layouts: rows of a binary ``COPY (query) TO STDOUT`` (``copy_rows``; ``FACE_ROW`` for
``(id bigint, image_id uuid, descriptor vector(128))``), and records packed by SQL's
``int8send(id) || int4send(cluster_id)`` (``PERSON_RECORD``). psycopg's own binary loaders
build one Python object per value; these keep 100 000 descriptors one array
(bench/README.md, "Search", for the timings).
"""

from __future__ import annotations

import numpy as np
import psycopg

from kanta.faces import DESCRIPTOR_DIM

# PostgreSQL binary COPY rows: a field count (int16), then per field its byte length (int32)
# and value, big-endian (PostgreSQL docs "COPY", binary format). A uuid is its 16 bytes;
# pgvector's binary vector is dim (int16), unused (int16), dim float32 (pgvector vector_send).
#: One ``(id, image_id, descriptor)`` row of the faces table as binary COPY sends it.
FACE_ROW = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("image_len", ">i4"),
                     ("image", "V16"), ("vec_len", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
                     ("vec", ">f4", (DESCRIPTOR_DIM,))])
#: (id, cluster_id) of a face as ``int8send(id) || int4send(cluster_id)`` packs it.
PERSON_RECORD = np.dtype([("id", ">i8"), ("person", ">i4")])
_HEADER_BYTES = 11 + 4 + 4  # signature, flags, header extension length (no extension)
_TRAILER_BYTES = 2


def copy_rows(conn: psycopg.Connection, query: str, row: np.dtype, fields: int) -> np.ndarray:
    """Rows of a binary ``COPY (query) TO STDOUT`` as a structured array of dtype ``row``
    (``(n,)``), each of ``fields`` fields. Raises ``RuntimeError`` when the bytes are not
    whole rows of that layout."""
    data = bytearray()
    with conn.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT BINARY)") as copy:
        for chunk in copy:
            data += chunk
    body = len(data) - _HEADER_BYTES - _TRAILER_BYTES
    if body % row.itemsize:
        raise RuntimeError(f"unexpected COPY row layout: {body} bytes is no whole number of {row.itemsize}-byte rows")
    rows = np.frombuffer(data, dtype=row, count=body // row.itemsize, offset=_HEADER_BYTES)
    if len(rows) and not (rows["fields"] == fields).all():
        raise RuntimeError(f"unexpected COPY row layout: rows of {fields} fields expected")
    return rows.copy()  # owns its memory, so the COPY buffer is freed
