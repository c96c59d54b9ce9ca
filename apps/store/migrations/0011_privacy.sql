-- Privacy requests (GDPR Art. 15/17/20): export and erasure jobs of one player, run by the
-- users service; the parts of finished exports; the erased players whose future events are
-- refused (suppression); the receipts' signing keys.
--
-- A player is named by `player_digest` = SHA-256(game_id's 16 bytes || player_id UTF-8)
-- (apps/core/privacy.py): the digest stays after the job; the plain `player_id` is held
-- only while a job needs it and cleared when an erasure of the player completes.
CREATE TABLE privacy_jobs (
    job_id         uuid PRIMARY KEY,
    game_id        uuid NOT NULL REFERENCES games (game_id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('export', 'erasure')),
    player_id      text,
    player_digest  bytea NOT NULL CHECK (length(player_digest) = 32),
    suppress       boolean NOT NULL DEFAULT false,
    status         text NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'done', 'failed')),
    requested_by   text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 300),
    request_id     text CHECK (length(request_id) <= 100),
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at     timestamptz,
    finished_at    timestamptz,
    -- A running job is its runner's until lease_until; a runner that died (SIGKILL) lets
    -- it lapse and another (or the restarted one) takes the job over.
    lease_until    timestamptz,
    attempts       integer NOT NULL DEFAULT 0,
    -- What the job has done so far (Kafka offsets waited for, each store's counts), so a
    -- job taken over resumes where its runner died; the receipt once it is done.
    progress       jsonb NOT NULL DEFAULT '{}'::jsonb,
    receipt        jsonb,
    error          text CHECK (length(error) <= 2000),
    export_bytes   bigint,
    export_events  bigint
);
CREATE INDEX privacy_jobs_pending ON privacy_jobs (created_at) WHERE status IN ('queued', 'running');
CREATE INDEX privacy_jobs_player ON privacy_jobs (game_id, player_digest);

-- An export's NDJSON, gzip-compressed, in parts written and read one at a time (neither
-- the job nor the download holds an export in memory). Erasing the player deletes them.
CREATE TABLE privacy_export_parts (
    job_id  uuid NOT NULL REFERENCES privacy_jobs (job_id) ON DELETE CASCADE,
    seq     integer NOT NULL CHECK (seq >= 0),
    data    bytea NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- Players whose events ingestion refuses ("player erased") and the processor drops, until
-- lifted (the row is deleted; the audit log keeps both). Every change is NOTIFYed on
-- the channel `privacy_suppressions` so that ingestion refreshes its list at once.
CREATE TABLE privacy_suppressions (
    game_id        uuid NOT NULL REFERENCES games (game_id) ON DELETE CASCADE,
    player_digest  bytea NOT NULL CHECK (length(player_digest) = 32),
    job_id         uuid,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (game_id, player_digest)
);

-- Ed25519 keys that sign receipts. The users service makes the first one when none is
-- configured (GAMEMETRICS_USERS_PRIVACY_SIGNING_KEY); old keys stay to verify old receipts.
CREATE TABLE privacy_signing_keys (
    key_id       text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    public_key   bytea NOT NULL CHECK (length(public_key) = 32),
    private_key  bytea CHECK (length(private_key) = 32),
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
