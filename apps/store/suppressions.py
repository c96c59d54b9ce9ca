"""Suppressed players (placeholder until the suppression branch lands)."""

import uuid
from typing import Any

import psycopg

from apps.core.privacy import SUPPRESSIONS_CHANNEL


def suppress(
    conn: psycopg.Connection[Any], game_id: uuid.UUID, digest: bytes, job_id: uuid.UUID
) -> bool:
    cur = conn.execute(
        "INSERT INTO privacy_suppressions (game_id, player_digest, job_id) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (game_id, digest, job_id),
    )
    conn.execute("SELECT pg_notify(%s, %s)", (SUPPRESSIONS_CHANNEL, str(game_id)))
    return cur.rowcount == 1


def lift(conn: psycopg.Connection[Any], game_id: uuid.UUID, digest: bytes) -> bool:
    cur = conn.execute(
        "DELETE FROM privacy_suppressions WHERE game_id = %s AND player_digest = %s",
        (game_id, digest),
    )
    conn.execute("SELECT pg_notify(%s, %s)", (SUPPRESSIONS_CHANNEL, str(game_id)))
    return cur.rowcount == 1
