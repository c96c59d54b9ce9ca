-- Rollups that answer the unfiltered daily metrics and retention from a few rows a day
-- instead of every player-day (docs/ANALYTICS.md). The processor keeps them in the
-- batch's transaction, from the events stored for the first time (apps/processor/store.py).

-- Per game and UTC day, whatever the segments: distinct players (a player counts once a
-- day however many segments their events had), those among them with a session_end, those
-- with a purchase, and the sums of player_days. activeUsers, sessions and revenue read one
-- row a day when there is no filter and the buckets are days (a week's distinct players
-- are not a sum of days: those stay on player_days).
CREATE TABLE daily_stats (
    game_id          uuid NOT NULL,
    day              date NOT NULL,
    players          bigint NOT NULL,
    session_players  bigint NOT NULL,
    paying_players   bigint NOT NULL,
    events           bigint NOT NULL,
    sessions         bigint NOT NULL,
    session_seconds  double precision NOT NULL,
    purchases        bigint NOT NULL,
    PRIMARY KEY (game_id, day)
) WITH (fillfactor = 70);  -- every batch updates today's row: room for HOT updates

-- Players of a cohort (first day and ACQUISITION segment, as in `players`) active
-- `day_n` days after their first day; day_n 0 is the cohort's size. A player has exactly
-- one acquisition segment, so a sum over the segments a filter matches is exact: newUsers
-- and retention read it for any filter and bucket. A late event that moves a player's
-- first day or acquisition segment moves their active days from the old key to the new
-- (a row left at 0 stays).
CREATE TABLE cohort_activity (
    game_id      uuid NOT NULL,
    first_day    date NOT NULL,
    day_n        integer NOT NULL,
    platform     text NOT NULL,
    country      text NOT NULL,
    app_version  text NOT NULL,
    players      bigint NOT NULL,
    PRIMARY KEY (game_id, first_day, day_n, platform, country, app_version)
);

-- What is stored already. The lock holds off writers until this commits, so the rollups
-- start from one consistent state; processors of the previous version do not keep these
-- tables, so stop them before migrating (the deployment runs migrations first).
LOCK TABLE players, player_days IN SHARE MODE;

INSERT INTO daily_stats (game_id, day, players, session_players, paying_players, events,
                         sessions, session_seconds, purchases)
SELECT game_id, day, count(*), count(*) FILTER (WHERE sessions > 0),
       count(*) FILTER (WHERE purchases > 0), sum(events), sum(sessions),
       sum(session_seconds), sum(purchases)
FROM (SELECT game_id, day, player_id, sum(events) AS events, sum(sessions) AS sessions,
             sum(session_seconds) AS session_seconds, sum(purchases) AS purchases
      FROM player_days GROUP BY 1, 2, 3) AS player_day
GROUP BY 1, 2;

INSERT INTO cohort_activity (game_id, first_day, day_n, platform, country, app_version, players)
SELECT p.game_id, p.first_day, d.day - p.first_day, p.platform, p.country, p.app_version, count(*)
FROM (SELECT DISTINCT game_id, day, player_id FROM player_days) AS d
JOIN players p USING (game_id, player_id)
GROUP BY 1, 2, 3, 4, 5, 6;
