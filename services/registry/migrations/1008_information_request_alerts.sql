-- Requests for information whose overdue reminder was raised, so each is announced once
-- however many sweeps and replicas run.
CREATE TABLE information_request_alerts (
    request_id UUID PRIMARY KEY REFERENCES information_requests (id),
    raised_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
