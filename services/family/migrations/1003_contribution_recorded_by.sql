-- Who recorded each contribution (the caller's subject, as the audit trail names them; not
-- family data, so in clear like a contact's made_by). Contributions recorded before this
-- keep '' (the audit trail still has who recorded them). The contact log and contributions
-- are read newest first per member.
ALTER TABLE family_contributions
    ADD COLUMN recorded_by TEXT NOT NULL DEFAULT '';
CREATE INDEX family_contacts_by_member ON family_contacts (member_id, contacted_at DESC, id DESC);
CREATE INDEX family_contributions_by_member ON family_contributions (member_id, created_at DESC, id DESC);
