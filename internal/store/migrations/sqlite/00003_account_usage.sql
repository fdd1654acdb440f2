-- Account usage: each account counts its links and the bytes of their text (URL,
-- title and description, as linkapi.Link.TextBytes counts them), so that a write
-- checks the account's storage bound by reading one row instead of summing every
-- link. The store keeps the counters in the transaction of each write that adds,
-- changes or deletes a link. Existing accounts are counted here. Keep this file
-- equivalent to ../mysql/00003_account_usage.sql.

-- +goose Up
ALTER TABLE accounts ADD COLUMN link_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN text_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET
    link_count = (SELECT COUNT(*) FROM links WHERE links.account_id = accounts.id),
    text_bytes = (SELECT COALESCE(SUM(length(CAST(url AS BLOB))
                                      + COALESCE(length(CAST(title AS BLOB)), 0)
                                      + COALESCE(length(CAST(description AS BLOB)), 0)), 0)
                  FROM links WHERE links.account_id = accounts.id);

-- +goose Down
ALTER TABLE accounts DROP COLUMN text_bytes;
ALTER TABLE accounts DROP COLUMN link_count;
