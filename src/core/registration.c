/*
 * Registrations (报名申请): the field table of each kind, validation with a
 * Chinese message per field, submission, resubmission, the review queue and
 * the 初审 decision.
 */
#include "esp/registration.h"
#include "esp/validate.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"authority", "agency", "enterprise", "evaluator"};
static const char *const kind_labels[] = {"主管机关", "考评机构", "交通运输企业", "考评员"};
static const char *const kind_portals[] = {"主管机关用户登录", "考评机构用户登录", "企业用户登录",
                                           "考评员登录"};
static const char *const kind_applies[] = {"主管机关报名申请", "考评机构报名申请", "企业报名申请",
                                           "考评员报名申请"};

enum reg_kind kind_parse(const char *s)
{
	for (int i = 0; i < KIND_COUNT; i++)
		if (s && strcmp(s, kind_names[i]) == 0)
			return (enum reg_kind)i;
	return KIND_NONE;
}
const char *kind_name(enum reg_kind k) { return kind_names[k]; }
const char *kind_label(enum reg_kind k) { return kind_labels[k]; }
const char *kind_portal_label(enum reg_kind k) { return kind_portals[k]; }
const char *kind_apply_label(enum reg_kind k) { return kind_applies[k]; }
bool kind_is_unit(enum reg_kind k) { return k != KIND_EVALUATOR; }

const char *reg_state_label(const char *state)
{
	if (!state)
		return "";
	if (strcmp(state, "pending") == 0)
		return "待审核";
	if (strcmp(state, "approved") == 0)
		return "已通过";
	if (strcmp(state, "rejected") == 0)
		return "未通过";
	return state;
}

/* ---- the field table ---- */

#define K_AUTH (1u << KIND_AUTHORITY)
#define K_AGENCY (1u << KIND_AGENCY)
#define K_ENT (1u << KIND_ENTERPRISE)
#define K_EVAL (1u << KIND_EVALUATOR)
#define K_UNIT (K_AUTH | K_AGENCY | K_ENT)
#define K_ALL (K_UNIT | K_EVAL)

enum ftype { F_TEXT, F_TEL, F_EMAIL, F_PASSWORD, F_PROVINCE, F_AUTHORITY, F_CATEGORY, F_GRADE };

struct field {
	const char *name;
	unsigned kinds;
	const char *label;
	enum ftype type;
	bool required;
	int maxlen;             /* in characters */
	const char *hint;
	bool account;           /* username/password: not on the edit form */
};

