"""Erasing a player from PostgreSQL: nothing of them remains, every metric is as if they had
never played, twice is a no-op, a kill midway leaves nothing half-erased, and the
processor's batches of the game wait for an erasure.

Events go through the real pipeline (ingestion API -> Kafka -> processor ->
PostgreSQL); the answers of the analytics API afterwards are compared with the
oracle fed every event but the erased player's.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Final

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from apps.bench.analytics_data import DataSpec, batches, player_ids_of
from apps.processor.partitions import Partitions
from apps.processor.records import Row
from apps.processor.store import BatchWriter
from apps.store import game_lock
from apps.store.erasure import erase_player
from tests.apps.analytics.oracle_pipeline import (
    Delivered,
    Stack,
    compare,
    compare_live,
    send,
)
from tests.conftest import new_game
from tests.support.eventsets import (
    EventSet,
    all_series,
    body,
    deliver,
    event_sets,
    query_plans,
    stored_ids,
)
from tests.support.oracle import Event, Oracle, Query, Retention
from tests.support.players import rows_of_player
from tests.support.poll import poll_until
from tests.support.processor import (
    ThreadedProcessor,
    module_processor,
)
from tests.support.recompute import game_state, rollup_differences
from tests.support.servers import Endpoints, UvicornThread

NOW: Final = datetime.now(UTC)
ROOT: Final = Path(__file__).resolve().parents[3]


processor = pytest.fixture(scope="module", name="processor")(module_processor)


@pytest.fixture(scope="module")
def stack(
    endpoints: Endpoints,
    ingest: UvicornThread,
    analytics: UvicornThread,
    processor: ThreadedProcessor,
) -> Iterator[Stack]:
    with httpx.Client(base_url=ingest.url, timeout=15) as client:
        yield Stack(endpoints.postgres_dsn, client, analytics.url)


# ---- what is left of a player ----------------------------------------------------------


def claims(dsn: str, game_id: uuid.UUID, event_ids: list[str]) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM event_keys WHERE game_id = %s AND event_id = ANY(%s::uuid[])",
            (game_id, event_ids),
        ).fetchone()
    assert row is not None
    return int(row[0])


def version(dsn: str, game_id: uuid.UUID) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT version FROM game_versions WHERE game_id = %s", (game_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def erase(dsn: str, game_id: uuid.UUID, player_id: str) -> dict[str, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return erase_player(conn, game_id, player_id).flat()


def assert_erased(
    stack: Stack, delivered: Delivered, player: str, queries: list[Query], kept: list[Event]
) -> None:
    """Nothing of `player` left; rollups, answers and liveStats as if only `kept` was sent."""
    gone = [e.event_id for e in delivered.events.events() if e.player_id == player]
    assert rows_of_player(stack.dsn, delivered.game_id, player) == {}
    assert claims(stack.dsn, delivered.game_id, gone) == 0
    assert rollup_differences(stack.dsn, delivered.game_id) == {}
    compare(stack.analytics_url, delivered, queries, Oracle(kept))
    poll_until(
        lambda: compare_live(stack, delivered, kept),
        timeout=120, what="liveStats to be determined (no receive time on a window's edge)",
        every=0.5,
    )  # fmt: skip


# ---- generated events of many players --------------------------------------------------


# No shrinking: each step is a new game through the whole pipeline (as test_oracle.py).
@settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_an_erased_player_leaves_every_metric_as_if_they_never_played(
    stack: Stack, data: st.DataObject
) -> None:
    events = data.draw(event_sets(NOW), label="events")
    accepted = events.events()
    player = data.draw(st.sampled_from(sorted({e.player_id for e in accepted})), label="player")
    queries = data.draw(query_plans(accepted, NOW.date()), label="queries")
    delivered = send(stack, events)
    mine = [e for e in accepted if e.player_id == player]
    kept = [e for e in accepted if e.player_id != player]
    assert rows_of_player(stack.dsn, delivered.game_id, player)  # the scan sees them
    compare(stack.analytics_url, delivered, queries)  # answers cached before the erasure
    before = version(stack.dsn, delivered.game_id)

    counts = erase(stack.dsn, delivered.game_id, player)

    assert counts["events.removed"] == counts["event_keys.removed"] == len(mine)
    assert counts["players.removed"] == 1
    assert counts["player_days.removed"] == len({(e.day, e.segment) for e in mine})
    assert version(stack.dsn, delivered.game_id) == before + 1  # the cached answers drop
    assert_erased(stack, delivered, player, queries, kept)

    # Twice: nothing left to erase, nothing changes (not even the version).
    state = game_state(stack.dsn, delivered.game_id)
    again = erase(stack.dsn, delivered.game_id, player)
    assert set(again.values()) == {0}
    assert game_state(stack.dsn, delivered.game_id) == state
    assert version(stack.dsn, delivered.game_id) == before + 1


# ---- hand-written: late first events, cohorts, events sent again ------------------------


def _history(now: datetime) -> EventSet:
    """ana over three days, her first event arriving last (it moves her cohort); bo on the
    same days and minutes in the same segments, so every shared row keeps something."""
    day = now.date() - timedelta(days=3)
    at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9)
    both = [
        event
        for d in (1, 2)
        for who in ("ana", "bo")
        for event in [
            body("session_start", who, at + timedelta(days=d), platform="ios", country="DE"),
            body("purchase", who, at + timedelta(days=d, minutes=1), platform="ios",
                 country="DE", amount=2.5 + d, currency="EUR"),
            body("session_end", who, at + timedelta(days=d, minutes=2), platform="ios",
                 country="DE", duration_seconds=120.25),
        ]
    ]  # fmt: skip
    first = (body("design", "ana", at, platform="web"), body("design", "bo", at, platform="web"))
    recent = (body("ui.click", "ana", now - timedelta(seconds=30)),)
    return EventSet((tuple(both), first, recent))


def _queries(now: datetime) -> list[Query]:
    first = now.date() - timedelta(days=4)
    return [*all_series(first, now.date()), Retention(first, now.date(), (0, 1, 2))]


def test_events_sent_again_after_an_erasure_are_stored_and_counted(stack: Stack) -> None:
    now = datetime.now(UTC)
    events = _history(now)
    delivered = send(stack, events)
    accepted = events.events()
    erase(stack.dsn, delivered.game_id, "ana")
    kept = [e for e in accepted if e.player_id != "ana"]
    assert_erased(stack, delivered, "ana", _queries(now), kept)
    # Her claims are gone: the same events (same ids) are new again, and counted.
    deliver(stack.ingest, delivered.ingest_auth, delivered.game_id, events, stack.dsn)
    assert rollup_differences(stack.dsn, delivered.game_id) == {}
    compare(stack.analytics_url, delivered, _queries(now))


def _backend_waiting(dsn: str, name: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            " AND wait_event_type = 'Lock'",
            (name,),
        ).fetchone()
    return row is not None and row[0] == 1


def _backend_gone(dsn: str, name: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
    return row is not None and row[0] == 0


_ERASER_SCRIPT: Final = """
import sys, uuid, psycopg
from apps.store.erasure import erase_player
with psycopg.connect(sys.argv[1], autocommit=True, application_name=sys.argv[4]) as conn:
    erase_player(conn, uuid.UUID(sys.argv[2]), sys.argv[3])
