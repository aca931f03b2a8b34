-- Several workers on one store: each reads what the others stored or re-marked since its last
-- batch (items.ingested_at, and items.marked_at, set when a later-arriving earlier copy changes an
-- item's duplicate marks), to de-duplicate against them and to re-read the windows they changed.
ALTER TABLE items ADD COLUMN marked_at TEXT;
CREATE INDEX items_ingested_at ON items (ingested_at);
CREATE INDEX items_marked_at ON items (marked_at);
