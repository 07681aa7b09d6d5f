/*
 * Certificate key applications (证书U盘申请): form, validation, creation with
 * numbering and a fee snapshot, reading, timeline, and the materials list.
 */
#include "esp/application.h"
#include "esp/notify.h"
#include "esp/validate.h"
#include "esp/db_json.h"
#include "esp/json_util.h"

#include <stdlib.h>
#include <string.h>

/* ---- steps as the manual numbers them ---- */

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

json_t *application_steps(enum reg_kind k, const char *current)
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

/* ---- the form ---- */

struct afield {
	const char *name;
	const char *label;
	const char *type; /* text, tel, email, number */
	bool unit_only, eval_label;
	bool required;
	int maxlen;
	const char *hint;
};

static const struct afield unit_fields[] = {
    {"contact_name", "经办人姓名", "text", false, false, true, 30, NULL},
    {"contact_id_number", "经办人身份证号码", "text", true, false, true, 18, NULL},
    {"mobile", "经办人手机", "tel", false, false, true, 14, "11位手机号码"},
    {"phone", "单位电话", "tel", false, false, true, 20, "如 010-65290000"},
    {"email", "电子邮箱", "email", false, false, true, 100, NULL},
    {"address", "通信地址", "text", false, false, true, 120, "证书U盘将寄往此地址"},
    {"postcode", "邮政编码", "text", false, false, true, 6, "6位数字"},
    {"sets", "证书U盘数量", "number", true, false, true, 3, "1-99个，每个证书U盘为一套"},
    {"invoice_title", "发票抬头", "text", true, false, true, 100, NULL},
    {"taxpayer_id", "纳税人识别号", "text", true, false, false, 20,
     "企业必填；一般为18位统一社会信用代码"},
};

static const struct afield eval_fields[] = {
    {"contact_name", "姓名", "text", false, true, true, 30, NULL},
    {"mobile", "联系电话", "tel", false, true, true, 14, "11位手机号码"},
    {"phone", "固定电话", "tel", false, true, false, 20, NULL},
    {"email", "电子邮箱", "email", false, true, true, 100, NULL},
    {"address", "通信地址", "text", false, true, true, 120, NULL},
    {"postcode", "邮政编码", "text", false, true, true, 6, "6位数字"},
};

static const struct afield *fields_of(enum reg_kind k, size_t *n)
{
	if (k == KIND_EVALUATOR) {
		*n = sizeof eval_fields / sizeof eval_fields[0];
		return eval_fields;
	}
	*n = sizeof unit_fields / sizeof unit_fields[0];
	return unit_fields;
}

json_t *application_defaults(json_t *reg)
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

json_t *application_form(enum reg_kind k, json_t *values, json_t *errors)
{
	size_t n;
	const struct afield *fs = fields_of(k, &n);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct afield *f = &fs[i];
		bool required =
		    f->required || (k == KIND_ENTERPRISE && strcmp(f->name, "taxpayer_id") == 0);
		json_t *o =
		    json_pack("{s:s, s:s, s:s, s:b, s:s, s:i, s:b}", "name", f->name, "label",
		              f->label, "type", f->type, "required", required, "value",
		              sval(values, f->name), "maxlength", f->maxlen, "is_select", 0);
		if (f->hint)
			json_object_set_new(o, "hint", json_string(f->hint));
		const char *err = json_string_value(json_object_get(errors, f->name));
		if (err)
			json_object_set_new(o, "error", json_string(err));
		json_array_append_new(out, o);
	}
	return out;
}

