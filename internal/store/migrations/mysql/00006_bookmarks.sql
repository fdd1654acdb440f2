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
-- ../sqlite/00006_bookmarks.sql.

-- +goose Up
ALTER TABLE links
    ADD COLUMN unread            BOOLEAN       NOT NULL DEFAULT FALSE,
    ADD COLUMN archived          BOOLEAN       NOT NULL DEFAULT FALSE,
    ADD COLUMN favorite          BOOLEAN       NOT NULL DEFAULT FALSE,
    ADD COLUMN notes             TEXT          NULL,
    ADD COLUMN favicon_url       VARCHAR(2048) NULL,
    ADD COLUMN preview_image_url VARCHAR(2048) NULL,
    ADD COLUMN url_hash          CHAR(64)      CHARACTER SET ascii COLLATE ascii_bin NULL,
    ADD KEY links_account_id_created_at_id_idx (account_id, created_at, id),
    ADD KEY links_account_id_updated_at_id_idx (account_id, updated_at, id),
    ADD KEY links_account_id_title_id_idx (account_id, title, id),
    ADD KEY links_account_id_unread_created_at_id_idx (account_id, unread, created_at, id),
    ADD KEY links_account_id_archived_created_at_id_idx (account_id, archived, created_at, id),
    ADD KEY links_account_id_favorite_created_at_id_idx (account_id, favorite, created_at, id),
    ADD KEY links_account_id_url_hash_idx (account_id, url_hash);

-- +goose Down
ALTER TABLE links
    DROP KEY links_account_id_url_hash_idx,
    DROP KEY links_account_id_favorite_created_at_id_idx,
    DROP KEY links_account_id_archived_created_at_id_idx,
    DROP KEY links_account_id_unread_created_at_id_idx,
    DROP KEY links_account_id_title_id_idx,
    DROP KEY links_account_id_updated_at_id_idx,
    DROP KEY links_account_id_created_at_id_idx,
    DROP COLUMN url_hash,
    DROP COLUMN preview_image_url,
    DROP COLUMN favicon_url,
    DROP COLUMN notes,
    DROP COLUMN favorite,
    DROP COLUMN archived,
    DROP COLUMN unread;
