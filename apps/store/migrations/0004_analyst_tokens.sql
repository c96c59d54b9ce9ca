-- Analyst tokens for the analytics API. Tokens are stored as SHA-256 digests only.
-- A token sees every game (all_games) or the games listed in analyst_token_games;
-- the code refuses a token that is neither. Deleting a game drops it from tokens.
CREATE TABLE analyst_tokens (
    token_id        uuid PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    display_prefix  text NOT NULL,
    all_games       boolean NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    last_used_at    timestamptz
);

CREATE TABLE analyst_token_games (
    token_id  uuid NOT NULL REFERENCES analyst_tokens (token_id) ON DELETE CASCADE,
    game_id   uuid NOT NULL REFERENCES games (game_id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, game_id)
);
-- For the cascade when a game is deleted.
CREATE INDEX analyst_token_games_game ON analyst_token_games (game_id);
