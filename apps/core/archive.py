"""The raw-event archive's format, declared once: its columns, where each game-day lives
in the bucket, and the manifest that says what a day holds. Pure.

The retention service writes it, analytics and the user service read and rewrite it,
the Pulumi program declares the Glue table over it from `COLUMNS` (infra/archive_catalog.py),
and analysts query it with Athena, DuckDB or Spark (docs/RETENTION.md). Hive layout:

    events/game_id=<uuid>/event_date=<YYYY-MM-DD>/part-<n>.parquet
    events/game_id=<uuid>/event_date=<YYYY-MM-DD>/_manifest.json

`game_id` and `event_date` are partition columns: they are in the path, not the files.
A day's files are the parts its manifest lists, no others: a part left by a pass that
died before writing the manifest is not part of the day (the next pass replaces it).
Parts are immutable once listed: a rewrite (an erasure) writes a new part under a new
number, then the manifest that lists it instead of the old one, then deletes the old.
"""

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, Literal

ColumnKind = Literal["string", "timestamp", "double"]

SCHEMA_VERSION: Final = 1
"""Bumped when COLUMNS change; a reader refuses a manifest of a version it does not know."""

PREFIX: Final = "events"
MANIFEST: Final = "_manifest.json"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: ColumnKind
    nullable: bool
    doc: str


COLUMNS: Final[tuple[Column, ...]] = (
    Column("event_id", "string", False, "the event's uuid, canonical lower-case text"),
    Column("event_type", "string", False, "e.g. session_start, purchase, level_complete"),
    Column("player_id", "string", False, "the game's id of the player"),
    Column("session_id", "string", True, "the client's session id"),
    Column("event_time", "timestamp", False, "skew-corrected event time, UTC, microseconds"),
    Column("client_time", "timestamp", False, "the time the client sent, UTC"),
    Column("received_at", "timestamp", False, "when ingestion accepted it, UTC"),
    Column("platform", "string", True, "ios, android, pc..."),
    Column("country", "string", True, "ISO 3166-1 alpha-2"),
    Column("app_version", "string", True, "the client's version"),
    Column("properties", "string", False, "the event's properties, a JSON object as text"),
    Column("duration_seconds", "double", True, "session_end: the session's length"),
    Column("amount", "double", True, "purchase: the amount in `currency`'s major units"),
    Column("currency", "string", True, "purchase: ISO 4217 code"),
    Column("item_id", "string", True, "purchase: the item bought"),
    Column("level", "string", True, "level events: the level"),
    Column("status", "string", True, "level_end: complete or fail"),
)
"""The files' columns, in order; the same names as the PostgreSQL `events` table's."""

COLUMN_NAMES: Final = tuple(c.name for c in COLUMNS)
PARTITION_COLUMNS: Final = ("game_id", "event_date")

_PART: Final = re.compile(r"^part-(\d{1,9})\.parquet$")


def day_prefix(game_id: uuid.UUID, day: date) -> str:
    """The key prefix of one game-day (ends with '/')."""
    return f"{PREFIX}/game_id={game_id}/event_date={day.isoformat()}/"


def game_prefix(game_id: uuid.UUID) -> str:
    return f"{PREFIX}/game_id={game_id}/"


def part_name(number: int) -> str:
    return f"part-{number}.parquet"


def part_number(name: str) -> int | None:
    """The number of a part's file name, None for any other name."""
    match = _PART.match(name)
    return int(match.group(1)) if match else None


def manifest_key(game_id: uuid.UUID, day: date) -> str:
    return day_prefix(game_id, day) + MANIFEST


def day_of_key(key: str) -> tuple[uuid.UUID, date] | None:
    """The game and day a key lies under, None for a key outside the layout."""
    parts = key.split("/")
    if len(parts) < 4 or parts[0] != PREFIX:
        return None
    game, day = parts[1], parts[2]
    if not game.startswith("game_id=") or not day.startswith("event_date="):
        return None
    try:
        return uuid.UUID(game.removeprefix("game_id=")), date.fromisoformat(
            day.removeprefix("event_date=")
        )
    except ValueError:
        return None