/* Labels follow the manual and the paper form (domain.md). */
static const struct field fields[] = {
	{"name", K_AUTH, "主管机关名称", F_TEXT, true, 100, "如：某某市交通运输局", false},
	{"name", K_AGENCY | K_ENT, "单位名称", F_TEXT, true, 100, "与营业执照或组织机构代码证一致", false},
	{"name", K_EVAL, "姓名", F_TEXT, true, 30, NULL, false},
	{"code", K_UNIT, "统一社会信用代码（或组织机构代码）", F_TEXT, true, 20,
	 "18位统一社会信用代码，或9位组织机构代码（如 D2143569-X）", false},
	{"code", K_EVAL, "身份证号码", F_TEXT, true, 18, "18位居民身份证号码", false},
	{"grade", K_AGENCY, "考评机构等级", F_GRADE, true, 10, NULL, false},
	{"category", K_ENT, "业务类型", F_CATEGORY, true, 40, NULL, false},
	{"legal_rep", K_UNIT, "法定代表人", F_TEXT, true, 30, NULL, false},
	{"contact_name", K_UNIT, "经办人姓名", F_TEXT, true, 30, NULL, false},
	{"contact_id_number", K_UNIT, "经办人身份证号码", F_TEXT, true, 18, NULL, false},
	{"work_unit", K_EVAL, "工作单位", F_TEXT, true, 100, NULL, false},
	{"department", K_EVAL, "所属部门", F_TEXT, false, 50, NULL, false},
	{"phone", K_UNIT, "单位电话", F_TEL, true, 20, "如 010-65290000", false},
	{"phone", K_EVAL, "联系电话", F_TEL, false, 20, NULL, false},
	{"mobile", K_UNIT, "经办人手机", F_TEL, true, 14, "11位手机号码", false},
	{"mobile", K_EVAL, "手机号码", F_TEL, true, 14, "11位手机号码", false},
	{"email", K_ALL, "电子邮箱", F_EMAIL, true, 100, NULL, false},
	{"province_code", K_ALL, "所在省份", F_PROVINCE, true, 8, NULL, false},
	{"authority_id", K_AUTH, "上级主管机关", F_AUTHORITY, true, 20, "由上级主管机关进行初审", false},
	{"authority_id", K_AGENCY | K_ENT | K_EVAL, "主管机关", F_AUTHORITY, true, 20,
	 "由所选主管机关进行初审", false},
	{"address", K_ALL, "通信地址", F_TEXT, true, 120, NULL, false},
	{"postcode", K_ALL, "邮政编码", F_TEXT, true, 6, "6位数字", false},
	{"username", K_ALL, "用户名", F_TEXT, true, 32, "4-32位字母、数字或下划线", true},
	{"password", K_ALL, "密码", F_PASSWORD, true, 128, "至少8位，不能与用户名相同，不能用12345678、password等常见密码", true},
	{"password2", K_ALL, "确认密码", F_PASSWORD, true, 128, NULL, true},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static const char *const categories[] = {
	"道路运输-旅客运输", "道路运输-危险货物运输", "道路运输-普通货运", "道路运输-货物运输站场",
	"道路运输-机动车维修", "道路运输-汽车客运站", "水路运输-旅客运输", "水路运输-普通货物运输",
	"水路运输-危险货物运输", "港口营运-客运", "港口营运-普通货运", "港口营运-危险货物",
	"城市客运-公共汽车", "城市客运-轨道交通", "城市客运-出租汽车", "交通运输工程建设-建筑施工",
	"其他",
};
static const char *const grades[] = {"一级", "二级", "三级"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *type_name(enum ftype t)
{
	switch (t) {
	case F_TEL: return "tel";
	case F_EMAIL: return "email";
	case F_PASSWORD: return "password";
	case F_PROVINCE:
	case F_AUTHORITY:
	case F_CATEGORY:
	case F_GRADE: return "select";
	default: return "text";
	}
}

static const char *sval(json_t *values, const char *name)
{
	const char *v = json_string_value(json_object_get(values, name));
	return v ? v : "";
}

static json_t *options_of(const char *const *list, size_t n, const char *selected)
{
	json_t *opts = json_array();
	json_array_append_new(opts, json_pack("{s:s, s:s, s:b}", "value", "", "label", "请选择",
	                                      "selected", !selected || !*selected));
	for (size_t i = 0; i < n; i++)
		json_array_append_new(opts, json_pack("{s:s, s:s, s:b}", "value", list[i], "label",
		                                      list[i], "selected",
		                                      selected && strcmp(selected, list[i]) == 0));
	return opts;
}

json_t *registration_form(db_conn *c, enum reg_kind k, json_t *values, json_t *errors,
                          bool editing)
{
	json_t *out = json_array();
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		if (!(f->kinds & (1u << k)) || (editing && f->account))
			continue;
		const char *v = f->type == F_PASSWORD ? "" : sval(values, f->name);
		json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:i}", "name", f->name, "label", f->label,
		                      "type", type_name(f->type), "required", f->required, "value", v,
		                      "maxlength", f->maxlen);
		json_object_set_new(o, "is_select", json_boolean(f->type >= F_PROVINCE));
		if (f->type == F_PASSWORD)
			json_object_set_new(o, "autocomplete", json_string("new-password"));
		else if (strcmp(f->name, "username") == 0)
			json_object_set_new(o, "autocomplete", json_string("username"));
		if (f->hint)
			json_object_set_new(o, "hint", json_string(f->hint));
		const char *err = json_string_value(json_object_get(errors, f->name));
		if (err)
			json_object_set_new(o, "error", json_string(err));
		if (f->type == F_CATEGORY)
			json_object_set_new(o, "options", options_of(categories, NELEM(categories), v));
		else if (f->type == F_GRADE)
			json_object_set_new(o, "options", options_of(grades, NELEM(grades), v));
		else if (f->type == F_PROVINCE) {
			json_t *provs = province_list(c), *opts = json_array(), *p;
			size_t j;
			json_array_append_new(opts, json_pack("{s:s, s:s, s:b}", "value", "", "label",
			                                      "请选择", "selected", !*v));
			json_array_foreach(provs, j, p) {
				const char *code = json_string_value(json_object_get(p, "code"));
				json_array_append_new(opts, json_pack("{s:s, s:O, s:b}", "value", code, "label",
				                                      json_object_get(p, "name"), "selected",
				                                      strcmp(code, v) == 0));
			}
			json_decref(provs);
			json_object_set_new(o, "options", opts);
		} else if (f->type == F_AUTHORITY) {
			/* Grouped by province; the page's script narrows the list to the
			 * chosen province, and without script every group stays usable. */
			json_t *list = authority_list(c), *groups = json_array(), *a, *cur = NULL;
			const char *cur_prov = NULL;
			size_t j;
			json_array_foreach(list, j, a) {
				const char *prov = json_string_value(json_object_get(a, "province"));
				const char *pc = json_string_value(json_object_get(a, "province_code"));
				if (!prov)
					prov = "交通运输部及直属机构";
				if (!cur || strcmp(cur_prov, prov) != 0) {
					cur = json_pack("{s:s, s:s, s:[]}", "group", prov, "province_code",
					                pc ? pc : "", "options");
					json_array_append_new(groups, cur);
					cur_prov = json_string_value(json_object_get(cur, "group"));
				}
				char id[24];
				snprintf(id, sizeof id, "%lld",
				         (long long)json_integer_value(json_object_get(a, "id")));
				int depth = (int)json_integer_value(json_object_get(a, "depth"));
				struct buf lbl = {0};
				for (int d = 0; d < depth && d < 4; d++)
					buf_puts(&lbl, "　");
				buf_puts(&lbl, json_string_value(json_object_get(a, "name")));
				json_array_append_new(json_object_get(cur, "options"),
				                      json_pack("{s:s, s:s, s:b}", "value", id, "label", lbl.data,
				                                "selected", strcmp(id, v) == 0));
				buf_free(&lbl);
			}
			json_decref(list);
			json_object_set_new(o, "groups", groups);
		}
		json_array_append_new(out, o);
	}
	return out;
}

