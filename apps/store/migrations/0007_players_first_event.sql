-- Which event made a player's first-seen row, so that a tie on the first event's time
-- is settled as a recomputation from `events` settles it (the smaller event id), whatever
-- the order the events were processed in. Rows from before stay NULL: their ties keep the
-- event that was stored first.
ALTER TABLE players ADD COLUMN first_event_id uuid;
