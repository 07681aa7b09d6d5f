-- The daily notices (core/notify.c) in their write transaction read the
-- valid certificates expiring within 60 days and the applications issued or
-- ready to issue: without an index, on a national store (3,000,000
-- certificates, 1,000,000 applications) both were full scans that held the
-- write lock for seconds after every start, and registrations got 503.
CREATE INDEX certificates_expiring ON certificates(not_after) WHERE status = 'valid';
CREATE INDEX applications_to_issue ON applications(state) WHERE state IN ('ready_to_issue', 'issued');
-- 当前用户信息 asks, for each of the holder's certificates, the newest
-- application renewing it (ORDER BY id DESC LIMIT 1): PostgreSQL's generic
-- plan walked the applications' primary key backwards through all of them
-- (0.9 s on the national store); with the id in the index the newest one is
-- its last entry for the serial.
CREATE INDEX applications_renews_id ON applications(renews_serial, id);
DROP INDEX applications_renews;
-- The same for the newest replacement (丢失补办/损坏补办) of a certificate.
CREATE INDEX applications_replaces_id ON applications(replaces_serial, id);
DROP INDEX IF EXISTS applications_replaces;

-- A generation for what the RA's search shows (src/httpd/page_ra.c): the
-- applications, their registrations' names and codes, the provinces' names.
-- espd keeps a search's rendered result while it stays the same; a
-- registration that has no application yet (the reviewers' changes) does
-- not move it. Triggers bump it whoever writes, as 007_generations.sql's.
-- On PostgreSQL a counter is 64 shards (013_cluster.sql).

{{SQLITE}}
INSERT INTO generations (name, value) VALUES ('applications', 0);
CREATE TRIGGER applications_insert_gen AFTER INSERT ON applications
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'applications';
END;
CREATE TRIGGER applications_update_gen AFTER UPDATE ON applications
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'applications';
END;
CREATE TRIGGER applications_delete_gen AFTER DELETE ON applications
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'applications';
END;
CREATE TRIGGER registrations_search_gen AFTER UPDATE OF name, code, province_code, kind ON registrations
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'applications';
END;
CREATE TRIGGER provinces_search_gen AFTER UPDATE OF name ON provinces
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'applications';
END;
{{END}}
{{POSTGRESQL}}
INSERT INTO generations (name, shard, value)
	SELECT 'applications', s, 0 FROM generate_series(0, 63) s;
CREATE TRIGGER applications_insert_gen AFTER INSERT ON applications
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('applications');
CREATE TRIGGER applications_update_gen AFTER UPDATE ON applications
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('applications');
CREATE TRIGGER applications_delete_gen AFTER DELETE ON applications
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('applications');
CREATE TRIGGER registrations_search_gen AFTER UPDATE OF name, code, province_code, kind ON registrations
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('applications');
CREATE TRIGGER provinces_search_gen AFTER UPDATE OF name ON provinces
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('applications');
{{END}}
