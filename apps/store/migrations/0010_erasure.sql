-- A player's rows in `events`, for erasure (apps/store/erasure.py) and player profiles.
-- Without it, erasing a player reads every partition of the game in full (the only other
-- index on `events` is the BRIN on event_time): a player active on every day of a 90-day,
-- 10M-event data set means reading all 10M rows. With it, an index scan per partition.
-- event_time last: a player's latest events are read in order, newest partition first.
-- It costs an index entry per stored event (docs/PRIVACY.md, "Cost").
CREATE INDEX events_player ON events (game_id, player_id, event_time);
