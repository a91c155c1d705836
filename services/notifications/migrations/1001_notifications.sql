-- The notifications service's own tables (platform tables are migrated before these).

-- One row per (event, recipient, template): the unique key is what makes a redelivered
-- event send nothing twice. The rendered content is kept so an attempt sends exactly what
-- was planned, and operators can see what went out.
CREATE TABLE deliveries (
    id               UUID PRIMARY KEY,
    event_id         UUID NOT NULL,
    event_type       TEXT NOT NULL,
    template         TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    partnership_id   TEXT NOT NULL,
    review_id        UUID,
    review_reference TEXT NOT NULL DEFAULT '',
    subject          TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    body_html        TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    last_error       TEXT NOT NULL DEFAULT '',
    sent_at          TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    trace_headers    JSONB NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (event_id, recipient, template)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('PENDING', 'RETRYING');
CREATE INDEX deliveries_by_partnership ON deliveries (partnership_id, created_at DESC, id DESC);
CREATE INDEX deliveries_by_review ON deliveries (review_id, created_at DESC, id DESC);

-- What the service knows of each review: its reference and its panel chair (deadline
-- alerts go to the chair). Only professionals' work details.
CREATE TABLE reviews (
    review_id      UUID PRIMARY KEY,
    partnership_id TEXT NOT NULL,
    reference      TEXT NOT NULL DEFAULT '',
    chair_name     TEXT,
    chair_email    TEXT
);
