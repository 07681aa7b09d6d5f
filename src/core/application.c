/*
 * Certificate key applications (证书U盘申请): the form's fields, validation,
 * creation with numbering and a fee snapshot, reading, and the materials list.
 */
#include "esp/application.h"
#include "esp/materials.h"
#include "esp/notify.h"
#include "esp/validate.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- the form ---- */

#define AT(m) offsetof(struct application_input, m)

static const struct app_field unit_fields[] = {
    {"contact_name", "经办人姓名", "text", true, 30, NULL, AT(contact_name)},
    {"contact_id_number", "经办人身份证号码", "text", true, 18, NULL, AT(contact_id_number)},
    {"mobile", "经办人手机", "tel", true, 20, "11位手机号码", AT(mobile)},
    {"phone", "单位电话", "tel", true, 20, "如 010-65290000", AT(phone)},
    {"email", "电子邮箱", "email", true, 100, NULL, AT(email)},
    {"address", "通信地址", "text", true, 120, "证书U盘将寄往此地址", AT(address)},
    {"postcode", "邮政编码", "text", true, 6, "6位数字", AT(postcode)},
    {"sets", "证书U盘数量", "number", true, 3, "1-99个，每个证书U盘为一套", AT(sets)},
    {"invoice_title", "发票抬头", "text", true, 100, NULL, AT(invoice_title)},
    {"taxpayer_id", "纳税人识别号", "text", false, 20, "企业必填；一般为18位统一社会信用代码",
     AT(taxpayer_id)},
};

static const struct app_field eval_fields[] = {
    /* No 姓名 here: an evaluator's name is the registration's, bound to the
     * 身份证号码 shown above the form, and is what the form prints. */
    {"mobile", "手机号码", "tel", true, 20, "11位手机号码", AT(mobile)},
    {"phone", "固定电话", "tel", false, 20, NULL, AT(phone)},
    {"email", "电子邮箱", "email", true, 100, NULL, AT(email)},
    {"address", "通信地址", "text", true, 120, NULL, AT(address)},
    {"postcode", "邮政编码", "text", true, 6, "6位数字", AT(postcode)},
};

const struct app_field *application_fields(enum reg_kind k, size_t *n)
{
	if (k == KIND_EVALUATOR) {
		*n = sizeof eval_fields / sizeof eval_fields[0];
		return eval_fields;
	}
	*n = sizeof unit_fields / sizeof unit_fields[0];
	return unit_fields;
}

bool application_field_required(enum reg_kind k, const struct app_field *f)
{
	return f->required || (k == KIND_ENTERPRISE && strcmp(f->name, "taxpayer_id") == 0);
}

const char **application_input_at(struct application_input *in, const struct app_field *f)
{
	return (const char **)((char *)in + f->offset);
}

/* The value of a field, "" for none. */
static const char *val(const char *v)
{
	return v ? v : "";
}

