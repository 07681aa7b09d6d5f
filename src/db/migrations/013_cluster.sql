-- Several espd on one store (PostgreSQL), found wanting with two of them:
--
-- Generations commute. Every registration bumped the one 'registrations'
-- row, and under SERIALIZABLE two registrations at once made one of them
-- retry (on two espd 12 % of a burst ran out of retries). On PostgreSQL
-- each counter is now 64 rows (shards); a transaction bumps the shard of
-- its own connection (backend pid mod 64) and readers add them up. The sum
-- only grows, and only when a change commits, so a cache keyed by it is as
-- right as before. Fillfactor 10 keeps every update on its page (HOT): no
-- index entry is written, so two bumps of different shards never conflict.
-- SQLite has one writer at a time and keeps shard 0 only.
--
-- A 'settings' generation: every espd reloads the rules' numbers (settings)
-- within a second of a change made anywhere. A renamed province moves the
-- registrations' and sessions' generations as a renamed authority does.
--
-- instances: every espd start takes a number; request ids start at
-- number * 10^12, so no two processes give the same request id.
-- leases: the maintenance jobs (CRL re-sign, purges, the audit anchor) run
-- in the one process holding the lease, not once per process.
-- deployment: what every process must agree on (the issuing CA's
-- fingerprint, public_url); espd refuses to start when its own differ and
-- espctl init refuses to make a second CA for a store that has one.
ALTER TABLE generations ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
INSERT INTO generations (name, value, shard) VALUES ('settings', 0, 0);

CREATE TABLE instances (
	id {{ID}},
	host TEXT NOT NULL,
	pid BIGINT NOT NULL,
	started_at BIGINT NOT NULL
);
CREATE TABLE leases (
	name TEXT PRIMARY KEY,
	holder BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE TABLE deployment (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

{{SQLITE}}
CREATE TRIGGER settings_insert_gen AFTER INSERT ON settings
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'settings';
END;
CREATE TRIGGER settings_update_gen AFTER UPDATE ON settings
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'settings';
END;
CREATE TRIGGER settings_delete_gen AFTER DELETE ON settings
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'settings';
END;
CREATE TRIGGER provinces_update_gen AFTER UPDATE OF name ON provinces
BEGIN
	UPDATE generations SET value = value + 1 WHERE name IN ('registrations', 'sessions');
END;
{{END}}
{{POSTGRESQL}}
ALTER TABLE generations DROP CONSTRAINT generations_pkey;
ALTER TABLE generations ADD PRIMARY KEY (name, shard);
INSERT INTO generations (name, shard, value)
	SELECT g.name, s, 0 FROM (SELECT DISTINCT name FROM generations) g, generate_series(1, 63) s;
ALTER TABLE generations SET (fillfactor = 10);
ALTER INDEX generations_pkey SET (fillfactor = 10);
CREATE OR REPLACE FUNCTION esp_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE generations SET value = value + 1
		WHERE name = ANY (TG_ARGV) AND shard = pg_backend_pid() % 64;
	RETURN NULL;
END
$$;
CREATE TRIGGER settings_insert_gen AFTER INSERT ON settings
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('settings');
CREATE TRIGGER settings_update_gen AFTER UPDATE ON settings
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('settings');
CREATE TRIGGER settings_delete_gen AFTER DELETE ON settings
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('settings');
CREATE TRIGGER provinces_update_gen AFTER UPDATE OF name ON provinces
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('registrations', 'sessions');
{{END}}
