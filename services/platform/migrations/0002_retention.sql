-- What the hourly retention pass deletes by: published outbox rows and inbox rows past
-- their retention (platform::bus::outbox::prune), found without reading the whole table.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX inbox_by_handled_at ON inbox (handled_at);
