"""One resolver per Game metric field: check the arguments, then answer from the cache or the
query layer (`apps.analytics.queries`), under the field's latency metric.

The GraphQL signatures live in schema.py; these take domain values and
return the query layer's results.
"""

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import psycopg
import strawberry
from psycopg_pool import PoolTimeout

from apps.analytics import games, limits, queries, results
from apps.analytics.cache import cache_key
from apps.analytics.context import Context
from apps.analytics.errors import (
    ArchivedDayUnreadable,
    BadUserInput,
    GameNotFound,
    RoleRequired,
    Unavailable,
)
from apps.analytics.queries.archived import Archive
from apps.archive.errors import ArchiveReadError, ArchiveUnavailable
from apps.core import periods
from apps.store import profiles

T = TypeVar("T")
Info = strawberry.Info[Context, None]
Compute = Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]


async def metric(
    info: Info,
    game_id: uuid.UUID,
    field: str,
    arguments: dict[str, object],
    result_type: type[T],
    compute: "Compute[T]",
    *,
    cached: bool = True,
) -> T:
    """Run one metric query on a pooled connection; cached under the game's data version.

    The version is read before computing (see cache.py). A statement that runs
    past the statement timeout is refused as BAD_USER_INPUT (limit
    `statementTimeoutMs`); a database that cannot be reached is INTERNAL, and so is an
    archived day that cannot be read (ArchivedDayUnreadable, naming it).
    """
    rt = info.context.runtime
    started = time.perf_counter()
    try:
        async with connection(info, field) as conn:
            if not (cached and rt.cache.enabled):
                return await compute(conn)
            version = await games.data_version(conn, game_id)
            key = cache_key(game_id, version, field, arguments)
            return await rt.cache.get_or_compute(key, result_type, lambda: compute(conn))
    except ArchiveReadError as e:
        retry = "; retry later" if isinstance(e, ArchiveUnavailable) else ""
        raise ArchivedDayUnreadable(
            f"{field}: {e}{retry}; the answer needs that day", e.day.isoformat()
        ) from e
    finally:
        rt.metrics.field_latency.labels(field).observe(time.perf_counter() - started)


