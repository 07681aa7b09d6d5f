/*
 * The core's typed records as the JSON the templates and the API read: the
 * one place each record's keys, labels and derived flags are written.
 */
#include "record_json.h"
#include "esp/revoke.h"

#include <stdbool.h>
#include <string.h>

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
	    ce->revoked   ? "已吊销"
	    : ce->pending ? "更新中（待确认）"
	    : expired     ? "已过期"
	                  : "有效",
	    "revoked", ce->revoked, "expired", expired, "valid",
	    !ce->revoked && !ce->pending && !expired, "warning",
	    !ce->revoked && !ce->pending && !expired && days <= warning_days, "reason",
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

/* A kind's name, "" for none. */
static const char *kind_or_empty(enum reg_kind k)
{
	return k == KIND_NONE ? "" : kind_name(k);
}

/* A number as the store's text. */
static json_t *num(int64_t v)
{
	return json_sprintf("%lld", (long long)v);
}

/* A number that 0 means the store has not (a time not yet, no scan). */
static json_t *num_or_null(int64_t v)
{
	return v ? num(v) : json_null();
}

json_t *application_to_json(const struct application *app)
{
	json_t *o = json_object();
	const struct {
		const char *key;
		json_t *v;
	} cols[] = {
	    {"id", num(app->id)},
	    {"number", str_or_null(app->number)},
	    {"registration_id", num(app->registration_id)},
	    {"type", json_string(app_type_name(app->type))},
	    {"state", json_string(appstate_name(app->state))},
	    {"sets", num(app->sets)},
	    {"contact_name", str_or_null(app->contact_name)},
	    {"contact_id_number", str_or_null(app->contact_id_number)},
	    {"mobile", str_or_null(app->mobile)},
	    {"phone", str_or_null(app->phone)},
	    {"email", str_or_null(app->email)},
	    {"address", str_or_null(app->address)},
	    {"postcode", str_or_null(app->postcode)},
	    {"invoice_title", str_or_null(app->invoice_title)},
	    {"taxpayer_id", str_or_null(app->taxpayer_id)},
	    {"price_yuan", num(app->price_yuan)},
	    {"medium_yuan", num(app->medium_yuan)},
	    {"years", num(app->years)},
	    {"amount_yuan", num(app->amount_yuan)},
	    {"scan_id", num_or_null(app->scan_id)},
	    {"submitted_at", num_or_null(app->submitted_at)},
	    {"paid_at", num_or_null(app->paid_at)},
	    {"materials_at", num_or_null(app->materials_at)},
	    {"issued_at", num_or_null(app->issued_at)},
	    {"shipped_at", num_or_null(app->shipped_at)},
	    {"pickup_at", num_or_null(app->pickup_at)},
	    {"received_at", num_or_null(app->received_at)},
	    {"returned_at", num_or_null(app->returned_at)},
	    {"return_reason", str_or_null(app->return_reason)},
	    {"withdrawn_at", num_or_null(app->withdrawn_at)},
	    {"courier", str_or_null(app->courier)},
	    {"tracking_no", str_or_null(app->tracking_no)},
	    {"updated_at", num_or_null(app->updated_at)},
	    {"renews_serial", str_or_null(app->renews_serial)},
	    {"unlock_token", str_or_null(app->unlock_token)},
	    {"replaces_serial", str_or_null(app->replaces_serial)},
	    {"kind", json_string(kind_or_empty(app->kind))},
	    {"reg_state", str_or_null(app->reg_state)},
	    {"reg_name", str_or_null(app->reg_name)},
	    {"reg_code", str_or_null(app->reg_code)},
	    {"legal_rep", str_or_null(app->legal_rep)},
	    {"work_unit", str_or_null(app->work_unit)},
	    {"department", str_or_null(app->department)},
	    {"province_code", str_or_null(app->province_code)},
	    {"province", str_or_null(app->province)},
	    {"authority_path", str_or_null(app->authority_path)},
	    {"authority_name", str_or_null(app->authority_name)},
	    {"state_label", json_string(appstate_label(app->state))},
	    {"type_label", json_string(app_type_label(app->type))},
	};
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
		json_object_set_new(o, cols[i].key, cols[i].v);
	json_object_set_new(o, "is_change_reissue", json_boolean(app->change_id != 0));
	if (app->kind != KIND_NONE) {
		json_object_set_new(o, "kind_label", json_string(kind_label(app->kind)));
		json_object_set_new(o, "is_evaluator", json_boolean(app->kind == KIND_EVALUATOR));
	}
	return o;
}

json_t *field_errors_to_json(const struct field_errors *e)
{
	json_t *o = json_object();
	for (size_t i = 0; i < e->n; i++)
		json_object_set_new(o, e->items[i].field, json_string(e->items[i].message));
	return o;
}

