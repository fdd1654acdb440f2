-- The initial schema: accounts own links and tags; link_tags joins a link and a tag
-- of the same account. The composite foreign keys on link_tags name account_id in
-- both references, so a pair of a link and a tag of two different accounts cannot
-- exist whatever the application does. Keep this file equivalent to
-- ../mysql/00001_initial.sql. Lengths are checked here because SQLite does not
-- enforce VARCHAR(n), and MySQL in strict mode does.

-- +goose Up
CREATE TABLE accounts (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    email               VARCHAR(320) NOT NULL CHECK (length(email) <= 320),
    password_hash       VARCHAR(255) NOT NULL CHECK (length(password_hash) <= 255),
    scopes              VARCHAR(255) NOT NULL DEFAULT '' CHECK (length(scopes) <= 255),
    password_changed_at DATETIME     NOT NULL,
    created_at          DATETIME     NOT NULL,
    updated_at          DATETIME     NOT NULL,
    CONSTRAINT accounts_email_key UNIQUE (email)
);

CREATE TABLE links (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER       NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url         VARCHAR(2048) NOT NULL CHECK (length(url) <= 2048),
    title       VARCHAR(512)  NULL CHECK (title IS NULL OR length(title) <= 512),
    description TEXT          NULL,
    created_at  DATETIME      NOT NULL,
    updated_at  DATETIME      NOT NULL,
    CONSTRAINT links_id_account_id_key UNIQUE (id, account_id)
);
CREATE INDEX links_account_id_id_idx ON links (account_id, id);

CREATE TABLE tags (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       VARCHAR(100) NOT NULL CHECK (length(name) <= 100),
    created_at DATETIME     NOT NULL,
    CONSTRAINT tags_account_id_name_key UNIQUE (account_id, name),
    CONSTRAINT tags_id_account_id_key UNIQUE (id, account_id)
);

CREATE TABLE link_tags (
    link_id    INTEGER  NOT NULL,
    tag_id     INTEGER  NOT NULL,
    account_id INTEGER  NOT NULL,
    created_at DATETIME NOT NULL,
    PRIMARY KEY (link_id, tag_id),
    CONSTRAINT link_tags_link_fk FOREIGN KEY (link_id, account_id)
        REFERENCES links (id, account_id) ON DELETE CASCADE,
    CONSTRAINT link_tags_tag_fk FOREIGN KEY (tag_id, account_id)
        REFERENCES tags (id, account_id) ON DELETE CASCADE
);
CREATE INDEX link_tags_tag_id_link_id_idx ON link_tags (tag_id, link_id);

-- +goose Down
DROP TABLE link_tags;
DROP TABLE tags;
DROP TABLE links;
DROP TABLE accounts;