json_t *application_validate(const struct esp_limits *l, enum reg_kind k, json_t *values)
{
	json_t *errors = json_object();
	size_t n;
	const struct afield *fs = fields_of(k, &n);
	for (size_t i = 0; i < n; i++) {
		const struct afield *f = &fs[i];
		char *v = xstrdup(sval(values, f->name));
		str_trim(v);
		if (strcmp(f->name, "contact_id_number") == 0 ||
		    strcmp(f->name, "taxpayer_id") == 0)
			for (char *p = v; *p; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 32);
		json_object_set_new(values, f->name, json_string(v));
		bool required =
		    f->required || (k == KIND_ENTERPRISE && strcmp(f->name, "taxpayer_id") == 0);
		long len = utf8_length(v);
		if (!*v) {
			if (required)
				set_err(errors, f->name,
				        strcmp(f->name, "taxpayer_id") == 0
				            ? "企业用户必须填写纳税人识别号"
				            : "此项为必填项");
		} else if (len < 0) {
			set_err(errors, f->name, "含有无效字符");
		} else if (len > f->maxlen) {
			char *m = xasprintf("不能超过%d个字", f->maxlen);
			set_err(errors, f->name, m);
			free(m);
		}
		free(v);
	}
	const char *m = sval(values, "mobile");
	if (*m && !validate_mobile(m))
		set_err(errors, "mobile", "请输入正确的11位手机号码");
	const char *ph = sval(values, "phone");
	if (*ph && !validate_phone(ph))
		set_err(errors, "phone", "请输入正确的电话号码，如 010-65290000");
	const char *e = sval(values, "email");
	if (*e && !validate_email(e))
		set_err(errors, "email", "请输入正确的电子邮箱地址");
	const char *pc = sval(values, "postcode");
	if (*pc && !validate_postcode(pc))
		set_err(errors, "postcode", "邮政编码应为6位数字");
	if (k != KIND_EVALUATOR) {
		const char *cid = sval(values, "contact_id_number");
		if (*cid && !validate_id_number(cid))
			set_err(errors, "contact_id_number",
			        "身份证号码校验错误，请核对后重新输入");
		const char *s = sval(values, "sets");
		char *end = NULL;
		long sets = strtol(s, &end, 10);
		if (*s && (!end || *end || sets < 1 || sets > l->keys_per_application_max)) {
			char *msg =
			    xasprintf("证书U盘数量应为1-%d之间的整数", l->keys_per_application_max);
			set_err(errors, "sets", msg);
			free(msg);
		}
		const char *tax = sval(values, "taxpayer_id");
		/* Most taxpayer IDs are the unit's 统一社会信用代码 and can be checked;
		 * older 15- or 20-character IDs have no check digit. */
		if (*tax) {
			size_t tl = strlen(tax);
			bool alnum = true;
			for (const char *p = tax; *p; p++)
				alnum =
				    alnum && ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z'));
			if (!alnum || (tl != 15 && tl != 18 && tl != 20))
				set_err(errors, "taxpayer_id",
				        "纳税人识别号应为15、18或20位数字或大写字母");
			else if (tl == 18 && !validate_uscc(tax))
				set_err(errors, "taxpayer_id",
				        "纳税人识别号（统一社会信用代码）校验错误");
		}
	} else {
		json_object_set_new(values, "sets", json_string("1"));
	}
	return errors;
}

/* ---- creation ---- */

struct create_ctx {
	const struct actor *a;
	json_t *reg, *values;
	const char *type;
	int64_t scan_id;
	const char *idem;
	char *number;
	bool existing;
};

static enum db_status next_number(db_conn *c, char **number)
{
	time_t t = (time_t)(time_now() + 8 * 3600);
	struct tm tm;
	gmtime_r(&t, &tm);
	int year = tm.tm_year + 1900;
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, "UPDATE number_seq SET last = last + 1 WHERE year = $1 RETURNING last", &r,
	            P_INT(year));
	if (st != DB_OK)
		return st;
	int64_t n = r->nrows ? db_get_int(r, 0, 0, 0) : 0;
	db_result_free(r);
	if (!n) {
		n = 1;
		st = DB_EXEC(c, "INSERT INTO number_seq (year, last) VALUES ($1, 1)", NULL,
		             P_INT(year));
		if (st == DB_CONFLICT)
			return DB_RETRY;
		if (st != DB_OK)
			return st;
	}
	*number = xasprintf("ESP-%04d-%06lld", year, (long long)n);
	return DB_OK;
}

