-- Generations: counters that go up whenever something a cache in espd
-- shows may have changed. espd reads them (one statement) and reuses what
-- it rendered or looked up while they stay the same: the reviewers' queues
-- (registrations and the authorities' names) and the sessions (a session,
-- its account, its authority and the certificate it was opened with).
-- Triggers bump them, so that every writer -- espd, espctl, another espd on
-- the same PostgreSQL database, an administrator's SQL -- keeps the caches
-- right. A session's own expiry is checked by time, not through this.
-- Inserting a session or an account changes nothing already cached.
CREATE TABLE generations (
	name TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO generations (name, value) VALUES ('registrations', 0);
INSERT INTO generations (name, value) VALUES ('sessions', 0);
DELETE FROM settings WHERE name = 'registrations_generation';

{{SQLITE}}
CREATE TRIGGER registrations_insert_gen AFTER INSERT ON registrations
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'registrations';
END;
CREATE TRIGGER registrations_update_gen AFTER UPDATE ON registrations
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'registrations';
END;
CREATE TRIGGER registrations_delete_gen AFTER DELETE ON registrations
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'registrations';
END;
CREATE TRIGGER authorities_update_gen AFTER UPDATE OF name, path, parent_id ON authorities
BEGIN
	UPDATE generations SET value = value + 1 WHERE name IN ('registrations', 'sessions');
END;
CREATE TRIGGER authorities_delete_gen AFTER DELETE ON authorities
BEGIN
	UPDATE generations SET value = value + 1 WHERE name IN ('registrations', 'sessions');
END;
CREATE TRIGGER sessions_update_gen AFTER UPDATE ON sessions
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'sessions';
END;
CREATE TRIGGER sessions_delete_gen AFTER DELETE ON sessions
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'sessions';
END;
CREATE TRIGGER accounts_update_gen AFTER UPDATE OF username, display_name, role, status, registration_id, authority_id, province_code ON accounts
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'sessions';
END;
CREATE TRIGGER accounts_delete_gen AFTER DELETE ON accounts
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'sessions';
END;
CREATE TRIGGER certificates_update_gen AFTER UPDATE OF serial, status, not_after ON certificates
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'sessions';
END;
CREATE TRIGGER certificates_delete_gen AFTER DELETE ON certificates
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'sessions';
END;
{{END}}
{{POSTGRESQL}}
CREATE FUNCTION esp_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = ANY (TG_ARGV);
	RETURN NULL;
END
$$;
CREATE TRIGGER registrations_insert_gen AFTER INSERT ON registrations
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('registrations');
CREATE TRIGGER registrations_update_gen AFTER UPDATE ON registrations
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('registrations');
CREATE TRIGGER registrations_delete_gen AFTER DELETE ON registrations
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('registrations');
CREATE TRIGGER authorities_update_gen AFTER UPDATE OF name, path, parent_id ON authorities
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('registrations', 'sessions');
CREATE TRIGGER authorities_delete_gen AFTER DELETE ON authorities
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('registrations', 'sessions');
CREATE TRIGGER sessions_update_gen AFTER UPDATE ON sessions
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('sessions');
CREATE TRIGGER sessions_delete_gen AFTER DELETE ON sessions
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('sessions');
CREATE TRIGGER accounts_update_gen AFTER UPDATE OF username, display_name, role, status, registration_id, authority_id, province_code ON accounts
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('sessions');
CREATE TRIGGER accounts_delete_gen AFTER DELETE ON accounts
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('sessions');
CREATE TRIGGER certificates_update_gen AFTER UPDATE OF serial, status, not_after ON certificates
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('sessions');
CREATE TRIGGER certificates_delete_gen AFTER DELETE ON certificates
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('sessions');
{{END}}
