/*
 * Backups of a whole ESP installation (core/backup.c): the store, taken
 * consistently while espd runs (SQLite's online backup API; pg_dump in one
 * exported snapshot for PostgreSQL), and every file of the data directory
 * (the CA's keys and certificates, the OCSP responder, the audit key and
 * anchors, the drivers and client packages), in one file encrypted under a
 * passphrase (libsodium: Argon2id, then XChaCha20-Poly1305 secretstream).
 *
 * The file: "ESPBACKUP1\n", the Argon2id salt, opslimit and memlimit, the
 * secretstream header, then chunks (a 4-byte little-endian length and the
 * sealed bytes), the last tagged FINAL so that a cut file is refused.  The
 * plaintext is a POSIX tar stream (GNU tar) of manifest.json (engine, time,
 * every table's row count, the audit log's head, the CRL's number, the
 * store file's SHA-256), store.sqlite or store.pgdump (pg_dump's custom
 * format), and data/ (the data directory without the SQLite store).
 */
#ifndef ESP_BACKUP_H
#define ESP_BACKUP_H

#include <jansson.h>
#include <stdbool.h>

#include "esp/db.h"

struct backup_opts {
	const char *data_dir;
	const char *database;   /* SQLite path or postgresql:// URI, as in the config */
	const char *passphrase; /* at least BACKUP_PASSPHRASE_MIN bytes */
	bool kdf_min;           /* Argon2id at its minimum cost: test suites only */
};
enum { BACKUP_PASSPHRASE_MIN = 12 };

/* Writes the backup to file (made anew, mode 0600; replaced atomically).
 * c is a connection of p to the store (for PostgreSQL, the snapshot is
 * exported from it).  0, or 2 with *err (malloc'ed) saying why. */
int backup_create(db_pool *p, db_conn *c, const struct backup_opts *o, const char *file,
                  char **err);
/* Decrypts and unpacks file into a temporary directory, checks the store
 * file's SHA-256 against the manifest and the store itself (SQLite: its
 * integrity and every table's row count; PostgreSQL: pg_restore reads its
 * table of contents).  *manifest (new reference) on success. */
int backup_verify(const struct backup_opts *o, const char *file, json_t **manifest, char **err);
/* Restores file into o->data_dir, which must be empty or absent, and into
 * o->database, which must be absent (SQLite) or hold no table (PostgreSQL);
 * then checks every table's row count against the manifest. */
int backup_restore(const struct backup_opts *o, const char *file, json_t **manifest, char **err);

#endif
