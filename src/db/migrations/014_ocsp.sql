-- The OCSP responder's cache (src/core/ocsp_answer.c) keeps each
-- certificate's signed answer until the certificate's status changes: this
-- counter goes up with every such change, whoever makes it. A new
-- certificate bumps nothing: the cache never keeps an "unknown".
INSERT INTO generations (name, value) VALUES ('certificates', 0);

{{SQLITE}}
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
CREATE TRIGGER certificates_status_gen AFTER UPDATE OF serial, status, revoked_at, revoke_reason ON certificates
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('certificates');
CREATE TRIGGER certificates_delete_ocsp_gen AFTER DELETE ON certificates
	FOR EACH ROW EXECUTE FUNCTION esp_generation_bump('certificates');
{{END}}
