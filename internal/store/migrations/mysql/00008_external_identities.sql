-- External identities: an account of an OpenID Connect provider, named by its
-- (issuer, subject), linked to the local account its tokens act as. Both are
-- compared byte for byte (utf8mb4_bin: a subject is case-sensitive, and the
-- default collation would make "abc" and "ABC" one identity). One identity maps
-- to one account; an account may have several.
-- Keep this file equivalent to ../sqlite/00008_external_identities.sql.

-- +goose Up
CREATE TABLE external_identities (
    id         BIGINT       NOT NULL AUTO_INCREMENT,
    account_id BIGINT       NOT NULL,
    issuer     VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    subject    VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT external_identities_issuer_subject_key UNIQUE KEY (issuer, subject),
    KEY external_identities_account_id_idx (account_id),
    CONSTRAINT external_identities_account_fk FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE external_identities;
