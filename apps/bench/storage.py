"""The raw limits under the pipeline, measured in the same run: COPY, the writer, consume.

Each runs in its own spawned process against the benchmark's own servers.
(a) COPY: the processor's row tuples (`records.to_row` of the API's records)
into a scratch table shaped like `events` (`LIKE events INCLUDING ALL`,
partitioned by day the same way), in transactions of one batch, binary as
the processor copies and text as psycopg does by default. (c) The writer
alone: `BatchWriter.write` on the same rows (claim, events, rollups), with
neither Kafka nor the ingestion API running. (b) Kafka: a batched
`consume()` of the events topic from its start by a new group, with and
without decoding each record into a row.
"""

import multiprocessing
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal, TypeVar

from apps.bench.unique import UniqueRequests, body_of

T = TypeVar("T")
SCRATCH_GAME: Final = "00000000-0000-4000-8000-00000000b0b0"
CopyFormat = Literal["binary", "text"]


@dataclass(frozen=True, slots=True)
class RateResult:
    what: str
    items: int
    seconds: float
    note: str = ""

    @property
    def per_s(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def in_process(target: Callable[..., T], *args: Any) -> T:
    """Run `target(*args)` in a spawned process and return its result."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        result: T = pool.apply(target, args)
    return result


def bench_rows(source: UniqueRequests, count: int, game_id: str) -> list[tuple[object, ...]]:
    """`count` rows exactly as the processor gets them from the API's records of `source`."""
    from apps.core.events import encode_records
    from apps.core.validation import TimePolicy, parse_batch
    from apps.processor.records import Poison, to_row

    rows: list[tuple[object, ...]] = []
    seq = 0
    while len(rows) < count:
        request, _ = source.request(0, seq)
        seq += 1
        now = datetime.now(UTC)
        result = parse_batch(body_of(request), game_id=game_id, received_at=now,
                             policy=TimePolicy())  # fmt: skip
        for _, value in encode_records(game_id, result.accepted):
            row = to_row(value)
            if isinstance(row, Poison):
                raise AssertionError(f"a benchmark record is poison: {row.reason}")
            rows.append(row)
    return rows[:count]


def _days(rows: list[tuple[object, ...]]) -> set[date]:
    from apps.processor.records import EVENT_TIME

    return {row[EVENT_TIME].date() for row in rows}  # type: ignore[attr-defined]


def copy_in_process(
    dsn: str, source: UniqueRequests, count: int, batch: int, fmt: CopyFormat
) -> RateResult:
    """(a): COPY `count` rows in transactions of `batch` into a scratch copy of `events`."""
    import psycopg
    from psycopg import sql

    from apps.processor.partitions import partition_name
    from apps.processor.records import COLUMNS
    from apps.processor.store import copy_rows, prepare_copy

    rows = bench_rows(source, count, SCRATCH_GAME)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute(
            "CREATE TABLE bench_copy (LIKE events INCLUDING ALL) PARTITION BY RANGE (event_time)"
        )
        for day in _days(rows):
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} PARTITION OF bench_copy FOR VALUES FROM ({}) TO ({})"
                ).format(
                    sql.Identifier("bench_copy" + partition_name(day).removeprefix("events")),
                    sql.Literal(f"{day.isoformat()} 00:00:00+00"),
                    sql.Literal(f"{(day + timedelta(days=1)).isoformat()} 00:00:00+00"),
                )
            )
        prepare_copy(conn)
        statement = f"COPY bench_copy ({', '.join(COLUMNS)}) FROM STDIN"
        cur = conn.cursor()
        started = time.perf_counter()
        for at in range(0, len(rows), batch):
            with conn.transaction():
                if fmt == "binary":
                    copy_rows(cur, "bench_copy", rows[at : at + batch])
                else:
                    with cur.copy(statement) as copy:
                        for row in rows[at : at + batch]:
                            copy.write_row(row)
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy")
    return RateResult(f"COPY {fmt}", len(rows), seconds, f"{batch:,}-row transactions")


def writer_in_process(dsn: str, source: UniqueRequests, count: int, batch: int) -> RateResult:
    """(c): `BatchWriter.write` on `count` new rows of a scratch game, `batch` per call."""
    import psycopg

    from apps.processor.partitions import Partitions
    from apps.processor.store import BatchWriter

    rows = bench_rows(source, count, str(uuid.uuid4()))
    partitions = Partitions()
    with psycopg.connect(dsn) as conn:
        writer = BatchWriter(conn, partitions)
        partitions.ensure(conn, _days(rows))
        stored = 0
        started = time.perf_counter()
        for at in range(0, len(rows), batch):
            stored += writer.write(rows[at : at + batch]).stored
        seconds = time.perf_counter() - started
    return RateResult("writer", stored, seconds, f"{batch:,}-row batches, rollups included")


def consume_in_process(
    bootstrap: str, topic: str, seconds: float, decode: bool, batch: int
) -> RateResult:
    """(b): consume `topic` from its start with a new group for up to `seconds` (from the
    first record) or until every partition is at its end; `decode` runs `to_row` on each."""
    from confluent_kafka import Consumer, KafkaError

    from apps.kafka.config import consumer_config
    from apps.processor.records import to_row

    config = consumer_config(bootstrap, group_id=f"bench-{uuid.uuid4()}", client_id="bench")
    consumer = Consumer({**config, "enable.partition.eof": True})
    consumer.subscribe([topic])
    count, started, at_end, assigned = 0, 0.0, set[int](), 0
    give_up = time.monotonic() + 60
    try:
        while True:
            messages = consumer.consume(batch, 0.5)
            now = time.perf_counter()
            if not started:
                if not messages and time.monotonic() > give_up:
                    break
                started = now if messages else 0.0
            elif now - started >= seconds:
                break
            for msg in messages:
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        at_end.add(msg.partition() or 0)
                    continue
                count += 1
                if decode:
                    to_row(msg.value())
            assigned = len(consumer.assignment())
            if assigned and len(at_end) >= assigned:
                break
        elapsed = time.perf_counter() - started if started else 0.0
    finally:
        consumer.close()
    what = "consume + decode" if decode else "consume"
    return RateResult(what, count, elapsed, f"consume({batch:,}), {assigned} partitions")
