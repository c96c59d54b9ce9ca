"""Bisection: a row the database rejects is dead-lettered and the rest of its batch stored."""

from collections.abc import Sequence

import psycopg
from confluent_kafka import Message

from apps.processor.records import Row
from apps.processor.store import Written
from apps.processor.writing import write_isolating


class _Table:
    """Rolls back a write holding a bad row, as PostgreSQL rolls back the transaction."""

    def __init__(self) -> None:
        self.stored: list[Row] = []
        self.writes = 0

    def write(self, rows: Sequence[Row]) -> Written:
        self.writes += 1
        if any(row[0] == "bad" for row in rows):
            raise psycopg.errors.DataError("invalid input syntax")
        self.stored.extend(rows)
        return Written(len(rows), len(rows))


def _batch(values: list[str]) -> tuple[list[Row], list[Message]]:
    rows: list[Row] = [(value, i) for i, value in enumerate(values)]
    sources = [
        Message(topic="events", partition=3, offset=100 + i, key=b"k", value=value.encode())
        for i, value in enumerate(values)
    ]
    return rows, sources


def test_a_batch_the_database_takes_is_one_write() -> None:
    table = _Table()
    rows, sources = _batch(["ok"] * 8)
    assert write_isolating(table, rows, sources) == (Written(8, 8), [])
    assert table.writes == 1


def test_rejected_rows_are_dead_lettered_and_the_rest_stored() -> None:
    table = _Table()
    values = ["ok", "ok", "bad", "ok", "ok", "ok", "ok", "bad"]
    rows, sources = _batch(values)
    written, letters = write_isolating(table, rows, sources)
    assert written == Written(received=8, stored=6)
    assert sorted(table.stored) == sorted(row for row in rows if row[0] == "ok")
    assert [(x.topic, x.partition, x.offset, x.value) for x in letters] == [
        ("events", 3, 102, b"bad"),
        ("events", 3, 107, b"bad"),
    ]
    assert {(x.code, x.reason) for x in letters} == {
        ("rejected_by_database", "rejected by the database: DataError")
    }
