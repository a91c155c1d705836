-- Each change of a family member's record makes a new version: a change made from an older
-- one (the reviewer and the family liaison at once) is refused instead of overwriting.
ALTER TABLE family_members ADD COLUMN version INT NOT NULL DEFAULT 1;