json_t *ra_queue_to_json(const struct ra_queue_item *list, size_t n, struct arena *a)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct ra_queue_item *it = &list[i];
		json_array_append_new(
		    arr,
		    json_pack(
		        "{s:s, s:s, s:s, s:o, s:o, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:I}",
		        "number", it->number, "state", it->state, "state_label",
		        app_state_label(it->state), "sets", num(it->sets), "amount",
		        num(it->amount_yuan), "submitted_at", (json_int_t)it->submitted_at,
		        "submitted_date", time_date(a, it->submitted_at), "kind",
		        kind_or_empty(it->kind), "kind_label",
		        it->kind == KIND_NONE ? "" : kind_label(it->kind), "name", it->name, "code",
		        it->code, "province", it->province, "overdue", it->overdue, "days",
		        (json_int_t)it->days));
		/* The 20 days run from payment and materials: before both there
		 * is no count to show (never "-1"). */
		json_object_set_new(json_array_get(arr, i), "days_text",
		                    json_string(it->days < 0 ? "未开始计时" : ""));
		json_object_set_new(json_array_get(arr, i), "type_label",
		                    json_string(app_type_label(it->type)));
		if (it->replaces_serial)
			json_object_set_new(json_array_get(arr, i), "replaces_serial",
			                    json_string(it->replaces_serial));
	}
	return arr;
}

json_t *ra_stats_to_json(const struct ra_stats *s)
{
	json_t *states = json_array();
	for (enum app_state k = APP_SUBMITTED; k < APP_STATE_COUNT; k++)
		json_array_append_new(
		    states, json_pack("{s:s, s:s, s:I}", "state", appstate_name(k), "label",
		                      appstate_label(k), "count", (json_int_t)s->count[k]));
	return json_pack("{s:o, s:I}", "states", states, "overdue", (json_int_t)s->overdue);
}

/* What an event's action (a step's name, as stored) says in Chinese. */
static const char *event_label(const char *action)
{
	enum app_step step;
	if (appstep_parse(action, &step))
		return appstep_label(step);
	if (action && strcmp(action, "revoke") == 0)
		return "吊销证书";
	if (action && strcmp(action, "change") == 0)
		return "信息变更";
	return action ? action : "";
}

json_t *app_events_to_json(const struct app_event *list, size_t n, struct arena *a)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct app_event *e = &list[i];
		const char *from = e->from_state ? app_state_label(e->from_state) : "";
		const char *to = e->to_state ? app_state_label(e->to_state) : "";
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "at",
		                                     time_datetime(a, e->at), "actor", e->actor,
		                                     "action", event_label(e->action), "from", from,
		                                     "to", to, "note", e->note ? e->note : ""));
	}
	return arr;
}

json_t *registration_to_json(const struct registration *reg)
{
	json_t *o = json_object();
	const char *state = reg_state_name(reg->state);
	const struct {
		const char *key;
		json_t *v;
	} cols[] = {
	    {"id", num(reg->id)},
	    {"kind", json_string(kind_or_empty(reg->kind))},
	    {"state", json_string(state)},
	    {"name", str_or_null(reg->name)},
	    {"code", str_or_null(reg->code)},
	    {"legal_rep", str_or_null(reg->legal_rep)},
	    {"contact_name", str_or_null(reg->contact_name)},
	    {"contact_id_number", str_or_null(reg->contact_id_number)},
	    {"phone", str_or_null(reg->phone)},
	    {"mobile", str_or_null(reg->mobile)},
	    {"email", str_or_null(reg->email)},
	    {"address", str_or_null(reg->address)},
	    {"postcode", str_or_null(reg->postcode)},
	    {"category", str_or_null(reg->category)},
	    {"grade", str_or_null(reg->grade)},
	    {"work_unit", str_or_null(reg->work_unit)},
	    {"department", str_or_null(reg->department)},
	    {"province_code", str_or_null(reg->province_code)},
	    {"authority_id", num(reg->authority_id)},
	    {"reject_reason", str_or_null(reg->reject_reason)},
	    {"reviewed_at", num_or_null(reg->reviewed_at)},
	    {"created_at", num(reg->created_at)},
	    {"updated_at", num(reg->updated_at)},
	    {"authority_name", str_or_null(reg->authority_name)},
	    {"authority_path", str_or_null(reg->authority_path)},
	    {"province", str_or_null(reg->province)},
	    {"reviewer", str_or_null(reg->reviewer)},
	    {"state_label", json_string(reg_state_label(state))},
	};
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
		json_object_set_new(o, cols[i].key, cols[i].v);
	if (reg->kind != KIND_NONE) {
		json_object_set_new(o, "kind_label", json_string(kind_label(reg->kind)));
		json_object_set_new(o, "is_unit", json_boolean(kind_is_unit(reg->kind)));
	}
	return o;
}

json_t *registration_queue_to_json(const struct registration_row *list, size_t n, struct arena *a)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct registration_row *it = &list[i];
		json_array_append_new(
		    arr, json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:s}", "id",
		                   num(it->id), "kind", kind_or_empty(it->kind), "state",
		                   str_or_null(it->state), "name", str_or_null(it->name), "code",
		                   str_or_null(it->code), "created_at", num(it->created_at),
		                   "authority_name", str_or_null(it->authority_name), "province",
		                   str_or_null(it->province), "state_label",
		                   it->state ? reg_state_label(it->state) : "", "kind_label",
		                   it->kind == KIND_NONE ? "" : kind_label(it->kind),
		                   "created_date", time_datetime(a, it->created_at)));
		/* Only a pending registration awaits a decision: the others are 查看. */
		json_object_set_new(
		    json_array_get(arr, i), "to_decide",
		    json_boolean(it->state && strcmp(it->state, reg_state_name(REG_PENDING)) == 0));
	}
	return arr;
}