enum db_status application_open_initial(db_conn *c, int64_t registration_id, char **number)
{
	*number = NULL;
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "SELECT number FROM applications WHERE registration_id = $1 AND type = 'initial' "
	    "AND state <> $2 ORDER BY id DESC LIMIT 1",
	    &r, P_INT(registration_id), P_TEXT(appstate_name(APP_WITHDRAWN)));
	if (st == DB_OK && r->nrows)
		*number = xstrdup(db_get(r, 0, 0));
	db_result_free(r);
	return st;
}

enum db_status application_latest_scan(db_conn *c, int64_t registration_id, int64_t *scan_id)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT scan_id FROM applications WHERE registration_id = $1 AND "
	            "scan_id IS NOT NULL ORDER BY id DESC LIMIT 1",
	            &r, P_INT(registration_id));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	*scan_id = st == DB_OK ? db_get_int(r, 0, 0, 0) : 0;
	db_result_free(r);
	return st;
}

static enum db_status create_tx(db_conn *c, void *arg)
{
	struct create_ctx *x = arg;
	free(x->number);
	x->number = NULL;
	x->existing = false;
	int64_t reg_id = strtoll(sval(x->reg, "id"), NULL, 10);
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, "SELECT number, registration_id FROM applications WHERE idem_key = $1", &r,
	            P_TEXT(x->idem));
	if (st != DB_OK)
		return st;
	if (r->nrows) {
		/* The same form sent again: the first application stands. */
		bool mine = db_get_int(r, 0, 1, 0) == reg_id;
		x->number = mine ? xstrdup(db_get(r, 0, 0)) : NULL;
		x->existing = true;
		db_result_free(r);
		return mine ? DB_OK : DB_CONFLICT;
	}
	db_result_free(r);
	if (strcmp(x->type, "initial") == 0) {
		/* One initial application per registration; more keys come by 再次申请. */
		st = application_open_initial(c, reg_id, &x->number);
		x->existing = x->number != NULL;
		if (st != DB_OK || x->existing)
			return st;
	}
	enum app_state to;
	if (!appstate_next(APP_NEW, STEP_SUBMIT, x->a ? x->a->role : ROLE_NONE, 0, &to))
		return DB_CONFLICT;
	struct fee fee;
	if ((st = fee_current(c, &fee)) != DB_OK)
		return st;
	enum reg_kind k = kind_parse(sval(x->reg, "kind"));
	int sets = (int)strtol(sval(x->values, "sets"), NULL, 10);
	if (k == KIND_EVALUATOR)
		sets = 1;
	if ((st = next_number(c, &x->number)) != DB_OK)
		return st;
	int64_t now = time_now();
	r = NULL;
	st = DB_EXEC(
	    c,
	    "INSERT INTO applications (number, registration_id, type, state, sets, contact_name, "
	    "contact_id_number, mobile, phone, email, address, postcode, invoice_title, "
	    "taxpayer_id, "
	    "price_yuan, medium_yuan, years, amount_yuan, scan_id, idem_key, submitted_at, "
	    "updated_at) "
	    "VALUES ($1, $2, $3, $21, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
	    "$16, $17, $18, $19, $20, $20) RETURNING id",
	    &r, P_TEXT(x->number), P_INT(reg_id), P_TEXT(x->type), P_INT(sets),
	    P_TEXT(sval_opt(x->values, "contact_name")),
	    P_TEXT(sval_opt(x->values, "contact_id_number")), P_TEXT(sval_opt(x->values, "mobile")),
	    P_TEXT(sval_opt(x->values, "phone")), P_TEXT(sval_opt(x->values, "email")),
	    P_TEXT(sval_opt(x->values, "address")), P_TEXT(sval_opt(x->values, "postcode")),
	    P_TEXT(k == KIND_EVALUATOR ? NULL : sval_opt(x->values, "invoice_title")),
	    P_TEXT(k == KIND_EVALUATOR ? NULL : sval_opt(x->values, "taxpayer_id")),
	    P_INT(fee.price_yuan), P_INT(fee.medium_yuan), P_INT(fee.years),
	    P_INT(fee_amount(&fee, k, sets)), x->scan_id ? P_INT(x->scan_id) : P_NULL,
	    P_TEXT(x->idem), P_INT(now), P_TEXT(appstate_name(to)));
	if (st == DB_CONFLICT) {
		/* Another request with the same form won the race: run again and find it. */
		db_result_free(r);
		return DB_RETRY;
	}
	if (st != DB_OK) {
		db_result_free(r);
		return st;
	}
	int64_t app_id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return application_event(c, x->a, app_id, appstep_name(STEP_SUBMIT), appstate_name(APP_NEW),
	                         appstate_name(to), NULL);
}

