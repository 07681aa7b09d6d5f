-- The reviewers' queues at national scale (a million registrations, bench/
-- national_bench.sh). After every change a queue page was made again from
-- the store: COUNT(*) over the reviewer's subtree and a sort of every row in
-- it, 100-500 ms for 交通运输部 on either engine.
--
-- queue_counts keeps how many registrations each authority has in each
-- state, moved by triggers whoever writes, so a subtree's total is a sum of
-- at most a few hundred rows. On PostgreSQL each (authority, state) has up to
-- 64 rows, one per connection's shard (backend pid mod 64), as the
-- generations have (013): two registrations at once under one authority
-- never update the same row, so neither waits nor retries. SQLite has one
-- writer and keeps shard 0 only.
--
-- registrations_order and registrations_recent hold a queue's order with the
-- authority: a wide subtree's page walks them newest first and stops after
-- its rows, reading no table row it does not show. registrations_subtree
-- holds every column a narrow subtree's page needs to find its ids (a city's
-- queue of every state; PostgreSQL, whose indexes do not carry the row id,
-- for a single state too), so neither engine reads a table row it skips.
CREATE TABLE queue_counts (
	authority_id BIGINT NOT NULL,
	state TEXT NOT NULL,
	shard INTEGER NOT NULL,
	n BIGINT NOT NULL,
	PRIMARY KEY (authority_id, state, shard)
);
INSERT INTO queue_counts (authority_id, state, shard, n)
	SELECT authority_id, state, 0, COUNT(*) FROM registrations GROUP BY authority_id, state;
CREATE INDEX registrations_order ON registrations(state, created_at, id, authority_id);
CREATE INDEX registrations_recent ON registrations(created_at, id, authority_id);
CREATE INDEX registrations_subtree ON registrations(authority_id, created_at, id, state);

-- The RA back office the same way: its lists filter by province and kind and
-- order by submission, so each application carries its registration's
-- province and kind (set and kept by triggers whoever writes), indexed in
-- that order; app_counts keeps the figures by province, kind and state.
ALTER TABLE applications ADD COLUMN province_code TEXT;
ALTER TABLE applications ADD COLUMN kind TEXT;
UPDATE applications SET
	province_code = (SELECT r.province_code FROM registrations r WHERE r.id = applications.registration_id),
	kind = (SELECT r.kind FROM registrations r WHERE r.id = applications.registration_id);
-- The walks in submission order carry what the overdue test reads, so that
-- a deep page skips its rows in the index alone.
CREATE INDEX applications_province ON applications(province_code, submitted_at, id, state, kind,
	paid_at, materials_at);
CREATE INDEX applications_province_state ON applications(province_code, state, submitted_at, id,
	kind, paid_at, materials_at);
CREATE INDEX applications_submitted ON applications(submitted_at, id, state, kind, paid_at,
	materials_at);
CREATE INDEX applications_shipped ON applications(province_code, shipped_at);
CREATE INDEX registrations_code ON registrations(code);
CREATE INDEX applications_pickup ON applications(province_code, pickup_at);
CREATE TABLE app_counts (
	province_code TEXT NOT NULL,
	kind TEXT NOT NULL,
	state TEXT NOT NULL,
	shard INTEGER NOT NULL,
	n BIGINT NOT NULL,
	PRIMARY KEY (province_code, kind, state, shard)
);
INSERT INTO app_counts (province_code, kind, state, shard, n)
	SELECT province_code, kind, state, 0, COUNT(*) FROM applications
	WHERE province_code IS NOT NULL AND kind IS NOT NULL GROUP BY province_code, kind, state;

-- The RA's search (number, name or code contains the text) through trigram
-- indexes: SQLite's FTS5 trigram table app_search (rowid = the application's
-- id, kept by triggers), PostgreSQL's pg_trgm (a trusted extension: the
-- database's owner may create it).

