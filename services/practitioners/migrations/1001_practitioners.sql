-- The practitioners service's own tables (platform tables are migrated before these).

-- Projection of the registry: tenant, reference, scope period and key lines of enquiry
-- (set with the terms of reference: the methodology is agreed), appointed reviewer.
CREATE TABLE reviews (
    review_id            UUID PRIMARY KEY,
    partnership_id       TEXT NOT NULL,
    reference            TEXT NOT NULL DEFAULT '',
    scope_start          DATE,
    scope_end            DATE,
    key_lines_of_enquiry JSONB NOT NULL DEFAULT '[]'::jsonb,
    reviewer_subject     TEXT
);

CREATE TABLE practitioners (
    id                    UUID PRIMARY KEY,
    review_id             UUID NOT NULL REFERENCES reviews (review_id),
    name                  TEXT NOT NULL,
    role                  TEXT NOT NULL,
    agency_id             TEXT NOT NULL,
    agency_name           TEXT NOT NULL DEFAULT '',
    email                 TEXT NOT NULL DEFAULT '',
    involvement_start     DATE,
    involvement_end       DATE,
    status                TEXT NOT NULL,
    deferral_reason       TEXT,
    deferral_detail       TEXT NOT NULL DEFAULT '',
    deferral_authorised_by TEXT NOT NULL DEFAULT '',
    deferral_review_date  DATE,
    deferred_at           TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
-- One practitioner per agency, name and role in a review: suggestions from resubmitted
-- chronologies land on the same row.
CREATE UNIQUE INDEX practitioners_identity ON practitioners (review_id, agency_id, lower(name), lower(role));
CREATE INDEX practitioners_by_review ON practitioners (review_id, lower(name), id);
CREATE INDEX practitioners_deferral_due ON practitioners (deferral_review_date) WHERE deferral_reason IS NOT NULL;

CREATE TABLE conversations (
    id                   UUID PRIMARY KEY,
    review_id            UUID NOT NULL REFERENCES reviews (review_id),
    practitioner_id      UUID NOT NULL REFERENCES practitioners (id),
    scheduled_at         TIMESTAMPTZ NOT NULL,
    location             TEXT NOT NULL,
    advance_information  TEXT NOT NULL,
    key_lines_of_enquiry JSONB NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE learning_events (
    id           UUID PRIMARY KEY,
    review_id    UUID NOT NULL REFERENCES reviews (review_id),
    scheduled_at TIMESTAMPTZ NOT NULL,
    location     TEXT NOT NULL,
    agenda       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE learning_event_invitees (
    learning_event_id UUID NOT NULL REFERENCES learning_events (id),
    practitioner_id   UUID NOT NULL REFERENCES practitioners (id),
    attended          BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (learning_event_id, practitioner_id)
);

-- System learning by theme; no field names or rates a person.
CREATE TABLE learning_records (
    id                UUID PRIMARY KEY,
    review_id         UUID NOT NULL REFERENCES reviews (review_id),
    learning_event_id UUID REFERENCES learning_events (id),
    conversation_id   UUID REFERENCES conversations (id),
    points            JSONB NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL
);

-- Deferrals already flagged as past their review date (once per practitioner and date).
CREATE TABLE deferral_alerts (
    practitioner_id UUID NOT NULL,
    review_date     DATE NOT NULL,
    raised_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (practitioner_id, review_date)
);
