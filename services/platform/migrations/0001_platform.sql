-- Tables every service's database has, owned by cspr-platform. Service migrations use
-- versions from 1000 up so the two sets never collide.

-- Events waiting to be published (transactional outbox). Rows are written in the same
-- transaction as the change they describe; the relay publishes them to JetStream.
CREATE TABLE outbox (
    seq          BIGSERIAL PRIMARY KEY,
    event_id     UUID NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    payload      BYTEA NOT NULL,
    headers      JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;

-- Events already handled by a consumer: written in the handler's transaction, so a
-- redelivered event is recognised and its side effects are not applied twice.
CREATE TABLE inbox (
    consumer     TEXT NOT NULL,
    event_id     UUID NOT NULL,
    handled_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Messages that kept failing (or could not be decoded): parked for operators, never
-- silently dropped.
CREATE TABLE dead_letters (
    id           BIGSERIAL PRIMARY KEY,
    consumer     TEXT NOT NULL,
    stream       TEXT NOT NULL,
    stream_seq   BIGINT NOT NULL,
    subject      TEXT NOT NULL,
    event_id     UUID,
    payload      BYTEA NOT NULL,
    deliveries   BIGINT NOT NULL,
    error        TEXT NOT NULL,
    parked_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (consumer, stream, stream_seq)
);

-- Who did what to which resource, when, from where, with what outcome.
CREATE TABLE audit_records (
    id             UUID PRIMARY KEY,
    at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    partnership_id TEXT NOT NULL,
    review_id      UUID,
    actor          TEXT NOT NULL,
    actor_roles    TEXT[] NOT NULL,
    action         TEXT NOT NULL,
    resource       TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    peer           TEXT
);
CREATE INDEX audit_records_by_review ON audit_records (partnership_id, review_id, at, id);

-- Client request ids of create/submit commands: a retry returns the first result.
CREATE TABLE idempotency_keys (
    partnership_id TEXT NOT NULL,
    operation      TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    fingerprint    BYTEA NOT NULL,
    resource_id    TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (partnership_id, operation, request_id)
);
