"""`gamemetrics privacy verify RECEIPT.json`: check an erasure receipt's Ed25519 signature.

The public keys come from the deployment (`GET /v1/privacy/public-key` of the users
API: --url, else users_url of a local platform's endpoints.json) or from a file (--public-key: PEM, or the raw key in base64). The
receipt may be the signed document or the whole job as GET /v1/privacy/jobs/{id}
returns it. Exit status: 0 valid, 1 invalid, 2 the check could not be made.
"""

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

from apps.core.errors import GameMetricsError

DEFAULT_DATA_DIR = Path(".gamemetrics")


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("privacy", help="players' privacy requests: check erasure receipts")
    actions = p.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    v = actions.add_parser(
        "verify", help="check an erasure receipt's signature against the deployment's key"
    )
    v.add_argument("receipt", help="the receipt (JSON file; - for stdin)")
    v.add_argument(
        "--url", help="the users API (default: users_url in <data-dir>/endpoints.json)",
    )  # fmt: skip
    v.add_argument(
        "--public-key", type=Path, metavar="FILE",
        help="check against this key (PEM, or the 32 raw bytes in base64) instead of the API",
    )  # fmt: skip
    v.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    v.add_argument("--player-id", help="also check that the receipt names this player")
    v.add_argument("--json", action="store_true", help="print the verified receipt as JSON")
    v.set_defaults(handler=verify)


def verify(args: argparse.Namespace) -> int:
    from apps.core import receipts
    from apps.core.privacy import digest_text, player_digest

    document = _signed(_read(args.receipt))
    keys = _file_keys(args.public_key) if args.public_key else _api_keys(args)
    try:
        receipt = receipts.verify(document, keys)
    except receipts.ReceiptInvalid as e:
        print(f"invalid: {e}", file=sys.stderr)
        return 1
    if args.player_id is not None:
        import uuid

        try:
            expected = digest_text(
                player_digest(uuid.UUID(str(receipt["game_id"])), args.player_id)
            )
        except (KeyError, ValueError):
            print("invalid: the receipt names no game", file=sys.stderr)
            return 1
        if receipt.get("player") != expected:
            print("invalid: the receipt is not about that player", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(receipt, indent=2, sort_keys=True))
    else:
        stores = ", ".join(sorted(receipt.get("erased", {}))) or "none"
        print(
            f"valid: erasure {receipt.get('job_id')} of player {receipt.get('player')} in game"
            f" {receipt.get('game_id')}, completed {receipt.get('completed_at')}; stores:"
            f" {stores}; signed by key {document['signature']['key_id']}"
        )
    return 0


def _read(name: str) -> Any:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text()
        return json.loads(text)
    except OSError as e:
        raise GameMetricsError(f"cannot read {name}: {e.strerror}") from None
    except ValueError:
        raise GameMetricsError(f"{name} is not JSON") from None


def _signed(document: Any) -> Any:
    """The signed receipt, whether given alone or inside its job."""
    inner = document.get("receipt") if isinstance(document, dict) else None
    if isinstance(inner, dict) and "signature" in inner and "receipt" in inner:
        return inner
    return document


def _file_keys(path: Path) -> dict[str, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from apps.core import receipts

    try:
        data = path.read_bytes()
    except OSError as e:
        raise GameMetricsError(f"cannot read {path}: {e.strerror}") from None
    try:
        if b"BEGIN PUBLIC KEY" in data:
            key = serialization.load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("not an Ed25519 key")
            raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            raw = base64.b64decode(data.strip(), validate=True)
        if len(raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
    except ValueError as e:
        raise GameMetricsError(f"{path}: not an Ed25519 public key ({e})") from None
    return {receipts.key_id(raw): raw}


def _api_keys(args: argparse.Namespace) -> dict[str, bytes]:
    import httpx

    from apps.core import receipts
    from apps.local.platform import read_endpoints

    url = args.url or (read_endpoints(args.data_dir) or {}).get("users_url")
    if url is None:
        raise GameMetricsError(
            "where is the users API? pass --url, run `gamemetrics dev`, or pass --public-key"
        )
    try:
        r = httpx.get(url.rstrip("/") + "/v1/privacy/public-key", timeout=10)
        r.raise_for_status()
        listed = r.json()["keys"]
        keys = {str(k["key_id"]): base64.b64decode(k["public_key"]) for k in listed}
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as e:
        raise GameMetricsError(f"cannot read the public keys from {url}: {e}") from None
    # Trust no id the server gives: each key is named by its own digest.
    return {receipts.key_id(raw): raw for raw in keys.values()}
