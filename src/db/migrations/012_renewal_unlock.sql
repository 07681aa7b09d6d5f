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

-- 密码解锁 (remote unlock): each token's SO PIN in custody, sealed with the
-- key of so_pin_key_file, which lives outside the store like the audit key.
-- next_sealed is the SO PIN handed out to be set next (at enrolment, or by
-- an unlock), kept until the tool confirms it set it: an interrupted tool
-- gets the same pair again, and once confirmed the released PIN is gone.
CREATE TABLE token_so_pins (
	token_serial TEXT PRIMARY KEY,
	sealed {{BLOB}},
	next_sealed {{BLOB}},
	released_at BIGINT,
	updated_at BIGINT NOT NULL
);
-- An unlock application names its token and carries its one-time
-- authorisation, sealed like the SO PINs (made when the RA approves).
ALTER TABLE applications ADD COLUMN unlock_token TEXT;
ALTER TABLE applications ADD COLUMN unlock_code {{BLOB}};
