"""``kanta.store.copy``: PostgreSQL's binary COPY rows of faces decoded with NumPy, against
real PostgreSQL with pgvector."""

from __future__ import annotations

import numpy as np
import pytest

from kanta.db import connection
from kanta.faces import DESCRIPTOR_DIM
from kanta.store.copy import FACE_ROW, copy_rows

_ROWS = f"""SELECT g::bigint AS id, md5(g::text)::uuid AS image_id,
                   array_fill(g::real / 10, ARRAY[{DESCRIPTOR_DIM}])::vector({DESCRIPTOR_DIM}) AS descriptor
            FROM generate_series(1, 3) AS g"""


def test_face_rows_decode_to_ids_image_ids_and_descriptors(services):
    with connection() as conn:
        rows = copy_rows(conn, _ROWS, FACE_ROW, 3)
        image_ids = [r["image_id"] for r in conn.execute(f"SELECT image_id FROM ({_ROWS}) q ORDER BY id")]
    assert rows["id"].tolist() == [1, 2, 3]
    assert [bytes(v) for v in rows["image"]] == [u.bytes for u in image_ids]
    np.testing.assert_allclose(rows["vec"].astype(np.float32), np.repeat([[0.1], [0.2], [0.3]], DESCRIPTOR_DIM, 1),
                               rtol=1e-6)


def test_an_empty_result_is_an_empty_array(services):
    with connection() as conn:
        assert len(copy_rows(conn, _ROWS + " WHERE false", FACE_ROW, 3)) == 0


def test_rows_of_another_layout_are_refused(services):
    with pytest.raises(RuntimeError, match="unexpected COPY row layout"), connection() as conn:
        copy_rows(conn, "SELECT g::bigint FROM generate_series(1, 3) AS g", FACE_ROW, 3)
