-- Each change of an action (progress, verification) makes a new version: an update made
-- from an older one (two people editing at once) is refused instead of overwriting.
ALTER TABLE actions ADD COLUMN version INT NOT NULL DEFAULT 1;