void application_validate(const struct esp_limits *l, enum reg_kind k, struct application_input *in,
                          struct arena *a, struct field_errors *errors)
{
	size_t n;
	const struct app_field *fs = application_fields(k, &n);
	for (size_t i = 0; i < n; i++) {
		const struct app_field *f = &fs[i];
		const char **at = application_input_at(in, f);
		char *v = arena_strdup(a, val(*at));
		str_trim(v);
		if (strcmp(f->name, "contact_id_number") == 0 ||
		    strcmp(f->name, "taxpayer_id") == 0)
			for (char *p = v; *p; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 32);
		*at = v;
		long len = utf8_length(v);
		if (!*v) {
			if (application_field_required(k, f))
				field_error_set(errors, f->name,
				                strcmp(f->name, "taxpayer_id") == 0
				                    ? "企业用户必须填写纳税人识别号"
				                    : "此项为必填项");
		} else if (len < 0) {
			field_error_set(errors, f->name, "含有无效字符");
		} else if (len > f->maxlen) {
			field_error_set(errors, f->name,
			                arena_printf(a, "不能超过%d个字", f->maxlen));
		}
	}
	const char *m = val(in->mobile);
	char mobile[12];
	if (*m && validate_normalise_mobile(m, mobile))
		in->mobile = arena_strdup(a, mobile); /* "138 1234 5678", "+86 …": its 11 digits */
	else if (*m)
		field_error_set(errors, "mobile", "请输入正确的11位手机号码");
	const char *ph = val(in->phone);
	if (*ph && !validate_phone(ph))
		field_error_set(errors, "phone", "请输入正确的电话号码，如 010-65290000");
	const char *e = val(in->email);
	if (*e && !validate_email(e))
		field_error_set(errors, "email", "请输入正确的电子邮箱地址");
	const char *pc = val(in->postcode);
	if (*pc && !validate_postcode(pc))
		field_error_set(errors, "postcode", "邮政编码应为6位数字");
	if (k != KIND_EVALUATOR) {
		const char *cid = val(in->contact_id_number);
		if (*cid && !validate_id_number(cid))
			field_error_set(errors, "contact_id_number",
			                "身份证号码校验错误，请核对后重新输入");
		const char *s = val(in->sets);
		char *end = NULL;
		long sets = strtol(s, &end, 10);
		if (*s && (!end || *end || sets < 1 || sets > l->keys_per_application_max))
			field_error_set(errors, "sets",
			                arena_printf(a, "证书U盘数量应为1-%d之间的整数",
			                             l->keys_per_application_max));
		const char *tax = val(in->taxpayer_id);
		/* Most taxpayer IDs are the unit's 统一社会信用代码 and can be checked;
		 * older 15- or 20-character IDs have no check digit. */
		if (*tax) {
			size_t tl = strlen(tax);
			bool alnum = true;
			for (const char *p = tax; *p; p++)
				alnum =
				    alnum && ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z'));
			if (!alnum || (tl != 15 && tl != 18 && tl != 20))
				field_error_set(errors, "taxpayer_id",
				                "纳税人识别号应为15、18或20位数字或大写字母");
			else if (tl == 18 && !validate_uscc(tax))
				field_error_set(errors, "taxpayer_id",
				                "纳税人识别号（统一社会信用代码）校验错误");
		}
	} else {
		in->sets = "1";
	}
}

/* ---- creation ---- */

struct create_ctx {
	const struct actor *a;
	int64_t reg_id;
	enum reg_kind kind;
	const struct application_input *in;
	enum app_type type;
	int64_t scan_id;
	const char *idem;
	char *number;
	bool existing;
};

enum db_status application_next_number(db_conn *c, char **number)
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

/* A value to store: NULL for none or "". */
static const char *opt(const char *v)
{
	return v && *v ? v : NULL;
}

