-- The practitioners of each review as the practitioners service registers them, and whether
-- their own contact is deferred (e.g. a police witness): a family's requests are not routed
-- through a professional whose contact is held.
CREATE TABLE review_practitioners (
    review_id UUID NOT NULL,
    practitioner_id UUID NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    deferred BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (review_id, practitioner_id)
);
CREATE INDEX review_practitioners_by_email ON review_practitioners (review_id, lower(email));

-- Requests to approach a member (the contact request, the consultation on publication) held
-- while their known professional's contact is deferred: the event they would have published,
-- encoded, published when the deferral is released.
CREATE TABLE held_requests (
    id UUID PRIMARY KEY,
    member_id UUID NOT NULL REFERENCES family_members (id),
    partnership_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('CONTACT', 'CONSULTATION')),
    event BYTEA NOT NULL,
    held_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX held_requests_by_member ON held_requests (member_id, held_at);