json_t *registration_rows(enum reg_kind k, json_t *reg)
{
	json_t *rows = json_array();
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		if (!(f->kinds & (1u << k)) || f->account)
			continue;
		/* Ids are shown by name: the authority's and the province's. */
		const char *key = strcmp(f->name, "authority_id") == 0    ? "authority_name"
		                  : strcmp(f->name, "province_code") == 0 ? "province"
		                                                          : f->name;
		const char *value = json_string_value(json_object_get(reg, key));
		json_array_append_new(rows, json_pack("{s:s, s:s}", "label", f->label, "value",
		                                      value ? value : ""));
	}
	return rows;
}

static bool in_list(const char *v, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, list[i]) == 0)
			return true;
	return false;
}

static bool username_ok(const char *u)
{
	size_t n = strlen(u);
	if (n < 4 || n > 32)
		return false;
	for (const char *p = u; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return false;
	return true;
}

/* Upper-cases and strips the '-' of "D2143569-X" so one code is one string. */
static void normalise_code(json_t *values, const char *name)
{
	const char *v = sval(values, name);
	char out[40];
	size_t j = 0;
	for (const char *p = v; *p && j < sizeof out - 1; p++) {
		if (*p == '-' || *p == ' ')
			continue;
		out[j++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
	}
	out[j] = '\0';
	json_object_set_new(values, name, json_string(out));
}

static void set_err(json_t *errors, const char *name, const char *msg)
{
	if (!json_object_get(errors, name))
		json_object_set_new(errors, name, json_string(msg));
}

json_t *registration_validate(db_conn *c, const struct esp_limits *l, enum reg_kind k,
                              json_t *values, bool editing, int64_t own_id)
{
	json_t *errors = json_object();
	/* Trim every value first: what is checked is what is stored. */
	const char *key;
	json_t *val;
	void *tmp;
	json_object_foreach_safe(values, tmp, key, val) {
		if (!json_is_string(val))
			continue;
		char *s = xstrdup(json_string_value(val));
		if (strcmp(key, "password") != 0 && strcmp(key, "password2") != 0)
			str_trim(s);
		json_object_set_new(values, key, json_string(s));
		free(s);
	}
	normalise_code(values, "code");
	if (kind_is_unit(k))
		normalise_code(values, "contact_id_number");

	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		if (!(f->kinds & (1u << k)) || (editing && f->account))
			continue;
		const char *v = sval(values, f->name);
		if (!*v) {
			if (f->required)
				set_err(errors, f->name,
				        f->type >= F_PROVINCE ? "请选择此项" : "此项为必填项");
			continue;
		}
		long n = utf8_length(v);
		if (n < 0) {
			set_err(errors, f->name, "含有无效字符");
			continue;
		}
		if (n > f->maxlen) {
			char *m = xasprintf("不能超过%d个字", f->maxlen);
			set_err(errors, f->name, m);
			free(m);
			continue;
		}
		for (const char *p = v; *p; p++)
			if ((unsigned char)*p < 0x20) {
				set_err(errors, f->name, "含有无效字符");
				break;
			}
	}
	const char *code = sval(values, "code");
	if (*code && !json_object_get(errors, "code")) {
		if (kind_is_unit(k) && !validate_unit_code(code))
			set_err(errors, "code", strlen(code) == 18
			                            ? "统一社会信用代码校验错误，请核对后重新输入"
			                            : "请输入正确的18位统一社会信用代码或9位组织机构代码");
		if (!kind_is_unit(k) && !validate_id_number(code))
			set_err(errors, "code", "身份证号码校验错误，请核对后重新输入");
	}
	const char *cid = sval(values, "contact_id_number");
	if (kind_is_unit(k) && *cid && !validate_id_number(cid))
		set_err(errors, "contact_id_number", "身份证号码校验错误，请核对后重新输入");
	const char *mobile = sval(values, "mobile");
	if (*mobile && !validate_mobile(mobile))
		set_err(errors, "mobile", "请输入正确的11位手机号码");
	const char *phone = sval(values, "phone");
	if (*phone && !validate_phone(phone))
		set_err(errors, "phone", "请输入正确的电话号码，如 010-65290000");
	const char *email = sval(values, "email");
	if (*email && !validate_email(email))
		set_err(errors, "email", "请输入正确的电子邮箱地址");
	const char *postcode = sval(values, "postcode");
	if (*postcode && !validate_postcode(postcode))
		set_err(errors, "postcode", "邮政编码应为6位数字");
	const char *cat = sval(values, "category");
	if (k == KIND_ENTERPRISE && *cat && !in_list(cat, categories, NELEM(categories)))
		set_err(errors, "category", "请从列表中选择业务类型");
	const char *grade = sval(values, "grade");
	if (k == KIND_AGENCY && *grade && !in_list(grade, grades, NELEM(grades)))
		set_err(errors, "grade", "请从列表中选择考评机构等级");
	const char *prov = sval(values, "province_code");
	if (*prov && !province_exists(c, prov))
		set_err(errors, "province_code", "请从列表中选择所在省份");

	const char *auth = sval(values, "authority_id");
	if (*auth && !json_object_get(errors, "authority_id")) {
		char *end = NULL;
		long long id = strtoll(auth, &end, 10);
		db_result *r = NULL;
		if (!end || *end || id <= 0 ||
		    DB_EXEC(c, "SELECT province_code, level FROM authorities WHERE id = $1", &r,
		            P_INT(id)) != DB_OK ||
		    r->nrows == 0) {
			set_err(errors, "authority_id", "请从列表中选择主管机关");
		} else {
			/* The competent authority is in the applicant's province, or is
			 * the ministry or a river authority (no province / river level). */
			const char *ap = db_get(r, 0, 0);
			const char *level = db_get(r, 0, 1);
			bool national = !ap || strcmp(level, "river") == 0;
			if (*prov && !national && strcmp(ap, prov) != 0)
				set_err(errors, "authority_id", "所选主管机关不在所在省份，请重新选择");
			if (k == KIND_AUTHORITY && strcmp(level, "county") == 0)
				set_err(errors, "authority_id", "县级主管机关不能作为上级主管机关");
		}
		db_result_free(r);
	}

	if (!editing) {
		const char *u = sval(values, "username");
		const char *pw = sval(values, "password");
		if (*u && !username_ok(u))
			set_err(errors, "username", "用户名应为4-32位字母、数字或下划线");
		if (*pw) {
			struct arena *tmp = arena_new();
			const char *why = password_policy_check(tmp, l->password_min_length, u, pw);
			if (why)
				set_err(errors, "password", why);
			arena_free(tmp);
		}
		if (*pw && strcmp(pw, sval(values, "password2")) != 0)
			set_err(errors, "password2", "两次输入的密码不一致");
		db_result *r = NULL;
		if (*u && !json_object_get(errors, "username") &&
		    DB_EXEC(c, "SELECT 1 FROM accounts WHERE username = $1", &r, P_TEXT(u)) == DB_OK &&
		    r->nrows > 0)
			set_err(errors, "username", "该用户名已被使用，请更换");
		db_result_free(r);
	}
	if (*code && !json_object_get(errors, "code")) {
		db_result *r = NULL;
		if (DB_EXEC(c, "SELECT id FROM registrations WHERE code = $1 AND state <> 'rejected' "
		               "AND id <> $2",
		            &r, P_TEXT(code), P_INT(own_id)) == DB_OK &&
		    r->nrows > 0)
			set_err(errors, "code", kind_is_unit(k) ? "该单位代码已经报名，请勿重复报名"
			                                        : "该身份证号码已经报名，请勿重复报名");
		db_result_free(r);
	}
	return errors;
}

/* ---- writing ---- */

#define REG_COLUMNS \
	"name, code, legal_rep, contact_name, contact_id_number, phone, mobile, email, address, " \
	"postcode, category, grade, work_unit, department, province_code, authority_id"

static const char *opt(json_t *values, const char *name)
{
	const char *v = sval(values, name);
	return *v ? v : NULL;
}

struct submit_ctx {
	enum reg_kind kind;
	json_t *values;
	const char *address;
	int64_t reg_id;
	const char *which;
};

static enum db_status submit_tx(db_conn *c, void *arg)
{
	struct submit_ctx *s = arg;
	json_t *v = s->values;
	int64_t now = time_now();
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c,
	    "INSERT INTO registrations (kind, state, " REG_COLUMNS ", created_at, updated_at) "
	    "VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
	    "$16, $17, $18, $18) RETURNING id",
	    &r, P_TEXT(kind_name(s->kind)), P_TEXT(opt(v, "name")), P_TEXT(opt(v, "code")),
	    P_TEXT(opt(v, "legal_rep")), P_TEXT(opt(v, "contact_name")),
	    P_TEXT(opt(v, "contact_id_number")), P_TEXT(opt(v, "phone")), P_TEXT(opt(v, "mobile")),
	    P_TEXT(opt(v, "email")), P_TEXT(opt(v, "address")), P_TEXT(opt(v, "postcode")),
	    P_TEXT(opt(v, "category")), P_TEXT(opt(v, "grade")), P_TEXT(opt(v, "work_unit")),
	    P_TEXT(opt(v, "department")), P_TEXT(opt(v, "province_code")),
	    P_INT(strtoll(sval(v, "authority_id"), NULL, 10)), P_INT(now));
	if (st == DB_CONFLICT)
		s->which = "code";
	if (st != DB_OK) {
		db_result_free(r);
		return st;
	}
	s->reg_id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	int64_t account_id = 0;
	st = account_create(c, sval(v, "username"), sval(v, "password"), ROLE_APPLICANT,
	                    sval(v, "name"), 0, NULL, s->reg_id, &account_id);
	if (st == DB_CONFLICT)
		s->which = "username";
	if (st != DB_OK)
		return st;
	struct actor who = {.account_id = account_id, .username = sval(v, "username"),
	                    .address = s->address};
	char obj[48];
	snprintf(obj, sizeof obj, "registration:%lld", (long long)s->reg_id);
	return audit_append(c, &who, "registration.submit", obj, "", "pending");
}

