-- player_days keeps who was active on a day in a segment, and whether they played a
-- session or paid: rows inserted once per player-day and segment, and updated at most
-- twice (the first session_end, the first purchase). The per-day sums move to
-- segment_days, one row per day and segment. Before, every event updated its
-- player-day's counters: a new row version and index entry per event when each
-- event of a batch is another player's (docs/benchmarks.md, "Player cardinality").

CREATE TABLE segment_days (
    game_id          uuid NOT NULL,
    day              date NOT NULL,
    platform         text NOT NULL,
    country          text NOT NULL,
    app_version      text NOT NULL,
    events           bigint NOT NULL,
    sessions         bigint NOT NULL,
    session_seconds  double precision NOT NULL,
    purchases        bigint NOT NULL,
    PRIMARY KEY (game_id, day, platform, country, app_version)
) WITH (fillfactor = 70);  -- today's rows are updated by every batch: room for HOT updates

LOCK TABLE player_days IN SHARE MODE;

INSERT INTO segment_days (game_id, day, platform, country, app_version, events, sessions,
                          session_seconds, purchases)
SELECT game_id, day, platform, country, app_version, sum(events), sum(sessions),
       sum(session_seconds), sum(purchases)
FROM player_days GROUP BY 1, 2, 3, 4, 5;

ALTER TABLE player_days ADD COLUMN played boolean, ADD COLUMN paid boolean;
UPDATE player_days SET played = sessions > 0, paid = purchases > 0;
ALTER TABLE player_days
    ALTER COLUMN played SET NOT NULL, ALTER COLUMN paid SET NOT NULL,
    DROP COLUMN events, DROP COLUMN sessions, DROP COLUMN session_seconds,
    DROP COLUMN purchases;