"""


def test_an_erasure_killed_midway_leaves_nothing_half_erased_and_completes_when_run_again(
    stack: Stack,
) -> None:
    now = datetime.now(UTC)
    events = _history(now)
    delivered = send(stack, events)
    state = game_state(stack.dsn, delivered.game_id)
    name = f"erasure-{uuid.uuid4().hex[:8]}"
    # A second connection holds the game's segment_days rows: the erasure deletes the
    # player's events, claims, player_days, live and players rows, then waits there.
    with psycopg.connect(stack.dsn) as holder:
        holder.execute(
            "SELECT 1 FROM segment_days WHERE game_id = %s FOR UPDATE", (delivered.game_id,)
        )
        child = subprocess.Popen(
            [sys.executable, "-c", _ERASER_SCRIPT, stack.dsn, str(delivered.game_id), "ana", name],
            cwd=ROOT, env=dict(os.environ),
        )  # fmt: skip
        try:
            poll_until(
                lambda: _backend_waiting(stack.dsn, name), timeout=30,
                what="the erasure to wait on segment_days",
            )  # fmt: skip
            child.send_signal(signal.SIGKILL)
            assert child.wait(10) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
        holder.rollback()
    # Its backend finds its client gone when it next talks to it, and rolls back.
    poll_until(lambda: _backend_gone(stack.dsn, name), timeout=30, what="the backend to end")
    assert game_state(stack.dsn, delivered.game_id) == state
    assert rows_of_player(stack.dsn, delivered.game_id, "ana")

    counts = erase(stack.dsn, delivered.game_id, "ana")
    kept = [e for e in events.events() if e.player_id != "ana"]
    assert counts["events.removed"] == len(events.events()) - len(kept) == 8
    assert_erased(stack, delivered, "ana", _queries(now), kept)


def test_an_erasure_inside_an_open_transaction_is_refused(endpoints: Endpoints) -> None:
    """It would commit only with the caller's transaction, and retry inside it."""
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(ValueError, match="no transaction open"):
            erase_player(conn, uuid.uuid4(), "ana")


