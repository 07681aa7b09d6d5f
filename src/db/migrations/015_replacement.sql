-- 丢失补办 and 损坏补办: a replacement key names the certificate it replaces
-- (revoked by 挂失, or by the RA when the broken token was handed in, or
-- still valid on a broken token: then revoked as cessationOfOperation when
-- the replacement is issued). At most one replacement in the running per
-- certificate: the index finds it, the application's transaction decides.
ALTER TABLE applications ADD COLUMN replaces_serial TEXT;
CREATE INDEX applications_replaces ON applications(replaces_serial);

-- Its fee, versioned with the rest of the fee schedule: NULL (every row made
-- before, and a row the admin leaves it empty on) is the row's price of a
-- set, medium and certificate, since a replacement is a new token and a new
-- certificate; the admin may set another.
ALTER TABLE fee_schedule ADD COLUMN replacement_yuan BIGINT;
