/*
 * 证书U盘驱动: the driver packages the admin uploads, kept in the store with
 * their name, version, operating system, file name, size and SHA-256.  A
 * package never changes once stored (espd caches its bytes by id and hash).
 */
#ifndef ESP_DRIVER_H
#define ESP_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "esp/core.h"

struct driver {
	int64_t id;
	const char *name, *version, *os;
	const char *filename; /* cleaned at upload: letters, digits, '.', '-', '_' */
	int64_t size;         /* bytes */
	const char *sha256;   /* hex */
	int64_t created_at;
};

/* Every package without its bytes, newest first; strings and *out in arena
 * (*out NULL when *n is 0). */
enum db_status driver_list(db_conn *c, struct arena *a, struct driver **out, size_t *n);
/* One package without its bytes (strings in arena); DB_NOT_FOUND when absent. */
enum db_status driver_meta(db_conn *c, struct arena *a, int64_t id, struct driver *out);
/* A package's bytes: *data malloc'ed (caller frees), DB_NOT_FOUND when absent. */
enum db_status driver_data(db_conn *c, int64_t id, unsigned char **data, size_t *len);
/* Stores a package uploaded by a (name, version, os, filename of d; size and
 * SHA-256 are computed here from the bytes), audited as driver.upload.  Sets
 * d->id, d->size, d->sha256 (arena) and d->created_at. */
enum db_status driver_insert(db_conn *c, struct arena *a, const struct actor *actor,
                             struct driver *d, const void *data, size_t len);

#endif
