-- Raw events, partitioned by UTC day of the (skew-corrected) event time.
-- Partitions are created ahead and on demand by the processor (apps/processor/partitions.py).
CREATE TABLE events (
    game_id           uuid NOT NULL,
    event_id          uuid NOT NULL,
    event_type        text NOT NULL,
    player_id         text NOT NULL,
    session_id        text,
    event_time        timestamptz NOT NULL,
    client_time       timestamptz NOT NULL,
    received_at       timestamptz NOT NULL,
    platform          text,
    country           text,
    app_version       text,
    properties        jsonb NOT NULL DEFAULT '{}',
    duration_seconds  double precision,
    amount            double precision,
    currency          text,
    item_id           text,
    level             text,
    status            text,
    PRIMARY KEY (game_id, event_id, event_time)
) PARTITION BY RANGE (event_time);

-- The authority on "stored once": an event id is claimed here, in the same
-- transaction as its row, whatever day a retry's skew correction lands it on.
CREATE TABLE event_keys (
    game_id    uuid NOT NULL,
    event_id   uuid NOT NULL,
    event_day  date NOT NULL,
    PRIMARY KEY (game_id, event_id)
);
CREATE INDEX event_keys_day ON event_keys (event_day);