enum db_status registration_submit(db_conn *c, enum reg_kind k, json_t *values,
                                   const char *address, int64_t *reg_id, const char **which)
{
	struct submit_ctx s = {.kind = k, .values = values, .address = address};
	enum db_status st = db_transaction(c, submit_tx, &s);
	*reg_id = s.reg_id;
	*which = s.which;
	return st;
}

struct resubmit_ctx {
	const struct actor *a;
	int64_t reg_id;
	json_t *values;
};

static enum db_status resubmit_tx(db_conn *c, void *arg)
{
	struct resubmit_ctx *s = arg;
	json_t *v = s->values;
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c,
	    "UPDATE registrations SET state = 'pending', reject_reason = NULL, name = $2, code = $3, "
	    "legal_rep = $4, contact_name = $5, contact_id_number = $6, phone = $7, mobile = $8, "
	    "email = $9, address = $10, postcode = $11, category = $12, grade = $13, work_unit = $14, "
	    "department = $15, province_code = $16, authority_id = $17, updated_at = $18 "
	    "WHERE id = $1 AND state = 'rejected' RETURNING id",
	    &r, P_INT(s->reg_id), P_TEXT(opt(v, "name")), P_TEXT(opt(v, "code")),
	    P_TEXT(opt(v, "legal_rep")), P_TEXT(opt(v, "contact_name")),
	    P_TEXT(opt(v, "contact_id_number")), P_TEXT(opt(v, "phone")), P_TEXT(opt(v, "mobile")),
	    P_TEXT(opt(v, "email")), P_TEXT(opt(v, "address")), P_TEXT(opt(v, "postcode")),
	    P_TEXT(opt(v, "category")), P_TEXT(opt(v, "grade")), P_TEXT(opt(v, "work_unit")),
	    P_TEXT(opt(v, "department")), P_TEXT(opt(v, "province_code")),
	    P_INT(strtoll(sval(v, "authority_id"), NULL, 10)), P_INT(time_now()));
	if (st == DB_OK && r->nrows == 0)
		st = DB_CONFLICT;
	db_result_free(r);
	if (st != DB_OK)
		return st;
	st = DB_EXEC(c, "UPDATE accounts SET display_name = $1 WHERE registration_id = $2", NULL,
	             P_TEXT(opt(v, "name")), P_INT(s->reg_id));
	if (st != DB_OK)
		return st;
	char obj[48];
	snprintf(obj, sizeof obj, "registration:%lld", (long long)s->reg_id);
	return audit_append(c, s->a, "registration.resubmit", obj, "rejected", "pending");
}

