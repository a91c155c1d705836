-- The submissions service's own tables (platform tables are migrated before these).

-- Projection of the registry's reviews: tenant, reference, scope period, appointed reviewer.
CREATE TABLE reviews (
    review_id        UUID PRIMARY KEY,
    partnership_id   TEXT NOT NULL,
    reference        TEXT NOT NULL DEFAULT '',
    scope_start      DATE,
    scope_end        DATE,
    reviewer_subject TEXT
);

-- One request per (review, agency). `id` (UUID v7, time-ordered) keys pagination.
CREATE TABLE report_requests (
    id             UUID NOT NULL UNIQUE,
    review_id      UUID NOT NULL REFERENCES reviews (review_id),
    agency_id      TEXT NOT NULL,
    partnership_id TEXT NOT NULL,
    agency_name    TEXT NOT NULL,
    contact_email  TEXT NOT NULL,
    due_date       DATE NOT NULL,
    status         TEXT NOT NULL,
    latest_version INTEGER NOT NULL DEFAULT 0,
    decision_note  TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (review_id, agency_id)
);
CREATE INDEX report_requests_by_agency ON report_requests (partnership_id, agency_id, created_at, id);
CREATE INDEX report_requests_by_review ON report_requests (review_id, created_at, id);
CREATE INDEX report_requests_open_by_due ON report_requests (due_date) WHERE status IN ('REQUESTED', 'RETURNED');

-- Every submitted version of every agency report.
CREATE TABLE agency_reports (
    id                          UUID PRIMARY KEY,
    review_id                   UUID NOT NULL,
    agency_id                   TEXT NOT NULL,
    -- NULL while the submission's stream is still being written (the version is assigned
    -- when it commits, under the request's row lock).
    version                     INTEGER,
    status                      TEXT NOT NULL,
    author_name                 TEXT NOT NULL,
    author_role                 TEXT NOT NULL,
    summary                     TEXT NOT NULL,
    analysis_of_involvement     TEXT NOT NULL,
    what_went_well              TEXT NOT NULL,
    what_could_have_been_better TEXT NOT NULL,
    learning                    TEXT NOT NULL,
    entry_count                 BIGINT NOT NULL,
    content_hash                TEXT NOT NULL,
    decision_note               TEXT NOT NULL DEFAULT '',
    submitted_at                TIMESTAMPTZ NOT NULL,
    submitted_by                TEXT NOT NULL,
    UNIQUE (review_id, agency_id, version),
    FOREIGN KEY (review_id, agency_id) REFERENCES report_requests (review_id, agency_id)
);

-- Chronology entries, written in batches. review_id is repeated here so the combined
-- chronology reads one index in date order across agencies.
CREATE TABLE chronology_entries (
    report_id         UUID NOT NULL REFERENCES agency_reports (id),
    seq               INTEGER NOT NULL,
    review_id         UUID NOT NULL,
    occurred_on       DATE NOT NULL,
    time_of_day       TEXT NOT NULL,
    service           TEXT NOT NULL,
    practitioner_name TEXT NOT NULL,
    practitioner_role TEXT NOT NULL,
    description       TEXT NOT NULL,
    outcome           TEXT NOT NULL,
    PRIMARY KEY (report_id, seq)
);
CREATE INDEX chronology_by_review_date ON chronology_entries (review_id, occurred_on, time_of_day, report_id, seq);

-- Reminders already raised: each (request, alert, due date) once, however many sweeps run.
CREATE TABLE report_alerts (
    review_id UUID NOT NULL,
    agency_id TEXT NOT NULL,
    alert     TEXT NOT NULL,
    due_date  DATE NOT NULL,
    raised_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (review_id, agency_id, alert, due_date)
);
