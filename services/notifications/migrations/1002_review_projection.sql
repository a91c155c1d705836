-- The review projection is one platform module over the same columns in every service
-- (`cspr_platform::projection::reviews`): the appointed reviewer and the scope period join
-- the notifications table, filled from the next such events; the emails do not use them.
ALTER TABLE reviews
    ADD COLUMN reviewer_subject TEXT,
    ADD COLUMN scope_start      DATE,
    ADD COLUMN scope_end        DATE;
