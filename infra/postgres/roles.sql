-- Roles for a finsentry PostgreSQL database. Run once as a superuser, e.g.
--   psql -v writer_password="'...'" -v reader_password="'...'" -f infra/postgres/roles.sql
-- then point the pipeline at  postgresql://finsentry:...@host/finsentry  (FINSENTRY_DB)
-- and Grafana's PostgreSQL data source at the read-only role.

CREATE ROLE finsentry LOGIN PASSWORD :writer_password;
CREATE DATABASE finsentry OWNER finsentry;

\connect finsentry

-- The pipeline owns the schema (finsentry db upgrade creates the tables as this role).
ALTER SCHEMA public OWNER TO finsentry;

-- Grafana reads, never writes, and reads only what the dashboards need: its grants are in
-- grafana_reader.sql, run after `finsentry db upgrade` has created the tables (not SELECT on every
-- table: notifications hold delivery details, dead_letters the raw bytes of rejected records).
CREATE ROLE grafana_reader LOGIN PASSWORD :reader_password;
GRANT CONNECT ON DATABASE finsentry TO grafana_reader;
