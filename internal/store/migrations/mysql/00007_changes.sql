-- The change feed: one row for each creation, update and deletion of a link or a
-- tag, written in the transaction of the change itself. seq numbers an account's
-- changes 1, 2, 3, ... in commit order: accounts.change_seq is the last number
-- taken, and a writer takes the next ones by incrementing it in its own
-- transaction, which holds the account row's lock until it commits, so that the
-- account's next writer numbers after it (and a rolled-back writer gives its
-- numbers back). Rows older than the retention are pruned. Keep this file
-- equivalent to ../sqlite/00007_changes.sql.

-- +goose Up
ALTER TABLE accounts ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE changes (
    id          BIGINT      NOT NULL AUTO_INCREMENT,
    account_id  BIGINT      NOT NULL,
    seq         BIGINT      NOT NULL,
    kind        VARCHAR(8)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    object_type VARCHAR(8)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    object_id   BIGINT      NOT NULL,
    at          DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT changes_kind_check CHECK (kind IN ('CREATED', 'UPDATED', 'DELETED')),
    CONSTRAINT changes_object_type_check CHECK (object_type IN ('Link', 'Tag')),
    CONSTRAINT changes_account_id_seq_key UNIQUE KEY (account_id, seq),
    KEY changes_at_idx (at),
    CONSTRAINT changes_account_fk FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE changes;
ALTER TABLE accounts DROP COLUMN change_seq;
