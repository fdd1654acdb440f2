-- Webhooks and their outbox. A webhook is an account's subscription: a URL, the
-- event types it wants (space-separated) and the Standard Webhooks secret
-- (whsec_ and base64) its deliveries are signed with. A delivery is one event
-- for one webhook, written in the transaction of the change it tells of, and
-- sent by the server's worker: pending until it is delivered or has failed
-- every attempt. next_attempt_at is when a worker may take it next; a worker
-- that takes it moves next_attempt_at past the attempt's end (a lease), so that
-- a worker that dies mid-attempt leaves it to be taken again. Keep this file
-- equivalent to ../mysql/00009_webhooks.sql.

-- +goose Up
CREATE TABLE webhooks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER       NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url             VARCHAR(2048) NOT NULL CHECK (length(url) <= 2048),
    events          VARCHAR(255)  NOT NULL CHECK (length(events) <= 255),
    secret          VARCHAR(64)   NOT NULL CHECK (length(secret) <= 64),
    created_at      DATETIME      NOT NULL,
    disabled_at     DATETIME      NULL,
    disabled_reason VARCHAR(255)  NULL
);
CREATE INDEX webhooks_account_id_idx ON webhooks (account_id, id);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    webhook_id      INTEGER      NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    message_id      VARCHAR(40)  NOT NULL,
    event_type      VARCHAR(16)  NOT NULL,
    payload         TEXT         NOT NULL,
    status          VARCHAR(10)  NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts        INTEGER      NOT NULL DEFAULT 0,
    created_at      DATETIME     NOT NULL,
    next_attempt_at DATETIME     NULL,
    last_attempt_at DATETIME     NULL,
    last_status     INTEGER      NULL,
    last_error      VARCHAR(500) NULL,
    finished_at     DATETIME     NULL,
    CONSTRAINT webhook_deliveries_message_id_key UNIQUE (message_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, status, id);
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (finished_at);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
