/*
 * What the application pages show around an application: the wizard's
 * steps as the manual numbers them, the status timeline, the materials
 * list and the form's fields, made from the core's typed records.
 */
#include "application_view.h"
#include "esp/json_util.h"

#include <string.h>

static const char *const step_labels[][2] = {
    {"register", "提交初次报名信息"}, {"status", "查看初审状态"},
    {"scan", "准备证书U盘申请材料"},  {"form", "填写证书U盘申请信息"},
    {"print", "打印证书U盘申请表"},   {"pay", "支付证书U盘费用并邮寄申请材料"},
    {"submit", "提交申请材料"},       {"receive", "接收证书U盘"},
};

static const char *step_label(const char *key)
{
	for (size_t i = 0; i < sizeof step_labels / sizeof step_labels[0]; i++)
		if (strcmp(step_labels[i][0], key) == 0)
			return step_labels[i][1];
	return key;
}

json_t *application_steps_json(enum reg_kind k, const char *current)
{
	static const char *const unit_scan[] = {"register", "status", "scan",    "form",
	                                        "print",    "pay",    "receive", NULL};
	static const char *const authority[] = {"register", "status",  "form", "print",
	                                        "pay",      "receive", NULL};
	static const char *const evaluator[] = {"register", "status",  "form", "print",
	                                        "submit",   "receive", NULL};
	const char *const *list = k == KIND_AUTHORITY   ? authority
	                          : k == KIND_EVALUATOR ? evaluator
	                                                : unit_scan;
	json_t *arr = json_array();
	bool seen = false;
	for (int i = 0; list[i]; i++) {
		bool cur = strcmp(list[i], current) == 0 ||
		           (strcmp(current, "pay") == 0 && strcmp(list[i], "submit") == 0);
		json_array_append_new(arr,
		                      json_pack("{s:s, s:b, s:b}", "label", step_label(list[i]),
		                                "current", cur, "done", !seen && !cur));
		if (cur)
			seen = true;
	}
	return arr;
}

static json_t *step_json(const char *label, int64_t t, bool done, struct arena *a)
{
	return json_pack("{s:s, s:s, s:b}", "label", label, "date", t ? time_datetime(a, t) : "",
	                 "done", done);
}

/* 更新 keeps its token: nothing is mailed; the holder's tool has the new
 * certificate issued and confirms it (core/renewal.c).  密码解锁: approved,
 * then done by the tool (core/sopin.c). */
static json_t *other_timeline(const struct application *app, struct arena *a)
{
	json_t *arr = json_array();
	json_array_append_new(arr, step_json("已提交", app->submitted_at, true, a));
	if (app->type == APP_TYPE_UNLOCK) {
		bool done = app->state == APP_UNLOCKED;
		json_array_append_new(
		    arr, step_json("已批准解锁", 0, done || app->state == APP_UNLOCK_APPROVED, a));
		json_array_append_new(arr,
		                      step_json("已解锁", done ? app->updated_at : 0, done, a));
		return arr;
	}
	if (app->change_id)
		/* 信息变更's free re-issue: approval is what opened it. */
		json_array_append_new(arr, step_json("信息变更已通过", app->submitted_at, true, a));
	else if (app->kind != KIND_EVALUATOR)
		json_array_append_new(arr, step_json("已付款", app->paid_at, app->paid_at != 0, a));
	json_array_append_new(arr,
	                      step_json("新证书已签发", app->issued_at, app->issued_at != 0, a));
	bool renewed = app->state == APP_RENEWED;
	json_array_append_new(
	    arr, step_json("已更新（原证书作废）", renewed ? app->updated_at : 0, renewed, a));
	return arr;
}

json_t *application_timeline_json(const struct application *app, struct arena *a)
{
	if (app->type == APP_TYPE_RENEWAL || app->type == APP_TYPE_UNLOCK)
		return other_timeline(app, a);
	bool eval = app->kind == KIND_EVALUATOR;
	const struct {
		int64_t at;
		const char *label;
		bool skip;
	} steps[] = {
	    {app->submitted_at, "已提交", false},
	    {app->paid_at, "已付款", eval}, /* evaluators pay nothing */
	    {app->materials_at, "材料已收到", false},
	    {app->issued_at, "已制证", false},
	    {eval ? app->pickup_at : app->shipped_at, eval ? "待领取" : "已寄出", false},
	    {app->received_at, "已签收", false},
	};
	json_t *arr = json_array();
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if (steps[i].skip)
			continue;
		int64_t t = steps[i].at;
		json_array_append_new(arr,
		                      json_pack("{s:s, s:s, s:b}", "label", steps[i].label, "date",
		                                t ? time_datetime(a, t) : "", "done", t != 0));
	}
	return arr;
}

json_t *application_materials_json(enum reg_kind k)
{
	size_t n;
	const char *const *items = application_materials(k, &n);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(items[i]));
	return arr;
}

json_t *application_form_json(enum reg_kind k, json_t *values, const struct field_errors *errors)
{
	size_t n;
	const struct app_field *fs = application_fields(k, &n);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct app_field *f = &fs[i];
		json_t *o = json_pack(
		    "{s:s, s:s, s:s, s:b, s:s, s:i, s:b}", "name", f->name, "label", f->label,
		    "type", f->type, "required", application_field_required(k, f), "value",
		    sval(values, f->name), "maxlength", f->maxlen, "is_select", 0);
		if (f->hint)
			json_object_set_new(o, "hint", json_string(f->hint));
		const char *err = errors ? field_error_of(errors, f->name) : NULL;
		if (err)
			json_object_set_new(o, "error", json_string(err));
		json_array_append_new(out, o);
	}
	return out;
}

json_t *application_defaults_json(json_t *reg)
{
	enum reg_kind k = kind_parse(sval(reg, "kind"));
	json_t *v = json_object();
	if (k == KIND_EVALUATOR) {
		json_object_set_new(v, "contact_name", json_string(sval(reg, "name")));
	} else {
		json_object_set_new(v, "contact_name", json_string(sval(reg, "contact_name")));
		json_object_set_new(v, "contact_id_number",
		                    json_string(sval(reg, "contact_id_number")));
		json_object_set_new(v, "invoice_title", json_string(sval(reg, "name")));
		const char *code = sval(reg, "code");
		json_object_set_new(v, "taxpayer_id", json_string(strlen(code) == 18 ? code : ""));
		json_object_set_new(v, "sets", json_string("1"));
	}
	const char *copy[] = {"mobile", "phone", "email", "address", "postcode"};
	for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++)
		json_object_set_new(v, copy[i], json_string(sval(reg, copy[i])));
	return v;
}

void application_input_from_json(enum reg_kind k, json_t *values, struct application_input *in)
{
	memset(in, 0, sizeof(*in));
	size_t n;
	const struct app_field *fs = application_fields(k, &n);
	for (size_t i = 0; i < n; i++)
		*application_input_at(in, &fs[i]) = sval(values, fs[i].name);
}

void application_input_to_json(enum reg_kind k, struct application_input *in, json_t *values)
{
	size_t n;
	const struct app_field *fs = application_fields(k, &n);
	for (size_t i = 0; i < n; i++) {
		const char *v = *application_input_at(in, &fs[i]);
		json_object_set_new(values, fs[i].name, json_string(v ? v : ""));
	}
	if (k == KIND_EVALUATOR)
		json_object_set_new(values, "sets", json_string(in->sets ? in->sets : ""));
}