enum db_status registration_resubmit(db_conn *c, const struct actor *a, int64_t reg_id,
                                     json_t *values)
{
	struct resubmit_ctx s = {.a = a, .reg_id = reg_id, .values = values};
	return db_transaction(c, resubmit_tx, &s);
}

/* ---- reading ---- */

/* A JSON string of store text, as json_string() would make it (NULL when the
 * text is not valid UTF-8), with one fast validity scan instead of jansson's. */
static json_t *store_string(const char *v)
{
	size_t n = strlen(v);
	return utf8_valid(v, n) ? json_stringn_nocheck(v, n) : NULL;
}

/* One object per row, keyed by column name (our own SQL: ASCII names).
 * A cell whose text is not valid UTF-8 leaves its key out, as before. */
static json_t *row_object(const db_result *r, int row)
{
	json_t *o = json_object();
	for (int i = 0; i < r->ncols; i++) {
		const char *v = db_get(r, row, i);
		json_t *jv = v ? store_string(v) : json_null();
		if (jv)
			json_object_set_new_nocheck(o, r->names[i], jv);
	}
	return o;
}

json_t *registration_get(db_conn *c, int64_t id)
{
	db_result *r = NULL;
	if (DB_EXEC(c,
	        "SELECT r.id, r.kind, r.state, r.name, r.code, r.legal_rep, r.contact_name, "
	        "r.contact_id_number, r.phone, r.mobile, r.email, r.address, r.postcode, r.category, "
	        "r.grade, r.work_unit, r.department, r.province_code, r.authority_id, r.reject_reason, r.reviewed_at, "
	        "r.created_at, r.updated_at, a.name AS authority_name, a.path AS authority_path, "
	        "p.name AS province, rv.display_name AS reviewer "
	        "FROM registrations r JOIN authorities a ON a.id = r.authority_id "
	        "JOIN provinces p ON p.code = r.province_code "
	        "LEFT JOIN accounts rv ON rv.id = r.reviewed_by WHERE r.id = $1",
	        &r, P_INT(id)) != DB_OK) {
		return NULL;
	}
	json_t *o = r->nrows ? row_object(r, 0) : NULL;
	db_result_free(r);
	if (o) {
		const char *state = json_string_value(json_object_get(o, "state"));
		json_object_set_new(o, "state_label", json_string(reg_state_label(state)));
		enum reg_kind k = kind_parse(json_string_value(json_object_get(o, "kind")));
		if (k != KIND_NONE) {
			json_object_set_new(o, "kind_label", json_string(kind_label(k)));
			json_object_set_new(o, "is_unit", json_boolean(kind_is_unit(k)));
		}
	}
	return o;
}

