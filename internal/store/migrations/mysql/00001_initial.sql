-- The initial schema: accounts own links and tags; link_tags joins a link and a tag
-- of the same account. The composite foreign keys on link_tags name account_id in
-- both references, so a pair of a link and a tag of two different accounts cannot
-- exist whatever the application does. Keep this file equivalent to
-- ../sqlite/00001_initial.sql.
--
-- accounts.email and tags.name use utf8mb4_bin so that uniqueness means what it
-- means in SQLite: byte equality. The application lower-cases emails, which makes
-- them unique case-insensitively on both databases; tag names are case-sensitive.
-- Free text (url, title, description) keeps a case-insensitive collation so that
-- LIKE searches behave as SQLite's ASCII-case-insensitive LIKE does.

-- +goose Up
CREATE TABLE accounts (
    id                  BIGINT       NOT NULL AUTO_INCREMENT,
    email               VARCHAR(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    password_hash       VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    scopes              VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    password_changed_at DATETIME(6)  NOT NULL,
    created_at          DATETIME(6)  NOT NULL,
    updated_at          DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT accounts_email_key UNIQUE KEY (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE links (
    id          BIGINT        NOT NULL AUTO_INCREMENT,
    account_id  BIGINT        NOT NULL,
    url         VARCHAR(2048) NOT NULL,
    title       VARCHAR(512)  NULL,
    description TEXT          NULL,
    created_at  DATETIME(6)   NOT NULL,
    updated_at  DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT links_id_account_id_key UNIQUE KEY (id, account_id),
    KEY links_account_id_id_idx (account_id, id),
    CONSTRAINT links_account_fk FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE tags (
    id         BIGINT       NOT NULL AUTO_INCREMENT,
    account_id BIGINT       NOT NULL,
    name       VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT tags_account_id_name_key UNIQUE KEY (account_id, name),
    CONSTRAINT tags_id_account_id_key UNIQUE KEY (id, account_id),
    CONSTRAINT tags_account_fk FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE link_tags (
    link_id    BIGINT      NOT NULL,
    tag_id     BIGINT      NOT NULL,
    account_id BIGINT      NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (link_id, tag_id),
    KEY link_tags_tag_id_link_id_idx (tag_id, link_id),
    KEY link_tags_link_id_account_id_idx (link_id, account_id),
    KEY link_tags_tag_id_account_id_idx (tag_id, account_id),
    CONSTRAINT link_tags_link_fk FOREIGN KEY (link_id, account_id)
        REFERENCES links (id, account_id) ON DELETE CASCADE,
    CONSTRAINT link_tags_tag_fk FOREIGN KEY (tag_id, account_id)
        REFERENCES tags (id, account_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE link_tags;
DROP TABLE tags;
DROP TABLE links;
DROP TABLE accounts;
