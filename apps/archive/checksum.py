"""`apps.core.archive.id_checksum`, vectorised: the event-id checksum of a whole column.

The ids are canonical uuid text (36 characters, lower-case hex), as PostgreSQL's
`uuid::text` writes them and the archive stores them. The 32 hex digits become four
32-bit limbs; each limb is summed exactly in 64 bits (2**32 ids at most per call), and
the sums are recombined modulo 2**128 in Python: the same value as summing the ids as
integers, about 40 ns per id instead of 600.
"""

from typing import Final

import numpy as np
import pyarrow as pa

from apps.core.archive import combine, id_checksum

_LENGTH: Final = 36
_HEX_COLUMNS: Final = np.array([i for i in range(_LENGTH) if i not in (8, 13, 18, 23)])
_MOD: Final = 1 << 128
_DIGIT: Final = np.full(256, 255, dtype=np.uint8)
_DIGIT[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)


def column_checksum(ids: pa.Array | pa.ChunkedArray) -> str:
    """The checksum of every id of the column; ValueError if one is not canonical text."""
    if isinstance(ids, pa.ChunkedArray):
        return combine(column_checksum(chunk) for chunk in ids.chunks)
    if len(ids) == 0:
        return f"{0:032x}"
    if ids.null_count:
        raise ValueError("an event id is null")
    if pa.types.is_large_string(ids.type):
        ids = ids.cast(pa.string())
    offsets_buffer, data_buffer = ids.buffers()[1], ids.buffers()[2]
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[ids.offset : ids.offset + len(ids) + 1]
    if not np.all(np.diff(offsets) == _LENGTH):
        return id_checksum(ids.to_pylist())  # not all canonical: the exact, slow way (raises)
    chars = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    digits = _DIGIT[chars.reshape(-1, _LENGTH)[:, _HEX_COLUMNS]]
    if digits.max() > 15:
        return id_checksum(ids.to_pylist())  # upper-case or not hex: let the slow way judge
    octets = np.ascontiguousarray(digits[:, 0::2] * 16 + digits[:, 1::2])  # (n, 16) bytes
    sums = octets.view(">u4").astype(np.uint64).sum(axis=0)  # exact: fewer than 2**32 ids
    total = sum(int(s) << (32 * (3 - k)) for k, s in enumerate(sums)) % _MOD
    return f"{total:032x}"