void registration_policy_object(json_t *reg, struct policy_object *o)
{
	memset(o, 0, sizeof(*o));
	if (!reg)
		return;
	o->registration_id = strtoll(json_string_value(json_object_get(reg, "id")), NULL, 10);
	o->kind = json_string_value(json_object_get(reg, "kind"));
	o->reg_state = json_string_value(json_object_get(reg, "state"));
	o->authority_path = json_string_value(json_object_get(reg, "authority_path"));
	o->province_code = json_string_value(json_object_get(reg, "province_code"));
}

/*
 * The subtree of an authority is every authority whose path starts with its
 * own ("/1/14/").  On SQLite that is the range [path, path with its final '/'
 * replaced by '0'): paths hold only digits and '/', and '0' is the byte after
 * '/', so exactly the strings that start with the prefix fall inside it.  The
 * range uses authorities_path, and unlike a LIKE with a bound pattern it
 * does not make SQLite re-prepare the statement at every run.  PostgreSQL
 * compares text by the database's collation, which may ignore '/', so there
 * the LIKE stays.
 */
static bool is_sqlite(db_conn *c)
{
	/* db.h: every connection starts with its backend. */
	return *(const struct db_backend *const *)c == &db_sqlite_backend;
}

#define QUEUE_COLUMNS                                                                           \
	"SELECT r.id, r.kind, r.state, r.name, r.code, r.created_at, a.name AS authority_name, "   \
	"p.name AS province FROM registrations r JOIN authorities a ON a.id = r.authority_id "     \
	"JOIN provinces p ON p.code = r.province_code "