static enum db_status create_tx(db_conn *c, void *arg)
{
	struct create_ctx *x = arg;
	free(x->number);
	x->number = NULL;
	x->existing = false;
	int64_t reg_id = x->reg_id;
	const struct application_input *in = x->in;
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
	if (x->type == APP_TYPE_INITIAL) {
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
	enum reg_kind k = x->kind;
	int sets = (int)strtol(val(in->sets), NULL, 10);
	if (k == KIND_EVALUATOR)
		sets = 1;
	if ((st = application_next_number(c, &x->number)) != DB_OK)
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
	    &r, P_TEXT(x->number), P_INT(reg_id), P_TEXT(app_type_name(x->type)), P_INT(sets),
	    P_TEXT(opt(in->contact_name)), P_TEXT(opt(in->contact_id_number)),
	    P_TEXT(opt(in->mobile)), P_TEXT(opt(in->phone)), P_TEXT(opt(in->email)),
	    P_TEXT(opt(in->address)), P_TEXT(opt(in->postcode)),
	    P_TEXT(k == KIND_EVALUATOR ? NULL : opt(in->invoice_title)),
	    P_TEXT(k == KIND_EVALUATOR ? NULL : opt(in->taxpayer_id)), P_INT(fee.price_yuan),
	    P_INT(fee.medium_yuan), P_INT(fee.years), P_INT(fee_amount(&fee, k, sets)),
	    x->scan_id ? P_INT(x->scan_id) : P_NULL, P_TEXT(x->idem), P_INT(now),
	    P_TEXT(appstate_name(to)));
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

enum db_status application_create(db_conn *c, const struct actor *a, int64_t registration_id,
                                  enum reg_kind k, const struct application_input *in,
                                  enum app_type type, int64_t scan_id, const char *idem_key,
                                  char **number, bool *existing)
{
	struct create_ctx x = {.a = a,
	                       .reg_id = registration_id,
	                       .kind = k,
	                       .in = in,
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

enum db_status application_event_numbered(db_conn *c, const struct actor *a, int64_t app_id,
                                          const char *number, const char *action, const char *from,
                                          const char *to, const char *note)
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
	if (st != DB_OK || !number)
		return st;
	char *obj = xasprintf("application:%s", number);
	char *act = xasprintf("application.%s", action);
	st = audit_append(c, a, act, obj, from, to);
	free(obj);
	free(act);
	return st;
}

enum db_status application_event(db_conn *c, const struct actor *a, int64_t app_id,
                                 const char *action, const char *from, const char *to,
                                 const char *note)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, "SELECT number FROM applications WHERE id = $1", &r, P_INT(app_id));
	if (st == DB_OK)
		st = application_event_numbered(c, a, app_id, r->nrows ? db_get(r, 0, 0) : NULL,
		                                action, from, to, note);
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
	            "SELECT a.id, a.state, r.kind, a.paid_at, a.materials_at, a.type FROM "
	            "applications a JOIN registrations r ON r.id = a.registration_id WHERE "
	            "a.number = $1",
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
	                 (db_get(r, 0, 4) ? APP_FACT_MATERIALS : 0) |
	                 app_type_facts(app_type_parse(db_get(r, 0, 5)));
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
	"a.tracking_no, a.updated_at, a.renews_serial, a.unlock_token, a.replaces_serial, "        \
	"a.change_id, "                                                                            \
	"r.kind, r.state AS reg_state, r.name AS reg_name, r.code AS reg_code, "                   \
	"r.legal_rep, r.work_unit, r.department, r.province_code, p.name AS province, "            \
	"au.path AS authority_path, au.name AS authority_name "                                    \
	"FROM applications a JOIN registrations r ON r.id = a.registration_id "                    \
	"JOIN provinces p ON p.code = r.province_code JOIN authorities au ON au.id = "             \
	"r.authority_id "

/* Store text into the arena; NULL stays NULL. */
static const char *text(struct arena *a, const db_result *r, int row, int col)
{
	const char *v = db_get(r, row, col);
	return v ? arena_strdup(a, v) : NULL;
}

static void app_row(const db_result *r, int i, struct arena *a, struct application *o)
{
	int col = 0;
#define T() text(a, r, i, col++)
#define I() db_get_int(r, i, col++, 0)
	memset(o, 0, sizeof(*o));
	o->id = I();
	o->number = T();
	o->registration_id = I();
	o->type = app_type_parse(db_get(r, i, col++));
	o->state = appstate_parse(db_get(r, i, col++));
	o->sets = (int)I();
	o->contact_name = T();
	o->contact_id_number = T();
	o->mobile = T();
	o->phone = T();
	o->email = T();
	o->address = T();
	o->postcode = T();
	o->invoice_title = T();
	o->taxpayer_id = T();
	o->price_yuan = I();
	o->medium_yuan = I();
	o->years = I();
	o->amount_yuan = I();
	o->scan_id = I();
	o->submitted_at = I();
	o->paid_at = I();
	o->materials_at = I();
	o->issued_at = I();
	o->shipped_at = I();
	o->pickup_at = I();
	o->received_at = I();
	o->returned_at = I();
	o->return_reason = T();
	o->withdrawn_at = I();
	o->courier = T();
	o->tracking_no = T();
	o->updated_at = I();
	o->renews_serial = T();
	o->unlock_token = T();
	o->replaces_serial = T();
	o->change_id = I();
	o->kind = kind_parse(db_get(r, i, col++));
	o->reg_state = T();
	o->reg_name = T();
	o->reg_code = T();
	o->legal_rep = T();
	o->work_unit = T();
	o->department = T();
	o->province_code = T();
	o->province = T();
	o->authority_path = T();
	o->authority_name = T();
	assert(col == r->ncols);
#undef T
#undef I
}

enum db_status application_get(db_conn *c, struct arena *a, const char *number,
                               struct application *out)
{
	if (!number || strlen(number) > 32)
		return DB_NOT_FOUND;
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c, APP_SELECT "WHERE a.number = $1", &r, P_TEXT(number));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK)
		app_row(r, 0, a, out);
	db_result_free(r);
	return st;
}

