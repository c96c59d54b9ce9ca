"""What privacy requests share across services: how a player is named once their id may
no longer be kept, the suppression channel, and the job vocabulary. Pure.

A player is named by a digest, SHA-256 of the game's 16 id bytes then the player id in
UTF-8: suppressions, receipts, audit entries and finished jobs hold it, never the id.
It is pseudonymous (whoever knows a player id can recompute it), which is what a
suppression needs: ingestion recomputes it for each event of a game with suppressions.
"""

import hashlib
import uuid
from typing import Final, Literal

JobKind = Literal["export", "erasure"]
JobStatus = Literal["queued", "running", "done", "failed"]
KINDS: Final[tuple[JobKind, ...]] = ("export", "erasure")
STATUSES: Final[tuple[JobStatus, ...]] = ("queued", "running", "done", "failed")

SUPPRESSIONS_CHANNEL: Final = "privacy_suppressions"
"""NOTIFY channel of every change of `privacy_suppressions` (payload: the game id)."""
PLAYER_ERASED: Final = "player erased"
"""The error ingestion gives an event of a suppressed player (rejection code below)."""
PLAYER_ERASED_CODE: Final = "player_erased"


def player_digest(game_id: uuid.UUID, player_id: str) -> bytes:
    """The 32-byte digest naming a player of a game where the id itself is not kept."""
    return hashlib.sha256(game_id.bytes + player_id.encode()).digest()


def digest_text(digest: bytes) -> str:
    """How receipts, audit entries and the API show a digest."""
    return "sha256:" + digest.hex()
