-- What Grafana's read-only role may read: the tables the dashboards and the health alert rules
-- query, and of dead_letters and notifications only the columns without raw bytes, payloads,
-- error texts or addresses. Run as a superuser (or the schema owner) after `finsentry db upgrade`,
-- and again after an upgrade that adds tables:
--   psql -d finsentry -f infra/postgres/grafana_reader.sql
-- tests/integration/test_grafana_sql.py runs every panel and rule query under this role.
GRANT USAGE ON SCHEMA public TO grafana_reader;
GRANT SELECT ON items, item_tickers, window_stats, alerts, batches TO grafana_reader;
GRANT SELECT (key, source, input, position, reason_code, reason, received_at)
    ON dead_letters TO grafana_reader;
GRANT SELECT (key, alert_id, channel, status, attempts, next_attempt_at, created_at, delivered_at)
    ON notifications TO grafana_reader;