enum db_status application_create(db_conn *c, const struct actor *a, json_t *reg, json_t *values,
                                  const char *type, int64_t scan_id, const char *idem_key,
                                  char **number, bool *existing)
{
	struct create_ctx x = {.a = a,
	                       .reg = reg,
	                       .values = values,
	                       .type = type,
	                       .scan_id = scan_id,
	                       .idem = idem_key};
	enum db_status st = db_transaction(c, create_tx, &x);
	if (st == DB_OK) {
		*number = x.number;
		*existing = x.existing;
	} else {
		free(x.number);
	}
	return st;
}

enum db_status application_event(db_conn *c, const struct actor *a, int64_t app_id,
                                 const char *action, const char *from, const char *to,
                                 const char *note)
{
	enum db_status st = DB_EXEC(c,
	                            "INSERT INTO application_events (application_id, at, actor_id, "
	                            "actor, action, from_state, "
	                            "to_state, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	                            NULL, P_INT(app_id), P_INT(time_now()),
	                            a && a->account_id ? P_INT(a->account_id) : P_NULL,
	                            P_TEXT(a ? a->username : "system"), P_TEXT(action),
	                            P_TEXT(from), P_TEXT(to), P_TEXT(note));
	if (st == DB_OK)
		st = notify_application_step(c, app_id, action, from, to, note);
	if (st != DB_OK)
		return st;
	db_result *r = NULL;
	st = DB_EXEC(c, "SELECT number FROM applications WHERE id = $1", &r, P_INT(app_id));
	if (st == DB_OK && r->nrows) {
		char *obj = xasprintf("application:%s", db_get(r, 0, 0));
		char *act = xasprintf("application.%s", action);
		st = audit_append(c, a, act, obj, from, to);
		free(obj);
		free(act);
	}
	db_result_free(r);
	return st;
}

struct withdraw_ctx {
	const struct actor *a;
	const char *number;
};

static enum db_status withdraw_tx(db_conn *c, void *arg)
{
	struct withdraw_ctx *w = arg;
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT a.id, a.state, r.kind, a.paid_at, a.materials_at FROM applications a "
	            "JOIN registrations r ON r.id = a.registration_id WHERE a.number = $1",
	            &r, P_TEXT(w->number));
	if (st == DB_OK && r->nrows == 0)
		st = DB_CONFLICT;
	if (st != DB_OK) {
		db_result_free(r);
		return st;
	}
	int64_t id = db_get_int(r, 0, 0, 0);
	enum app_state from = appstate_parse(db_get(r, 0, 1)), to;
	unsigned facts = (kind_parse(db_get(r, 0, 2)) == KIND_EVALUATOR ? APP_FACT_EVALUATOR : 0) |
	                 (db_get(r, 0, 3) ? APP_FACT_PAID : 0) |
	                 (db_get(r, 0, 4) ? APP_FACT_MATERIALS : 0);
	db_result_free(r);
	if (!appstate_next(from, STEP_WITHDRAW, w->a ? w->a->role : ROLE_NONE, facts, &to))
		return DB_CONFLICT;
	int64_t now = time_now();
	st = DB_EXEC(c,
	             "UPDATE applications SET state = $2, withdrawn_at = $3, updated_at = $3 "
	             "WHERE id = $1",
	             NULL, P_INT(id), P_TEXT(appstate_name(to)), P_INT(now));
	if (st != DB_OK)
		return st;
	return application_event(c, w->a, id, appstep_name(STEP_WITHDRAW), appstate_name(from),
	                         appstate_name(to), NULL);
}

