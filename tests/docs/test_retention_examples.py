"""docs/RETENTION.md's DuckDB example, run as written against an archive the retention pass
wrote to the local S3: it answers what PostgreSQL held before the move."""

import ast
import contextlib
import io
import re
import uuid
from collections import Counter
from pathlib import Path

import pytest

from apps.local.servers import EmbeddedS3
from apps.retention.passes import Pass
from apps.s3.client import client
from tests.support.retention import (
    days_ago,
    events_on,
    game_with_retention,
    pg_rows,
    retention_settings,
    write,
)  # fmt: skip
from tests.support.servers import Endpoints

DOC = Path(__file__).resolve().parents[2] / "docs" / "RETENTION.md"


def example(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    found = [b for b in blocks if b.startswith(f"# {marker}\n")]
    assert len(found) == 1, f"docs/RETENTION.md has no single block marked {marker}"
    return str(found[0])


def test_the_duckdb_example_reads_the_archive(
    endpoints: Endpoints, s3: EmbeddedS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = retention_settings(endpoints, s3, f"docs-{uuid.uuid4().hex[:8]}")
    dsn = endpoints.postgres_dsn
    game = game_with_retention(dsn, hot_days=30)
    days = [days_ago(40), days_ago(41)]
    for day in days:
        write(dsn, events_on(game, day, 60))
    expected = Counter(
        (day.isoformat(), row[1]) for day in days for row in pg_rows(dsn, game, day).values()
    )
    Pass(settings, client(settings.s3), only=frozenset({game})).run()
    assert all(pg_rows(dsn, game, day) == {} for day in days)
    for key, value in settings.s3.env().items() | {
        ("GAMEMETRICS_S3_ARCHIVE_BUCKET", settings.archive_bucket),
        ("GAME_ID", str(game)),
    }:
        monkeypatch.setenv(key, value)

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example("duckdb-example"), str(DOC), "exec"), {})  # noqa: S102

    rows = ast.literal_eval(out.getvalue().strip())
    got = Counter({(str(d), t): n for d, t, n, _, _ in rows})
    assert got == expected