@contextlib.asynccontextmanager
async def connection(info: Info, field: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A pooled connection, with database failures turned into the API's errors."""
    rt = info.context.runtime
    try:
        async with rt.pool.connection() as conn:
            yield conn
    except psycopg.errors.QueryCanceled:
        allowed = int(rt.settings.statement_timeout.total_seconds() * 1000)
        raise BadUserInput(
            f"{field}: query too expensive: it ran past the statement timeout of {allowed} ms;"
            " ask for a shorter range, fewer steps or a narrower filter",
            limit="statementTimeoutMs",
            allowed=allowed,
        ) from None
    except PoolTimeout as e:
        raise Unavailable("the service is busy: no database connection was free; retry") from e
    except psycopg.OperationalError as e:
        raise Unavailable("the database is unavailable; retry later") from e


async def visible_games(info: Info) -> list[games.GameRow]:
    async with connection(info, "games") as conn:
        return await games.visible_games(conn, info.context.grant)


async def find_game(info: Info, game_id: uuid.UUID) -> games.GameRow:
    """The game; GameNotFound if it does not exist (the caller checked the token sees it)."""
    async with connection(info, "game") as conn:
        row = await games.find_game(conn, game_id)
    if row is None:
        raise GameNotFound
    return row


def _days(first: date, last: date, segment: periods.Segment) -> dict[str, object]:
    limits.day_range(first, last)
    limits.segment(segment)
    return {"from": first, "to": last, "segment": segment}


async def active_users(
    info: Info, game_id: uuid.UUID, first: date, last: date,
    granularity: periods.Granularity, segment: periods.Segment,
) -> list[results.TimeValue]:  # fmt: skip
    args = {**_days(first, last, segment), "granularity": granularity}
    return await metric(
        info, game_id, "activeUsers", args, list[results.TimeValue],
        lambda conn: queries.active_users(conn, game_id, first, last, granularity, segment),
    )  # fmt: skip


async def new_users(
    info: Info, game_id: uuid.UUID, first: date, last: date,
    granularity: periods.Granularity, segment: periods.Segment,
) -> list[results.TimeValue]:  # fmt: skip
    args = {**_days(first, last, segment), "granularity": granularity}
    return await metric(
        info, game_id, "newUsers", args, list[results.TimeValue],
        lambda conn: queries.new_users(conn, game_id, first, last, granularity, segment),
    )  # fmt: skip


async def retention(
    info: Info, game_id: uuid.UUID, first: date, last: date,
    days: Sequence[int], segment: periods.Segment,
) -> list[results.Cohort]:  # fmt: skip
    limits.retention_days(days)
    today = info.context.today
    # Points after today are left out: the answer depends on the day it is asked.
    args = {**_days(first, last, segment), "days": list(days), "today": today}
    return await metric(
        info, game_id, "retention", args, list[results.Cohort],
        lambda conn: queries.retention(conn, game_id, first, last, days, segment, today),
    )  # fmt: skip


async def revenue(
    info: Info, game_id: uuid.UUID, first: date, last: date,
    granularity: periods.Granularity, segment: periods.Segment,
) -> list[results.RevenuePoint]:  # fmt: skip
    settings = info.context.runtime.settings
    rates = settings.usd_per_unit
    args = {**_days(first, last, segment), "granularity": granularity, "rates": settings.usd_rates}
    return await metric(
        info, game_id, "revenue", args, list[results.RevenuePoint],
        lambda conn: queries.revenue(conn, game_id, first, last, granularity, segment, rates),
    )  # fmt: skip


async def sessions(
    info: Info, game_id: uuid.UUID, first: date, last: date,
    granularity: periods.Granularity, segment: periods.Segment,
) -> list[results.SessionPoint]:  # fmt: skip
    args = {**_days(first, last, segment), "granularity": granularity}
    return await metric(
        info, game_id, "sessions", args, list[results.SessionPoint],
        lambda conn: queries.sessions(conn, game_id, first, last, granularity, segment),
    )  # fmt: skip


async def funnel(
    info: Info, game_id: uuid.UUID, first: date, last: date,
    steps: Sequence[str], window_seconds: int, segment: periods.Segment,
) -> list[results.FunnelStep]:  # fmt: skip
    limits.funnel(steps, window_seconds)
    archive = _archive(info)
    # Today: archived days expire by the day (see cache.py), not with a new data version.
    args = {
        **_days(first, last, segment), "steps": list(steps), "window": window_seconds,
        "today": archive.today,
    }  # fmt: skip
    return await metric(
        info, game_id, "funnel", args, list[results.FunnelStep],
        lambda conn: queries.funnel(
            conn, game_id, first, last, steps, window_seconds, segment, archive
        ),
    )  # fmt: skip


async def event_counts(
    info: Info, game_id: uuid.UUID, start: datetime, end: datetime,
    bucket: periods.Bucket, types: Sequence[str] | None,
) -> list[results.EventCount]:  # fmt: skip
    limits.time_range(start, end, bucket)
    limits.event_types(types)
    archive = _archive(info)
    args = {"from": start, "to": end, "bucket": bucket, "types": types, "today": archive.today}
    return await metric(
        info, game_id, "eventCounts", args, list[results.EventCount],
        lambda conn: queries.event_counts(conn, game_id, start, end, bucket, types, archive),
    )  # fmt: skip


def _archive(info: Info) -> Archive:
    rt = info.context.runtime
    return Archive(rt.archive, info.context.today, rt.archive_threads)


async def player(info: Info, game_id: uuid.UUID, player_id: str) -> results.PlayerAnswer:
    """The player's profile (apps/store/profiles.py), cached like a metric.

    Analyst tokens and accounts with the analyst, admin or owner role on the game read
    it; a viewer reads metrics only (apps/core/roles.py).
    """
    limits.player_id(player_id)
    grant = info.context.grant
    if grant.sees(game_id) and not grant.reads_profiles(game_id):  # unseen: "game not found"
        raise RoleRequired("reading player profiles", "analyst")
    settings = info.context.runtime.settings
    rates = settings.usd_per_unit

    async def compute(conn: psycopg.AsyncConnection[Any]) -> results.PlayerAnswer:
        return results.PlayerAnswer(
            await profiles.player_profile_async(conn, game_id, player_id, rates)
        )

    args: dict[str, object] = {"id": player_id, "rates": settings.usd_rates}
    return await metric(info, game_id, "player", args, results.PlayerAnswer, compute)


async def live_stats(info: Info, game_id: uuid.UUID) -> results.LiveStats:
    # By receive time, over the last minutes: never cached.
    return await metric(
        info, game_id, "liveStats", {}, results.LiveStats,
        lambda conn: queries.live_stats(conn, game_id), cached=False,
    )  # fmt: skip
