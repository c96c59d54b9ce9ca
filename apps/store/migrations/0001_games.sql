-- Games and their ingest keys. Keys are stored as SHA-256 digests only.
CREATE TABLE games (
    game_id            uuid PRIMARY KEY,
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    rate_limit_eps     integer NOT NULL CHECK (rate_limit_eps > 0),
    late_horizon_days  integer CHECK (late_horizon_days BETWEEN 1 AND 3650),
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ingest_keys (
    key_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    game_id         uuid NOT NULL REFERENCES games (game_id) ON DELETE CASCADE,
    key_hash        bytea NOT NULL UNIQUE,
    display_prefix  text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX ingest_keys_game ON ingest_keys (game_id);
