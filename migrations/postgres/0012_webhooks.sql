-- Webhooks (spec 004, "Webhooks & Events"): subscriptions, the transactional outbox of events and
-- the deliveries a worker makes of them. Times are microseconds since the Unix epoch.
CREATE TABLE webhooks (
    id                TEXT PRIMARY KEY,
    url               TEXT NOT NULL,
    -- The signing key: kept in clear, as every delivery is signed with it.
    secret            TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    created_by_key_id TEXT
);

-- The events each webhook takes, one row each, so the outbox finds the subscribers of an event
-- with one indexed lookup inside the change's transaction.
CREATE TABLE webhook_subscriptions (
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    PRIMARY KEY (event, webhook_id)
);

-- The outbox: one row per event that had subscribers, written in the transaction of the change,
-- so a change that rolls back leaves no event and a committed one always has its deliveries.
CREATE TABLE webhook_events (
    id         TEXT PRIMARY KEY,
    event      TEXT NOT NULL,
    -- The body every delivery of the event sends (JSON text, byte for byte what is signed).
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One event for one webhook. A worker claims due rows under a lease (lease_owner,
-- lease_expires_at), posts, and either marks them delivered or schedules the next try.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL REFERENCES webhook_events(id),
    event            TEXT NOT NULL,
    -- pending, delivered or failed (no more tries).
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    last_status_code BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    completed_at     BIGINT
);
-- The dispatcher's queue: due pending deliveries, soonest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at);

-- Every try of a delivery: when, the HTTP status or the error, how long it took.
CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    status_code BIGINT,
    error       TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
