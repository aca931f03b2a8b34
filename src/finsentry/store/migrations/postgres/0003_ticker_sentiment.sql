-- Per-company sentiment: each ticker of an item gets the sentiment towards that company (scored
-- towards its mention in the text; the headline's where the text names no mention of it).
-- items.ticker_sentiment holds them as JSON [[ticker, p_negative, p_neutral, p_positive, basis]]
-- so re-aggregation rebuilds ticker windows from them; item_tickers gains the probabilities and
-- the basis beside its (now per-ticker) score and sentiment. Rows written before this migration
-- keep the headline's sentiment, marked basis 'headline'.
ALTER TABLE items ADD COLUMN ticker_sentiment text NOT NULL DEFAULT '[]';
ALTER TABLE item_tickers ADD COLUMN p_negative double precision NOT NULL DEFAULT 0;
ALTER TABLE item_tickers ADD COLUMN p_neutral double precision NOT NULL DEFAULT 0;
ALTER TABLE item_tickers ADD COLUMN p_positive double precision NOT NULL DEFAULT 0;
ALTER TABLE item_tickers ADD COLUMN basis text NOT NULL DEFAULT 'headline';
UPDATE item_tickers t SET p_negative = i.p_negative, p_neutral = i.p_neutral,
    p_positive = i.p_positive
FROM items i WHERE i.id = t.item_id;
