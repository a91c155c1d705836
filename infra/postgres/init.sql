-- One database per service (each service owns its data; see README.md, "Layout").
-- Run once by the postgres image's entrypoint on an empty data volume
-- (/docker-entrypoint-initdb.d). The services also create their database if it is
-- missing, so this is a convenience. Safe to run again by hand:
--   psql -U postgres -f infra/postgres/init.sql
-- CREATE DATABASE cannot run inside a transaction or a DO block, hence psql's \gexec.

SELECT format('CREATE DATABASE %I', name)
FROM unnest(ARRAY[
    'cspr_registry',
    'cspr_submissions',
    'cspr_practitioners',
    'cspr_family',
    'cspr_actions',
    'cspr_notifications'
]) AS name
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = name)
\gexec
