-- A panel meeting's invitation, change or cancellation carries its calendar entry: the
-- iCalendar text (RFC 5545) and its iTIP method, kept with the delivery so every attempt
-- sends exactly the same entry. Both empty for every other email.
ALTER TABLE deliveries
    ADD COLUMN calendar        TEXT,
    ADD COLUMN calendar_method TEXT,
    ADD CONSTRAINT deliveries_calendar_method CHECK (
        (calendar IS NULL AND calendar_method IS NULL)
        OR (calendar IS NOT NULL AND calendar_method IN ('REQUEST', 'CANCEL')));
