"""What is left of a player: their rows in every table that has a `player_id` column."""

import uuid

import psycopg


def rows_of_player(dsn: str, game_id: uuid.UUID, player_id: str) -> dict[str, int]:
    """Rows of the player in every table with a `player_id` column (of the game, where the
    table has a `game_id`), found in the catalogue: a new table cannot be forgotten."""
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT c.table_name, bool_or(g.column_name IS NOT NULL)"
            " FROM information_schema.columns c"
            " LEFT JOIN information_schema.columns g ON g.table_schema = c.table_schema"
            "  AND g.table_name = c.table_name AND g.column_name = 'game_id'"
            " WHERE c.table_schema = current_schema() AND c.column_name = 'player_id'"
            " GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert {"events", "players", "player_days", "live_players"} <= {t for t, _ in tables}
        found = {}
        for table, has_game in tables:
            where = "game_id = %s AND player_id = %s" if has_game else "player_id = %s"
            args = (game_id, player_id) if has_game else (player_id,)
            query = f'SELECT count(*) FROM "{table}" WHERE {where}'  # noqa: S608 (catalogue names)
            row = conn.execute(query.encode(), args).fetchone()
            assert row is not None
            if row[0]:
                found[table] = row[0]
    return found