# ---- the processor's side: batches of the game wait for an erasure -----------------------


def _batch_waiting(dsn: str, game_id: uuid.UUID) -> bool:
    """A transaction waits for the game's lock, shared (a processor's batch)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND mode = 'ShareLock' AND objsubid = 2 AND classid = %s::bigint::oid"
            " AND objid = %s::bigint::oid",
            (game_lock.NAMESPACE, game_lock.game_key(game_id)),
        ).fetchone()
    return row is not None and row[0] > 0


def test_a_batch_of_the_game_waits_until_the_erasure_commits(stack: Stack) -> None:
    game = new_game(stack.dsn)
    with psycopg.connect(stack.dsn) as erasure:
        erasure.execute(
            game_lock.EXCLUSIVE, (game_lock.NAMESPACE, game_lock.game_key(game.game_id))
        )
        r = stack.ingest.post(
            "/v1/events",
            json={"events": [body("design", "ana", datetime.now(UTC) - timedelta(seconds=5))]},
            headers=game.auth,
        )
        assert r.status_code == 202, r.text
        poll_until(
            lambda: _batch_waiting(stack.dsn, game.game_id), timeout=60,
            what="the processor's batch to wait for the game's lock",
        )  # fmt: skip
        assert stored_ids(stack.dsn, game.game_id) == set()
        erasure.commit()
    poll_until(
        lambda: len(stored_ids(stack.dsn, game.game_id)) == 1, timeout=60,
        what="the batch to be stored once the erasure committed",
    )  # fmt: skip


def _stream(url: str, auth: dict[str, str], stop: threading.Event, sent: list[str]) -> None:
    """ana's and bo's events, 12 a request, over three days and two segments, until `stop`."""
    now = datetime.now(UTC)
    kinds = ("session_start", "purchase", "session_end", "design")
    with httpx.Client(base_url=url, timeout=15) as client:
        n = 0
        while not stop.is_set():
            wave = [
                body(kinds[(i + n) % 4], ("ana", "bo")[i % 2],
                     now - timedelta(hours=(n * 7 + i) % 72), platform=("ios", "web")[n % 2])
                for i in range(12)
            ]  # fmt: skip
            r = client.post("/v1/events", json={"events": wave}, headers=auth)
            assert r.status_code == 202, r.text
            assert r.json()["rejected"] == [], r.text
            sent += [b["event_id"] for b in wave]
            n += 1


def _more_than(dsn: str, game_id: uuid.UUID, seen: set[str]) -> bool:
    return bool(stored_ids(dsn, game_id) - seen)


def test_erasures_racing_the_processor_leave_every_rollup_as_the_events_left(
    stack: Stack,
) -> None:
    """ana's events keep coming while she is erased again and again: whatever each erasure
    finds stored goes, whatever is stored after it stays, and the rollups always agree."""
    game = new_game(stack.dsn, late_horizon_days=30)
    stop, sent = threading.Event(), list[str]()
    url = str(stack.ingest.base_url)
    sender = threading.Thread(target=_stream, args=(url, game.auth, stop, sent), daemon=True)
    sender.start()
    erased = 0
    try:
        for _ in range(6):
            seen = stored_ids(stack.dsn, game.game_id)
            poll_until(
                partial(_more_than, stack.dsn, game.game_id, seen), timeout=60,
                what="more events stored",
            )  # fmt: skip
            erased += erase(stack.dsn, game.game_id, "ana")["events.removed"]
    finally:
        stop.set()
        sender.join(30)
    assert erased > 0
    # A last event of each player: stored, it proves their earlier ones were processed.
    last = [body("design", who, datetime.now(UTC) - timedelta(seconds=1)) for who in ("ana", "bo")]
    r = stack.ingest.post("/v1/events", json={"events": last}, headers=game.auth)
    assert r.status_code == 202, r.text
    marks = {b["event_id"] for b in last}
    poll_until(
        lambda: marks <= stored_ids(stack.dsn, game.game_id), timeout=60,
        what="the last events stored",
    )  # fmt: skip
    stored = stored_ids(stack.dsn, game.game_id)
    assert len(stored) + erased == len(sent) + 2
    assert rollup_differences(stack.dsn, game.game_id) == {}


# ---- cost ---------------------------------------------------------------------------------


def _whale(game_id: uuid.UUID, first_day: date, days: int, per_day: int) -> Iterator[list[Row]]:
    """One player's `per_day` events a day: sessions of 10 events, a purchase in each."""
    for d in range(days):
        start = datetime.combine(first_day + timedelta(days=d), datetime.min.time(), UTC)
        rows: list[Row] = []
        for i in range(per_day):
            at = start + timedelta(hours=8, seconds=20 * i)
            kind = ("session_start", "level_start", "purchase", *["design"] * 6, "session_end")[
                i % 10
            ]
            platform = "ios" if d % 7 else "android"
            rows.append((
                game_id, uuid.uuid4(), kind, "whale", f"s{d}-{i // 10}", at, at, at, platform,
                "DE", "1.2.0", "{}", 300.5 if kind == "session_end" else None,
                4.99 if kind == "purchase" else None, "EUR" if kind == "purchase" else None,
                None, None, None,
            ))  # fmt: skip
        yield rows