enum db_status application_withdraw(db_conn *c, const struct actor *a, const char *number)
{
	struct withdraw_ctx w = {.a = a, .number = number};
	return db_transaction(c, withdraw_tx, &w);
}

/* ---- reading ---- */

#define APP_SELECT                                                                                 \
	"SELECT a.id, a.number, a.registration_id, a.type, a.state, a.sets, a.contact_name, "      \
	"a.contact_id_number, a.mobile, a.phone, a.email, a.address, a.postcode, "                 \
	"a.invoice_title, "                                                                        \
	"a.taxpayer_id, a.price_yuan, a.medium_yuan, a.years, a.amount_yuan, a.scan_id, "          \
	"a.submitted_at, a.paid_at, a.materials_at, a.issued_at, a.shipped_at, a.pickup_at, "      \
	"a.received_at, a.returned_at, a.return_reason, a.withdrawn_at, a.courier, "               \
	"a.tracking_no, "                                                                          \
	"r.kind, r.state AS reg_state, r.name AS reg_name, r.code AS reg_code, "                   \
	"r.legal_rep, r.work_unit, r.department, r.province_code, p.name AS province, "            \
	"au.path AS authority_path, au.name AS authority_name "                                    \
	"FROM applications a JOIN registrations r ON r.id = a.registration_id "                    \
	"JOIN provinces p ON p.code = r.province_code JOIN authorities au ON au.id = "             \
	"r.authority_id "

static void decorate(json_t *o)
{
	json_object_set_new(o, "state_label", json_string(app_state_label(sval(o, "state"))));
	json_object_set_new(o, "type_label", json_string(app_type_label(sval(o, "type"))));
	enum reg_kind k = kind_parse(sval(o, "kind"));
	if (k != KIND_NONE) {
		json_object_set_new(o, "kind_label", json_string(kind_label(k)));
		json_object_set_new(o, "is_evaluator", json_boolean(k == KIND_EVALUATOR));
	}
}

json_t *application_get(db_conn *c, const char *number)
{
	db_result *r = NULL;
	if (!number || strlen(number) > 32 ||
	    DB_EXEC(c, APP_SELECT "WHERE a.number = $1", &r, P_TEXT(number)) != DB_OK)
		return NULL;
	json_t *o = r->nrows ? db_row_json(r, 0) : NULL;
	db_result_free(r);
	if (o)
		decorate(o);
	return o;
}

json_t *application_list_for(db_conn *c, int64_t registration_id)
{
	db_result *r = NULL;
	json_t *arr = json_array();
	if (DB_EXEC(c, APP_SELECT "WHERE a.registration_id = $1 ORDER BY a.id DESC", &r,
	            P_INT(registration_id)) == DB_OK)
		for (int i = 0; i < r->nrows; i++) {
			json_t *o = db_row_json(r, i);
			decorate(o);
			json_array_append_new(arr, o);
		}
	db_result_free(r);
	return arr;
}

void application_policy_object(json_t *app, struct policy_object *o)
{
	memset(o, 0, sizeof(*o));
	if (!app)
		return;
	o->registration_id = strtoll(sval(app, "registration_id"), NULL, 10);
	o->kind = sval(app, "kind");
	o->reg_state = sval(app, "reg_state");
	o->authority_path = sval(app, "authority_path");
	o->province_code = sval(app, "province_code");
}

