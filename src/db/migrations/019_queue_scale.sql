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
{{END}}
{{POSTGRESQL}}
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
{{END}}
