-- API tokens: long-lived bearer tokens for scripts. Only the SHA-256 of the secret
-- is kept. Keep this file equivalent to ../sqlite/00002_api_tokens.sql.

-- +goose Up
CREATE TABLE api_tokens (
    id           BIGINT       NOT NULL AUTO_INCREMENT,
    account_id   BIGINT       NOT NULL,
    name         VARCHAR(100) NOT NULL,
    secret_hash  CHAR(64)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    scopes       VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    created_at   DATETIME(6)  NOT NULL,
    last_used_at DATETIME(6)  NULL,
    expires_at   DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT api_tokens_secret_hash_key UNIQUE KEY (secret_hash),
    KEY api_tokens_account_id_id_idx (account_id, id),
    CONSTRAINT api_tokens_account_fk FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE api_tokens;