class ManifestError(ValueError):
    """A manifest that is not one this code wrote: the day is reported, never served."""


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    rows: int
    bytes: int
    checksum: str
    """`id_checksum` of the part's event ids."""

    def as_dict(self) -> dict[str, Any]:
        """As the manifest and the catalog write it."""
        return {
            "name": self.name, "rows": self.rows, "bytes": self.bytes,
            "event_id_checksum": self.checksum,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "Part":
        """From `as_dict`'s form; KeyError, TypeError or ValueError when it is not that."""
        return cls(
            str(doc["name"]), int(doc["rows"]), int(doc["bytes"]), str(doc["event_id_checksum"])
        )


@dataclass(frozen=True, slots=True)
class Manifest:
    game_id: uuid.UUID
    event_date: date
    parts: tuple[Part, ...]
    written_at: datetime
    schema_version: int = SCHEMA_VERSION

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts)

    @property
    def size(self) -> int:
        """Bytes of its parts."""
        return sum(p.bytes for p in self.parts)

    @property
    def checksum(self) -> str:
        return combine(p.checksum for p in self.parts)

    def next_part(self) -> int:
        """The number the day's next part takes (one past every number ever listed)."""
        numbers = [part_number(p.name) for p in self.parts]
        return max((n for n in numbers if n is not None), default=-1) + 1

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "schema_version": self.schema_version,
                "game_id": str(self.game_id),
                "event_date": self.event_date.isoformat(),
                "rows": self.rows,
                "bytes": self.size,
                "event_id_checksum": self.checksum,
                "checksum_algorithm": CHECKSUM_ALGORITHM,
                "written_at": self.written_at.astimezone(UTC).isoformat(),
                "columns": [{"name": c.name, "type": c.kind} for c in COLUMNS],
                "parts": [p.as_dict() for p in self.parts],
            },
            indent=1,
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes, game_id: uuid.UUID, day: date) -> "Manifest":
        """The manifest in `raw`, checked to be the one of (`game_id`, `day`) and whole:
        ManifestError saying what is wrong otherwise."""
        try:
            doc = json.loads(raw)
            version = doc["schema_version"]
            if version != SCHEMA_VERSION:
                raise ManifestError(f"schema version {version!r}; this code reads {SCHEMA_VERSION}")
            if doc["game_id"] != str(game_id) or doc["event_date"] != day.isoformat():
                raise ManifestError(
                    f"names {doc['game_id']}/{doc['event_date']}, found under {game_id}/{day}"
                )
            parts = tuple(Part.from_dict(p) for p in doc["parts"])
            written = datetime.fromisoformat(doc["written_at"])
        except ManifestError:
            raise
        except (ValueError, KeyError, TypeError) as e:
            raise ManifestError(f"unreadable: {type(e).__name__}: {e}") from None
        manifest = cls(game_id, day, parts, written, version)
        if any(part_number(p.name) is None for p in parts):
            raise ManifestError("lists a file that is not a part")
        if doc.get("rows") != manifest.rows or doc.get("event_id_checksum") != manifest.checksum:
            raise ManifestError("its totals do not match its parts")
        return manifest


CHECKSUM_ALGORITHM: Final = "sum-mod-2^128-of-uuid"
"""An event-id checksum is the sum of the ids as 128-bit integers, modulo 2**128, in 32
hex digits: independent of order, so parts combine by addition, and any id missing,
added or doubled changes it."""
_MOD: Final = 1 << 128


def id_checksum(event_ids: Sequence[uuid.UUID] | Sequence[str]) -> str:
    """The checksum of a few ids (tests, small parts); apps/archive/checksum.py computes
    the same value vectorised for whole days."""
    total = sum(uuid.UUID(str(e)).int for e in event_ids) % _MOD
    return f"{total:032x}"


def combine(checksums: Iterable[str]) -> str:
    """The checksum of the union of disjoint id sets, from theirs."""
    total = sum(int(c, 16) for c in checksums) % _MOD
    return f"{total:032x}"
