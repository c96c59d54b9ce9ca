"""The benchmark's bodies are what a game sends: valid, varied, one player's session each."""

from datetime import UTC, datetime

import msgspec

from apps.bench.bodies import MIX, bodies
from apps.core.validation import TimePolicy, parse_batch


def test_every_event_is_accepted_and_types_are_mixed() -> None:
    now = datetime.now(UTC)
    built = bodies(20, events=100, now=now, seed=3)
    assert len(set(built)) == 20
    types: set[str] = set()
    for body in built:
        result = parse_batch(body, game_id="g", received_at=now, policy=TimePolicy())
        assert len(result.accepted) == 100
        assert not result.rejected
        assert len({ev.player_id for ev in result.accepted}) == 1
        types |= {ev.type for ev in result.accepted}
    assert types == {kind for kind, _, _ in MIX}


def test_single_event_bodies() -> None:
    built = bodies(5, events=1, seed=4)
    for body in built:
        envelope = msgspec.json.decode(body)
        assert len(envelope["events"]) == 1
        assert "sent_at" in envelope
