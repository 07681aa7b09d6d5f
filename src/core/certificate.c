/* The certificates issued: one by serial, and the lists pages show. */
#include "esp/certificate.h"

#include <stdlib.h>
#include <string.h>

/* Store text into the arena; NULL stays NULL. */
static const char *text(struct arena *a, const db_result *r, int row, int col)
{
	const char *v = db_get(r, row, col);
	return v ? arena_strdup(a, v) : NULL;
}

enum db_status cert_get(db_conn *c, struct arena *a, const char *serial, struct certificate *out)
{
	db_result *r = NULL;
	/* Holders' certificates come with their registration (for the policy);
	 * staff certificates (account_id set) with their account only. */
	enum db_status st = DB_EXEC(
	    c,
	    "SELECT ce.serial, ce.status, ce.token_serial, ce.created_at, ce.not_after, "
	    "ce.revoke_reason, ce.registration_id, a.number, r.kind, r.state, "
	    "r.province_code, au.path, ce.account_id, st.username, "
	    "COALESCE(r.name, st.display_name) "
	    "FROM certificates ce "
	    "LEFT JOIN applications a ON a.id = ce.application_id LEFT JOIN registrations r ON "
	    "r.id = ce.registration_id LEFT JOIN authorities au ON au.id = r.authority_id "
	    "LEFT JOIN accounts st ON st.id = ce.account_id "
	    "WHERE ce.serial = $1",
	    &r, P_TEXT(serial));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK) {
		memset(out, 0, sizeof(*out));
		out->serial = text(a, r, 0, 0);
		out->revoked = strcmp(db_get(r, 0, 1), "revoked") == 0;
		out->pending = strcmp(db_get(r, 0, 1), "pending") == 0;
		out->token_serial = text(a, r, 0, 2);
		out->issued_at = db_get_int(r, 0, 3, 0);
		out->not_after = db_get_int(r, 0, 4, 0);
		out->revoke_reason = (int)db_get_int(r, 0, 5, 0);
		out->registration_id = db_get_int(r, 0, 6, 0);
		out->number = text(a, r, 0, 7);
		out->kind = text(a, r, 0, 8);
		out->reg_state = text(a, r, 0, 9);
		out->province_code = text(a, r, 0, 10);
		out->authority_path = text(a, r, 0, 11);
		out->account_id = db_get_int(r, 0, 12, 0);
		out->staff_username = text(a, r, 0, 13);
		out->holder = text(a, r, 0, 14);
	}
	db_result_free(r);
	return st;
}

void cert_policy_object(const struct certificate *cert, struct policy_object *o)
{
	memset(o, 0, sizeof(*o));
	if (!cert)
		return;
	o->registration_id = cert->registration_id;
	o->kind = cert->kind;
	o->reg_state = cert->reg_state;
	o->province_code = cert->province_code;
	o->authority_path = cert->authority_path;
}

/* The six columns every certificate list starts with: serial, token,
 * issued, not after, status, reason. */
static void list_row(struct arena *a, const db_result *r, int i, struct certificate *ce)
{
	memset(ce, 0, sizeof(*ce));
	ce->serial = text(a, r, i, 0);
	ce->token_serial = text(a, r, i, 1);
	ce->issued_at = db_get_int(r, i, 2, 0);
	ce->not_after = db_get_int(r, i, 3, 0);
	ce->revoked = strcmp(db_get(r, i, 4), "revoked") == 0;
	ce->pending = strcmp(db_get(r, i, 4), "pending") == 0;
	ce->revoke_reason = (int)db_get_int(r, i, 5, 0);
}

enum db_status cert_list_all(db_conn *c, struct arena *a, int limit, struct certificate **out,
                             size_t *n)
{
	db_result *r = NULL;
	*out = NULL;
	*n = 0;
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT ce.serial, ce.token_serial, ce.created_at, ce.not_after, ce.status, "
	            "ce.revoke_reason, COALESCE(r.name, st.display_name, ''), "
	            "COALESCE(st.username, ''), COALESCE(a.number, ''), ce.account_id "
	            "FROM certificates ce "
	            "LEFT JOIN applications a ON a.id = ce.application_id "
	            "LEFT JOIN registrations r ON r.id = ce.registration_id "
	            "LEFT JOIN accounts st ON st.id = ce.account_id "
	            "ORDER BY ce.id DESC LIMIT $1",
	            &r, P_INT(limit));
	if (st == DB_OK && r->nrows) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		*n = (size_t)r->nrows;
		for (int i = 0; i < r->nrows; i++) {
			struct certificate *ce = &(*out)[i];
			list_row(a, r, i, ce);
			ce->holder = text(a, r, i, 6);
			ce->staff_username = text(a, r, i, 7);
			ce->number = text(a, r, i, 8);
			ce->account_id = db_get_int(r, i, 9, 0);
		}
	}
	db_result_free(r);
	return st;
}

/* The certificates of rows whose `column` is id (the SQL names it). */
static enum db_status cert_list_where(db_conn *c, struct arena *a, const char *sql, int64_t id,
                                      struct certificate **out, size_t *n)
{
	db_result *r = NULL;
	*out = NULL;
	*n = 0;
	enum db_status st = DB_EXEC(c, sql, &r, P_INT(id));
	if (st == DB_OK && r->nrows) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		*n = (size_t)r->nrows;
		for (int i = 0; i < r->nrows; i++) {
			struct certificate *ce = &(*out)[i];
			list_row(a, r, i, ce);
			ce->number = text(a, r, i, 6);
			ce->registration_id = db_get_int(r, i, 7, 0);
		}
	}
	db_result_free(r);
	return st;
}

enum db_status cert_list_of_application(db_conn *c, struct arena *a, int64_t application_id,
                                        struct certificate **out, size_t *n)
{
	return cert_list_where(
	    c, a,
	    "SELECT ce.serial, ce.token_serial, ce.created_at, ce.not_after, ce.status, "
	    "ce.revoke_reason, a.number, ce.registration_id FROM certificates ce "
	    "JOIN applications a ON a.id = ce.application_id "
	    "WHERE ce.application_id = $1 ORDER BY ce.id",
	    application_id, out, n);
}

enum db_status cert_list_of_registration(db_conn *c, struct arena *a, int64_t registration_id,
                                         struct certificate **out, size_t *n)
{
	return cert_list_where(
	    c, a,
	    "SELECT ce.serial, ce.token_serial, ce.created_at, ce.not_after, ce.status, "
	    "ce.revoke_reason, a.number, ce.registration_id FROM certificates ce "
	    "JOIN applications a ON a.id = ce.application_id "
	    "WHERE ce.registration_id = $1 ORDER BY ce.id",
	    registration_id, out, n);
}

enum db_status cert_counts(db_conn *c, int64_t registration_id, int *issued, int *good)
{
	db_result *r = NULL;
	*issued = *good = 0;
	enum db_status st = DB_EXEC(c,
	                            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'valid' AND "
	                            "not_after >= $2 THEN 1 ELSE 0 END), 0) FROM certificates "
	                            "WHERE registration_id = $1",
	                            &r, P_INT(registration_id), P_INT(time_now()));
	if (st == DB_OK && r->nrows) {
		*issued = (int)db_get_int(r, 0, 0, 0);
		*good = (int)db_get_int(r, 0, 1, 0);
	}
	db_result_free(r);
	return st;
}
