"""The request-size guard: a body read within its limit, gzip included, safe against bombs."""

import zlib
from collections.abc import AsyncIterator

from apps.core.errors import BatchError, TooLarge, UnsupportedMedia


def require_json(content_type: str | None) -> None:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        shown = content_type or "none"
        raise UnsupportedMedia("Content-Type", f"{shown}; send application/json")


def _size(limit: int) -> str:
    mib = limit / (1024 * 1024)
    return f"{limit} bytes ({mib:g} MiB)" if mib >= 1 and mib.is_integer() else f"{limit} bytes"


async def read_body(
    stream: AsyncIterator[bytes],
    *,
    limit: int,
    content_length: str | None,
    content_encoding: str | None = None,
    encodings: frozenset[str] = frozenset({"identity"}),
) -> bytes:
    """The body, decompressed; TooLarge past `limit` on the wire or after decompression.

    Reading stops as soon as the limit is passed, whatever Content-Length says,
    and decompression stops at `limit` + 1 bytes, so a small gzip bomb costs no
    more memory than a legitimate body. `encodings` is what the endpoint takes
    (`identity`, `gzip`); anything else is UnsupportedMedia.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "x-gzip":
        encoding = "gzip"
    if encoding not in encodings:
        supported = ", ".join(sorted(encodings))
        raise UnsupportedMedia("Content-Encoding", f"{encoding}; supported: {supported}")
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise BatchError("Content-Length", "is not an integer") from None
        if declared > limit:
            raise TooLarge("body", f"{declared} bytes; at most {_size(limit)}")
    raw = bytearray()
    async for chunk in stream:
        raw += chunk
        if len(raw) > limit:
            raise TooLarge("body", f"more than {_size(limit)}")
    if encoding == "identity":
        return bytes(raw)
    return _gunzip(bytes(raw), limit)


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit or inflater.unconsumed_tail:
            raise TooLarge("body", f"more than {_size(limit)} after decompression")
        out += inflater.flush()
    except zlib.error as e:
        raise BatchError("body", f"is not valid gzip ({e})") from None
    if len(out) > limit:
        raise TooLarge("body", f"more than {_size(limit)} after decompression")
    if not inflater.eof:
        raise BatchError("body", "gzip stream is truncated")
    return out