enum db_status application_list_for(db_conn *c, struct arena *a, int64_t registration_id,
                                    struct application **out, size_t *n)
{
	db_result *r = NULL;
	*out = NULL;
	*n = 0;
	enum db_status st = DB_EXEC(c, APP_SELECT "WHERE a.registration_id = $1 ORDER BY a.id DESC",
	                            &r, P_INT(registration_id));
	if (st == DB_OK && r->nrows) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		*n = (size_t)r->nrows;
		for (int i = 0; i < r->nrows; i++)
			app_row(r, i, a, &(*out)[i]);
	}
	db_result_free(r);
	return st;
}

void application_policy_object(const struct application *app, struct policy_object *o)
{
	memset(o, 0, sizeof(*o));
	if (!app)
		return;
	o->registration_id = app->registration_id;
	o->kind = app->kind == KIND_NONE ? NULL : kind_name(app->kind);
	o->reg_state = app->reg_state;
	o->authority_path = app->authority_path;
	o->province_code = app->province_code;
}

unsigned app_type_facts(enum app_type t)
{
	return t == APP_TYPE_RENEWAL  ? APP_FACT_RENEWAL
	       : t == APP_TYPE_UNLOCK ? APP_FACT_UNLOCK
	                              : 0;
}

unsigned application_facts(const struct application *app)
{
	return (app->kind == KIND_EVALUATOR ? APP_FACT_EVALUATOR : 0) |
	       (app->paid_at ? APP_FACT_PAID : 0) | (app->materials_at ? APP_FACT_MATERIALS : 0) |
	       (app->change_id ? APP_FACT_CHANGE : 0) | app_type_facts(app->type);
}

static const char *const type_names[][2] = {
    [APP_TYPE_INITIAL] = {"initial", "初次办理"},
    [APP_TYPE_ADDITIONAL] = {"additional", "增加数量"},
    [APP_TYPE_RENEWAL] = {"renewal", "更新"},
    [APP_TYPE_UNLOCK] = {"unlock", "密码解锁"},
    [APP_TYPE_REPLACE_LOST] = {"replace_lost", "丢失补办"},
    [APP_TYPE_REPLACE_DAMAGED] = {"replace_damaged", "损坏补办"},
};

static enum app_type type_checked(enum app_type t)
{
	return (int)t >= 0 && (size_t)t < sizeof type_names / sizeof type_names[0]
	           ? t
	           : APP_TYPE_INITIAL;
}

const char *app_type_name(enum app_type t)
{
	return type_names[type_checked(t)][0];
}

const char *app_type_label(enum app_type t)
{
	return type_names[type_checked(t)][1];
}

enum app_type app_type_parse(const char *name)
{
	for (size_t i = 1; name && i < sizeof type_names / sizeof type_names[0]; i++)
		if (strcmp(name, type_names[i][0]) == 0)
			return (enum app_type)i;
	return APP_TYPE_INITIAL;
}

const char *const *application_materials(enum reg_kind k, size_t *n)
{
	/* The one table (esp/materials.h) that the form's notes use too. */
	const struct materials *m = materials_of(k);
	*n = 0;
	if (m == NULL)
		return NULL;
	while (*n < MATERIALS_MAX && m->items[*n])
		(*n)++;
	return m->items;
}
