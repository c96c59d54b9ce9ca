"""The root schema: Query and Game exactly as the contract names them (issue 4).

Arguments are declared here, converted to domain values, and handed to one
resolver each in resolvers.py. Access: the caller's token was resolved before
execution; `game(id)` is guarded by the SeesGame permission and `games` lists
only the games the token sees.
"""

import uuid
from datetime import date, datetime
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.permission import PermissionExtension
from strawberry.types import ExecutionContext

from apps.analytics import games, limits, resolvers
from apps.analytics.auth import SeesGame, parse_game_id
from apps.analytics.context import Context
from apps.analytics.prepare import PreparedDocument
from apps.analytics.types import (
    Bucket,
    Cohort,
    EventCount,
    FunnelStep,
    Granularity,
    LiveStats,
    Player,
    RevenuePoint,
    SegmentFilter,
    SessionPoint,
    TimeValue,
    segment,
)
from apps.core import periods

Info = strawberry.Info[Context, None]
From = Annotated[date, strawberry.argument(name="from")]
FromTime = Annotated[datetime, strawberry.argument(name="from")]
Filter = SegmentFilter | None


@strawberry.type
class Game:
    id: strawberry.ID
    name: str
    game_id: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def active_users(
        self, info: Info, from_: From, to: date,
        granularity: Granularity | None = Granularity.DAY, filter: Filter = strawberry.UNSET,
    ) -> list[TimeValue]:  # fmt: skip
        rows = await resolvers.active_users(
            info, self.game_id, from_, to, _granularity(granularity), segment(filter)
        )
        return [TimeValue.of(r) for r in rows]

    @strawberry.field
    async def new_users(
        self, info: Info, from_: From, to: date,
        granularity: Granularity | None = Granularity.DAY, filter: Filter = strawberry.UNSET,
    ) -> list[TimeValue]:  # fmt: skip
        rows = await resolvers.new_users(
            info, self.game_id, from_, to, _granularity(granularity), segment(filter)
        )
        return [TimeValue.of(r) for r in rows]

    @strawberry.field
    async def retention(
        self, info: Info, from_: From, to: date,
        days: list[int] = [1, 7, 30],  # noqa: B006 - read by strawberry for the SDL default
        filter: Filter = strawberry.UNSET,
    ) -> list[Cohort]:  # fmt: skip
        rows = await resolvers.retention(info, self.game_id, from_, to, days, segment(filter))
        return [Cohort.of(r) for r in rows]

    @strawberry.field
    async def revenue(
        self, info: Info, from_: From, to: date,
        granularity: Granularity | None = Granularity.DAY, filter: Filter = strawberry.UNSET,
    ) -> list[RevenuePoint]:  # fmt: skip
        rows = await resolvers.revenue(
            info, self.game_id, from_, to, _granularity(granularity), segment(filter)
        )
        return [RevenuePoint.of(r) for r in rows]

    @strawberry.field
    async def sessions(
        self, info: Info, from_: From, to: date,
        granularity: Granularity | None = Granularity.DAY, filter: Filter = strawberry.UNSET,
    ) -> list[SessionPoint]:  # fmt: skip
        rows = await resolvers.sessions(
            info, self.game_id, from_, to, _granularity(granularity), segment(filter)
        )
        return [SessionPoint.of(r) for r in rows]

    @strawberry.field
    async def funnel(
        self, info: Info, from_: From, to: date, steps: list[str],
        window_seconds: int | None = 86400, filter: Filter = strawberry.UNSET,
    ) -> list[FunnelStep]:  # fmt: skip
        window = 86400 if window_seconds is None else window_seconds
        rows = await resolvers.funnel(info, self.game_id, from_, to, steps, window, segment(filter))
        return [FunnelStep.of(r) for r in rows]

    @strawberry.field
    async def event_counts(
        self, info: Info, from_: FromTime, to: datetime,
        bucket: Bucket | None = Bucket.HOUR, types: list[str] | None = strawberry.UNSET,
    ) -> list[EventCount]:  # fmt: skip
        wanted = None if types is None or types is strawberry.UNSET else types
        domain_bucket = (bucket or Bucket.HOUR).domain()
        rows = await resolvers.event_counts(info, self.game_id, from_, to, domain_bucket, wanted)
        return [EventCount.of(r) for r in rows]

    @strawberry.field
    async def live_stats(self, info: Info) -> LiveStats:
        return LiveStats.of(await resolvers.live_stats(info, self.game_id))

    @strawberry.field
    async def player(self, info: Info, id: strawberry.ID) -> Player | None:
        # null for a player the game holds no event of (docs/ANALYTICS.md, "Player profiles")
        found = await resolvers.player(info, self.game_id, str(id))
        return None if found.profile is None else Player.of(found.profile)


def _granularity(value: Granularity | None) -> periods.Granularity:
    return (value or Granularity.DAY).domain()


def _game(row: games.GameRow) -> Game:
    return Game(id=strawberry.ID(str(row.game_id)), name=row.name, game_id=row.game_id)


async def _games(info: Info) -> list[Game]:
    rows = await resolvers.visible_games(info)
    # Metric fields under `games` run once per game: the complexity limit covers them all.
    per_game = limits.selected_cost(info.selected_fields[0].selections)
    allowed = info.context.runtime.settings.limits.max_complexity
    if len(rows) > 1 and per_game * len(rows) > allowed:
        raise limits.complexity_error(per_game * len(rows), allowed)
    return [_game(r) for r in rows]


async def _one_game(info: Info, id: strawberry.ID) -> Game | None:
    return _game(await resolvers.find_game(info, parse_game_id(str(id))))


@strawberry.type
class Query:
    games: list[Game] = strawberry.field(
        resolver=_games, description="The games the token sees, oldest first."
    )
    game: Game | None = strawberry.field(
        resolver=_one_game,
        description='One game; null with a FORBIDDEN "game not found" error if the token does'
        " not see it or it does not exist.",
        extensions=[PermissionExtension(permissions=[SeesGame()], use_directives=False)],
    )


class AnalyticsSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Nothing here: app.py logs unexpected errors once, as it formats them (errors.py)."""


def build_schema() -> strawberry.Schema:
    """The schema; it runs only documents apps/analytics/prepare.py checked (PreparedDocument)."""
    return AnalyticsSchema(query=Query, extensions=[PreparedDocument])
