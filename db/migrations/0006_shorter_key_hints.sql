-- Licence key hints keep the last 3 symbols (2 random + the check symbol) instead of 5, so a copy of
-- the database leaves 130 secret bits of every key (server/lib/keys.ts, docs/keys.md). Keys already
-- issued are unchanged and keep working; only their stored hint is shortened.
UPDATE `licenses` SET `key_hint` = substr(`key_hint`, -3) WHERE length(`key_hint`) > 3;
