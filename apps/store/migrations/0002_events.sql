-- Raw events, partitioned by UTC day of the (skew-corrected) event time.
-- Partitions are created ahead and on demand by the processor (apps/processor/partitions.py).
-- No primary key: `event_keys` below is what makes an event stored once, and a key
-- on (game_id, event_id, event_time) could not do that across days anyway. Its
-- random-uuid index cost 2.2 of 3.5 µs per stored row (docs/benchmarks.md).
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
    status            text
) PARTITION BY RANGE (event_time);

-- The authority on "stored once": an event id is claimed here, in the same
-- transaction as its row, whatever day a retry's skew correction lands it on.
CREATE TABLE event_keys (
    game_id    uuid NOT NULL,
    event_id   uuid NOT NULL,
    event_day  date NOT NULL,
    PRIMARY KEY (game_id, event_id)
);
-- For retention (dropping a day's keys with its partition). BRIN, not B-tree: keys arrive
-- in about day order, so a few ranges per day locate them, and it costs next to nothing
-- per claim (a B-tree on the day cost 0.8 µs of about 12 per stored event).
CREATE INDEX event_keys_day ON event_keys USING brin (event_day);
