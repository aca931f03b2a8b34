-- finsentry schema, PostgreSQL (the tables Grafana's SQL reads).
-- Time columns are timestamptz; time-range scans use BRIN indexes (rows arrive roughly in time
-- order), per-scope dashboard queries use btree (scope_kind, scope_value, size, window_start).

CREATE TABLE items (
    id            text PRIMARY KEY,
    published_at  timestamptz NOT NULL,
    ingested_at   timestamptz NOT NULL,
    source        text NOT NULL,
    headline      text NOT NULL,
    body          text,
    url           text,
    lang          text NOT NULL,
    tickers       text[] NOT NULL,         -- tickers found
    input_tickers text[] NOT NULL,         -- tickers given in the input
    sentiment     text NOT NULL,
    p_negative    double precision NOT NULL,
    p_neutral     double precision NOT NULL,
    p_positive    double precision NOT NULL,
    score         double precision NOT NULL,
    topic         text NOT NULL,
    topic_prob    double precision NOT NULL,
    model         text NOT NULL,
    novel         boolean NOT NULL,
    duplicate_of  text,
    late          boolean NOT NULL,
    input         text NOT NULL,
    position      bigint NOT NULL,
    fingerprint   text NOT NULL
);
CREATE INDEX items_published_at_brin ON items USING brin (published_at);
CREATE INDEX items_published_at ON items (published_at DESC);
CREATE INDEX items_topic ON items (topic, published_at DESC);
CREATE INDEX items_source ON items (source, published_at DESC);

CREATE TABLE item_tickers (
    item_id       text NOT NULL,
    ticker        text NOT NULL,
    published_at  timestamptz NOT NULL,
    score         double precision NOT NULL,
    sentiment     text NOT NULL,
    PRIMARY KEY (item_id, ticker)
);
CREATE INDEX item_tickers_ticker ON item_tickers (ticker, published_at DESC);
CREATE INDEX item_tickers_published_at_brin ON item_tickers USING brin (published_at);

CREATE TABLE window_stats (
    window_size_s integer NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    scope_kind    text NOT NULL,
    scope_value   text NOT NULL,
    count         bigint NOT NULL DEFAULT 0,
    negative      bigint NOT NULL DEFAULT 0,
    neutral       bigint NOT NULL DEFAULT 0,
    positive      bigint NOT NULL DEFAULT 0,
    score_sum     double precision NOT NULL DEFAULT 0,
    duplicates    bigint NOT NULL DEFAULT 0,
    late          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (window_size_s, window_start, scope_kind, scope_value)
);
CREATE INDEX window_stats_start_brin ON window_stats USING brin (window_start);
CREATE INDEX window_stats_scope ON window_stats (scope_kind, scope_value, window_size_s, window_start);

CREATE TABLE alerts (
    id            text PRIMARY KEY,
    rule          text NOT NULL,
    scope_kind    text NOT NULL,
    scope_value   text NOT NULL,
    metric        text NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    fired_at      timestamptz NOT NULL,
    severity      text NOT NULL,
    observed      double precision NOT NULL,
    expected      double precision NOT NULL,
    evidence      jsonb NOT NULL,
    status        text NOT NULL,
    resolved_at   timestamptz,
    UNIQUE (rule, scope_kind, scope_value, window_start)
);
CREATE INDEX alerts_window_start ON alerts (window_start);
CREATE INDEX alerts_fired_at_brin ON alerts USING brin (fired_at);

CREATE TABLE dead_letters (
    key           text PRIMARY KEY,
    source        text NOT NULL,
    input         text NOT NULL,
    position      bigint NOT NULL,
    reason_code   text NOT NULL,
    reason        text NOT NULL,
    raw           bytea NOT NULL,
    received_at   timestamptz NOT NULL
);
CREATE INDEX dead_letters_received_at_brin ON dead_letters USING brin (received_at);
CREATE INDEX dead_letters_reason ON dead_letters (reason_code);

CREATE TABLE notifications (
    key             text PRIMARY KEY,
    alert_id        text NOT NULL,
    channel         text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL,
    attempts        integer NOT NULL,
    next_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';

CREATE TABLE batches (
    id            bigserial PRIMARY KEY,
    flushed_at    timestamptz NOT NULL,
    source        text NOT NULL,
    consumed      integer NOT NULL,
    processed     integer NOT NULL,
    dead_lettered integer NOT NULL,
    duplicates    integer NOT NULL,
    late          integer NOT NULL,
    lag_ms_mean   double precision NOT NULL,
    lag_ms_max    double precision NOT NULL,
    scoring_ms    double precision NOT NULL
);
CREATE INDEX batches_flushed_at_brin ON batches USING brin (flushed_at);

CREATE TABLE pipeline_state (
    key           text PRIMARY KEY,
    value         jsonb NOT NULL
);

CREATE TABLE mutes (
    id            bigserial PRIMARY KEY,
    scope_kind    text NOT NULL,
    scope_value   text NOT NULL,
    rule          text,                    -- NULL: every rule
    until         timestamptz NOT NULL,
    reason        text NOT NULL
);
CREATE INDEX mutes_scope ON mutes (scope_kind, scope_value, until);
