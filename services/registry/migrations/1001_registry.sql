-- The registry's own tables (platform tables are migrated before these).

CREATE TABLE reviews (
    id                         UUID PRIMARY KEY,
    partnership_id             TEXT NOT NULL,
    reference                  TEXT NOT NULL,
    child_alias                TEXT NOT NULL,
    local_authority            TEXT NOT NULL,
    incident_date              DATE NOT NULL,
    became_aware_on            DATE NOT NULL,
    stage                      TEXT NOT NULL,
    notification_sent_on       DATE,
    national_panel_reference   TEXT NOT NULL DEFAULT '',
    decision                   TEXT,
    decided_on                 DATE,
    decision_rationale         TEXT NOT NULL DEFAULT '',
    reviewer_name              TEXT,
    reviewer_email             TEXT,
    reviewer_subject           TEXT,
    reviewer_appointed_on      DATE,
    publication_planned_on     DATE,
    notice_due_by              DATE,
    notice_sent_on             DATE,
    outcome_recorded_on        DATE,
    published                  BOOLEAN NOT NULL DEFAULT false,
    published_on               DATE,
    publication_location       TEXT NOT NULL DEFAULT '',
    not_published_justification TEXT NOT NULL DEFAULT '',
    created_at                 TIMESTAMPTZ NOT NULL,
    updated_at                 TIMESTAMPTZ NOT NULL,
    UNIQUE (partnership_id, reference)
);
-- Lists: newest first, by partnership, optionally by stage (keyset on created_at, id).
CREATE INDEX reviews_by_partnership ON reviews (partnership_id, created_at DESC, id DESC);
CREATE INDEX reviews_by_stage ON reviews (partnership_id, stage, created_at DESC, id DESC);
CREATE INDEX reviews_by_reviewer ON reviews (partnership_id, reviewer_subject, created_at DESC, id DESC);

-- Per-partnership, per-year counters for human references (SOUTHVALE-2026-001).
CREATE TABLE review_counters (
    partnership_id TEXT NOT NULL,
    year           INTEGER NOT NULL,
    last_number    INTEGER NOT NULL,
    PRIMARY KEY (partnership_id, year)
);

CREATE TABLE panel_members (
    id                     UUID PRIMARY KEY,
    review_id              UUID NOT NULL REFERENCES reviews (id),
    name                   TEXT NOT NULL,
    email                  TEXT NOT NULL,
    organisation           TEXT NOT NULL,
    role                   TEXT NOT NULL,
    independence_statement TEXT NOT NULL,
    appointed_at           TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX panel_members_email ON panel_members (review_id, lower(email));

-- Every version of the terms of reference; the highest is current.
CREATE TABLE terms_of_reference (
    review_id UUID NOT NULL REFERENCES reviews (id),
    version   INTEGER NOT NULL,
    document  JSONB NOT NULL,
    set_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (review_id, version)
);

CREATE TABLE parallel_processes (
    id          UUID PRIMARY KEY,
    review_id   UUID NOT NULL REFERENCES reviews (id),
    kind        TEXT NOT NULL,
    description TEXT NOT NULL,
    started_on  DATE NOT NULL,
    ended_on    DATE
);
CREATE INDEX parallel_processes_by_review ON parallel_processes (review_id, started_on);

-- Every version of the overview report; the highest is current.
CREATE TABLE overview_reports (
    review_id       UUID NOT NULL REFERENCES reviews (id),
    version         INTEGER NOT NULL,
    findings        TEXT NOT NULL,
    recommendations JSONB NOT NULL,
    submitted_at    TIMESTAMPTZ NOT NULL,
    approved_at     TIMESTAMPTZ,
    approved_by     TEXT,
    PRIMARY KEY (review_id, version)
);

-- Projection of the submissions service's decisions on agency reports.
CREATE TABLE agency_report_decisions (
    review_id  UUID NOT NULL,
    agency_id  TEXT NOT NULL,
    decision   TEXT NOT NULL,
    decided_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (review_id, agency_id)
);

-- Projection of the practitioners service: who worked with the family (panel independence).
CREATE TABLE involved_practitioners (
    review_id       UUID NOT NULL,
    practitioner_id TEXT NOT NULL,
    agency_id       TEXT NOT NULL,
    email           TEXT NOT NULL,
    PRIMARY KEY (review_id, practitioner_id)
);
CREATE INDEX involved_practitioners_email ON involved_practitioners (review_id, lower(email));

-- Current deadline statuses (refreshed by every command and by the sweep), for list filters.
CREATE TABLE review_deadlines (
    review_id UUID NOT NULL REFERENCES reviews (id),
    kind      TEXT NOT NULL,
    due_on    DATE,
    status    TEXT NOT NULL,
    PRIMARY KEY (review_id, kind)
);
CREATE INDEX review_deadlines_by_status ON review_deadlines (status, review_id);

-- Alerts already raised, so each deadline is announced at risk / missed once per due date,
-- however many sweeps and replicas run.
CREATE TABLE deadline_alerts (
    review_id UUID NOT NULL REFERENCES reviews (id),
    kind      TEXT NOT NULL,
    alert     TEXT NOT NULL,
    due_on    DATE NOT NULL,
    raised_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (review_id, kind, alert, due_on)
);
