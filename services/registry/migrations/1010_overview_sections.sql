-- The overview report's structure: each version's sections (the findings on each key line
-- of enquiry, the three questions, good practice, learning) as one document; NULL for a
-- version submitted before reports had sections.
ALTER TABLE overview_reports ADD COLUMN sections JSONB;

-- The panel's comments on a section of a version, and the reviewer's answer given with a
-- later version.
CREATE TABLE overview_comments (
    id UUID PRIMARY KEY,
    review_id UUID NOT NULL REFERENCES reviews (id),
    version INT NOT NULL,
    section TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    answer TEXT,
    answered_in_version INT,
    CHECK ((answer IS NULL) = (answered_in_version IS NULL))
);
CREATE INDEX overview_comments_by_review ON overview_comments (review_id, at, id);
