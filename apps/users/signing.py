"""The deployment's receipt-signing key: configured, or made once and kept in PostgreSQL.

With GAMEMETRICS_USERS_PRIVACY_SIGNING_KEY set (from a secrets manager), that key signs,
and only its public half is stored (so old receipts stay verifiable after a rotation).
Unset, the first replica to need a key makes one under a table lock and every replica
signs with the oldest key the service made: a fresh deployment works with no setup,
at the cost of a private key kept in the database it vouches for (docs/PRIVACY.md).
"""

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import psycopg

from apps.core import receipts
from apps.core.errors import ConfigError
from apps.store import privacy_jobs

_VARIABLE = "GAMEMETRICS_USERS_PRIVACY_SIGNING_KEY"


@dataclass(frozen=True, slots=True)
class Signer:
    key_id: str
    private_key: bytes

    def sign(self, receipt: dict[str, Any]) -> dict[str, Any]:
        return receipts.sign(receipt, self.private_key)


def configured_key(text: str) -> bytes:
    """The 32 raw bytes of a configured key (base64); ConfigError naming the variable."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{_VARIABLE}: not base64") from None
    if len(raw) != 32:
        raise ConfigError(f"{_VARIABLE}: an Ed25519 private key is 32 bytes, got {len(raw)}")
    return raw


def signer(conn: psycopg.Connection[Any], configured: str | None) -> Signer:
    """The key that signs now (stored on first use); needs no transaction open on `conn`."""
    if configured is not None:
        private = configured_key(configured)
        public = receipts.public_key_of(private)
        kid = receipts.key_id(public)
        privacy_jobs.add_signing_key(conn, kid, public, None)
        return Signer(kid, private)
    with conn.transaction():
        conn.execute("LOCK TABLE privacy_signing_keys IN SHARE ROW EXCLUSIVE MODE")
        made = [k for k in privacy_jobs.signing_keys(conn) if k.private_key is not None]
        if made:
            oldest = min(made, key=lambda k: (k.created_at, k.key_id))
            assert oldest.private_key is not None
            return Signer(oldest.key_id, oldest.private_key)
        private = receipts.new_private_key()
        public = receipts.public_key_of(private)
        kid = receipts.key_id(public)
        privacy_jobs.add_signing_key(conn, kid, public, private)
        return Signer(kid, private)
