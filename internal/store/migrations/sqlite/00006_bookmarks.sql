-- Bookmarks: read-later state (unread, archived, favorite), notes, the page's
-- favicon and preview image, and url_hash, the SHA-256 (hex) of the link's URL
-- in the normalised form of linkapi.NormalizeURL, by which checkUrl, createLink,
-- updateLink and imports find the account's link for a URL. Existing links get
-- false, NULL and, once Migrate has run the Go backfill that follows the SQL
-- migrations (store.backfillURLHashes), their hash.
--
-- The indexes serve the first pages of links(...) without scanning the account's
-- links: each order (created, updated, title) with id to break ties, and each
-- state filter in created order, the default. Keep this file equivalent to
-- ../mysql/00006_bookmarks.sql.

-- +goose Up
ALTER TABLE links ADD COLUMN unread   BOOLEAN NOT NULL DEFAULT FALSE CHECK (unread IN (0, 1));
ALTER TABLE links ADD COLUMN archived BOOLEAN NOT NULL DEFAULT FALSE CHECK (archived IN (0, 1));
ALTER TABLE links ADD COLUMN favorite BOOLEAN NOT NULL DEFAULT FALSE CHECK (favorite IN (0, 1));
ALTER TABLE links ADD COLUMN notes TEXT NULL;
ALTER TABLE links ADD COLUMN favicon_url VARCHAR(2048) NULL
    CHECK (favicon_url IS NULL OR length(favicon_url) <= 2048);
ALTER TABLE links ADD COLUMN preview_image_url VARCHAR(2048) NULL
    CHECK (preview_image_url IS NULL OR length(preview_image_url) <= 2048);
ALTER TABLE links ADD COLUMN url_hash CHAR(64) NULL
    CHECK (url_hash IS NULL OR length(url_hash) = 64);
CREATE INDEX links_account_id_created_at_id_idx ON links (account_id, created_at, id);
CREATE INDEX links_account_id_updated_at_id_idx ON links (account_id, updated_at, id);
CREATE INDEX links_account_id_title_id_idx ON links (account_id, title, id);
CREATE INDEX links_account_id_unread_created_at_id_idx ON links (account_id, unread, created_at, id);
CREATE INDEX links_account_id_archived_created_at_id_idx ON links (account_id, archived, created_at, id);
CREATE INDEX links_account_id_favorite_created_at_id_idx ON links (account_id, favorite, created_at, id);
CREATE INDEX links_account_id_url_hash_idx ON links (account_id, url_hash);

-- +goose Down
DROP INDEX links_account_id_url_hash_idx;
DROP INDEX links_account_id_favorite_created_at_id_idx;
DROP INDEX links_account_id_archived_created_at_id_idx;
DROP INDEX links_account_id_unread_created_at_id_idx;
DROP INDEX links_account_id_title_id_idx;
DROP INDEX links_account_id_updated_at_id_idx;
DROP INDEX links_account_id_created_at_id_idx;
ALTER TABLE links DROP COLUMN url_hash;
ALTER TABLE links DROP COLUMN preview_image_url;
ALTER TABLE links DROP COLUMN favicon_url;
ALTER TABLE links DROP COLUMN notes;
ALTER TABLE links DROP COLUMN favorite;
ALTER TABLE links DROP COLUMN archived;
ALTER TABLE links DROP COLUMN unread;
