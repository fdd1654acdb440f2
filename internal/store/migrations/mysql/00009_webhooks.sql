-- Webhooks and their outbox. A webhook is an account's subscription: a URL, the
-- event types it wants (space-separated) and the Standard Webhooks secret
-- (whsec_ and base64) its deliveries are signed with. A delivery is one event
-- for one webhook, written in the transaction of the change it tells of, and
-- sent by the server's worker: pending until it is delivered or has failed
-- every attempt. next_attempt_at is when a worker may take it next; a worker
-- that takes it moves next_attempt_at past the attempt's end (a lease), so that
-- a worker that dies mid-attempt leaves it to be taken again. Keep this file
-- equivalent to ../sqlite/00009_webhooks.sql.

-- +goose Up
CREATE TABLE webhooks (
    id              BIGINT        NOT NULL AUTO_INCREMENT,
    account_id      BIGINT        NOT NULL,
    url             VARCHAR(2048) NOT NULL,
    events          VARCHAR(255)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    secret          VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at      DATETIME(6)   NOT NULL,
    disabled_at     DATETIME(6)   NULL,
    disabled_reason VARCHAR(255)  NULL,
    PRIMARY KEY (id),
    KEY webhooks_account_id_idx (account_id, id),
    CONSTRAINT webhooks_account_fk FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE webhook_deliveries (
    id              BIGINT       NOT NULL AUTO_INCREMENT,
    account_id      BIGINT       NOT NULL,
    webhook_id      BIGINT       NOT NULL,
    message_id      VARCHAR(40)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    event_type      VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    payload         TEXT         NOT NULL,
    status          VARCHAR(10)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attempts        INT          NOT NULL DEFAULT 0,
    created_at      DATETIME(6)  NOT NULL,
    next_attempt_at DATETIME(6)  NULL,
    last_attempt_at DATETIME(6)  NULL,
    last_status     INT          NULL,
    last_error      VARCHAR(500) NULL,
    finished_at     DATETIME(6)  NULL,
    PRIMARY KEY (id),
    CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    CONSTRAINT webhook_deliveries_message_id_key UNIQUE KEY (message_id),
    KEY webhook_deliveries_due_idx (status, next_attempt_at),
    KEY webhook_deliveries_webhook_idx (webhook_id, status, id),
    KEY webhook_deliveries_finished_idx (finished_at),
    CONSTRAINT webhook_deliveries_account_fk FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_webhook_fk FOREIGN KEY (webhook_id)
        REFERENCES webhooks (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
