-- External identities: an account of an OpenID Connect provider, named by its
-- (issuer, subject), linked to the local account its tokens act as. Both are
-- compared byte for byte (a subject is case-sensitive). One identity maps to
-- one account; an account may have several.
-- Keep this file equivalent to ../mysql/00008_external_identities.sql.

-- +goose Up
CREATE TABLE external_identities (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    issuer     VARCHAR(255) NOT NULL CHECK (length(issuer) BETWEEN 1 AND 255),
    subject    VARCHAR(255) NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
    created_at DATETIME     NOT NULL,
    CONSTRAINT external_identities_issuer_subject_key UNIQUE (issuer, subject)
);
CREATE INDEX external_identities_account_id_idx ON external_identities (account_id);

-- +goose Down
DROP TABLE external_identities;
