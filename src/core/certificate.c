/* The certificates issued: one by serial, and the lists pages show. */
#include "esp/certificate.h"
#include "esp/revoke.h"
#include "esp/db_json.h"
#include "esp/json_util.h"

#include <stdlib.h>
#include <string.h>

json_t *cert_get(db_conn *c, const char *serial)
{
	db_result *r = NULL;
	json_t *o = NULL;
	/* Holders' certificates come with their registration (for the policy);
	 * staff certificates (account_id set) with their account only. */
	if (DB_EXEC(
	        c,
	        "SELECT ce.serial, ce.status, ce.token_serial, ce.not_before, ce.not_after, "
	        "ce.revoked_at, ce.revoke_reason, ce.registration_id, a.number, r.kind, r.state AS "
	        "reg_state, r.province_code, au.path AS authority_path, ce.account_id, "
	        "st.username AS staff_username, COALESCE(r.name, st.display_name) AS holder "
	        "FROM certificates ce "
	        "LEFT JOIN applications a ON a.id = ce.application_id LEFT JOIN registrations r ON "
	        "r.id = ce.registration_id LEFT JOIN authorities au ON au.id = r.authority_id "
	        "LEFT JOIN accounts st ON st.id = ce.account_id "
	        "WHERE ce.serial = $1",
	        &r, P_TEXT(serial)) == DB_OK &&
	    r->nrows) {
		o = db_row_json(r, 0);
	}
	db_result_free(r);
	return o;
}

void cert_policy_object(const json_t *cert, struct policy_object *o)
{
	memset(o, 0, sizeof(*o));
	const char *rid = sval_opt(cert, "registration_id");
	o->registration_id = rid ? strtoll(rid, NULL, 10) : 0;
	o->kind = json_string_value(json_object_get(cert, "kind"));
	o->reg_state = json_string_value(json_object_get(cert, "reg_state"));
	o->province_code = json_string_value(json_object_get(cert, "province_code"));
	o->authority_path = json_string_value(json_object_get(cert, "authority_path"));
}

json_t *cert_list_all(db_conn *c, struct arena *ar, int limit)
{
	db_result *r = NULL;
	json_t *arr = json_array();
	int64_t now = time_now();
	if (DB_EXEC(c,
	            "SELECT ce.serial, ce.token_serial, ce.created_at, ce.not_after, ce.status, "
	            "ce.revoke_reason, COALESCE(r.name, st.display_name, ''), "
	            "COALESCE(st.username, ''), COALESCE(a.number, '') FROM certificates ce "
	            "LEFT JOIN applications a ON a.id = ce.application_id "
	            "LEFT JOIN registrations r ON r.id = ce.registration_id "
	            "LEFT JOIN accounts st ON st.id = ce.account_id "
	            "ORDER BY ce.id DESC LIMIT $1",
	            &r, P_INT(limit)) == DB_OK)
		for (int i = 0; i < r->nrows; i++) {
			bool revoked = strcmp(db_get(r, i, 4), "revoked") == 0;
			bool expired = !revoked && db_get_int(r, i, 3, 0) < now;
			bool staff = *db_get(r, i, 7) != '\0';
			json_array_append_new(
			    arr,
			    json_pack(
			        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:b, s:s, s:s}",
			        "serial", db_get(r, i, 0), "token_serial", db_get(r, i, 1),
			        "issued", time_date(ar, db_get_int(r, i, 2, 0)), "expires",
			        time_date(ar, db_get_int(r, i, 3, 0)), "holder", db_get(r, i, 6),
			        "username", db_get(r, i, 7), "kind_label",
			        staff ? "工作人员证书" : "证书U盘", "staff", staff, "status_label",
			        revoked   ? "已吊销"
			        : expired ? "已过期"
			                  : "有效",
			        "valid", !revoked && !expired, "reason",
			        revoked ? crl_reason_label((int)db_get_int(r, i, 5, 0)) : "",
			        "number", db_get(r, i, 8)));
		}
	db_result_free(r);
	return arr;
}

json_t *cert_list(db_conn *c, const char *column, int64_t id, struct arena *ar, int warning_days)
{
	const char *sql =
	    strcmp(column, "application_id") == 0
	        ? "SELECT ce.serial, ce.token_serial, ce.created_at, ce.not_after, "
	          "ce.status, ce.revoked_at, ce.revoke_reason, a.number FROM certificates ce "
	          "JOIN applications a ON a.id = ce.application_id "
	          "WHERE ce.application_id = $1 ORDER BY ce.id"
	        : "SELECT ce.serial, ce.token_serial, ce.created_at, ce.not_after, "
	          "ce.status, ce.revoked_at, ce.revoke_reason, a.number FROM certificates ce "
	          "JOIN applications a ON a.id = ce.application_id "
	          "WHERE ce.registration_id = $1 ORDER BY ce.id";
	db_result *r = NULL;
	json_t *arr = json_array();
	int64_t now = time_now();
	if (DB_EXEC(c, sql, &r, P_INT(id)) == DB_OK)
		for (int i = 0; i < r->nrows; i++) {
			int64_t na = db_get_int(r, i, 3, 0);
			bool revoked = strcmp(db_get(r, i, 4), "revoked") == 0;
			/* A renewal's new certificate until the tool confirms it (core/renewal.c).
			 */
			bool pending = strcmp(db_get(r, i, 4), "pending") == 0;
			bool expired = !revoked && na < now;
			int64_t days = (na - now) / 86400;
			json_array_append_new(
			    arr,
			    json_pack(
			        "{s:s, s:s, s:s, s:s, s:I, s:s, s:b, s:b, s:b, s:b, s:s, s:s}",
			        "serial", db_get(r, i, 0), "token_serial", db_get(r, i, 1),
			        "issued", time_date(ar, db_get_int(r, i, 2, 0)), "expires",
			        time_date(ar, na), "days_left", (json_int_t)(days < 0 ? 0 : days),
			        "status_label",
			        revoked   ? "已吊销"
			        : pending ? "更新中（待确认）"
			        : expired ? "已过期"
			                  : "有效",
			        "revoked", revoked, "expired", expired, "valid",
			        !revoked && !pending && !expired, "warning",
			        !revoked && !pending && !expired && days <= warning_days, "reason",
			        revoked ? crl_reason_label((int)db_get_int(r, i, 6, 0)) : "",
			        "number", db_get(r, i, 7)));
		}
	db_result_free(r);
	return arr;
}
