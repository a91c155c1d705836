-- The actions service's plan of each review: active from publication (ACTION_MONITORING
-- follows), complete when every action is verified or cancelled (CLOSED may follow).
ALTER TABLE reviews ADD COLUMN action_plan_active BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE reviews ADD COLUMN action_plan_completed BOOLEAN NOT NULL DEFAULT false;
