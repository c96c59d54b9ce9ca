"""A part on S3 as a seekable file whose reads are ranged GETs, for pyarrow's Parquet
reader: finding a player in a part reads its footer and the player_id column chunks of
the row groups whose statistics may hold them, not the whole object."""

import io
import uuid
from datetime import date
from typing import Any

from apps.core import archive


class RangedPart(io.RawIOBase):
    """The part's bytes, fetched range by range as pyarrow reads them (unbuffered: each
    read is one GET; pyarrow reads the footer and each column chunk in one read each)."""

    def __init__(
        self, s3: Any, bucket: str, game_id: uuid.UUID, day: date, name: str, size: int
    ) -> None:
        self._s3, self._bucket = s3, bucket
        self._key = archive.day_prefix(game_id, day) + name
        self._size = size
        self._at = 0
        self.requests = 0
        self.fetched = 0
        """GETs made and bytes they brought (tests, metrics)."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: self._size}[whence]
        self._at = max(0, base + offset)
        return self._at

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        n = min(len(buffer), self._size - self._at)
        if n <= 0:
            return 0
        answer = self._s3.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={self._at}-{self._at + n - 1}"
        )
        data: bytes = answer["Body"].read()
        self.requests += 1
        self.fetched += len(data)
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)
