"""LISTEN on a PostgreSQL channel forever: what keeps the ingestion API's caches honest.

A cache that a NOTIFY clears may be trusted only while its listener is connected:
`on_state(True)` is called once LISTEN is in place (drop everything cached before: a
change may have been missed), `on_state(False)` once the connection is lost (from then
on the cache is a fallback), and `on_notify(payload)` for each notification.
"""

import asyncio
import logging
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)


async def listen(
    dsn: str, channel: str, on_notify: Callable[[str], None], on_state: Callable[[bool], None]
) -> None:
    """Listen forever, reconnecting with backoff (0.5 s doubling to 10 s); cancel to stop."""
    backoff = 0.5
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
            async with conn:
                await conn.execute(f"LISTEN {channel}")
                on_state(True)
                backoff = 0.5
                async for notify in conn.notifies():
                    on_notify(notify.payload)
        except psycopg.OperationalError as e:
            log.warning("%s listener disconnected (%s); retrying", channel, type(e).__name__)
        finally:
            on_state(False)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 10.0)
