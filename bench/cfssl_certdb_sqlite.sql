-- cfssl's certificate database (certdb) on SQLite, for the cfssl+certdb peer
-- of bench/issue_bench.sh: `cfssl serve -db-config` inserts one row into
-- certificates per signed certificate before it answers.
--
-- The schema is cfssl's own, not ESP's: the "Up" section of
-- certdb/sqlite/migrations/001_CreateCertificates.sql of cloudflare/cfssl at
-- commit 7fb22c8, the snapshot Debian's golang-cfssl
-- (1.2.0+git20160825.89.7fb22c8) is built from; its binary's INSERT names
-- exactly these eight columns. Debian does not ship the migration files,
-- and cfssl does not create the tables itself.
CREATE TABLE certificates (
  serial_number            bytea NOT NULL,
  authority_key_identifier bytea NOT NULL,
  ca_label                 bytea,
  status                   bytea NOT NULL,
  reason                   int,
  expiry                   timestamp,
  revoked_at               timestamp,
  pem                      bytea NOT NULL,
  PRIMARY KEY(serial_number, authority_key_identifier)
);

CREATE TABLE ocsp_responses (
  serial_number            bytea NOT NULL,
  authority_key_identifier bytea NOT NULL,
  body                     bytea NOT NULL,
  expiry                   timestamp,
  PRIMARY KEY(serial_number, authority_key_identifier),
  FOREIGN KEY(serial_number, authority_key_identifier) REFERENCES certificates(serial_number, authority_key_identifier)
);
