-- The review projection is one platform module over the same columns in every service
-- (`cspr_platform::projection::reviews`): the scope period joins the family's table. Rows
-- of reviews whose terms of reference came before this migration keep NULL until the next
-- terms of reference; nothing in the family service reads the scope yet.
ALTER TABLE reviews
    ADD COLUMN scope_start DATE,
    ADD COLUMN scope_end   DATE;
