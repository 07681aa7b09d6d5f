/*
 * SQLite backend: WAL, foreign keys, busy timeout, synchronous=NORMAL.
 * Parameters are written "$1", "$2" ... as for PostgreSQL; SQLite takes
 * "$NNN" as a named parameter, so each is bound by name.
 */
#include "esp/db.h"
#include "esp/util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stmt_cache_entry {
	char *sql;
	sqlite3_stmt *stmt;
};

struct db_conn {
	const struct db_backend *be; /* must come first: see db.h */
	sqlite3 *db;
	struct stmt_cache_entry *cache;
	size_t ncache, capcache;
};

static enum db_status map_rc(sqlite3 *db, int rc, const char *sql)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return DB_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return DB_RETRY;
	case SQLITE_CONSTRAINT:
		return DB_CONFLICT;
	default:
		log_error("sqlite: %s (in: %.60s)", sqlite3_errmsg(db), sql ? sql : "");
		return DB_ERROR;
	}
}

static db_conn *sq_open(const char *target, const char **err)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(target, &db,
	                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		*err = "cannot open the SQLite database";
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	const char *setup = "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; "
	                    "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;";
	if (sqlite3_exec(db, setup, NULL, NULL, NULL) != SQLITE_OK) {
		*err = "cannot configure the SQLite database";
		sqlite3_close(db);
		return NULL;
	}
	db_conn *c = xcalloc(1, sizeof(*c));
	c->be = &db_sqlite_backend;
	c->db = db;
	return c;
}

static void sq_close(db_conn *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ncache; i++) {
		sqlite3_finalize(c->cache[i].stmt);
		free(c->cache[i].sql);
	}
	free(c->cache);
	sqlite3_close(c->db);
	free(c);
}

static sqlite3_stmt *prepared(db_conn *c, const char *sql, enum db_status *st)
{
	for (size_t i = 0; i < c->ncache; i++)
		if (strcmp(c->cache[i].sql, sql) == 0)
			return c->cache[i].stmt;
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc != SQLITE_OK) {
		*st = map_rc(c->db, rc, sql);
		return NULL;
	}
	if (c->ncache == c->capcache) {
		c->capcache = c->capcache ? c->capcache * 2 : 32;
		c->cache = xrealloc(c->cache, c->capcache * sizeof(*c->cache));
	}
	c->cache[c->ncache].sql = xstrdup(sql);
	c->cache[c->ncache].stmt = s;
	c->ncache++;
	return s;
}

static enum db_status sq_exec(db_conn *c, const char *sql, const struct db_param *params,
                              int nparams, db_result **res)
{
	enum db_status st = DB_ERROR;
	sqlite3_stmt *s = prepared(c, sql, &st);
	if (!s)
		return st;
	for (int i = 0; i < nparams; i++) {
		char name[16];
		snprintf(name, sizeof name, "$%d", i + 1);
		int idx = sqlite3_bind_parameter_index(s, name);
		if (idx == 0)
			continue; /* parameter not used by this statement */
		const struct db_param *p = &params[i];
		switch (p->type) {
		case DB_NULL: sqlite3_bind_null(s, idx); break;
		case DB_INT: sqlite3_bind_int64(s, idx, p->i); break;
		case DB_TEXT: sqlite3_bind_text(s, idx, p->s, -1, SQLITE_STATIC); break;
		case DB_BLOB: sqlite3_bind_blob64(s, idx, p->s, p->len, SQLITE_STATIC); break;
		}
	}
	db_result *r = NULL;
	int ncols = sqlite3_column_count(s);
	if (res) {
		r = db_result_new(ncols);
		for (int i = 0; i < ncols; i++)
			r->names[i] = xstrdup(sqlite3_column_name(s, i));
	}
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!r)
			continue;
		db_result_add_row(r);
		for (int i = 0; i < ncols; i++) {
			int t = sqlite3_column_type(s, i);
			if (t == SQLITE_NULL)
				continue;
			if (t == SQLITE_BLOB) {
				const void *b = sqlite3_column_blob(s, i);
				db_result_set(r, r->nrows - 1, i, b ? b : "", (size_t)sqlite3_column_bytes(s, i));
			} else {
				const unsigned char *v = sqlite3_column_text(s, i);
				db_result_set(r, r->nrows - 1, i, v, (size_t)sqlite3_column_bytes(s, i));
			}
		}
	}
	st = map_rc(c->db, rc, sql);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (st != DB_OK) {
		db_result_free(r);
		return st;
	}
	if (res)
		*res = r;
	return DB_OK;
}

static enum db_status sq_exec_script(db_conn *c, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		log_error("sqlite script: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return rc == SQLITE_BUSY ? DB_RETRY : DB_ERROR;
	}
	return DB_OK;
}

/* IMMEDIATE takes the write lock at once: a read-then-write transaction can
 * then never fail half-way with SQLITE_BUSY on the upgrade. */
static enum db_status sq_begin(db_conn *c) { return sq_exec_script(c, "BEGIN IMMEDIATE"); }
static enum db_status sq_commit(db_conn *c) { return sq_exec_script(c, "COMMIT"); }
static enum db_status sq_rollback(db_conn *c)
{
	if (sqlite3_get_autocommit(c->db))
		return DB_OK;
	return sq_exec_script(c, "ROLLBACK");
}

const struct db_backend db_sqlite_backend = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.exec = sq_exec,
	.exec_script = sq_exec_script,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
};
