-- A deep page of a reviewer's queue right after a change (交通运输部's 已通过
-- page 999): the page was found by OFFSET, which walks every index entry
-- before it (50,000) each time the queue changed. espd now keeps the key of
-- a row near each page it served (registration_queue_marked) and starts the
-- next one from there; that is only right while it knows where that row
-- stands in the queue.
--
-- Two more counters per (authority, state), moved by the same triggers as n
-- (019), whoever writes: ins counts the rows that came in by INSERT, moves
-- every other way a row came in, left, or changed its place in the order
-- (state or authority changed, created_at changed, deleted). While a
-- subtree's moves stay the same, its queue only grew by inserts; when the
-- rows above the queue's first kept row are exactly as many as the new
-- inserts, every kept row went down by that many, and its place is known
-- without walking. Anything else and espd walks as before.
ALTER TABLE queue_counts ADD COLUMN ins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE queue_counts ADD COLUMN moves BIGINT NOT NULL DEFAULT 0;

{{SQLITE}}
DROP TRIGGER registrations_insert_count;
DROP TRIGGER registrations_delete_count;
DROP TRIGGER registrations_move_count;
CREATE TRIGGER registrations_insert_count AFTER INSERT ON registrations
BEGIN
	INSERT INTO queue_counts (authority_id, state, shard, n, ins)
		VALUES (NEW.authority_id, NEW.state, 0, 1, 1)
		ON CONFLICT (authority_id, state, shard) DO UPDATE SET n = n + 1, ins = ins + 1;
END;
CREATE TRIGGER registrations_delete_count AFTER DELETE ON registrations
BEGIN
	UPDATE queue_counts SET n = n - 1, moves = moves + 1
		WHERE authority_id = OLD.authority_id AND state = OLD.state AND shard = 0;
END;
CREATE TRIGGER registrations_move_count AFTER UPDATE OF state, authority_id, created_at
	ON registrations
	WHEN OLD.state <> NEW.state OR OLD.authority_id <> NEW.authority_id
		OR OLD.created_at <> NEW.created_at
BEGIN
	UPDATE queue_counts SET n = n - 1, moves = moves + 1
		WHERE authority_id = OLD.authority_id AND state = OLD.state AND shard = 0;
	INSERT INTO queue_counts (authority_id, state, shard, n, moves)
		VALUES (NEW.authority_id, NEW.state, 0, 1, 1)
		ON CONFLICT (authority_id, state, shard) DO UPDATE SET n = n + 1, moves = moves + 1;
END;
{{END}}
{{POSTGRESQL}}
-- Both tables are read by every page of a queue (queue_counts) or after
-- every commit (generations), and both were spread over hundreds of mostly
-- empty pages by the updates of a bulk load (a national fill: 1,073 rows of
-- queue_counts on 368 pages, 320 of generations on 334; the subtree's sums
-- took 1.4 ms). They are written again whole, compact, with room on each
-- page for its rows' next versions (HOT updates: no new page, no index
-- entry). queue_counts' shards are added up into shard 0; the writers make
-- their own shard's row again when they need it.
CREATE TEMPORARY TABLE queue_counts_sum ON COMMIT DROP AS
	SELECT authority_id, state, SUM(n) AS n, SUM(ins) AS ins, SUM(moves) AS moves
	FROM queue_counts GROUP BY authority_id, state;
TRUNCATE queue_counts;
ALTER TABLE queue_counts SET (fillfactor = 25);
INSERT INTO queue_counts (authority_id, state, shard, n, ins, moves)
	SELECT authority_id, state, 0, n, ins, moves FROM queue_counts_sum;
CREATE TEMPORARY TABLE generations_copy ON COMMIT DROP AS SELECT * FROM generations;
TRUNCATE generations;
INSERT INTO generations SELECT * FROM generations_copy;
CREATE OR REPLACE FUNCTION esp_queue_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		INSERT INTO queue_counts (authority_id, state, shard, n, moves)
			VALUES (OLD.authority_id, OLD.state, pg_backend_pid() % 64, -1, 1)
			ON CONFLICT (authority_id, state, shard)
			DO UPDATE SET n = queue_counts.n - 1, moves = queue_counts.moves + 1;
	END IF;
	IF TG_OP = 'UPDATE' THEN
		INSERT INTO queue_counts (authority_id, state, shard, n, moves)
			VALUES (NEW.authority_id, NEW.state, pg_backend_pid() % 64, 1, 1)
			ON CONFLICT (authority_id, state, shard)
			DO UPDATE SET n = queue_counts.n + 1, moves = queue_counts.moves + 1;
	END IF;
	IF TG_OP = 'INSERT' THEN
		INSERT INTO queue_counts (authority_id, state, shard, n, ins)
			VALUES (NEW.authority_id, NEW.state, pg_backend_pid() % 64, 1, 1)
			ON CONFLICT (authority_id, state, shard)
			DO UPDATE SET n = queue_counts.n + 1, ins = queue_counts.ins + 1;
	END IF;
	RETURN NULL;
END
$$;
DROP TRIGGER registrations_move_count ON registrations;
CREATE TRIGGER registrations_move_count AFTER UPDATE OF state, authority_id, created_at
	ON registrations
	FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
		OR OLD.authority_id IS DISTINCT FROM NEW.authority_id
		OR OLD.created_at IS DISTINCT FROM NEW.created_at)
	EXECUTE FUNCTION esp_queue_count();
{{END}}
