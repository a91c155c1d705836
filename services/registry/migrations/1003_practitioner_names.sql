-- The panel independence check matches a practitioner by email, else by name and
-- organisation (agency name or id).
ALTER TABLE involved_practitioners ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE involved_practitioners ADD COLUMN agency_name TEXT NOT NULL DEFAULT '';
CREATE INDEX involved_practitioners_name ON involved_practitioners (review_id, lower(name));
