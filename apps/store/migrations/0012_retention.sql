-- Per-game retention of raw events (issue 17): `hot_days` in PostgreSQL, `archive_days` in
-- the archive (0: never archived), both counted from the event's day. The defaults and
-- bounds are declared in apps/core/retention.py; these CHECKs state the same numbers
-- (tests/apps/core/test_retention.py holds them together). Existing games get the defaults.
ALTER TABLE games
    ADD COLUMN hot_days      integer NOT NULL DEFAULT 30
        CONSTRAINT games_hot_days CHECK (hot_days BETWEEN 1 AND 3650),
    ADD COLUMN archive_days  integer NOT NULL DEFAULT 730
        CONSTRAINT games_archive_days CHECK (archive_days BETWEEN 0 AND 36500),
    ADD CONSTRAINT games_archive_after_hot CHECK (archive_days = 0 OR archive_days > hot_days);
