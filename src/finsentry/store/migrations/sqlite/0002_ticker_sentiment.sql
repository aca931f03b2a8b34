-- Per-company sentiment: each ticker of an item gets the sentiment towards that company (scored
-- towards its mention in the text; the headline's where the text names no mention of it).
-- items.ticker_sentiment holds them as JSON [[ticker, p_negative, p_neutral, p_positive, basis]]
-- so re-aggregation rebuilds ticker windows from them; item_tickers gains the probabilities and
-- the basis beside its (now per-ticker) score and sentiment. Rows written before this migration
-- keep the headline's sentiment, marked basis 'headline'.
ALTER TABLE items ADD COLUMN ticker_sentiment TEXT NOT NULL DEFAULT '[]';
ALTER TABLE item_tickers ADD COLUMN p_negative REAL NOT NULL DEFAULT 0;
ALTER TABLE item_tickers ADD COLUMN p_neutral REAL NOT NULL DEFAULT 0;
ALTER TABLE item_tickers ADD COLUMN p_positive REAL NOT NULL DEFAULT 0;
ALTER TABLE item_tickers ADD COLUMN basis TEXT NOT NULL DEFAULT 'headline';
UPDATE item_tickers SET
    p_negative = (SELECT i.p_negative FROM items i WHERE i.id = item_tickers.item_id),
    p_neutral = (SELECT i.p_neutral FROM items i WHERE i.id = item_tickers.item_id),
    p_positive = (SELECT i.p_positive FROM items i WHERE i.id = item_tickers.item_id)
WHERE EXISTS (SELECT 1 FROM items i WHERE i.id = item_tickers.item_id);
