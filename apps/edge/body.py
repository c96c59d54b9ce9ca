"""The request-body guard: read within its size limit and its read timeout, gzip included.

A client that stalls mid-body gets 408 after the timeout, and one that goes away mid-body
ends its request as a 400 nobody reads: both are the client's doing, logged at INFO with
no traceback, never a 500.
"""

import asyncio
import logging
import zlib
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect

from apps.core import limits
from apps.core.errors import BatchError, TooLarge, UnsupportedMedia
from apps.edge.errors import BodyTimeout, ClientGone

log = logging.getLogger(__name__)


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
    read_timeout: float = limits.READ_TIMEOUT.total_seconds(),
) -> bytes:
    """The body, decompressed; TooLarge past `limit` on the wire or after decompression.

    The whole body must arrive within `read_timeout` seconds (BodyTimeout), however slowly it
    trickles; a client that disconnects first is ClientGone.

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
    try:
        async with asyncio.timeout(read_timeout):
            async for chunk in stream:
                raw += chunk
                if len(raw) > limit:
                    raise TooLarge("body", f"more than {_size(limit)}")
    except TimeoutError:
        log.info("request body incomplete after %g s (%d bytes in): 408", read_timeout, len(raw))
        raise BodyTimeout("body", f"was not received within {read_timeout:g} s") from None
    except ClientDisconnect:
        log.info("client went away after %d bytes of the request body", len(raw))
        raise ClientGone("body", "the client closed the connection before sending it all") from None
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
