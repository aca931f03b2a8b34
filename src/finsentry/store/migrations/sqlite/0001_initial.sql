-- finsentry schema, SQLite. Timestamps are fixed-width ISO-8601 UTC text
-- (YYYY-MM-DDTHH:MM:SS.ffffff+00:00), so text order is time order.

CREATE TABLE items (
    id            TEXT PRIMARY KEY,
    published_at  TEXT NOT NULL,
    ingested_at   TEXT NOT NULL,
    source        TEXT NOT NULL,
    headline      TEXT NOT NULL,
    body          TEXT,
    url           TEXT,
    lang          TEXT NOT NULL,
    tickers       TEXT NOT NULL,          -- JSON array: tickers found
    input_tickers TEXT NOT NULL,          -- JSON array: tickers given in the input
    sentiment     TEXT NOT NULL,
    p_negative    REAL NOT NULL,
    p_neutral     REAL NOT NULL,
    p_positive    REAL NOT NULL,
    score         REAL NOT NULL,
    topic         TEXT NOT NULL,
    topic_prob    REAL NOT NULL,
    model         TEXT NOT NULL,
    novel         INTEGER NOT NULL,
    duplicate_of  TEXT,
    late          INTEGER NOT NULL,
    input         TEXT NOT NULL,
    position      INTEGER NOT NULL,
    fingerprint   TEXT NOT NULL
);
CREATE INDEX items_published_at ON items (published_at);
CREATE INDEX items_topic ON items (topic, published_at);
CREATE INDEX items_source ON items (source, published_at);

CREATE TABLE item_tickers (
    item_id       TEXT NOT NULL,
    ticker        TEXT NOT NULL,
    published_at  TEXT NOT NULL,
    score         REAL NOT NULL,
    sentiment     TEXT NOT NULL,
    PRIMARY KEY (item_id, ticker)
);
CREATE INDEX item_tickers_ticker ON item_tickers (ticker, published_at);

CREATE TABLE window_stats (
    window_size_s INTEGER NOT NULL,
    window_start  TEXT NOT NULL,
    window_end    TEXT NOT NULL,
    scope_kind    TEXT NOT NULL,
    scope_value   TEXT NOT NULL,
    count         INTEGER NOT NULL DEFAULT 0,
    negative      INTEGER NOT NULL DEFAULT 0,
    neutral       INTEGER NOT NULL DEFAULT 0,
    positive      INTEGER NOT NULL DEFAULT 0,
    score_sum     REAL NOT NULL DEFAULT 0,
    duplicates    INTEGER NOT NULL DEFAULT 0,
    late          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (window_size_s, window_start, scope_kind, scope_value)
);
CREATE INDEX window_stats_scope ON window_stats (scope_kind, scope_value, window_size_s, window_start);

CREATE TABLE alerts (
    id            TEXT PRIMARY KEY,
    rule          TEXT NOT NULL,
    scope_kind    TEXT NOT NULL,
    scope_value   TEXT NOT NULL,
    metric        TEXT NOT NULL,
    window_start  TEXT NOT NULL,
    window_end    TEXT NOT NULL,
    fired_at      TEXT NOT NULL,
    severity      TEXT NOT NULL,
    observed      REAL NOT NULL,
    expected      REAL NOT NULL,
    evidence      TEXT NOT NULL,          -- JSON array of Evidence.to_json()
    status        TEXT NOT NULL,
    resolved_at   TEXT,
    UNIQUE (rule, scope_kind, scope_value, window_start)
);
CREATE INDEX alerts_window_start ON alerts (window_start);

CREATE TABLE dead_letters (
    key           TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    input         TEXT NOT NULL,
    position      INTEGER NOT NULL,
    reason_code   TEXT NOT NULL,
    reason        TEXT NOT NULL,
    raw           BLOB NOT NULL,
    received_at   TEXT NOT NULL
);
CREATE INDEX dead_letters_received_at ON dead_letters (received_at);

CREATE TABLE notifications (
    key             TEXT PRIMARY KEY,
    alert_id        TEXT NOT NULL,
    channel         TEXT NOT NULL,
    payload         TEXT NOT NULL,        -- JSON
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);

CREATE TABLE batches (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    flushed_at    TEXT NOT NULL,
    source        TEXT NOT NULL,
    consumed      INTEGER NOT NULL,
    processed     INTEGER NOT NULL,
    dead_lettered INTEGER NOT NULL,
    duplicates    INTEGER NOT NULL,
    late          INTEGER NOT NULL,
    lag_ms_mean   REAL NOT NULL,
    lag_ms_max    REAL NOT NULL,
    scoring_ms    REAL NOT NULL
);
CREATE INDEX batches_flushed_at ON batches (flushed_at);

CREATE TABLE pipeline_state (
    key           TEXT PRIMARY KEY,
    value         TEXT NOT NULL           -- JSON
);

CREATE TABLE mutes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    scope_kind    TEXT NOT NULL,
    scope_value   TEXT NOT NULL,
    rule          TEXT,                   -- NULL: every rule
    until         TEXT NOT NULL,
    reason        TEXT NOT NULL
);
CREATE INDEX mutes_scope ON mutes (scope_kind, scope_value, until);
