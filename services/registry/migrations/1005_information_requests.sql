-- The partnership's requests to the reviewer for information, in writing, and the answers:
-- both timestamped, so the time a reviewer takes is part of the review's record.
CREATE TABLE information_requests (
    id UUID PRIMARY KEY,
    review_id UUID NOT NULL REFERENCES reviews (id),
    question TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    respond_by DATE NOT NULL,
    reply_to TEXT,
    answer TEXT,
    answered_by TEXT,
    answered_at TIMESTAMPTZ,
    CHECK ((answer IS NULL) = (answered_at IS NULL) AND (answer IS NULL) = (answered_by IS NULL))
);
CREATE INDEX information_requests_by_review ON information_requests (review_id, requested_at);
