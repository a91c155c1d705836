-- The family service's own tables (platform tables are migrated before these).
-- Columns ending in _sealed hold personal data encrypted with XChaCha20-Poly1305 (the key id,
-- nonce and ciphertext; see crypto.rs); nothing personal is stored in clear. The known
-- professional's work details are not family data and stay in clear.

-- Projection of the registry: tenant, reference, reviewer, parallel processes.
CREATE TABLE reviews (
    review_id          UUID PRIMARY KEY,
    partnership_id     TEXT NOT NULL,
    reference          TEXT NOT NULL DEFAULT '',
    reviewer_subject   TEXT,
    parallel_processes JSONB NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE family_members (
    id                        UUID PRIMARY KEY,
    review_id                 UUID NOT NULL REFERENCES reviews (review_id),
    relationship              TEXT NOT NULL,
    name_sealed               BYTEA NOT NULL,
    decision_note_sealed      BYTEA NOT NULL,
    route                     TEXT NOT NULL,
    professional_name         TEXT NOT NULL DEFAULT '',
    professional_agency       TEXT NOT NULL DEFAULT '',
    professional_email        TEXT NOT NULL DEFAULT '',
    direct_contact_sealed     BYTEA,
    direct_reason_sealed      BYTEA,
    restriction_reason        TEXT,
    restriction_detail_sealed BYTEA,
    restriction_authorised_by TEXT NOT NULL DEFAULT '',
    restriction_review_date   DATE,
    restricted_at             TIMESTAMPTZ,
    consultation_sent_at      TIMESTAMPTZ,
    consultation_due          DATE,
    response_sealed           BYTEA,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL
);
CREATE INDEX family_members_by_review ON family_members (review_id, created_at, id);
CREATE INDEX family_members_restriction_due ON family_members (restriction_review_date) WHERE restriction_reason IS NOT NULL;

CREATE TABLE family_contacts (
    id             UUID PRIMARY KEY,
    member_id      UUID NOT NULL REFERENCES family_members (id),
    contacted_at   TIMESTAMPTZ NOT NULL,
    made_by        TEXT NOT NULL,
    route          TEXT NOT NULL,
    summary_sealed BYTEA NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE family_contributions (
    id           UUID PRIMARY KEY,
    member_id    UUID NOT NULL REFERENCES family_members (id),
    views_sealed BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE restriction_alerts (
    member_id   UUID NOT NULL,
    review_date DATE NOT NULL,
    raised_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, review_date)
);
