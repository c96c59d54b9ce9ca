"""The archive's objects on S3, through boto3: a day's manifest, its parts, their listing
and deletion. Every call is bounded by the client's timeouts and retries
(apps/s3/client.py); a store that is down raises botocore's errors to the caller, who
stops its work without deleting anything from PostgreSQL.
"""

import io
import uuid
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any, Final

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from apps.core import archive
from apps.core.archive import Manifest

_DELETE_BATCH: Final = 1000
"""DeleteObjects takes at most 1,000 keys per request."""
_TRANSFER: Final = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20)
"""Parts up to 64 MB go in one PUT; larger ones in 64 MB pieces."""


MISSING: Final = frozenset({"NoSuchKey", "404", "NotFound"})
"""The error codes S3 (and SeaweedFS) give for an object that does not exist."""


def missing(error: BaseException) -> bool:
    """`error` says the object does not exist."""
    return isinstance(error, ClientError) and error_code(error) in MISSING


def error_code(error: ClientError) -> str | None:
    code = error.response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def get_manifest(s3: Any, bucket: str, game_id: uuid.UUID, day: date) -> Manifest | None:
    """The day's manifest, None when it has none; ManifestError when it is not whole."""
    try:
        body = s3.get_object(Bucket=bucket, Key=archive.manifest_key(game_id, day))["Body"].read()
    except ClientError as e:
        if missing(e):
            return None
        raise
    return Manifest.from_json(body, game_id, day)


def put_manifest(s3: Any, bucket: str, manifest: Manifest) -> None:
    s3.put_object(
        Bucket=bucket, Key=archive.manifest_key(manifest.game_id, manifest.event_date),
        Body=manifest.to_json(), ContentType="application/json",
    )  # fmt: skip


def delete_manifest(s3: Any, bucket: str, game_id: uuid.UUID, day: date) -> None:
    s3.delete_object(Bucket=bucket, Key=archive.manifest_key(game_id, day))


def put_part(s3: Any, bucket: str, game_id: uuid.UUID, day: date, name: str, data: bytes) -> None:
    s3.upload_fileobj(
        io.BytesIO(data), bucket, archive.day_prefix(game_id, day) + name,
        ExtraArgs={"ContentType": "application/vnd.apache.parquet"}, Config=_TRANSFER,
    )  # fmt: skip


def get_part(s3: Any, bucket: str, game_id: uuid.UUID, day: date, name: str) -> bytes:
    """A part's bytes; botocore's ClientError (NoSuchKey) when it is gone."""
    key = archive.day_prefix(game_id, day) + name
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def _listed(s3: Any, bucket: str, prefix: str, delimiter: str = "") -> Iterator[dict[str, Any]]:
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, **({"Delimiter": delimiter} if delimiter else {})
    )
    yield from pages


def day_objects(s3: Any, bucket: str, game_id: uuid.UUID, day: date) -> dict[str, int]:
    """Every object under the day's prefix: file name -> size."""
    prefix = archive.day_prefix(game_id, day)
    return {
        o["Key"].removeprefix(prefix): int(o["Size"])
        for page in _listed(s3, bucket, prefix)
        for o in page.get("Contents", [])
    }


def archived_days(s3: Any, bucket: str, game_id: uuid.UUID) -> list[date]:
    """The days that have a folder under the game's prefix, oldest first."""
    days = []
    for page in _listed(s3, bucket, archive.game_prefix(game_id), "/"):
        for common in page.get("CommonPrefixes", []):
            found = archive.day_of_key(common["Prefix"] + archive.MANIFEST)
            if found is not None:
                days.append(found[1])
    return sorted(days)


def delete_keys(s3: Any, bucket: str, keys: Iterable[str]) -> int:
    """Delete objects by key, 1,000 per request; the number deleted. Raises if S3 refused
    any (the caller retries the whole step: deleting a missing key succeeds)."""
    batch: list[str] = []
    deleted = 0

    def flush() -> None:
        nonlocal deleted
        if not batch:
            return
        answer = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
        )
        errors = answer.get("Errors", [])
        if errors:
            first = errors[0]
            raise RuntimeError(
                f"S3 refused to delete {len(errors)} object(s), first {first.get('Key')}:"
                f" {first.get('Code')} {first.get('Message')}"
            )
        deleted += len(batch)
        batch.clear()

    for key in keys:
        batch.append(key)
        if len(batch) == _DELETE_BATCH:
            flush()
    flush()
    return deleted


def delete_day(s3: Any, bucket: str, game_id: uuid.UUID, day: date) -> int:
    """Delete every object of the day, the manifest last (so a day half-deleted by a crash
    is still found by its manifest and finished by the next pass)."""
    prefix = archive.day_prefix(game_id, day)
    names = sorted(day_objects(s3, bucket, game_id, day), key=lambda n: n == archive.MANIFEST)
    deleted = delete_keys(s3, bucket, (prefix + n for n in names))
    # SeaweedFS keeps the emptied folder, and lists it, until its own key is deleted; on AWS
    # no such key exists and deleting it is a no-op.
    s3.delete_object(Bucket=bucket, Key=prefix)
    return deleted