#define QUEUE_ORDER "ORDER BY r.created_at DESC, r.id DESC LIMIT $3 OFFSET $4"

json_t *registration_queue(db_conn *c, const char *authority_path, const char *state,
                           int limit, int offset, int64_t *total)
{
	const char *st_param = state ? state : "";
	size_t n = authority_path ? strlen(authority_path) : 0;
	/* The range needs a prefix whose last byte can be incremented: always
	 * so for a path ("/1/14/" gives "/1/140"); anything else keeps the LIKE. */
	bool range = is_sqlite(c) && n > 0 && (unsigned char)authority_path[n - 1] < 0x7F;
	bool any = !*st_param;
	char *lo, *hi = NULL;
	db_result *r = NULL;
	json_t *arr = json_array();
	*total = 0;
	enum db_status qs;
	if (range) {
		lo = xstrdup(authority_path);
		hi = xstrdup(authority_path);
		hi[n - 1]++;
		if (DB_EXEC(c, any ? "SELECT COUNT(*) FROM registrations r JOIN authorities a "
		                     "ON a.id = r.authority_id WHERE a.path >= $1 AND a.path < $2"
		                   : "SELECT COUNT(*) FROM registrations r JOIN authorities a "
		                     "ON a.id = r.authority_id WHERE a.path >= $1 AND a.path < $2 "
		                     "AND r.state = $5",
		            &r, P_TEXT(lo), P_TEXT(hi), P_INT(limit), P_INT(offset),
		            P_TEXT(st_param)) == DB_OK)
			*total = db_get_int(r, 0, 0, 0);
		db_result_free(r);
		r = NULL;
		qs = DB_EXEC(c, any ? QUEUE_COLUMNS "WHERE a.path >= $1 AND a.path < $2 " QUEUE_ORDER
		                    : QUEUE_COLUMNS "WHERE a.path >= $1 AND a.path < $2 AND r.state = $5 "
		                      QUEUE_ORDER,
		             &r, P_TEXT(lo), P_TEXT(hi), P_INT(limit), P_INT(offset), P_TEXT(st_param));
	} else {
		lo = xasprintf("%s%%", authority_path);
		if (DB_EXEC(c,
		        "SELECT COUNT(*) FROM registrations r JOIN authorities a ON a.id = r.authority_id "
		        "WHERE a.path LIKE $1 AND ($2 = '' OR r.state = $2)",
		        &r, P_TEXT(lo), P_TEXT(st_param)) == DB_OK)
			*total = db_get_int(r, 0, 0, 0);
		db_result_free(r);
		r = NULL;
		qs = DB_EXEC(c, QUEUE_COLUMNS "WHERE a.path LIKE $1 AND ($2 = '' OR r.state = $2) "
		             QUEUE_ORDER, &r, P_TEXT(lo), P_TEXT(st_param), P_INT(limit), P_INT(offset));
	}
	if (qs == DB_OK) {
		/* The labels are the same few strings on every row: one JSON value each. */
		json_t *kind_labels_j[KIND_COUNT + 1] = {0};
		json_t *state_labels_j[4] = {0};
		static const char *const states[3] = {"pending", "approved", "rejected"};
		for (int i = 0; i < r->nrows; i++) {
			json_t *o = row_object(r, i);
			const char *st = db_get(r, i, 2);
			int si = 3;
			for (int k = 0; k < 3; k++)
				if (st && strcmp(st, states[k]) == 0)
					si = k;
			json_t *sl;
			if (si < 3) {
				if (!state_labels_j[si])
					state_labels_j[si] = json_string_nocheck(reg_state_label(states[si]));
				sl = json_incref(state_labels_j[si]);
			} else {
				sl = json_string(reg_state_label(st));
			}
			json_object_set_new_nocheck(o, "state_label", sl);
			enum reg_kind k = kind_parse(db_get(r, i, 1));
			int ki = k == KIND_NONE ? KIND_COUNT : (int)k;
			if (!kind_labels_j[ki])
				kind_labels_j[ki] = json_string_nocheck(k == KIND_NONE ? "" : kind_label(k));
			json_object_set_new_nocheck(o, "kind_label", json_incref(kind_labels_j[ki]));
			json_array_append_new(arr, o);
		}
		for (int k = 0; k <= KIND_COUNT; k++)
			json_decref(kind_labels_j[k]);
		for (int k = 0; k < 4; k++)
			json_decref(state_labels_j[k]);
	}
	db_result_free(r);
	free(lo);
	free(hi);
	return arr;
}

