"""Signed erasure receipts: the canonical bytes of a receipt, its Ed25519 signature, and
the check `gamemetrics privacy verify` runs. Pure (no I/O).

A signed receipt is a JSON object `{"receipt": {...}, "signature": {"algorithm":
"Ed25519", "key_id": ..., "value": base64}}`. What is signed is the receipt's canonical
JSON: keys sorted, no whitespace, ASCII only (RFC 8785 for the values receipts hold:
strings, integers, booleans, null, objects and arrays; never a float), so any JSON
library can rebuild the same bytes.
"""

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from apps.core.errors import GameMetricsError

ALGORITHM: Final = "Ed25519"
FORMAT: Final = "gamemetrics.erasure-receipt/1"


class ReceiptInvalid(GameMetricsError):
    """The document is not a receipt signed by one of the given keys; says why."""


def canonical(receipt: Mapping[str, Any]) -> bytes:
    """The bytes that are signed; a float anywhere is refused (its text is not canonical)."""
    _no_floats(receipt, "receipt")
    return json.dumps(receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def key_id(public_key: bytes) -> str:
    """A key's short name: the first 16 hex digits of SHA-256 of its 32 raw bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def public_key_of(private_key: bytes) -> bytes:
    """The raw 32-byte public key of a raw 32-byte private key (seed)."""
    from cryptography.hazmat.primitives import serialization as s

    key = Ed25519PrivateKey.from_private_bytes(private_key).public_key()
    return key.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)


def new_private_key() -> bytes:
    from cryptography.hazmat.primitives import serialization as s

    return Ed25519PrivateKey.generate().private_bytes(
        s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption()
    )


def sign(receipt: Mapping[str, Any], private_key: bytes) -> dict[str, Any]:
    """The signed document of `receipt`."""
    signature = Ed25519PrivateKey.from_private_bytes(private_key).sign(canonical(receipt))
    return {
        "receipt": dict(receipt),
        "signature": {
            "algorithm": ALGORITHM,
            "key_id": key_id(public_key_of(private_key)),
            "value": base64.b64encode(signature).decode(),
        },
    }


def verify(document: object, public_keys: Mapping[str, bytes]) -> Mapping[str, Any]:
    """The receipt of a signed document whose signature one of `public_keys` (by key id)
    checks; raises ReceiptInvalid saying what is wrong."""
    if not isinstance(document, dict):
        raise ReceiptInvalid("not a JSON object")
    receipt, signature = document.get("receipt"), document.get("signature")
    if not isinstance(receipt, dict) or not isinstance(signature, dict):
        raise ReceiptInvalid("needs the objects 'receipt' and 'signature'")
    if signature.get("algorithm") != ALGORITHM:
        raise ReceiptInvalid(f"signature.algorithm must be {ALGORITHM!r}")
    kid, value = signature.get("key_id"), signature.get("value")
    if not isinstance(kid, str) or not isinstance(value, str):
        raise ReceiptInvalid("signature.key_id and signature.value must be strings")
    public = public_keys.get(kid)
    if public is None:
        known = ", ".join(sorted(public_keys)) or "none"
        raise ReceiptInvalid(f"signed by key {kid!r}, which is not a key given (known: {known})")
    try:
        raw = base64.b64decode(value, validate=True)
        data = canonical(receipt)
    except (ValueError, TypeError) as e:
        raise ReceiptInvalid(f"malformed: {e}") from None
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(raw, data)
    except InvalidSignature:
        raise ReceiptInvalid(
            "the signature does not match the receipt (altered, or forged)"
        ) from None
    return receipt


def _no_floats(value: object, where: str) -> None:
    if isinstance(value, float):
        raise ValueError(f"{where}: a float cannot be signed canonically; use an integer")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where}: keys must be strings")
            _no_floats(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_floats(v, f"{where}[{i}]")
