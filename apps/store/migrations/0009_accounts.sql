-- People and what they may do: accounts, their role on each game, their login sessions,
-- the append-only audit log of every change, and the login throttling state.
-- Passwords are stored as argon2id hashes; session tokens as SHA-256 digests only.
CREATE TABLE accounts (
    account_id     uuid PRIMARY KEY,
    email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    display_name   text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at     timestamptz NOT NULL DEFAULT now()
);
-- One account per address whatever its case.
CREATE UNIQUE INDEX accounts_email ON accounts (lower(email));

CREATE TABLE memberships (
    account_id  uuid NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    game_id     uuid NOT NULL REFERENCES games (game_id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, game_id)
);
CREATE INDEX memberships_game ON memberships (game_id);

CREATE TABLE sessions (
    session_id   uuid PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX sessions_account ON sessions (account_id);

-- No foreign keys: an entry outlives the account, game or token it names.
CREATE TABLE audit_log (
    entry_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text NOT NULL CHECK (length(actor) BETWEEN 1 AND 300),
    action      text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    target      text NOT NULL CHECK (length(target) BETWEEN 1 AND 300),
    game_id     uuid,
    request_id  text CHECK (length(request_id) <= 100),
    details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_game ON audit_log (game_id, entry_id);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Failed logins per subject (a lower-cased email or a client address) in a fixed window.
CREATE TABLE login_failures (
    scope         text NOT NULL CHECK (scope IN ('account', 'address')),
    subject       text NOT NULL CHECK (length(subject) BETWEEN 1 AND 300),
    window_start  timestamptz NOT NULL,
    failures      integer NOT NULL CHECK (failures > 0),
    PRIMARY KEY (scope, subject)
);
