-- The change feed: one row for each creation, update and deletion of a link or a
-- tag, written in the transaction of the change itself. seq numbers an account's
-- changes 1, 2, 3, ... in commit order: accounts.change_seq is the last number
-- taken, and a writer takes the next ones by incrementing it in its own
-- transaction (SQLite's writers take turns; on MySQL the account row's lock makes
-- them). Rows older than the retention are pruned. Keep this file equivalent to
-- ../mysql/00007_changes.sql.

-- +goose Up
ALTER TABLE accounts ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    seq         INTEGER    NOT NULL,
    kind        VARCHAR(8) NOT NULL CHECK (kind IN ('CREATED', 'UPDATED', 'DELETED')),
    object_type VARCHAR(8) NOT NULL CHECK (object_type IN ('Link', 'Tag')),
    object_id   INTEGER    NOT NULL,
    at          DATETIME   NOT NULL,
    CONSTRAINT changes_account_id_seq_key UNIQUE (account_id, seq)
);
CREATE INDEX changes_at_idx ON changes (at);

-- +goose Down
DROP TABLE changes;
ALTER TABLE accounts DROP COLUMN change_seq;
