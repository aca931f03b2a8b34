-- Silences (finsentry silence add/list/expire) replace mutes. A silence covers the alerts on one
-- scope (and one rule, or every rule when rule is NULL) raised while it is active: from starts_at
-- until ends_at or expired_at, whichever comes first, in wall-clock time. Alerts raised inside one
-- are stored with status 'silenced' and not notified. Existing mutes become silences that started
-- at the migration and end when the mute ended.
CREATE TABLE silences (
    id            text PRIMARY KEY,
    scope_kind    text NOT NULL,
    scope_value   text NOT NULL,
    rule          text,                    -- NULL: every rule
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    comment       text NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL,
    expired_at    timestamptz              -- set by finsentry silence expire
);
CREATE INDEX silences_scope ON silences (scope_kind, scope_value, ends_at);
INSERT INTO silences (id, scope_kind, scope_value, rule, starts_at, ends_at, comment, created_by,
    created_at, expired_at)
SELECT 'mute-' || id, scope_kind, scope_value, rule, now(), until, reason, 'finsentry mute', now(),
    NULL
FROM mutes;
DROP TABLE mutes;