{{SQLITE}}
CREATE TRIGGER registrations_insert_count AFTER INSERT ON registrations
BEGIN
	INSERT INTO queue_counts (authority_id, state, shard, n)
		VALUES (NEW.authority_id, NEW.state, 0, 1)
		ON CONFLICT (authority_id, state, shard) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER registrations_delete_count AFTER DELETE ON registrations
BEGIN
	UPDATE queue_counts SET n = n - 1
		WHERE authority_id = OLD.authority_id AND state = OLD.state AND shard = 0;
END;
CREATE TRIGGER registrations_move_count AFTER UPDATE OF state, authority_id ON registrations
	WHEN OLD.state <> NEW.state OR OLD.authority_id <> NEW.authority_id
BEGIN
	UPDATE queue_counts SET n = n - 1
		WHERE authority_id = OLD.authority_id AND state = OLD.state AND shard = 0;
	INSERT INTO queue_counts (authority_id, state, shard, n)
		VALUES (NEW.authority_id, NEW.state, 0, 1)
		ON CONFLICT (authority_id, state, shard) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER applications_place AFTER INSERT ON applications
	WHEN NEW.province_code IS NULL OR NEW.kind IS NULL
BEGIN
	UPDATE applications SET
		province_code = (SELECT province_code FROM registrations WHERE id = NEW.registration_id),
		kind = (SELECT kind FROM registrations WHERE id = NEW.registration_id)
		WHERE id = NEW.id;
END;
CREATE TRIGGER applications_insert_count AFTER INSERT ON applications
	WHEN NEW.province_code IS NOT NULL AND NEW.kind IS NOT NULL
BEGIN
	INSERT INTO app_counts (province_code, kind, state, shard, n)
		VALUES (NEW.province_code, NEW.kind, NEW.state, 0, 1)
		ON CONFLICT (province_code, kind, state, shard) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER applications_move_count AFTER UPDATE OF state, province_code, kind ON applications
	WHEN OLD.state IS NOT NEW.state OR OLD.province_code IS NOT NEW.province_code
		OR OLD.kind IS NOT NEW.kind
BEGIN
	UPDATE app_counts SET n = n - 1 WHERE province_code = OLD.province_code
		AND kind = OLD.kind AND state = OLD.state AND shard = 0;
	INSERT INTO app_counts (province_code, kind, state, shard, n)
		SELECT NEW.province_code, NEW.kind, NEW.state, 0, 1
		WHERE NEW.province_code IS NOT NULL AND NEW.kind IS NOT NULL
		ON CONFLICT (province_code, kind, state, shard) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER applications_delete_count AFTER DELETE ON applications
BEGIN
	UPDATE app_counts SET n = n - 1 WHERE province_code = OLD.province_code
		AND kind = OLD.kind AND state = OLD.state AND shard = 0;
END;
CREATE TRIGGER registrations_place_applications AFTER UPDATE OF province_code, kind ON registrations
	WHEN OLD.province_code IS NOT NEW.province_code OR OLD.kind IS NOT NEW.kind
BEGIN
	UPDATE applications SET province_code = NEW.province_code, kind = NEW.kind
		WHERE registration_id = NEW.id;
END;
CREATE VIRTUAL TABLE app_search USING fts5(number, name, code, tokenize = 'trigram', detail = 'none');
INSERT INTO app_search (rowid, number, name, code)
	SELECT a.id, a.number, r.name, r.code FROM applications a JOIN registrations r ON r.id = a.registration_id;
CREATE TRIGGER applications_search_insert AFTER INSERT ON applications
BEGIN
	INSERT INTO app_search (rowid, number, name, code)
		SELECT NEW.id, NEW.number, r.name, r.code FROM registrations r WHERE r.id = NEW.registration_id;
END;
CREATE TRIGGER applications_search_delete AFTER DELETE ON applications
BEGIN
	DELETE FROM app_search WHERE rowid = OLD.id;
