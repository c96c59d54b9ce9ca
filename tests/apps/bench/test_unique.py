"""Requests from templates: valid, every event id new, players from the pool, markers where due."""

import dataclasses
from datetime import UTC, datetime

import msgspec
import pytest

from apps.bench.unique import (
    PLAYER_FILL,
    UniqueRequests,
    body_of,
    event_ids,
    id_suffix,
    marker_bounds,
    marker_id,
    unique_requests,
)
from apps.core.validation import TimePolicy, parse_batch

NOW = datetime.now(UTC)
HEADERS = {"Authorization": "Bearer gmk_x", "Content-Type": "application/json"}


def _source(*, templates: int = 5, events: int = 10, players: int = 50, phase: int = 1,
            marker_every: int = 0) -> UniqueRequests:  # fmt: skip
    return unique_requests(
        host="127.0.0.1", port=8080, path="/v1/events", headers=HEADERS, templates=templates,
        events=events, phase=phase, players=players, now=NOW, marker_every=marker_every,
    )  # fmt: skip


def _content_length(request: bytes) -> int:
    head = request.partition(b"\r\n\r\n")[0].decode()
    return int(next(line for line in head.split("\r\n") if line.startswith("Content-Length"))
               .split(":")[1])  # fmt: skip


def test_every_event_is_accepted_and_framed() -> None:
    source = _source()
    for seq in range(20):
        request, marker = source.request(0, seq)
        assert marker is None
        body = body_of(request)
        assert _content_length(request) == len(body)
        result = parse_batch(body, game_id="g", received_at=NOW, policy=TimePolicy())
        assert len(result.accepted) == 10
        assert not result.rejected
        assert len({ev.player_id for ev in result.accepted}) == 1


def test_event_ids_never_repeat_across_requests_processes_and_phases() -> None:
    first, second = _source(phase=1), _source(phase=2)
    requests = [s.request(p, seq)[0] for s in (first, second) for p in (0, 1) for seq in range(300)]
    ids = event_ids(requests)
    assert len(ids) == 2 * 2 * 300 * 10
    assert len(set(ids)) == len(ids)


def test_players_come_from_the_pool_and_keep_their_template() -> None:
    source = _source(players=7)
    segments: dict[str, set[tuple[object, ...]]] = {}
    for seq in range(200):
        envelope = msgspec.json.decode(body_of(source.request(0, seq)[0]))
        for ev in envelope["events"]:
            assert len(ev["player_id"]) == PLAYER_FILL
            key = (ev["platform"], ev["country"], ev["app_version"])
            segments.setdefault(ev["player_id"], set()).add(key)
    assert len(segments) == 7
    assert all(len(s) == 1 for s in segments.values())


def test_markers_only_on_due_slots_with_one_new_player() -> None:
    source = _source(marker_every=4, phase=3)
    for slot in range(12):
        request, marker = source.request(0, slot, slot)
        players = {ev["player_id"] for ev in msgspec.json.decode(body_of(request))["events"]}
        if slot % 4:
            assert marker is None
            assert len(players) == 1
        else:
            assert marker == marker_id(3, slot // 4)
            assert marker in players
            assert len(players) == 2
    # closed loop requests (no slot) never carry markers
    assert source.request(0, 0)[1] is None


def test_marker_ids_sort_in_order_within_their_phase_bounds() -> None:
    low, high = marker_bounds(5)
    ids = [marker_id(5, n) for n in (0, 9, 10, 99, 12345)]
    assert ids == sorted(ids)
    assert all(low <= i < high for i in ids)
    assert not low <= marker_id(6, 0) < high
    assert all(len(i) == PLAYER_FILL for i in ids)


def test_out_of_range_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        id_suffix(256, 0, 0)
    with pytest.raises(ValueError, match="out of range"):
        id_suffix(0, 0, 16**8)
    with pytest.raises(ValueError, match="out of range"):
        marker_id(0, 10**9)


@pytest.mark.parametrize("per_player", [1, 3, 10])
def test_events_per_player_splits_a_request_among_players_of_its_template(
    per_player: int,
) -> None:
    source = dataclasses.replace(_source(templates=5, events=10, players=100),
                                 events_per_player=per_player)  # fmt: skip
    seen: dict[str, set[tuple[object, ...]]] = {}
    for seq in range(50):
        events = msgspec.json.decode(body_of(source.request(0, seq)[0]))["events"]
        players = [ev["player_id"] for ev in events]
        runs = [players[i : i + per_player] for i in range(0, len(players), per_player)]
        assert all(len(set(run)) == 1 for run in runs)  # N in a row from one player
        assert len(set(players)) == len(runs)  # and a new player for each run
        for ev in events:
            seen.setdefault(ev["player_id"], set()).add((ev["platform"], ev["country"]))
    assert all(len(s) == 1 for s in seen.values())  # a player keeps its template's segment
    assert len(seen) > 10 // per_player


def test_too_few_players_for_the_split_is_refused() -> None:
    with pytest.raises(ValueError, match="raise players to at least 50"):
        dataclasses.replace(_source(templates=5, events=10, players=20), events_per_player=1)


def test_a_player_always_takes_the_same_slice_of_its_template() -> None:
    source = dataclasses.replace(_source(templates=5, events=10, players=100),
                                 events_per_player=2)  # fmt: skip
    times: dict[str, set[str]] = {}
    for seq in range(100):
        for ev in msgspec.json.decode(body_of(source.request(0, seq)[0]))["events"]:
            times.setdefault(ev["player_id"], set()).add(ev["timestamp"])
    assert all(len(t) == 2 for t in times.values())  # never an earlier event than its first
