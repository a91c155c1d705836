-- A panel member found, after their appointment, to be involved in the case as a
-- practitioner (panel independence): how, once; NULL while nothing was found.
ALTER TABLE panel_members ADD COLUMN found_involved TEXT;
