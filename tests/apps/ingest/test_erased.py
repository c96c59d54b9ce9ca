"""Refusing erased players' events (pure): each at its request index, the rest untouched."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from apps.core.privacy import player_digest
from apps.core.validation import BatchResult, Rejection
from apps.ingest.erased import refuse_erased
from tests.support.factory import stored_event

_GAME = uuid.UUID("8a6b3c3e-2f0d-4a52-9d55-3f4a0e6f1b21")
_PLAYERS = ("ana", "bo", "cy", "éa 👾")


@given(
    st.lists(st.one_of(st.none(), st.sampled_from(_PLAYERS)), max_size=40),
    st.sets(st.sampled_from(_PLAYERS)),
)
def test_each_event_of_an_erased_player_is_refused_at_its_index(
    outcomes: list[str | None], erased_players: set[str]
) -> None:
    """`outcomes[i]`: None if event i was rejected by validation, else its player."""
    events = {i: stored_event(_GAME, p) for i, p in enumerate(outcomes) if p is not None}
    invalid = [
        Rejection(i, "type", "bad", "invalid_field") for i, p in enumerate(outcomes) if p is None
    ]
    result = BatchResult(list(events.values()), list(invalid))
    erased = frozenset(player_digest(_GAME, p) for p in erased_players)

    out = refuse_erased(result, _GAME, erased)

    assert out.accepted == [e for e in events.values() if e.player_id not in erased_players]
    expected = [
        Rejection(i, "type", "bad", "invalid_field")
        if p is None
        else Rejection(i, "player_id", "player erased", "player_erased")
        for i, p in enumerate(outcomes)
        if p is None or p in erased_players
    ]
    assert out.rejected == expected
    assert [r.as_json() for r in out.rejected if r.code == "player_erased"] == [
        {"index": r.index, "field": "player_id", "error": "player erased"}
        for r in expected
        if r.code == "player_erased"
    ]


def test_a_digest_of_another_game_refuses_nothing() -> None:
    result = BatchResult([stored_event(_GAME, "ana")], [])
    assert refuse_erased(result, _GAME, frozenset({player_digest(uuid.uuid4(), "ana")})) is result
    assert refuse_erased(result, _GAME, frozenset()) is result
