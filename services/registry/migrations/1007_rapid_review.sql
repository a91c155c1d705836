-- The rapid review as a record (meeting, contributing agencies, learning so far, the day it
-- was sent to the national Panel and the Panel's response), one document per review.
ALTER TABLE reviews ADD COLUMN rapid_review JSONB;
CREATE INDEX reviews_by_notification ON reviews (partnership_id, notification_sent_on);
