/* Driver packages in the store: listing, one package's facts, its bytes, upload. */
#include "esp/driver.h"

#include <stdlib.h>
#include <string.h>

#define DRIVER_COLUMNS                                                                             \
	"SELECT id, name, version, os, filename, size, sha256, created_at FROM drivers "

static void driver_row(struct arena *a, const db_result *r, int i, struct driver *d)
{
	d->id = db_get_int(r, i, 0, 0);
	d->name = arena_strdup(a, db_get(r, i, 1));
	d->version = arena_strdup(a, db_get(r, i, 2));
	d->os = arena_strdup(a, db_get(r, i, 3));
	d->filename = arena_strdup(a, db_get(r, i, 4));
	d->size = db_get_int(r, i, 5, 0);
	d->sha256 = arena_strdup(a, db_get(r, i, 6));
	d->created_at = db_get_int(r, i, 7, 0);
}

enum db_status driver_list(db_conn *c, struct arena *a, struct driver **out, size_t *n)
{
	db_result *r = NULL;
	*out = NULL;
	*n = 0;
	enum db_status st = DB_EXEC0(c, DRIVER_COLUMNS "ORDER BY created_at DESC, id DESC", &r);
	if (st == DB_OK && r->nrows > 0) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		for (int i = 0; i < r->nrows; i++)
			driver_row(a, r, i, &(*out)[i]);
		*n = (size_t)r->nrows;
	}
	db_result_free(r);
	return st;
}

enum db_status driver_meta(db_conn *c, struct arena *a, int64_t id, struct driver *out)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c, DRIVER_COLUMNS "WHERE id = $1", &r, P_INT(id));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK)
		driver_row(a, r, 0, out);
	db_result_free(r);
	return st;
}

enum db_status driver_data(db_conn *c, int64_t id, unsigned char **data, size_t *len)
{
	db_result *r = NULL;
	*data = NULL;
	*len = 0;
	enum db_status st = DB_EXEC(c, "SELECT data FROM drivers WHERE id = $1", &r, P_INT(id));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK) {
		*len = db_get_len(r, 0, 0);
		*data = xmalloc(*len ? *len : 1);
		if (*len)
			memcpy(*data, db_get(r, 0, 0), *len);
	}
	db_result_free(r);
	return st;
}

enum db_status driver_insert(db_conn *c, struct arena *a, const struct actor *actor,
                             struct driver *d, const void *data, size_t len)
{
	char hash[65];
	sha256_hex(data, len, hash);
	d->sha256 = arena_strdup(a, hash);
	d->size = (int64_t)len;
	d->created_at = time_now();
	const struct db_param params[] = {
	    P_TEXT(d->name),     P_TEXT(d->version),       P_TEXT(d->os),
	    P_TEXT(d->filename), P_INT(d->size),           P_TEXT(d->sha256),
	    P_BLOB(data, len),   P_INT(actor->account_id), P_INT(d->created_at),
	};
	db_result *r = NULL;
	enum db_status st = db_exec_audited(
	    c,
	    "INSERT INTO drivers (name, version, os, filename, size, sha256, data, uploaded_by, "
	    "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
	    params, 9, &r, actor, "driver.upload", d->filename, "", d->sha256);
	if (st == DB_OK)
		d->id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return st;
}
