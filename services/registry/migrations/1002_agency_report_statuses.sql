-- The registry's projection of agency reports follows every status the submissions
-- service publishes (requested, submitted, returned, accepted, waived), not only the
-- final decisions: a report requested by hand, or resubmitted, is outstanding again.
ALTER TABLE agency_report_decisions RENAME TO agency_report_statuses;
ALTER TABLE agency_report_statuses RENAME COLUMN decision TO status;
ALTER TABLE agency_report_statuses RENAME COLUMN decided_at TO updated_at;
