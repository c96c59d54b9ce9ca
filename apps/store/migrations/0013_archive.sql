-- The archive's catalog (issue 17): one row per game-day the retention service has put in
-- the Parquet archive on S3 (apps/core/archive.py holds the layout). The day's manifest
-- on S3 is the authority on its files; this row is what readers consult without asking
-- S3 (which days of a range to read from the archive, and which parts), and where a
-- problem found with the day is reported.
--
-- state:
--   archived  PostgreSQL holds none of the day's raw events: readers read `parts`.
--   restored  `gamemetrics archive restore` brought the day back: readers read
--             PostgreSQL; retention moves it out again after `restored_until`.
--   pending   the day's files are written but PostgreSQL still holds its rows (a pass
--             stopped between verifying and deleting, or found a problem): readers read
--             PostgreSQL.
-- problem: set when the files do not match the manifest or the rows (corruption): the
-- day is never deleted from PostgreSQL and, if it is archived, never served (readers
-- fail naming it) until an operator repairs it.
CREATE TABLE archived_days (
    game_id         uuid NOT NULL,
    event_date      date NOT NULL,
    state           text NOT NULL CHECK (state IN ('archived', 'restored', 'pending')),
    rows            bigint NOT NULL CHECK (rows >= 0),
    bytes           bigint NOT NULL CHECK (bytes >= 0),
    checksum        text NOT NULL,
    parts           jsonb NOT NULL,
    archived_at     timestamptz NOT NULL DEFAULT now(),
    restored_until  timestamptz,
    problem         text,
    problem_at      timestamptz,
    PRIMARY KEY (game_id, event_date)
);