END;
CREATE TRIGGER registrations_search_update AFTER UPDATE OF name, code ON registrations
BEGIN
	UPDATE app_search SET name = NEW.name, code = NEW.code
		WHERE rowid IN (SELECT id FROM applications WHERE registration_id = NEW.id);
END;
{{END}}
{{POSTGRESQL}}
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX applications_number_trgm ON applications USING gin (number gin_trgm_ops);
CREATE INDEX registrations_name_trgm ON registrations USING gin (name gin_trgm_ops);
CREATE INDEX registrations_code_trgm ON registrations USING gin (code gin_trgm_ops);
CREATE OR REPLACE FUNCTION esp_queue_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		INSERT INTO queue_counts (authority_id, state, shard, n)
			VALUES (OLD.authority_id, OLD.state, pg_backend_pid() % 64, -1)
			ON CONFLICT (authority_id, state, shard) DO UPDATE SET n = queue_counts.n - 1;
	END IF;
	IF TG_OP IN ('UPDATE', 'INSERT') THEN
		INSERT INTO queue_counts (authority_id, state, shard, n)
			VALUES (NEW.authority_id, NEW.state, pg_backend_pid() % 64, 1)
			ON CONFLICT (authority_id, state, shard) DO UPDATE SET n = queue_counts.n + 1;
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER registrations_count AFTER INSERT OR DELETE ON registrations
	FOR EACH ROW EXECUTE FUNCTION esp_queue_count();
CREATE TRIGGER registrations_move_count AFTER UPDATE OF state, authority_id ON registrations
	FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.authority_id IS DISTINCT FROM NEW.authority_id)
	EXECUTE FUNCTION esp_queue_count();
CREATE OR REPLACE FUNCTION esp_application_place() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.province_code IS NULL OR NEW.kind IS NULL THEN
		SELECT r.province_code, r.kind INTO NEW.province_code, NEW.kind
			FROM registrations r WHERE r.id = NEW.registration_id;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER applications_place BEFORE INSERT ON applications
	FOR EACH ROW EXECUTE FUNCTION esp_application_place();
CREATE OR REPLACE FUNCTION esp_app_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.province_code IS NOT NULL AND OLD.kind IS NOT NULL THEN
		INSERT INTO app_counts (province_code, kind, state, shard, n)
			VALUES (OLD.province_code, OLD.kind, OLD.state, pg_backend_pid() % 64, -1)
			ON CONFLICT (province_code, kind, state, shard) DO UPDATE SET n = app_counts.n - 1;
	END IF;
	IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.province_code IS NOT NULL AND NEW.kind IS NOT NULL THEN
		INSERT INTO app_counts (province_code, kind, state, shard, n)
			VALUES (NEW.province_code, NEW.kind, NEW.state, pg_backend_pid() % 64, 1)
			ON CONFLICT (province_code, kind, state, shard) DO UPDATE SET n = app_counts.n + 1;
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER applications_count AFTER INSERT OR DELETE ON applications
	FOR EACH ROW EXECUTE FUNCTION esp_app_count();
CREATE TRIGGER applications_move_count AFTER UPDATE OF state, province_code, kind ON applications
	FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
		OR OLD.province_code IS DISTINCT FROM NEW.province_code OR OLD.kind IS DISTINCT FROM NEW.kind)
	EXECUTE FUNCTION esp_app_count();
CREATE OR REPLACE FUNCTION esp_registration_place_applications() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE applications SET province_code = NEW.province_code, kind = NEW.kind
		WHERE registration_id = NEW.id;
	RETURN NULL;
END
$$;
CREATE TRIGGER registrations_place_applications AFTER UPDATE OF province_code, kind ON registrations
	FOR EACH ROW WHEN (OLD.province_code IS DISTINCT FROM NEW.province_code OR OLD.kind IS DISTINCT FROM NEW.kind)
	EXECUTE FUNCTION esp_registration_place_applications();
{{END}}
