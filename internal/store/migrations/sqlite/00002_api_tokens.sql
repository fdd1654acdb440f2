-- API tokens: long-lived bearer tokens for scripts. Only the SHA-256 of the secret
-- is kept. Keep this file equivalent to ../mysql/00002_api_tokens.sql.

-- +goose Up
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   INTEGER      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         VARCHAR(100) NOT NULL CHECK (length(name) <= 100),
    secret_hash  CHAR(64)     NOT NULL CHECK (length(secret_hash) = 64),
    scopes       VARCHAR(255) NOT NULL DEFAULT '' CHECK (length(scopes) <= 255),
    created_at   DATETIME     NOT NULL,
    last_used_at DATETIME     NULL,
    expires_at   DATETIME     NOT NULL,
    CONSTRAINT api_tokens_secret_hash_key UNIQUE (secret_hash)
);
CREATE INDEX api_tokens_account_id_id_idx ON api_tokens (account_id, id);

-- +goose Down
DROP TABLE api_tokens;
