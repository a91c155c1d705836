-- The panel's meetings, beside the review: when and where (with the agenda), the calendar
-- entry's sequence, and, once held, the record (attendance, minutes, decisions, action
-- points) as one document.
CREATE TABLE panel_meetings (
    id UUID PRIMARY KEY,
    review_id UUID NOT NULL REFERENCES reviews (id),
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL,
    location TEXT NOT NULL,
    agenda JSONB NOT NULL,
    sequence INT NOT NULL,
    cancel_reason TEXT,
    record JSONB,
    scheduled_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX panel_meetings_by_review ON panel_meetings (review_id, starts_at, id);

-- Who accepted, returned or waived an agency's report (the submissions event's actor): a
-- panel's "reports accepted" decision links to these commands.
ALTER TABLE agency_report_statuses ADD COLUMN changed_by TEXT;
