-- What a player's profile sums from raw events, for the raw events that have left
-- PostgreSQL (issue 17): the retention service folds a game-day's rows in here in the
-- transaction that deletes them, so a profile (apps/store/profiles.py) answers the same
-- totals before and after its days are archived. Kept forever, like the rollups; the
-- player's erasure deletes their rows (apps/store/erasure.py). One row per player and
-- purchase currency (NULL: the events that carry none), with the profile's own arithmetic:
-- numeric sums of the doubles, so adding folded sums is exact.
CREATE TABLE player_archived_totals (
    game_id          uuid NOT NULL,
    player_id        text NOT NULL,
    currency         text,
    last_seen        timestamptz NOT NULL,
    sessions         bigint NOT NULL,
    session_seconds  numeric,
    purchases        bigint NOT NULL,
    amount           numeric
);
CREATE UNIQUE INDEX player_archived_totals_key
    ON player_archived_totals (game_id, player_id, currency) NULLS NOT DISTINCT;
