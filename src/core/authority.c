/* The authority tree (主管机关) and the provinces. */
#include "esp/authority.h"
#include "esp/validate.h"

#include <stdlib.h>
#include <string.h>

enum db_status province_list(db_conn *c, struct arena *a, struct province **out, size_t *n)
{
	db_result *r = NULL;
	*out = NULL;
	*n = 0;
	enum db_status st = DB_EXEC0(c, "SELECT code, name FROM provinces ORDER BY sort", &r);
	if (st == DB_OK && r->nrows) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		*n = (size_t)r->nrows;
		for (int i = 0; i < r->nrows; i++)
			(*out)[i] = (struct province){.code = arena_strdup(a, db_get(r, i, 0)),
			                              .name = arena_strdup(a, db_get(r, i, 1))};
	}
	db_result_free(r);
	return st;
}

bool province_exists(db_conn *c, const char *code)
{
	db_result *r = NULL;
	bool ok =
	    code &&
	    DB_EXEC(c, "SELECT 1 FROM provinces WHERE code = $1", &r, P_TEXT(code)) == DB_OK &&
	    r->nrows == 1;
	db_result_free(r);
	return ok;
}

/* One column of the province whose other column is key, into arena. */
static enum db_status province_lookup(db_conn *c, struct arena *a, const char *sql, const char *key,
                                      const char **out)
{
	db_result *r = NULL;
	*out = NULL;
	enum db_status st = DB_EXEC(c, sql, &r, P_TEXT(key));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK)
		*out = arena_strdup(a, db_get(r, 0, 0));
	db_result_free(r);
	return st;
}

enum db_status province_code_of(db_conn *c, struct arena *a, const char *name, const char **code)
{
	return province_lookup(c, a, "SELECT code FROM provinces WHERE name = $1", name, code);
}

enum db_status province_name_of(db_conn *c, struct arena *a, const char *code, const char **name)
{
	return province_lookup(c, a, "SELECT name FROM provinces WHERE code = $1", code, name);
}

enum db_status authority_list(db_conn *c, struct arena *a, struct authority **out, size_t *n)
{
	db_result *r = NULL;
	*out = NULL;
	*n = 0;
	/* Ordering by path puts every node right after its parent. */
	enum db_status st =
	    DB_EXEC0(c,
	             "SELECT a.id, a.name, a.province_code, p.name, a.level, a.path "
	             "FROM authorities a LEFT JOIN provinces p ON p.code = a.province_code "
	             "ORDER BY COALESCE(p.sort, 0), a.path",
	             &r);
	if (st == DB_OK && r->nrows) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		*n = (size_t)r->nrows;
		for (int i = 0; i < r->nrows; i++) {
			const char *path = db_get(r, i, 5);
			int depth = -2;
			for (const char *p = path; *p; p++)
				depth += *p == '/';
			const char *pc = db_get(r, i, 2), *pn = db_get(r, i, 3);
			(*out)[i] = (struct authority){
			    .id = db_get_int(r, i, 0, 0),
			    .name = arena_strdup(a, db_get(r, i, 1)),
			    .province_code = pc ? arena_strdup(a, pc) : NULL,
			    .province = pn ? arena_strdup(a, pn) : NULL,
			    .level = arena_strdup(a, db_get(r, i, 4)),
			    .path = arena_strdup(a, path),
			    .depth = depth < 0 ? 0 : depth,
			};
		}
	}
	db_result_free(r);
	return st;
}

enum db_status authority_get(db_conn *c, struct arena *a, int64_t id, const char **name,
                             const char **path, const char **province_code)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c, "SELECT name, path, province_code FROM authorities WHERE id = $1", &r, P_INT(id));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK) {
		if (name)
			*name = arena_strdup(a, db_get(r, 0, 0));
		if (path)
			*path = arena_strdup(a, db_get(r, 0, 1));
		if (province_code)
			*province_code = arena_strdup(a, db_get(r, 0, 2));
	}
	db_result_free(r);
	return st;
}

enum db_status authority_level(db_conn *c, struct arena *a, int64_t id, const char **level,
                               const char **province_code)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, "SELECT level, province_code FROM authorities WHERE id = $1", &r, P_INT(id));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK) {
		*level = arena_strdup(a, db_get(r, 0, 0));
		*province_code = db_get(r, 0, 1) ? arena_strdup(a, db_get(r, 0, 1)) : NULL;
	}
	db_result_free(r);
	return st;
}

enum db_status authority_insert(db_conn *c, int64_t parent_id, const char *name,
                                const char *province_code, const char *level, int64_t *id_out)
{
	char *parent_path = NULL;
	if (parent_id) {
		db_result *r = NULL;
		enum db_status st =
		    DB_EXEC(c, "SELECT path FROM authorities WHERE id = $1", &r, P_INT(parent_id));
		if (st == DB_OK && r->nrows == 0)
			st = DB_NOT_FOUND;
		if (st != DB_OK) {
			db_result_free(r);
			return st;
		}
		parent_path = xstrdup(db_get(r, 0, 0));
		db_result_free(r);
	}
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "INSERT INTO authorities (parent_id, name, province_code, level, created_at) "
	            "VALUES ($1, $2, $3, $4, $5) RETURNING id",
	            &r, parent_id ? P_INT(parent_id) : P_NULL, P_TEXT(name), P_TEXT(province_code),
	            P_TEXT(level), P_INT(time_now()));
	if (st == DB_OK) {
		int64_t id = db_get_int(r, 0, 0, 0);
		char *path = xasprintf("%s%lld/", parent_path ? parent_path : "/", (long long)id);
		st = DB_EXEC(c, "UPDATE authorities SET path = $1 WHERE id = $2", NULL,
		             P_TEXT(path), P_INT(id));
		free(path);
		if (id_out)
			*id_out = id;
	}
	db_result_free(r);
	free(parent_path);
	return st;
}

char *names_find_folded(const db_result *r, const char *name)
{
	char *want = xmalloc(strlen(name) + 1);
	text_fold(name, want);
	char *buf = NULL, *found = NULL;
	size_t cap = 0;
	for (int i = 0; i < r->nrows && !found; i++) {
		const char *v = db_get(r, i, 0);
		size_t n = v ? strlen(v) : 0;
		if (!v)
			continue;
		if (n + 1 > cap) {
			cap = n + 1;
			buf = xrealloc(buf, cap);
		}
		if (strcmp(text_fold(v, buf), want) == 0)
			found = xstrdup(v);
	}
	free(buf);
	free(want);
	return found;
}

char *authority_same_name(db_conn *c, const char *name)
{
	db_result *r = NULL;
	char *found = NULL;
	if (DB_EXEC0(c, "SELECT name FROM authorities", &r) == DB_OK)
		found = names_find_folded(r, name);
	db_result_free(r);
	return found;
}
