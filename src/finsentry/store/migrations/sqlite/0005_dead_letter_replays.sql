-- finsentry dead-letters replay: when a dead letter was read again and stored as an item (after
-- the cause was fixed: a --field mapping, a time zone, a limit). NULL: not replayed.
ALTER TABLE dead_letters ADD COLUMN replayed_at TEXT;
CREATE INDEX dead_letters_reason ON dead_letters (reason_code);
