-- Rollups maintained by the processor in the batch's transaction, from the
-- events that batch stored for the first time only: replays add nothing.
-- Segment columns hold '' where the event had no value (keys cannot be NULL).

-- First-ever event of each player, with that event's segment (acquisition).
CREATE TABLE players (
    game_id      uuid NOT NULL,
    player_id    text NOT NULL,
    first_seen   timestamptz NOT NULL,
    first_day    date NOT NULL,
    platform     text NOT NULL,
    country      text NOT NULL,
    app_version  text NOT NULL,
    PRIMARY KEY (game_id, player_id)
);
CREATE INDEX players_first_day ON players (game_id, first_day);

-- One row per player, UTC day and segment of the events: activity, sessions, purchases.
CREATE TABLE player_days (
    game_id          uuid NOT NULL,
    day              date NOT NULL,
    player_id        text NOT NULL,
    platform         text NOT NULL,
    country          text NOT NULL,
    app_version      text NOT NULL,
    events           bigint NOT NULL,
    sessions         bigint NOT NULL,
    session_seconds  double precision NOT NULL,
    purchases        bigint NOT NULL,
    PRIMARY KEY (game_id, day, player_id, platform, country, app_version)
);

-- Revenue per day, segment and currency: converted to USD when read, so the
-- rate table can be overridden without rewriting history.
CREATE TABLE daily_revenue (
    game_id      uuid NOT NULL,
    day          date NOT NULL,
    platform     text NOT NULL,
    country      text NOT NULL,
    app_version  text NOT NULL,
    currency     text NOT NULL,
    amount       double precision NOT NULL,
    purchases    bigint NOT NULL,
    PRIMARY KEY (game_id, day, platform, country, app_version, currency)
);

-- Events per game, minute (UTC, of event time) and type.
CREATE TABLE event_counts (
    game_id     uuid NOT NULL,
    minute      timestamptz NOT NULL,
    event_type  text NOT NULL,
    events      bigint NOT NULL,
    PRIMARY KEY (game_id, minute, event_type)
);
