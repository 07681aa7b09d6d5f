-- PostgreSQL: every espd keeps one connection listening on
-- 'esp_generations' (src/db/db_pg_listen.c) and reuses the generations it
-- read while no notification arrives, instead of reading them again for
-- every request that loads a session or asks OCSP. Whatever moves a
-- generation writes this table, so a statement trigger on the table itself
-- notifies for every writer: espd, espctl, another espd, an administrator's
-- SQL. The server delivers it when (and only if) the transaction commits,
-- once per transaction however many rows moved.
-- SQLite needs none: its commit mark is the WAL index (db_sqlite.c).
{{POSTGRESQL}}
CREATE FUNCTION esp_generations_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('esp_generations', '');
	RETURN NULL;
END
$$;
CREATE TRIGGER generations_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON generations
	FOR EACH STATEMENT EXECUTE FUNCTION esp_generations_notify();
{{END}}
