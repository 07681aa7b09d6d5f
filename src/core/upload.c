/* Scans of applications: uploads whose type is sniffed from the content. */
#include "esp/upload.h"
#include "esp/util.h"

#include <magic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* libmagic handles are not thread-safe and slow to load: one, under a lock. */
static pthread_mutex_t magic_lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t magic_cookie;

const char *upload_sniff(const void *data, size_t len)
{
	static const char *const allowed[] = {"application/pdf", "image/jpeg", "image/png"};
	if (!data || len == 0)
		return NULL;
	const char *result = NULL;
	pthread_mutex_lock(&magic_lock);
	if (!magic_cookie) {
		magic_cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS);
		if (magic_cookie && magic_load(magic_cookie, NULL) != 0) {
			log_error("libmagic: %s", magic_error(magic_cookie));
			magic_close(magic_cookie);
			magic_cookie = NULL;
		}
	}
	const char *t = magic_cookie ? magic_buffer(magic_cookie, data, len) : NULL;
	for (size_t i = 0; t && i < sizeof allowed / sizeof allowed[0]; i++)
		if (strcmp(t, allowed[i]) == 0)
			result = allowed[i];
	pthread_mutex_unlock(&magic_lock);
	return result;
}

enum db_status upload_store(db_conn *c, int64_t registration_id, const void *data, size_t len,
                            const char *mime, int64_t *id)
{
	char hash[65];
	sha256_hex(data, len, hash);
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "INSERT INTO uploads (registration_id, mime, size, sha256, data, created_at) "
	            "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
	            &r, P_INT(registration_id), P_TEXT(mime), P_INT(len), P_TEXT(hash),
	            P_BLOB(data, len), P_INT(time_now()));
	if (st == DB_OK)
		*id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return st;
}

enum db_status upload_owner(db_conn *c, int64_t id, int64_t *registration_id)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, "SELECT registration_id FROM uploads WHERE id = $1", &r, P_INT(id));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	*registration_id = st == DB_OK ? db_get_int(r, 0, 0, 0) : 0;
	db_result_free(r);
	return st;
}

enum db_status upload_load(db_conn *c, int64_t id, int64_t *registration_id, char **mime,
                           char **data, size_t *len)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c, "SELECT registration_id, mime, data FROM uploads WHERE id = $1", &r, P_INT(id));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK) {
		*registration_id = db_get_int(r, 0, 0, 0);
		*mime = xstrdup(db_get(r, 0, 1));
		*len = db_get_len(r, 0, 2);
		*data = xmalloc(*len + 1);
		memcpy(*data, db_get(r, 0, 2), *len);
	}
	db_result_free(r);
	return st;
}

/* An upload is kept while an application refers to it; one that none does
 * (the wizard abandoned after the scan step, or uploaded over and over) is
 * deleted once it is older than the grace time the wizard needs. */
enum db_status upload_purge_unreferenced(db_conn *c, int64_t older_than, int *deleted)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "DELETE FROM uploads WHERE created_at < $1 AND NOT EXISTS "
	            "(SELECT 1 FROM applications a WHERE a.scan_id = uploads.id) AND NOT EXISTS "
	            "(SELECT 1 FROM registration_changes ch WHERE ch.scan_id = uploads.id) "
	            "RETURNING id",
	            &r, P_INT(older_than));
	if (deleted)
		*deleted = st == DB_OK ? r->nrows : 0;
	db_result_free(r);
	return st;
}
