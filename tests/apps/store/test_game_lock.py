"""The per-game lock keys: one bucket per game, a bounded and ordered set per batch."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from apps.store.game_lock import BUCKETS, batch_keys, game_key


@given(st.lists(st.uuids(), max_size=2_000))
def test_a_batch_takes_each_bucket_once_in_order_and_never_more_than_the_buckets(
    games: list[uuid.UUID],
) -> None:
    keys = batch_keys(games)
    assert keys == sorted({game_key(g) for g in games})
    assert len(keys) <= BUCKETS
    assert all(0 <= k < BUCKETS for k in keys)


def test_a_game_always_has_the_same_key_and_games_spread_over_the_buckets() -> None:
    game = uuid.uuid4()
    assert game_key(game) == game_key(uuid.UUID(str(game)))
    assert len(batch_keys(uuid.uuid4() for _ in range(2_000))) == BUCKETS