unsigned application_facts(json_t *app)
{
	return (kind_parse(sval(app, "kind")) == KIND_EVALUATOR ? APP_FACT_EVALUATOR : 0) |
	       (json_is_string(json_object_get(app, "paid_at")) ? APP_FACT_PAID : 0) |
	       (json_is_string(json_object_get(app, "materials_at")) ? APP_FACT_MATERIALS : 0);
}

void application_appform(json_t *app, struct appform *f)
{
	memset(f, 0, sizeof(*f));
	enum reg_kind k = kind_parse(sval(app, "kind"));
	f->personal = k == KIND_EVALUATOR;
	f->kind = sval(app, "kind");
	f->number = sval(app, "number");
	f->business_type = app_type_label(sval(app, "type"));
	/* Borrowed by the caller like every other field: one per thread. */
	static __thread char date[40];
	int64_t t = strtoll(sval(app, "submitted_at"), NULL, 10) + 8 * 3600;
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	snprintf(date, sizeof date, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	f->date = date;
	f->unit_name = sval(app, "reg_name");
	f->unit_code = sval(app, "reg_code");
	f->legal_rep = sval(app, "legal_rep");
	f->contact_name = sval(app, "contact_name");
	f->contact_id_number = sval(app, "contact_id_number");
	f->phone = sval(app, "phone");
	f->mobile = sval(app, "mobile");
	f->email = sval(app, "email");
	f->address = sval(app, "address");
	f->postcode = sval(app, "postcode");
	f->keys = (int)strtol(sval(app, "sets"), NULL, 10);
	f->invoice_title = sval(app, "invoice_title");
	f->taxpayer_id = sval(app, "taxpayer_id");
	f->person_name = sval(app, "reg_name");
	f->id_type = "居民身份证";
	f->id_number = sval(app, "reg_code");
	f->work_unit = sval(app, "work_unit");
	f->department = sval(app, "department");
	f->amount_yuan = strtol(sval(app, "amount_yuan"), NULL, 10);
}

const char *app_type_label(const char *type)
{
	return strcmp(type, "additional") == 0 ? "增加数量" : "初次办理";
}

json_t *application_timeline(json_t *app, struct arena *a)
{
	bool eval = json_is_true(json_object_get(app, "is_evaluator"));
	const char *const steps[][2] = {
	    {"submitted_at", "已提交"},
	    {"paid_at", "已付款"},
	    {"materials_at", "材料已收到"},
	    {"issued_at", "已制证"},
	    {eval ? "pickup_at" : "shipped_at", eval ? "待领取" : "已寄出"},
	    {"received_at", "已签收"},
	};
	json_t *arr = json_array();
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if (eval && strcmp(steps[i][0], "paid_at") == 0)
			continue; /* evaluators pay nothing */
		const char *v = json_string_value(json_object_get(app, steps[i][0]));
		int64_t t = v ? strtoll(v, NULL, 10) : 0;
		json_array_append_new(arr,
		                      json_pack("{s:s, s:s, s:b}", "label", steps[i][1], "date",
		                                t ? time_datetime(a, t) : "", "done", t != 0));
	}
	return arr;
}

json_t *application_materials(enum reg_kind k)
{
	switch (k) {
	case KIND_AUTHORITY:
		return json_pack("[s]", "《单位数字证书申请表》一份（加盖部门章）");
	case KIND_AGENCY:
	case KIND_ENTERPRISE:
		return json_pack("[s, s]", "《单位数字证书申请表》一份（加盖公章）",
		                 "《组织机构代码证（副本）》复印件（加盖公章）");
	case KIND_EVALUATOR:
		return json_pack("[s, s]", "《个人数字证书申请表》一份（本人签字）",
		                 "个人有效身份证件复印件一份");
	default:
		return json_array();
	}
}
