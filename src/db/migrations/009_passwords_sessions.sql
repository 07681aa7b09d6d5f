-- Idle sessions and forced password changes.
--
-- A session now ends after idle_seconds without a request (last_seen is
-- moved forward at most about once a minute) or at expires_at, whichever
-- comes first. Sessions open at the upgrade keep their old lifetime as
-- their idle time, so none ends earlier than promised.
--
-- An account whose password an administrator reset carries
-- must_change_password until its holder sets a new one.
--
-- Generations (007_generations.sql): moving last_seen must not move the
-- sessions' generation, or every active user would empty every espd's
-- session cache once a minute; the cache checks idle time by the clock as
-- it does expiry. The flag, on the other hand, is part of what a session
-- lookup answers, so changing it moves the generation.
ALTER TABLE sessions ADD COLUMN last_seen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN idle_seconds BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen = created_at, idle_seconds = expires_at - created_at;
ALTER TABLE accounts ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;

{{SQLITE}}
DROP TRIGGER sessions_update_gen;
CREATE TRIGGER sessions_update_gen AFTER UPDATE OF id_hash, account_id, csrf, method, cert_serial, created_at, expires_at, idle_seconds ON sessions
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'sessions';
END;
DROP TRIGGER accounts_update_gen;
CREATE TRIGGER accounts_update_gen AFTER UPDATE OF username, display_name, role, status, registration_id, authority_id, province_code, must_change_password ON accounts
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'sessions';
END;
{{END}}
{{POSTGRESQL}}
DROP TRIGGER sessions_update_gen ON sessions;
CREATE TRIGGER sessions_update_gen AFTER UPDATE OF id_hash, account_id, csrf, method, cert_serial, created_at, expires_at, idle_seconds ON sessions
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('sessions');
DROP TRIGGER accounts_update_gen ON accounts;
CREATE TRIGGER accounts_update_gen AFTER UPDATE OF username, display_name, role, status, registration_id, authority_id, province_code, must_change_password ON accounts
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('sessions');
{{END}}
