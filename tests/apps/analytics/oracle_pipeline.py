"""Sending event sets through the real pipeline and comparing the API's answers with the oracle.

Shared by test_oracle.py and test_tenancy.py (both need a processor and the
analytics API; each module defines its fixtures from these pieces).
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import new_game
from tests.support.analytics import AnalystToken, analyst_token, graphql
from tests.support.eventsets import LATE_HORIZON_DAYS, EventSet, deliver, received_times
from tests.support.oracle import LIVE_STATS, Event, Json, Oracle, Query, differences, game_document

COMPLEXITY_BUDGET = 20
"""The API's default complexity limit per request (docs/ANALYTICS.md, Limits)."""
WEIGHTS = {"funnel": 5, "retention": 2, "eventCounts": 2}
"""Each metric field's weight; the others weigh 1."""


@dataclass(frozen=True)
class Stack:
    dsn: str
    ingest: httpx.Client
    analytics_url: str


@dataclass(frozen=True)
class Delivered:
    game_id: uuid.UUID
    token: AnalystToken
    events: EventSet
    ingest_auth: dict[str, str] = field(default_factory=dict)


def send(stack: Stack, events: EventSet, *, stop: int | None = None) -> Delivered:
    """A fresh game and its analyst token, with `events` (the waves before `stop`) stored."""
    game = new_game(stack.dsn, late_horizon_days=LATE_HORIZON_DAYS)
    token = analyst_token(stack.dsn, [game.game_id])
    deliver(stack.ingest, game.auth, game.game_id, events, stack.dsn, stop=stop)
    return Delivered(game.game_id, token, events, game.auth)


def send_rest(stack: Stack, delivered: Delivered, start: int) -> None:
    """The waves from `start` on, after `send(..., stop=start)`."""
    deliver(
        stack.ingest, delivered.ingest_auth, delivered.game_id, delivered.events, stack.dsn,
        start=start,
    )  # fmt: skip


def ask_game(
    url: str, token: AnalystToken, game_id: uuid.UUID, fields: Mapping[str, str]
) -> dict[str, Json]:
    """Each field's answer for the game, in as few requests as the complexity limit allows.

    The chunks follow the documented weights; a chunk the API still finds too
    complex is halved and asked again (the limit is not what this test is about).
    """
    answers: dict[str, Json] = {}
    todo = _requests(fields)
    while todo:
        chunk = todo.pop()
        r = graphql(url, game_document(game_id, chunk), token)
        assert r.status_code == 200, r.text
        answer = r.json()
        limits = [e.get("extensions", {}).get("limit") for e in answer.get("errors", [])]
        if limits == ["complexity"] and len(chunk) > 1:
            aliases = list(chunk)
            half = len(aliases) // 2
            todo += [{a: chunk[a] for a in aliases[:half]}, {a: chunk[a] for a in aliases[half:]}]
            continue
        assert "errors" not in answer, answer["errors"]
        answers.update(answer["data"]["game"])
    return answers


def _requests(fields: Mapping[str, str]) -> list[dict[str, str]]:
    chunks: list[dict[str, str]] = [{}]
    cost = 0
    for alias, text in fields.items():
        weight = WEIGHTS.get(text.split("(", 1)[0].split(" ", 1)[0], 1)
        if cost + weight > COMPLEXITY_BUDGET:
            chunks.append({})
            cost = 0
        chunks[-1][alias] = text
        cost += weight
    return chunks


def compare(
    url: str, delivered: Delivered, queries: Sequence[Query], oracle: Oracle | None = None
) -> None:
    """Ask every query; fail listing each one whose answer differs from the oracle's."""
    oracle = oracle or Oracle(delivered.events.events())
    fields = {f"q{i}": q.graphql() for i, q in enumerate(queries)}
    for _ in range(3):  # `today` (retention) must not change while asking
        today = datetime.now(UTC).date()
        got = ask_game(url, delivered.token, delivered.game_id, fields)
        if datetime.now(UTC).date() == today:
            break
    problems = []
    for alias, query in zip(fields, queries, strict=True):
        found = differences(query.expect(oracle, today), got[alias], alias)
        if found:
            problems.append(f"{query.graphql()}\n    " + "\n    ".join(found[:8]))
    assert not problems, f"{len(problems)} of {len(queries)} queries differ:\n" + "\n".join(
        problems
    )


def compare_live(stack: Stack, delivered: Delivered, events: list[Event] | None = None) -> bool:
    """liveStats against the oracle of `events` (default: every event delivered) by receive
    time; False when a window's edge makes it moot.

    The server's `now` lies between the clock read before and after the request;
    the answer is determined when no receive time lies within a second of a
    window's edge for any `now` in between.
    """
    received = received_times(stack.dsn, delivered.game_id)
    sent = delivered.events.events() if events is None else events
    timed = [replace(e, received_at=received[e.event_id]) for e in sent]
    before = datetime.now(UTC)
    got = ask_game(stack.analytics_url, delivered.token, delivered.game_id, {"l": LIVE_STATS})
    after = datetime.now(UTC)
    slack = timedelta(seconds=1)
    for width in (timedelta(seconds=60), timedelta(minutes=5)):
        if any(before - width - slack <= t <= after - width + slack for t in received.values()):
            return False
    assert differences(Oracle(timed).live_stats(before), got["l"]) == []
    return True
