"""Dropping the rows of suppressed players (pure), so that the events ingestion accepted
before its list was refreshed never reach PostgreSQL.

The batch's transaction reads the suppressed digests of its games after its records were
polled (`store.BatchWriter`): a record produced after a suppression committed was
polled after it, so it is dropped. Rows of a game without suppressions cost one dict
lookup; a digest is computed once per player of a game that has some.
"""

import uuid
from collections.abc import Mapping, Sequence
from typing import cast

from apps.core.privacy import player_digest
from apps.processor.records import COLUMNS, Row

_PLAYER = COLUMNS.index("player_id")


def drop_suppressed(
    rows: Sequence[Row], suppressed: Mapping[uuid.UUID, frozenset[bytes]]
) -> Sequence[Row]:
    """`rows` (game id first, as `COLUMNS`) without those of the players in `suppressed`."""
    if not suppressed:
        return rows
    verdicts: dict[tuple[uuid.UUID, str], bool] = {}
    kept: list[Row] = []
    for row in rows:
        game_id = cast(uuid.UUID, row[0])
        erased = suppressed.get(game_id)
        if erased is not None:
            player = cast(str, row[_PLAYER])
            gone = verdicts.get((game_id, player))
            if gone is None:
                gone = verdicts[game_id, player] = player_digest(game_id, player) in erased
            if gone:
                continue
        kept.append(row)
    return kept
