"""Decoding topic records into rows (pure): every column in place, every bad record named."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from apps.core.events import SCHEMA_VERSION, StoredEvent, encode_stored
from apps.processor.records import COLUMNS, COPY_TYPES, FIELDS, Poison, to_row
from apps.store.migrate import migrate
from tests.support.servers import Endpoints

T = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
GAME = uuid.UUID("6f1c3a55-1111-4222-8333-444455556666")


def stored(**fields: object) -> StoredEvent:
    values: dict[str, object] = {
        "v": SCHEMA_VERSION, "game_id": str(GAME), "event_id": uuid.uuid4(), "type": "purchase",
        "player_id": "p1", "session_id": "s1", "event_time": T, "client_time": T - timedelta(1),
        "received_at": T + timedelta(seconds=1), "platform": "ios", "country": "DE",
        "app_version": "1.2", "properties": '{"sku": "x"}', "duration_seconds": None,
        "amount": 4.99, "currency": "EUR", "item_id": "gems", "level": None, "status": None,
    }  # fmt: skip
    values.update(fields)
    return StoredEvent(**values)  # type: ignore[arg-type]


def test_the_record_is_the_row_behind_a_version() -> None:
    assert FIELDS[0].name == "v"
    names = tuple("event_type" if f.name == "type" else f.name for f in FIELDS[1:])
    assert names == COLUMNS


_TABLE_COLUMNS = """
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'events'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum
"""
_TYPE_NAMES = """
SELECT format_type(to_regtype(name)::oid, NULL)
FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, n) ORDER BY n
"""


def test_the_migrations_make_events_the_row_that_the_record_declares(
    endpoints: Endpoints,
) -> None:
    """COLUMNS and COPY_TYPES are derived from StoredEvent; `events` is made by the
    migrations. A column in one and not the other, or of another type, fails here."""
    database = f"columns_{uuid.uuid4().hex[:12]}"  # a fresh one: only what migrations make
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        try:
            dsn = make_conninfo(endpoints.postgres_dsn, dbname=database)
            migrate(dsn)
            with psycopg.connect(dsn) as conn:
                table = conn.execute(_TABLE_COLUMNS).fetchall()
                # COPY_TYPES spelled as format_type spells them (float8: double precision).
                copy_types = [t for (t,) in conn.execute(_TYPE_NAMES, (list(COPY_TYPES),))]
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
    assert len(COPY_TYPES) == len(COLUMNS)
    assert table == list(zip(COLUMNS, copy_types, strict=True))


def test_a_record_decodes_into_its_row() -> None:
    ev = stored()
    row = to_row(encode_stored(ev))
    assert not isinstance(row, Poison)
    assert row == (
        GAME, ev.event_id, "purchase", "p1", "s1", T, T - timedelta(1), T + timedelta(seconds=1),
        "ios", "DE", "1.2", '{"sku": "x"}', None, 4.99, "EUR", "gems", None, None,
    )  # fmt: skip
    assert isinstance(row[0], uuid.UUID)
    assert all(t.tzinfo is not None for t in row[5:8])


def test_other_time_zones_arrive_as_the_same_instant_in_utc() -> None:
    berlin = T.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    row = to_row(encode_stored(stored(event_time=berlin)))
    assert not isinstance(row, Poison)
    assert row[5] == T
    assert row[5].utcoffset() == timedelta(0)  # type: ignore[attr-defined]


def _fields(ev: StoredEvent) -> list[object]:
    return list(msgspec.structs.astuple(ev))


@pytest.mark.parametrize(
    ("value", "code", "reason"),
    [
        (b"", "undecodable", "empty record value"),
        (None, "undecodable", "empty record value"),
        (b"{not json", "undecodable", "not a StoredEvent record (version 1"),
        (b"[not msgpack", "undecodable", "not a StoredEvent record"),
        (json.dumps({"v": 1, "game_id": str(GAME)}).encode(), "undecodable",
         "version 1, a JSON object"),
        (json.dumps({"v": 3, "game_id": str(GAME)}).encode(), "undecodable",
         "version 1, a JSON object"),
        (msgspec.msgpack.encode({"v": 2}), "undecodable", "not a StoredEvent record"),
        (msgspec.msgpack.encode([]), "undecodable", "an empty array"),
        (msgspec.msgpack.encode([1, "x"]), "undecodable", "unsupported schema version 1"),
        (msgspec.msgpack.encode([3]), "undecodable", "unsupported schema version 3"),
        (msgspec.msgpack.encode(["2"]), "undecodable", "unsupported schema version '2'"),
        (msgspec.msgpack.encode([2, str(GAME)]), "undecodable", "2 fields, version 2 has 19"),
    ],
)  # fmt: skip
def test_what_is_not_a_record_is_undecodable(value: bytes | None, code: str, reason: str) -> None:
    poison = to_row(value)
    assert isinstance(poison, Poison)
    assert poison.code == code
    assert reason in poison.reason


@pytest.mark.parametrize(
    ("index", "value", "reason"),
    [
        (1, "not-a-uuid", "invalid game_id: Invalid UUID"),
        (2, "nope", "invalid event_id: Invalid UUID"),
        (3, None, "invalid type: Expected `str`, got `None`"),
        (6, "2026-11-24T10:00:00", "invalid event_time"),
        (12, {"a": 1}, "invalid properties: Expected `str`"),
        (14, "4.99", "invalid amount: Expected `float | null`, got `str`"),
    ],
)
def test_a_record_with_a_wrong_field_is_invalid_and_says_which(
    index: int, value: object, reason: str
) -> None:
    fields = _fields(stored())
    fields[index] = value
    poison = to_row(msgspec.msgpack.encode(fields))
    assert isinstance(poison, Poison)
    assert poison.code == "invalid"
    assert poison.reason.startswith(reason), poison.reason


def test_invalid_utf8_text_is_undecodable_not_an_exception() -> None:
    value = encode_stored(stored(player_id="PLAYER")).replace(b"PLAYER", b"PLAYE\xff")
    poison = to_row(value)
    assert isinstance(poison, Poison)
    assert poison.code == "undecodable"


def _v1(ev: StoredEvent, **override: object) -> bytes:
    """The JSON object the API of the previous release wrote (schema version 1)."""
    obj: dict[str, object] = {
        "game_id": ev.game_id, "event_id": str(ev.event_id), "type": ev.type,
        "player_id": ev.player_id, "event_time": ev.event_time.isoformat(),
        "client_time": ev.client_time.isoformat(), "received_at": ev.received_at.isoformat(),
        "session_id": ev.session_id, "platform": ev.platform, "country": ev.country,
        "app_version": ev.app_version, "properties": json.loads(ev.properties),
        "amount": ev.amount, "currency": ev.currency, "item_id": ev.item_id, "v": 1,
    }  # fmt: skip
    obj.update(override)
    return json.dumps({k: v for k, v in obj.items() if v is not None}).encode()


def test_a_version_1_record_still_decodes_into_the_same_row() -> None:
    """During a rolling deploy the previous API may still write JSON records."""
    ev = stored()
    row = to_row(_v1(ev))
    assert not isinstance(row, Poison)
    assert row == to_row(encode_stored(ev))


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"game_id": "nope"}, "Invalid UUID"),
        ({"event_time": "2026-11-24T10:00:00"}, "timezone"),
        ({"v": 2}, "`$.v`"),
    ],
)
def test_a_bad_version_1_record_is_undecodable_and_says_why(
    override: dict[str, object], reason: str
) -> None:
    poison = to_row(_v1(stored(), **override))
    assert isinstance(poison, Poison)
    assert poison.code == "undecodable"
    assert reason in poison.reason, poison.reason
