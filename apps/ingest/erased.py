"""Refusing the events of erased players (pure): accepted events become rejections.

Runs after `parse_batch` for a game that has suppressed players. Each accepted event
whose player's digest is suppressed becomes `player_id`: "player erased" at its index
in the request; the digest is computed once per player of the batch.
"""

import heapq
import uuid

from apps.core.privacy import PLAYER_ERASED, PLAYER_ERASED_CODE, player_digest
from apps.core.validation import BatchResult, Rejection


def refuse_erased(result: BatchResult, game_id: uuid.UUID, erased: frozenset[bytes]) -> BatchResult:
    """`result` with the events of the players in `erased` rejected (ordered by index)."""
    if not erased:
        return result
    rejected_at = {r.index for r in result.rejected}
    verdicts: dict[str, bool] = {}
    accepted, refused = [], []
    index = 0
    for ev in result.accepted:
        while index in rejected_at:  # the accepted events fill the indices left
            index += 1
        player = ev.player_id
        gone = verdicts.get(player)
        if gone is None:
            gone = verdicts[player] = player_digest(game_id, player) in erased
        if gone:
            refused.append(Rejection(index, "player_id", PLAYER_ERASED, PLAYER_ERASED_CODE))
        else:
            accepted.append(ev)
        index += 1
    if not refused:
        return result
    rejected = list(heapq.merge(result.rejected, refused, key=lambda r: r.index))
    return BatchResult(accepted, rejected)