struct decide_ctx {
	const struct actor *a;
	int64_t reg_id;
	bool approve;
	const char *reason;
};

static enum db_status decide_tx(db_conn *c, void *arg)
{
	struct decide_ctx *d = arg;
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c,
	    "UPDATE registrations SET state = $2, reject_reason = $3, reviewed_by = $4, "
	    "reviewed_at = $5, updated_at = $5 WHERE id = $1 AND state = 'pending' "
	    "RETURNING kind, name, province_code, authority_id",
	    &r, P_INT(d->reg_id), P_TEXT(d->approve ? "approved" : "rejected"),
	    P_TEXT(d->approve ? NULL : d->reason), P_INT(d->a->account_id), P_INT(time_now()));
	if (st == DB_OK && r->nrows == 0)
		st = DB_CONFLICT;
	if (st == DB_OK && d->approve && strcmp(db_get(r, 0, 0), "authority") == 0) {
		/* An approved authority joins the tree under the one that reviewed it,
		 * so that its own applicants can choose it. */
		int64_t parent = db_get_int(r, 0, 3, 0);
		db_result *pr = NULL;
		st = DB_EXEC(c, "SELECT level FROM authorities WHERE id = $1", &pr, P_INT(parent));
		const char *plevel = st == DB_OK && pr->nrows ? db_get(pr, 0, 0) : "";
		const char *level = strcmp(plevel, "city") == 0 ? "county" : "city";
		int64_t new_id = 0;
		if (st == DB_OK)
			st = authority_insert(c, parent, db_get(r, 0, 1), db_get(r, 0, 2), level, &new_id);
		db_result_free(pr);
		if (st == DB_OK)
			st = DB_EXEC(c, "UPDATE registrations SET new_authority_id = $1 WHERE id = $2", NULL,
			             P_INT(new_id), P_INT(d->reg_id));
	}
	db_result_free(r);
	if (st != DB_OK)
		return st;
	char obj[48];
	snprintf(obj, sizeof obj, "registration:%lld", (long long)d->reg_id);
	return audit_append(c, d->a, d->approve ? "registration.approve" : "registration.reject", obj,
	                    "pending", d->approve ? "approved" : "rejected");
}

enum db_status registration_decide(db_conn *c, const struct actor *a, int64_t reg_id,
                                   bool approve, const char *reason)
{
	struct decide_ctx d = {.a = a, .reg_id = reg_id, .approve = approve, .reason = reason};
	return db_transaction(c, decide_tx, &d);
}
