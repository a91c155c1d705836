-- The review projection is one platform module over the same columns in every service
-- (`cspr_platform::projection::reviews`): the scope period joins the actions table, filled
-- from the next terms of reference; nothing in the actions service reads it yet.
ALTER TABLE reviews
    ADD COLUMN scope_start DATE,
    ADD COLUMN scope_end   DATE;
