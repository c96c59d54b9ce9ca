"""Generated event sets: funnel and eventCounts answer the same before and after some of
their days move to the archive (a few examples: each writes a game and archives days)."""

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.analytics.queries import event_counts, funnel
from apps.analytics.queries.archived import Archive
from apps.core.periods import ANY_SEGMENT, Bucket, Segment
from apps.processor.records import Row
from tests.apps.analytics.queries.conftest import Store
from tests.apps.analytics.queries.rows import event
from tests.support.archive import Bucketed
from tests.support.servers import Endpoints

DAYS = (date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12))
SEGMENTS = (ANY_SEGMENT, Segment(platform=""), Segment(platform="ios"))
"""A segment value '' matches NULL and '' alike (common.segment_condition)."""
STEPS = (["a", "b", "c"], ["a", "b", "a"], ["b", "c"])
_seconds = st.one_of(st.sampled_from([0, 59, 60, 3599, 43200, 86399]), st.integers(0, 86399))
_instants = st.builds(
    lambda day, s, us: datetime.combine(day, time(), UTC) + timedelta(seconds=s, microseconds=us),
    st.sampled_from(DAYS), _seconds, st.sampled_from([0, 0, 1, 500_000, 999_999]),
)  # fmt: skip
_events = st.lists(
    st.tuples(
        st.sampled_from(["p1", "p2", "p3", "p4"]), st.sampled_from(["a", "b", "c"]), _instants,
        st.sampled_from([None, "", "ios"]),
    ),
    min_size=1, max_size=25,
)  # fmt: skip


async def answers(
    dsn: str, game: uuid.UUID, archive: Archive | None, window: int,
    ranges: list[tuple[datetime, datetime]],
) -> list[object]:  # fmt: skip
    out: list[object] = []
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for steps in STEPS:
            for segment in SEGMENTS:
                for first, last in ((DAYS[0], DAYS[0]), (DAYS[0], DAYS[2])):
                    found = await funnel(conn, game, first, last, steps, window, segment, archive)
                    out.append(found)
        out.extend(
            [
                await event_counts(conn, game, start, end, bucket, types, archive)
                for start, end in ranges
                for bucket in (Bucket.MINUTE, Bucket.HOUR)
                for types in (None, ["a"])
            ]
        )
    return out


@settings(
    max_examples=12, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(
    events=_events,
    archived=st.sets(st.sampled_from(DAYS), min_size=1),
    window=st.sampled_from([0, 60, 3600, 86400]),
    ranges=st.lists(st.tuples(_instants, _instants), min_size=1, max_size=3),
)
def test_generated_event_sets_answer_the_same_archived(
    store: Store, endpoints: Endpoints, bucket: Bucketed,
    events: list[tuple[str, str, datetime, str | None]], archived: set[date], window: int,
    ranges: list[tuple[datetime, datetime]],
) -> None:  # fmt: skip
    game = uuid.uuid4()
    rows: list[Row] = [event(game, t, p, at, platform=pf) for p, t, at, pf in events]
    store.write(*rows)
    spans = [(min(a, b), max(a, b) + timedelta(microseconds=1)) for a, b in ranges]
    dsn = endpoints.postgres_dsn
    before = asyncio.run(answers(dsn, game, None, window, spans))
    for day in sorted(archived):
        bucket.archive(dsn, game, day, parts=1 + day.day % 2)
    after = asyncio.run(answers(dsn, game, bucket.reader(), window, spans))
    assert after == before