def test_a_player_with_10000_events_over_90_days_is_erased_within_5_seconds(
    endpoints: Endpoints,
) -> None:
    dsn = endpoints.postgres_dsn
    game = new_game(dsn)
    first_day = datetime.now(UTC).date() - timedelta(days=95)
    spec = DataSpec(game.game_id, first_day, events=100_000, players=2_000, days=90)
    with psycopg.connect(dsn) as conn:
        writer = BatchWriter(conn, Partitions())
        for batch in batches(spec):
            writer.write(batch)
        for rows in _whale(game.game_id, first_day, 90, 112):
            writer.write(rows)
        conn.execute("ANALYZE events")
        # A player of the generated history (a few events): found through events_player in
        # each partition, not by reading them.
        rows = conn.execute(
            "EXPLAIN DELETE FROM events WHERE game_id = %s AND player_id = %s",
            (game.game_id, player_ids_of(spec.seed, spec.players)[0]),
        ).fetchall()
    plan = "\n".join(str(r[0]) for r in rows)
    # Every partition of the history through the index; only near-empty ones (other tests'
    # days, a page or two) are read whole, as the planner should.
    indexed = set(re.findall(r"(events_p\d+)_game_id_player_id_event_time_idx", plan))
    assert len(indexed) >= 90, plan
    seq_costs = [float(c) for c in re.findall(r"Seq Scan on .*\.\.([\d.]+) rows", plan)]
    assert all(cost < 20 for cost in seq_costs), plan
    started = time.monotonic()
    counts = erase(dsn, game.game_id, "whale")
    took = time.monotonic() - started
    assert counts["events.removed"] == 90 * 112
    assert took <= 5.0, f"erasing 10,080 events over 90 days took {took:.2f} s"
    print(f"erased 10,080 events over 90 days of 110,080 in {took:.2f} s")
    # Received months ago: the live tables hold none of it (the recomputation assumes all).
    differ = rollup_differences(dsn, game.game_id)
    assert set(differ) <= {"live_seconds", "live_players"}, differ
    assert rows_of_player(dsn, game.game_id, "whale") == {}
