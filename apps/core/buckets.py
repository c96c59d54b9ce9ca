"""The S3 buckets the services use, declared once.

`gamemetrics dev` creates each one on the local S3 under `local_name`; in AWS the
Pulumi program's bucket of the same purpose (infra/storage.py) is wired to the
services that need it (`Wire.ARCHIVE_BUCKET`), so no code types a bucket's name.
"""

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Bucket:
    purpose: str
    """The infra bucket of the same purpose (`archive`, `backups`, `logs`)."""
    doc: str

    @property
    def local_name(self) -> str:
        """Its name on the local S3 (S3 names: 3-63 lower-case letters, digits, hyphens)."""
        return f"gamemetrics-{self.purpose}"


ARCHIVE: Final = Bucket("archive", "raw events past their hot window, as Parquet (issue 17)")

ALL: Final = (ARCHIVE,)
