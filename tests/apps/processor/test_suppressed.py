"""Dropping suppressed players' rows (pure): only theirs, in their games, order kept."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from apps.core.privacy import player_digest
from apps.processor.records import COLUMNS, Row
from apps.processor.suppressed import drop_suppressed

_GAMES = (uuid.UUID(int=1), uuid.UUID(int=2))
_PLAYER = COLUMNS.index("player_id")


def _row(game_id: uuid.UUID, player: str) -> Row:
    row: list[object] = [None] * len(COLUMNS)
    row[0], row[1], row[_PLAYER] = game_id, uuid.uuid4(), player
    return tuple(row)


@given(
    st.lists(st.tuples(st.sampled_from(_GAMES), st.sampled_from(("ana", "bo", "é"))), max_size=50),
    st.sets(st.tuples(st.sampled_from(_GAMES), st.sampled_from(("ana", "bo", "é")))),
)
def test_only_the_rows_of_suppressed_players_of_their_game_are_dropped(
    pairs: list[tuple[uuid.UUID, str]], gone: set[tuple[uuid.UUID, str]]
) -> None:
    rows = [_row(g, p) for g, p in pairs]
    suppressed: dict[uuid.UUID, frozenset[bytes]] = {}
    for g, p in gone:
        suppressed[g] = suppressed.get(g, frozenset()) | {player_digest(g, p)}
    kept = drop_suppressed(rows, suppressed)
    assert list(kept) == [r for r, pair in zip(rows, pairs, strict=True) if pair not in gone]


def test_without_suppressions_the_batch_is_passed_through_as_it_is() -> None:
    rows = [_row(_GAMES[0], "ana")]
    assert drop_suppressed(rows, {}) is rows
