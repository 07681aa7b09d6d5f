-- 更新 (renewal) on the same key: its own fee in every fee schedule row
-- (no medium: the token is kept), the certificate a renewal application
-- renews, and a certificate issued for a renewal that stays 'pending'
-- until the holder's tool confirms it is on the token.  Only then is the
-- old one revoked (superseded) and the new one 'valid', in one
-- transaction, so the one-valid-certificate-per-token index holds at
-- every moment and the token is never without a valid certificate.
ALTER TABLE fee_schedule ADD COLUMN renewal_yuan BIGINT NOT NULL DEFAULT 300;
ALTER TABLE applications ADD COLUMN renews_serial TEXT;
CREATE INDEX applications_renews ON applications(renews_serial);
