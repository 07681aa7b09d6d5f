/*
 * What the registration pages show around a registration: the form of a
 * kind (its options from the store's provinces and authority tree), the
 * fields as rows for display, and the posted values to and from the typed
 * input the core validates.
 */
#include "registration_view.h"
#include "httpd.h"
#include "record_json.h"
#include "esp/authority.h"
#include "esp/json_util.h"

#include <stdio.h>
#include <string.h>

static bool is_select(enum reg_check c)
{
	return c == CHECK_ENUM || c == CHECK_PROVINCE || c == CHECK_AUTHORITY;
}

static const char *type_name(enum reg_check c)
{
	switch (c) {
	case CHECK_PHONE:
	case CHECK_MOBILE:
		return "tel";
	case CHECK_EMAIL:
		return "email";
	case CHECK_PASSWORD:
		return "password";
	case CHECK_ENUM:
	case CHECK_PROVINCE:
	case CHECK_AUTHORITY:
		return "select";
	default:
		return "text";
	}
}

static json_t *options_of(const char *const *list, const char *selected)
{
	json_t *opts = json_array();
	json_array_append_new(opts, json_pack("{s:s, s:s, s:b}", "value", "", "label", "请选择",
	                                      "selected", !selected || !*selected));
	for (size_t i = 0; list[i]; i++)
		json_array_append_new(opts, json_pack("{s:s, s:s, s:b}", "value", list[i], "label",
		                                      list[i], "selected",
		                                      selected && strcmp(selected, list[i]) == 0));
	return opts;
}

static json_t *province_options(db_conn *c, const char *v)
{
	json_t *opts = json_array();
	json_array_append_new(
	    opts, json_pack("{s:s, s:s, s:b}", "value", "", "label", "请选择", "selected", !*v));
	struct arena *a = arena_new();
	struct province *provs;
	size_t n;
	if (province_list(c, a, &provs, &n) == DB_OK)
		for (size_t j = 0; j < n; j++)
			json_array_append_new(opts,
			                      json_pack("{s:s, s:s, s:b}", "value", provs[j].code,
			                                "label", provs[j].name, "selected",
			                                strcmp(provs[j].code, v) == 0));
	arena_free(a);
	return opts;
}

/* Grouped by province; the page's script narrows the list to the chosen
 * province, and without script every group stays usable. */
static json_t *authority_groups(db_conn *c, const char *v)
{
	json_t *groups = json_array(), *cur = NULL;
	const char *cur_prov = NULL;
	struct arena *ar = arena_new();
	struct authority *list;
	size_t n;
	if (authority_list(c, ar, &list, &n) != DB_OK)
		n = 0;
	for (size_t j = 0; j < n; j++) {
		const struct authority *a = &list[j];
		const char *prov = a->province ? a->province : "交通运输部及直属机构（中央单位）";
		if (!cur || strcmp(cur_prov, prov) != 0) {
			cur = json_pack("{s:s, s:s, s:[]}", "group", prov, "province_code",
			                a->province_code ? a->province_code : "", "options");
			json_array_append_new(groups, cur);
			cur_prov = json_string_value(json_object_get(cur, "group"));
		}
		char id[24];
		snprintf(id, sizeof id, "%lld", (long long)a->id);
		struct buf lbl = {0};
		for (int d = 0; d < a->depth && d < 4; d++)
			buf_puts(&lbl, "　");
		buf_puts(&lbl, a->name);
		json_array_append_new(json_object_get(cur, "options"),
		                      json_pack("{s:s, s:s, s:b}", "value", id, "label", lbl.data,
		                                "selected", strcmp(id, v) == 0));
		buf_free(&lbl);
	}
	arena_free(ar);
	return groups;
}

json_t *registration_form_json(db_conn *c, enum reg_kind k, json_t *values,
                               const struct field_errors *errors, bool editing)
{
	json_t *out = json_array();
	size_t n;
	const struct reg_field *fields = registration_fields(k, &n);
	for (size_t i = 0; i < n; i++) {
		const struct reg_field *f = &fields[i];
		if (editing && f->account)
			continue;
		const char *v = f->check == CHECK_PASSWORD ? "" : sval(values, f->name);
		json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:i}", "name", f->name, "label",
		                      f->label, "type", type_name(f->check), "required",
		                      f->required, "value", v, "maxlength", f->maxlen);
		json_object_set_new(o, "is_select", json_boolean(is_select(f->check)));
		if (f->check == CHECK_PASSWORD)
			json_object_set_new(o, "autocomplete", json_string("new-password"));
		else if (f->check == CHECK_USERNAME)
			json_object_set_new(o, "autocomplete", json_string("username"));
		if (f->hint)
			json_object_set_new(o, "hint", json_string(f->hint));
		const char *err = errors ? field_error_of(errors, f->name) : NULL;
		if (err)
			json_object_set_new(o, "error", json_string(err));
		if (f->check == CHECK_ENUM)
			json_object_set_new(o, "options", options_of(f->options, v));
		else if (f->check == CHECK_PROVINCE)
			json_object_set_new(o, "options", province_options(c, v));
		else if (f->check == CHECK_AUTHORITY) {
			/* No authority is chosen for the applicant: an untouched
			 * field stays empty and is refused. */
			json_object_set_new(o, "options",
			                    json_pack("[{s:s, s:s, s:b}]", "value", "", "label",
			                              "请选择", "selected", !*v));
			json_object_set_new(o, "groups", authority_groups(c, v));
		}
		json_array_append_new(out, o);
	}
	return out;
}

json_t *registration_rows_json(enum reg_kind k, json_t *reg)
{
	json_t *rows = json_array();
	size_t n;
	const struct reg_field *fields = registration_fields(k, &n);
	for (size_t i = 0; i < n; i++) {
		const struct reg_field *f = &fields[i];
		if (f->account)
			continue;
		/* Ids are shown by name: the authority's and the province's. */
		const char *key = f->check == CHECK_AUTHORITY  ? "authority_name"
		                  : f->check == CHECK_PROVINCE ? "province"
		                                               : f->name;
		const char *value = json_string_value(json_object_get(reg, key));
		json_array_append_new(
		    rows, json_pack("{s:s, s:s}", "label", f->label, "value", value ? value : ""));
	}
	return rows;
}

void registration_input_from_json(json_t *values, struct registration_input *in)
{
	memset(in, 0, sizeof(*in));
	const char *key;
	json_t *v;
	json_object_foreach(values, key, v)
	{
		const char **at = registration_input_at(in, key);
		if (at)
			*at = json_string_value(v);
	}
}

void registration_input_to_json(enum reg_kind k, const struct registration_input *in,
                                json_t *values)
{
	json_object_clear(values);
	size_t n;
	const struct reg_field *fields = registration_fields(k, &n);
	for (size_t i = 0; i < n; i++) {
		const char **at =
		    registration_input_at((struct registration_input *)in, fields[i].name);
		if (at && *at)
			json_object_set_new(values, fields[i].name, json_string(*at));
	}
}

enum db_status load_registration(struct request *r, int64_t id, struct registration *reg,
                                 json_t **json)
{
	enum db_status st = registration_get(req_db(r), r->arena, id, reg);
	if (json)
		*json = st == DB_OK ? req_own_json(r, registration_to_json(reg)) : NULL;
	return st;
}
