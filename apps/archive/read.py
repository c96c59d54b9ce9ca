"""Reading archived rows of one game with pyarrow's S3 filesystem, for readers that must
answer from the archive exactly what PostgreSQL answered before the move.

Only the parts the catalog row lists are read (apps/store/archived_days.py: the commit
record), only the columns asked for, with the filter pushed down to the Parquet row
groups (their statistics skip the groups that cannot match). Each part's footer must
hold the row count the catalog lists, and the columns asked for the archive's types: a
day that does not match, or that has a problem reported, raises `DayUnreadable` naming
it; a store that cannot be reached raises `ArchiveUnavailable`. Never a partial answer.

Blocking (network I/O, decoding in C without the GIL): async callers run it in a thread.
"""

import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Final
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from apps.archive.errors import ArchiveUnavailable, DayUnreadable
from apps.archive.parquet import SCHEMA
from apps.core import archive
from apps.core.archive import Part
from apps.core.retention import archive_expired
from apps.core.settings.s3 import S3Settings
from apps.store.archived_days import ArchivedDay

_PARALLEL_PARTS: Final = 8
"""Parts read at once: each waits mostly on the network."""
_FORMAT: Final = ds.ParquetFileFormat()


def filesystem(settings: S3Settings) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem for these settings (the same endpoint, keys, timeouts and
    attempts as the boto3 clients of apps/s3/client.py). No request is made yet."""
    options: dict[str, object] = {
        "connect_timeout": settings.connect_timeout.total_seconds(),
        "request_timeout": settings.read_timeout.total_seconds(),
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=settings.max_attempts),
    }
    if settings.endpoint:
        url = urlsplit(settings.endpoint)
        options["endpoint_override"] = url.netloc
        options["scheme"] = url.scheme or "https"
        options["force_virtual_addressing"] = False
        options["region"] = settings.region or "us-east-1"
    elif settings.region:
        options["region"] = settings.region
    if settings.access_key_id is not None:
        options["access_key"] = settings.access_key_id
        options["secret_key"] = settings.secret_access_key
    return pafs.S3FileSystem(**options)


def to_read(days: Sequence[ArchivedDay], archive_days: int, today: date) -> list[ArchivedDay]:
    """Of catalogued days, those whose rows only the archive holds and still holds: state
    'archived' and not past the game's `archive_days` (an expired day holds nothing, as
    when retention has deleted its files)."""
    return [
        d for d in days
        if d.state == "archived" and not archive_expired(archive_days, d.event_date, today)
    ]  # fmt: skip


class ArchiveReader:
    """Reads one bucket's archive. Thread-safe; builds its filesystem on first use, so
    opening it needs no S3 (a service is ready without it)."""

    def __init__(self, settings: S3Settings, bucket: str) -> None:
        self._settings, self._bucket = settings, bucket
        self._fs: pafs.S3FileSystem | None = None

    @property
    def fs(self) -> pafs.S3FileSystem:
        if self._fs is None:
            self._fs = filesystem(self._settings)
        return self._fs

    def read(
        self, game_id: uuid.UUID, days: Sequence[ArchivedDay], columns: Sequence[str],
        where: pc.Expression | None = None,
    ) -> pa.Table:  # fmt: skip
        """The rows of `days` (archived days of `game_id`) that match `where`, with
        `columns` of the archive's schema. DayUnreadable or ArchiveUnavailable naming
        the first day that cannot be read."""
        schema = pa.schema([SCHEMA.field(c) for c in columns])
        for day in days:
            if day.game_id != game_id:
                raise ValueError(f"a day of game {day.game_id} asked for game {game_id}")
            if day.problem is not None:
                raise DayUnreadable(game_id, day.event_date, f"has a problem: {day.problem}")
        jobs = [(day.event_date, part) for day in days for part in day.parts]
        if not jobs:
            return schema.empty_table()
        fs = self.fs

        def read(job: tuple[date, Part]) -> pa.Table:
            return self._part(fs, game_id, job[0], job[1], schema, where)

        if len(jobs) == 1:
            tables = [read(jobs[0])]
        else:
            with ThreadPoolExecutor(min(_PARALLEL_PARTS, len(jobs))) as pool:
                tables = list(pool.map(read, jobs))
        return pa.concat_tables(tables)

    def _part(
        self, fs: pafs.S3FileSystem, game_id: uuid.UUID, day: date, part: Part,
        schema: pa.Schema, where: pc.Expression | None,
    ) -> pa.Table:  # fmt: skip
        path = f"{self._bucket}/{archive.day_prefix(game_id, day)}{part.name}"
        try:
            fragment = _FORMAT.make_fragment(path, fs)
            fragment.ensure_complete_metadata()
            rows = fragment.metadata.num_rows
            if rows != part.rows:
                raise DayUnreadable(
                    game_id, day, f"has {part.name} of {rows} rows; its catalog lists {part.rows}"
                )
            found = fragment.physical_schema
            for field in SCHEMA:  # every column: filters may read any of them
                index = found.get_field_index(field.name)
                if index < 0 or not found.field(index).type.equals(field.type):
                    raise DayUnreadable(
                        game_id, day, f"has {part.name} whose column {field.name} is not the"
                        f" archive's {field.type}",
                    )  # fmt: skip
            return fragment.to_table(schema=SCHEMA, columns=schema.names, filter=where)
        except FileNotFoundError:
            raise DayUnreadable(
                game_id, day, f"has lost {part.name}, which its catalog lists"
            ) from None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
            raise DayUnreadable(game_id, day, f"has {part.name} unreadable: {e}") from None
        except OSError as e:
            raise ArchiveUnavailable(
                game_id, day, f"could not be read from S3 ({part.name}): {e}"
            ) from e
