-- Sessions: one per login, the "signed-in devices" of an account. A session holds
-- the scopes granted at login, where and with what it was last used, its absolute
-- expiry, when its newest refresh token lapses unused (its idle expiry), and
-- when (and why) it ended. Its refresh tokens form one chain: each is
-- used once, and using a spent one ends the session. Only the SHA-256 of a refresh
-- token is kept. access_expires_at is when the last access token issued for the
-- session expires: an ended session matters to authentication only until then.
-- Keep this file equivalent to ../sqlite/00004_sessions.sql.

-- +goose Up
CREATE TABLE sessions (
    id                BIGINT       NOT NULL AUTO_INCREMENT,
    account_id        BIGINT       NOT NULL,
    scopes            VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    user_agent        VARCHAR(255) NOT NULL DEFAULT '',
    address           VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    created_at        DATETIME(6)  NOT NULL,
    last_used_at      DATETIME(6)  NOT NULL,
    expires_at        DATETIME(6)  NOT NULL,
    refresh_expires_at DATETIME(6) NOT NULL,
    access_expires_at DATETIME(6)  NOT NULL,
    ended_at          DATETIME(6)  NULL,
    end_reason        VARCHAR(20)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    PRIMARY KEY (id),
    KEY sessions_account_id_access_expires_at_idx (account_id, access_expires_at),
    CONSTRAINT sessions_account_fk FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE refresh_tokens (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    session_id BIGINT      NOT NULL,
    account_id BIGINT      NOT NULL,
    token_hash CHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6) NULL,
    PRIMARY KEY (id),
    CONSTRAINT refresh_tokens_token_hash_key UNIQUE KEY (token_hash),
    KEY refresh_tokens_session_id_idx (session_id),
    KEY refresh_tokens_account_id_idx (account_id),
    CONSTRAINT refresh_tokens_session_fk FOREIGN KEY (session_id)
        REFERENCES sessions (id) ON DELETE CASCADE,
    CONSTRAINT refresh_tokens_account_fk FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
