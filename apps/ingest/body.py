"""Reading a request body within the size limit, with gzip, safe against gzip bombs."""

import zlib
from collections.abc import AsyncIterator

from apps.core import limits
from apps.core.errors import BatchError, TooLarge
from apps.ingest.errors import UnsupportedMedia

_LIMIT_TEXT = f"{limits.MAX_BODY_BYTES} bytes (1 MiB)"


def check_content_type(content_type: str | None) -> None:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        shown = content_type or "none"
        raise UnsupportedMedia("Content-Type", f"{shown}; send application/json")


async def read_body(
    stream: AsyncIterator[bytes],
    *,
    content_length: str | None,
    content_encoding: str | None,
    limit: int = limits.MAX_BODY_BYTES,
) -> bytes:
    """The body, decompressed; TooLarge past `limit` on the wire or after decompression.

    Decompression stops at `limit` + 1 bytes, so a small gzip bomb costs no
    more memory than a legitimate body.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding not in {"identity", "gzip", "x-gzip"}:
        raise UnsupportedMedia("Content-Encoding", f"{encoding}; supported: gzip, identity")
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise BatchError("Content-Length", "is not an integer") from None
        if declared > limit:
            raise TooLarge("body", f"{declared} bytes; at most {_LIMIT_TEXT}")
    raw = bytearray()
    async for chunk in stream:
        raw += chunk
        if len(raw) > limit:
            raise TooLarge("body", f"more than {_LIMIT_TEXT}")
    if encoding == "identity":
        return bytes(raw)
    return _gunzip(bytes(raw), limit)


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit or inflater.unconsumed_tail:
            raise TooLarge("body", f"more than {_LIMIT_TEXT} after decompression")
        out += inflater.flush()
    except zlib.error as e:
        raise BatchError("body", f"is not valid gzip ({e})") from None
    if len(out) > limit:
        raise TooLarge("body", f"more than {_LIMIT_TEXT} after decompression")
    if not inflater.eof:
        raise BatchError("body", "gzip stream is truncated")
    return out
