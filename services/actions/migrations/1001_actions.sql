-- The actions service's own tables (platform tables are migrated before these).

-- Projection of the registry: tenant, reference, reviewer; the plan's state.
CREATE TABLE reviews (
    review_id        UUID PRIMARY KEY,
    partnership_id   TEXT NOT NULL,
    reference        TEXT NOT NULL DEFAULT '',
    reviewer_subject TEXT,
    plan_active      BOOLEAN NOT NULL DEFAULT false,
    plan_completed   BOOLEAN NOT NULL DEFAULT false
);

-- The approved overview report's recommendations: the action plan's headings.
CREATE TABLE recommendations (
    review_id UUID NOT NULL REFERENCES reviews (review_id),
    ref       TEXT NOT NULL,
    text      TEXT NOT NULL,
    PRIMARY KEY (review_id, ref)
);

CREATE TABLE actions (
    id                 UUID PRIMARY KEY,
    review_id          UUID NOT NULL REFERENCES reviews (review_id),
    partnership_id     TEXT NOT NULL,
    recommendation_ref TEXT NOT NULL,
    description        TEXT NOT NULL,
    owner_agency       TEXT NOT NULL,
    owner_email        TEXT NOT NULL,
    due_date           DATE NOT NULL,
    measure_of_success TEXT NOT NULL,
    status             TEXT NOT NULL,
    cancel_reason      TEXT NOT NULL DEFAULT '',
    evidence_of_impact TEXT NOT NULL DEFAULT '',
    verified_at        TIMESTAMPTZ,
    verified_by        TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (review_id, recommendation_ref) REFERENCES recommendations (review_id, ref)
);
CREATE INDEX actions_by_partnership ON actions (partnership_id, created_at, id);
CREATE INDEX actions_by_review ON actions (review_id, created_at, id);
CREATE INDEX actions_by_owner ON actions (partnership_id, owner_agency, created_at, id);
CREATE INDEX actions_open_by_due ON actions (due_date) WHERE status IN ('NOT_STARTED', 'IN_PROGRESS');

CREATE TABLE action_notes (
    id        UUID PRIMARY KEY,
    action_id UUID NOT NULL REFERENCES actions (id),
    at        TIMESTAMPTZ NOT NULL,
    author    TEXT NOT NULL,
    status    TEXT NOT NULL,
    note      TEXT NOT NULL
);
CREATE INDEX action_notes_by_action ON action_notes (action_id, at);

-- Reminders and escalations raised: each once per action and due date.
CREATE TABLE action_alerts (
    action_id UUID NOT NULL,
    alert     TEXT NOT NULL,
    due_date  DATE NOT NULL,
    raised_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (action_id, alert, due_date)
);
