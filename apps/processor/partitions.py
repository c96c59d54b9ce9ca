"""Daily partitions of `events`: created ahead of time and on demand, never missing."""

import logging
from collections.abc import Iterable
from datetime import date, timedelta

import psycopg
from psycopg import errors, sql
from psycopg.rows import TupleRow

log = logging.getLogger(__name__)


def partition_name(day: date) -> str:
    return f"events_p{day:%Y%m%d}"


class Partitions:
    """Remembers which days exist so the hot path asks the database only for new days."""

    def __init__(self) -> None:
        self._known: set[date] = set()

    def ensure(self, conn: psycopg.Connection[TupleRow], days: Iterable[date]) -> None:
        """Create missing partitions, each in its own short transaction (before the batch's)."""
        missing = sorted(set(days) - self._known)
        for day in missing:
            self._create(conn, day)
            self._known.add(day)

    def ensure_ahead(self, conn: psycopg.Connection[TupleRow], today: date, days: int = 7) -> None:
        self.ensure(conn, (today + timedelta(days=d) for d in range(-1, days + 1)))

    def forget(self) -> None:
        """After a reconnect the database may have changed under us (retention drops days)."""
        self._known.clear()

    @staticmethod
    def _create(conn: psycopg.Connection[TupleRow], day: date) -> None:
        stmt = sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ({}) TO ({})"
        ).format(
            sql.Identifier(partition_name(day)),
            sql.Literal(f"{day.isoformat()} 00:00:00+00"),
            sql.Literal(f"{(day + timedelta(days=1)).isoformat()} 00:00:00+00"),
        )
        try:
            with conn.transaction():
                conn.execute(stmt)
        except (errors.DuplicateTable, errors.UniqueViolation):
            pass  # another processor created it at the same moment
        else:
            log.debug("partition %s ready", partition_name(day))
