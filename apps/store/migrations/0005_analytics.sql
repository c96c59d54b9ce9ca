-- What the analytics API needs beyond the rollups of 0003 (docs/ANALYTICS.md).

-- By RECEIVE time, for liveStats: events per second and each player's latest receive
-- time. The processor writes only events received in the last 10 minutes and prunes
-- older rows every minute, so both tables stay small.
CREATE TABLE live_seconds (
    game_id  uuid NOT NULL,
    second   timestamptz NOT NULL,
    events   bigint NOT NULL,
    PRIMARY KEY (game_id, second)
);
CREATE TABLE live_players (
    game_id        uuid NOT NULL,
    player_id      text NOT NULL,
    last_received  timestamptz NOT NULL,
    PRIMARY KEY (game_id, player_id)
) WITH (fillfactor = 70);  -- room for HOT updates of last_received

-- Bumped by every processor transaction that stored events of the game: the
-- analytics cache keys answers by it, so a cached answer is never older than the data.
CREATE TABLE game_versions (
    game_id     uuid PRIMARY KEY,
    version     bigint NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Time-range reads of raw events (edge minutes of eventCounts, funnels): events arrive
-- in about time order within a day, so a BRIN index narrows them for next to no write cost.
CREATE INDEX events_time_brin ON events USING brin (event_time);
