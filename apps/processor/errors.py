"""The processor's errors, and what a database error means for the batch.

Like arroyo's `errors.py`: one base class for the package, and a few names
that decide what the chain does. A database that is down (`DATABASE_DOWN`)
means "wait and write the same batch again" (`outage.py`); data the database
rejects (`DATA_REJECTED`) means "find the row and dead-letter it"
(`writing.py`). Anything else is a bug or a broken deployment: the processor
closes its clients and raises it.
"""

from typing import Final

import psycopg

from apps.core.errors import GameMetricsError


class ProcessorError(GameMetricsError):
    """Base of every error the processor raises on purpose."""


class Stopping(ProcessorError):
    """Asked to stop while waiting for the database or the dead-letter topic: leave without
    committing (the batch is replayed by whoever reads the partition next)."""


class DeadLetterFailed(ProcessorError):
    """The dead-letter topic did not acknowledge every letter: the offsets behind them
    must not be committed, so the letters are sent again after a backoff."""


DATABASE_DOWN: Final = (psycopg.OperationalError, psycopg.InterfaceError)
"""The database is unreachable, the connection broke, or the transaction was cancelled
(shutdown, deadlock, serialization): nothing was stored, the same batch is written again."""

DATA_REJECTED: Final = (psycopg.errors.DataError, psycopg.errors.IntegrityError)
"""The database refuses a row's data: the batch is bisected to find the row, which is
dead-lettered, and the rest is stored."""
