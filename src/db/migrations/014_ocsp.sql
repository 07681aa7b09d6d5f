-- The OCSP responder's cache (src/core/ocsp_answer.c) keeps each
-- certificate's signed answer until the certificate's status changes: this
-- counter goes up with every such change, whoever makes it. A new
-- certificate bumps nothing: the cache never keeps an "unknown".
-- On PostgreSQL a counter is 64 shards (013_cluster.sql), each bumped by the
-- connections whose backend pid falls on it, and read as their sum.

{{SQLITE}}
INSERT INTO generations (name, value) VALUES ('certificates', 0);
CREATE TRIGGER certificates_status_gen AFTER UPDATE OF serial, status, revoked_at, revoke_reason ON certificates
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'certificates';
END;
CREATE TRIGGER certificates_delete_ocsp_gen AFTER DELETE ON certificates
BEGIN
	UPDATE generations SET value = value + 1 WHERE name = 'certificates';
END;
{{END}}
{{POSTGRESQL}}
INSERT INTO generations (name, shard, value)
	SELECT 'certificates', s, 0 FROM generate_series(0, 63) s;
CREATE TRIGGER certificates_status_gen AFTER UPDATE OF serial, status, revoked_at, revoke_reason ON certificates
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('certificates');
CREATE TRIGGER certificates_delete_ocsp_gen AFTER DELETE ON certificates
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('certificates');
{{END}}
