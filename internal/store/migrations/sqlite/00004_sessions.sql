-- Sessions: one per login, the "signed-in devices" of an account. A session holds
-- the scopes granted at login, where and with what it was last used, its absolute
-- expiry, when its newest refresh token lapses unused (its idle expiry), and
-- when (and why) it ended. Its refresh tokens form one chain: each is
-- used once, and using a spent one ends the session. Only the SHA-256 of a refresh
-- token is kept. access_expires_at is when the last access token issued for the
-- session expires: an ended session matters to authentication only until then.
-- Keep this file equivalent to ../mysql/00004_sessions.sql.

-- +goose Up
CREATE TABLE sessions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id        INTEGER      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scopes            VARCHAR(255) NOT NULL DEFAULT '' CHECK (length(scopes) <= 255),
    user_agent        VARCHAR(255) NOT NULL DEFAULT '' CHECK (length(user_agent) <= 255),
    address           VARCHAR(64)  NOT NULL DEFAULT '' CHECK (length(address) <= 64),
    created_at        DATETIME     NOT NULL,
    last_used_at      DATETIME     NOT NULL,
    expires_at        DATETIME     NOT NULL,
    refresh_expires_at DATETIME    NOT NULL,
    access_expires_at DATETIME     NOT NULL,
    ended_at          DATETIME     NULL,
    end_reason        VARCHAR(20)  NULL CHECK (length(end_reason) <= 20)
);
CREATE INDEX sessions_account_id_access_expires_at_idx ON sessions (account_id, access_expires_at);

CREATE TABLE refresh_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER  NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    account_id INTEGER  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash CHAR(64) NOT NULL CHECK (length(token_hash) = 64),
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    used_at    DATETIME NULL,
    CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_account_id_idx ON refresh_tokens (account_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
