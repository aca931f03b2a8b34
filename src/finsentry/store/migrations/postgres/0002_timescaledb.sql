-- Optional TimescaleDB: when the extension can be created (installed and preloaded), window_stats
-- becomes a hypertable partitioned on window_start (its primary key already holds the time
-- column). items keeps a plain primary key on id (a hypertable would need published_at in every
-- unique key, which would break the upsert by item id) and stays a plain table with BRIN indexes.
-- Without TimescaleDB this migration does nothing and the plain tables + BRIN indexes serve.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            PERFORM create_hypertable('window_stats', 'window_start',
                                      chunk_time_interval => interval '7 days',
                                      if_not_exists => TRUE, migrate_data => TRUE);
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'TimescaleDB not usable (%); keeping plain tables', SQLERRM;
        END;
    END IF;
END
$$;
