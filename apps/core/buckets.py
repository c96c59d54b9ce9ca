"""The S3 buckets the services use, declared once.

`gamemetrics dev` creates each one on the local S3 under `local_name`; in AWS the
Pulumi program's bucket of the same purpose (infra/storage.py) is wired to the
services that need it (`Wire.ARCHIVE_BUCKET`), so no code types a bucket's name.
"""

from dataclasses import dataclass
from typing import Final

from apps.core import archive


@dataclass(frozen=True, slots=True)
class Bucket:
    purpose: str
    """The infra bucket of the same purpose (`archive`, `backups`, `logs`)."""
    doc: str
    key_prefix: str = ""
    """Where the services' objects live in it (ends with '/'; empty: anywhere): a service's
    IAM role reaches objects under this prefix only."""

    def __post_init__(self) -> None:
        if self.key_prefix and not self.key_prefix.endswith("/"):
            raise ValueError(
                f"bucket {self.purpose!r}: key_prefix {self.key_prefix!r} must end with '/'"
            )

    @property
    def local_name(self) -> str:
        """Its name on the local S3 (S3 names: 3-63 lower-case letters, digits, hyphens)."""
        return f"gamemetrics-{self.purpose}"


ARCHIVE: Final = Bucket(
    "archive",
    "raw events past their hot window, as Parquet (issue 17)",
    key_prefix=f"{archive.PREFIX}/",
)

ALL: Final = (ARCHIVE,)
