"""What `games` and `tokens` share: database options, the connection, the output."""

import argparse
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apps.local.platform import DEFAULT_DATA_DIR

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow


def add_options(q: argparse.ArgumentParser) -> None:
    q.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="local platform")
    q.add_argument("--postgres-url", help="database to use instead of the local one")
    q.add_argument("--json", action="store_true", help="machine-readable output")


def show(args: argparse.Namespace, data: dict[str, Any] | list[dict[str, Any]], text: str) -> None:
    print(json.dumps(data, default=str) if args.json else text)


@contextlib.contextmanager
def connect(args: argparse.Namespace) -> "Iterator[psycopg.Connection[TupleRow]]":
    """The database the command targets (migrated), and a connection to it; an unreachable
    one is a one-line GameMetricsError with the password redacted."""
    import psycopg

    from apps.core.errors import GameMetricsError
    from apps.local.database import database_url
    from apps.local.platform import redact

    try:
        with database_url(args.data_dir, args.postgres_url) as dsn, psycopg.connect(dsn) as conn:
            yield conn
    except psycopg.OperationalError as e:
        where = redact(args.postgres_url) if args.postgres_url else "the configured PostgreSQL"
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GameMetricsError(f"cannot use {where}: {reason}") from None
