/*
 * The core's typed records as the JSON the templates and the API read: the
 * one place each record's keys, labels and derived flags are written.
 */
#include "record_json.h"
#include "esp/revoke.h"

#include <stdbool.h>

/* A JSON string of s, or null when there is no s. */
static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *cert_to_json(const struct certificate *ce, int warning_days, struct arena *a)
{
	int64_t now = time_now();
	bool expired = !ce->revoked && ce->not_after < now;
	int64_t days = (ce->not_after - now) / 86400;
	bool staff = ce->staff_username && *ce->staff_username;
	json_t *o = json_pack(
	    "{s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:b, s:s, s:s, s:I, s:s, s:b, s:b, s:b, s:b, s:s}",
	    "serial", str_or_null(ce->serial), "token_serial", str_or_null(ce->token_serial),
	    "number", str_or_null(ce->number), "holder", str_or_null(ce->holder), "staff_username",
	    str_or_null(ce->staff_username), "username", str_or_null(ce->staff_username),
	    "kind_label", staff ? "工作人员证书" : "证书U盘", "staff", staff, "issued",
	    time_date(a, ce->issued_at), "expires", time_date(a, ce->not_after), "days_left",
	    (json_int_t)(days < 0 ? 0 : days), "status_label",
	    ce->revoked ? "已吊销"
	    : expired   ? "已过期"
	                : "有效",
	    "revoked", ce->revoked, "expired", expired, "valid", !ce->revoked && !expired,
	    "warning", !ce->revoked && !expired && days <= warning_days, "reason",
	    ce->revoked ? crl_reason_label(ce->revoke_reason) : "");
	return o;
}

json_t *certs_to_json(const struct certificate *list, size_t n, int warning_days, struct arena *a)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, cert_to_json(&list[i], warning_days, a));
	return arr;
}

json_t *api_tokens_to_json(const struct api_token *list, size_t n, struct arena *a)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr,
		                      json_pack("{s:s, s:s, s:s, s:s, s:b}", "id",
		                                arena_printf(a, "%lld", (long long)list[i].id),
		                                "name", list[i].name, "prefix", list[i].prefix,
		                                "created", time_datetime(a, list[i].created_at),
		                                "revoked", list[i].revoked));
	return arr;
}

json_t *provinces_to_json(const struct province *list, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    arr, json_pack("{s:s, s:s}", "code", list[i].code, "name", list[i].name));
	return arr;
}

json_t *ra_directory_entry_to_json(const struct ra_directory_entry *e)
{
	json_t *o =
	    json_pack("{s:s, s:s}", "province_code", e->province_code, "province", e->province);
	for (int f = 0; f < DIR_FIELD_COUNT; f++)
		json_object_set_new(o, ra_directory_field_name((enum ra_dir_field)f),
		                    json_string(e->field[f] ? e->field[f] : ""));
	json_object_set_new(o, "updated_at",
	                    e->updated_at ? json_sprintf("%lld", (long long)e->updated_at)
	                                  : json_string(""));
	json_object_set_new(o, "configured", json_boolean(ra_directory_configured(e)));
	json_object_set_new(o, "trainer_configured",
	                    json_boolean(ra_directory_trainer_configured(e)));
	return o;
}

json_t *ra_directory_to_json(const struct ra_directory_entry *list, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, ra_directory_entry_to_json(&list[i]));
	return arr;
}
