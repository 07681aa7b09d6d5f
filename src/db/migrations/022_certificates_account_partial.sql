-- Only staff certificates (espctl) have an account; a holder's certificate
-- has none. The index on certificates.account_id held an entry for every
-- certificate, so every issuance wrote one more index page to the store
-- (one WAL frame of the ten or so an issuance's COMMIT writes) for an entry
-- nothing looks up. It now holds the staff certificates only; a lookup by
-- account (account_id = ...) implies IS NOT NULL and still uses it.
DROP INDEX certificates_account;
CREATE INDEX certificates_account ON certificates(account_id) WHERE account_id IS NOT NULL;
