/*
 * Registrations (报名申请): the field table of each kind, validation with a
 * Chinese message per field, submission, resubmission, the review queue and
 * the 初审 decision.
 */
#include "esp/registration.h"
#include "esp/notify.h"
#include "esp/validate.h"

#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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
const char *kind_name(enum reg_kind k)
{
	return kind_names[k];
}
const char *kind_label(enum reg_kind k)
{
	return kind_labels[k];
}
const char *kind_portal_label(enum reg_kind k)
{
	return kind_portals[k];
}
const char *kind_apply_label(enum reg_kind k)
{
	return kind_applies[k];
}
bool kind_is_unit(enum reg_kind k)
{
	return k != KIND_EVALUATOR;
}

static const char *const reg_states[REG_STATE_COUNT][2] = {
    [REG_PENDING] = {"pending", "待审核"},
    [REG_APPROVED] = {"approved", "已通过"},
    [REG_REJECTED] = {"rejected", "未通过"},
};

const char *reg_state_name(enum reg_state s)
{
	return (int)s >= 0 && (int)s < REG_STATE_COUNT ? reg_states[s][0] : "";
}

enum reg_state reg_state_parse(const char *name)
{
	for (int i = 0; name && i < REG_STATE_COUNT; i++)
		if (strcmp(reg_states[i][0], name) == 0)
			return (enum reg_state)i;
	return REG_STATE_UNKNOWN;
}

const char *reg_state_label(const char *state)
{
	if (!state)
		return "";
	enum reg_state s = reg_state_parse(state);
	return s == REG_STATE_UNKNOWN ? state : reg_states[s][1];
}

/* ---- the field tables ---- */

static const char *const categories[] = {
    "道路运输-旅客运输",
    "道路运输-危险货物运输",
    "道路运输-普通货运",
    "道路运输-货物运输站场",
    "道路运输-机动车维修",
    "道路运输-汽车客运站",
    "水路运输-旅客运输",
    "水路运输-普通货物运输",
    "水路运输-危险货物运输",
    "港口营运-客运",
    "港口营运-普通货运",
    "港口营运-危险货物",
    "城市客运-公共汽车",
    "城市客运-轨道交通",
    "城市客运-出租汽车",
    "交通运输工程建设-建筑施工",
    "其他",
    NULL,
};
static const char *const grades[] = {"一级", "二级", "三级", NULL};

/*
 * One table per kind: the fields that kind has, in form order, and nothing
 * else; what is not in its kind's table is never read from a form nor
 * written to the store.  Labels follow the operation manual and the paper
 * forms; lengths are in characters.  The fields the kinds share are
 * written once, below, and named in each table.
 */
#define UNIT_CODE                                                                                  \
	{                                                                                          \
		"code", "统一社会信用代码（或组织机构代码）", CHECK_UNIT_CODE, true, 20,           \
		    "18位统一社会信用代码，或9位组织机构代码（如 D2143569-X）", NULL, false        \
	}
#define LEGAL_REP                                                                                  \
	{                                                                                          \
		"legal_rep", "法定代表人", CHECK_TEXT, true, 30, NULL, NULL, false                 \
	}
#define CONTACT_NAME                                                                               \
	{                                                                                          \
		"contact_name", "经办人姓名", CHECK_TEXT, true, 30, NULL, NULL, false              \
	}
#define CONTACT_ID                                                                                 \
	{                                                                                          \
		"contact_id_number", "经办人身份证号码", CHECK_ID_NUMBER, true, 18, NULL, NULL,    \
		    false                                                                          \
	}
#define UNIT_PHONE                                                                                 \
	{                                                                                          \
		"phone", "单位电话", CHECK_PHONE, true, 20, "如 010-65290000", NULL, false         \
	}
#define UNIT_MOBILE                                                                                \
	{                                                                                          \
		"mobile", "经办人手机", CHECK_MOBILE, true, 20, "11位手机号码", NULL, false        \
	}
#define EMAIL                                                                                      \
	{                                                                                          \
		"email", "电子邮箱", CHECK_EMAIL, true, 100, NULL, NULL, false                     \
	}
#define PROVINCE                                                                                   \
	{                                                                                          \
		"province_code", "所在省份", CHECK_PROVINCE, true, 8, NULL, NULL, false            \
	}
#define AUTHORITY                                                                                  \
	{                                                                                          \
		"authority_id", "主管机关", CHECK_AUTHORITY, true, 20, "由所选主管机关进行初审",   \
		    NULL, false                                                                    \
	}
#define ADDRESS                                                                                    \
	{                                                                                          \
		"address", "通信地址", CHECK_TEXT, true, 120, NULL, NULL, false                    \
	}
#define POSTCODE                                                                                   \
	{                                                                                          \
		"postcode", "邮政编码", CHECK_POSTCODE, true, 6, "6位数字", NULL, false            \
	}
#define ACCOUNT                                                                                    \
	{"username", "用户名", CHECK_USERNAME, true, 32, "4-32位字母、数字或下划线", NULL, true},  \
	    {"password", "密码", CHECK_PASSWORD,                                                   \
	     true,       128,    "至少8位，不能与用户名相同，不能用12345678、password等常见密码",  \
	     NULL,       true},                                                                    \
	{                                                                                          \
		"password2", "确认密码", CHECK_PASSWORD, true, 128, NULL, NULL, true               \
	}

static const struct reg_field authority_fields[] = {
    {"name", "主管机关名称", CHECK_TEXT, true, 100, "如：某某市交通运输局", NULL, false},
    UNIT_CODE,
    LEGAL_REP,
    CONTACT_NAME,
    CONTACT_ID,
    UNIT_PHONE,
    UNIT_MOBILE,
    EMAIL,
    PROVINCE,
    {"authority_id", "上级主管机关", CHECK_AUTHORITY, true, 20, "由上级主管机关进行初审", NULL,
     false},
    ADDRESS,
    POSTCODE,
    ACCOUNT,
};
static const struct reg_field agency_fields[] = {
    {"name", "单位名称", CHECK_TEXT, true, 100, "与营业执照或组织机构代码证一致", NULL, false},
    UNIT_CODE,
    {"grade", "考评机构等级", CHECK_ENUM, true, 10, NULL, grades, false},
    LEGAL_REP,
    CONTACT_NAME,
    CONTACT_ID,
    UNIT_PHONE,
    UNIT_MOBILE,
    EMAIL,
    PROVINCE,
    AUTHORITY,
    ADDRESS,
    POSTCODE,
    ACCOUNT,
};
static const struct reg_field enterprise_fields[] = {
    {"name", "单位名称", CHECK_TEXT, true, 100, "与营业执照或组织机构代码证一致", NULL, false},
    UNIT_CODE,
    {"category", "业务类型", CHECK_ENUM, true, 40, NULL, categories, false},
    LEGAL_REP,
    CONTACT_NAME,
    CONTACT_ID,
    UNIT_PHONE,
    UNIT_MOBILE,
    EMAIL,
    PROVINCE,
    AUTHORITY,
    ADDRESS,
    POSTCODE,
    ACCOUNT,
};
static const struct reg_field evaluator_fields[] = {
    {"name", "姓名", CHECK_TEXT, true, 30, NULL, NULL, false},
    {"code", "身份证号码", CHECK_ID_NUMBER, true, 18, "18位居民身份证号码", NULL, false},
    {"work_unit", "工作单位", CHECK_TEXT, true, 100, NULL, NULL, false},
    {"department", "所属部门", CHECK_TEXT, false, 50, NULL, NULL, false},
    {"phone", "固定电话", CHECK_PHONE, false, 20, "如 0591-87654321", NULL, false},
    {"mobile", "手机号码", CHECK_MOBILE, true, 20, "11位手机号码", NULL, false},
    EMAIL,
    PROVINCE,
    AUTHORITY,
    ADDRESS,
    POSTCODE,
    ACCOUNT,
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const struct reg_field *fields;
	size_t n;
} kind_fields[KIND_COUNT] = {
    [KIND_AUTHORITY] = {authority_fields, NELEM(authority_fields)},
    [KIND_AGENCY] = {agency_fields, NELEM(agency_fields)},
    [KIND_ENTERPRISE] = {enterprise_fields, NELEM(enterprise_fields)},
    [KIND_EVALUATOR] = {evaluator_fields, NELEM(evaluator_fields)},
};

const struct reg_field *registration_fields(enum reg_kind k, size_t *n)
{
	if (k < 0 || k >= KIND_COUNT) {
		*n = 0;
		return NULL;
	}
	*n = kind_fields[k].n;
	return kind_fields[k].fields;
}

const struct reg_field *registration_field(enum reg_kind k, const char *name)
{
	size_t n;
	const struct reg_field *f = registration_fields(k, &n);
	for (size_t i = 0; name && i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	return NULL;
}

static bool is_select(enum reg_check c)
{
	return c == CHECK_ENUM || c == CHECK_PROVINCE || c == CHECK_AUTHORITY;
}

#define AT(m)                                                                                      \
	{                                                                                          \
#m, offsetof(struct registration_input, m)                                         \
	}
static const struct {
	const char *name;
	size_t offset;
} input_fields[] = {
    AT(name),         AT(code),     AT(legal_rep), AT(contact_name), AT(contact_id_number),
    AT(phone),        AT(mobile),   AT(email),     AT(address),      AT(postcode),
    AT(category),     AT(grade),    AT(work_unit), AT(department),   AT(province_code),
    AT(authority_id), AT(username), AT(password),  AT(password2),
};
#undef AT

const char **registration_input_at(struct registration_input *in, const char *name)
{
	for (size_t i = 0; name && i < sizeof input_fields / sizeof input_fields[0]; i++)
		if (strcmp(input_fields[i].name, name) == 0)
			return (const char **)((char *)in + input_fields[i].offset);
	return NULL;
}

/* The value of field name in in, "" for none. */
static const char *val(const struct registration_input *in, const char *name)
{
	const char **at = registration_input_at((struct registration_input *)in, name);
	return at && *at ? *at : "";
}

/* ---- validation ---- */

static bool in_list(const char *v, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
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
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* Upper-cases and strips the '-' and spaces of "D2143569-X" so one code is
 * one string.  Runs after the length check, so the value is short. */
static void normalise_code(struct registration_input *in, const char *name, struct arena *a)
{
	const char *v = val(in, name);
	char out[40];
	size_t j = 0;
	for (const char *p = v; *p && j < sizeof out - 1; p++) {
		if (*p == '-' || *p == ' ')
			continue;
		out[j++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
	}
	out[j] = '\0';
	*registration_input_at(in, name) = arena_strdup(a, out);
}

/* The message of field f, formatted; every format names the field by its
 * label: "单位名称不能超过100个字". */
static void set_errf(struct field_errors *errors, struct arena *a, const struct reg_field *f,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void set_errf(struct field_errors *errors, struct arena *a, const struct reg_field *f,
                     const char *fmt, ...)
{
	if (field_error_of(errors, f->name))
		return;
	va_list ap;
	va_start(ap, fmt);
	char *m = NULL;
	int len = vasprintf(&m, fmt, ap);
	va_end(ap);
	field_error_set(errors, f->name, len < 0 ? f->label : arena_strdup(a, m));
	free(len < 0 ? NULL : m);
}

/* Keeps in in only the fields of kind k (and not the account's when
 * editing), each copied into the arena and trimmed but the passwords: what
 * is checked is what is stored, and nothing else posted is ever looked at
 * again. */
static void keep_kind_fields(enum reg_kind k, struct registration_input *in, bool editing,
                             struct arena *a)
{
	for (size_t i = 0; i < sizeof input_fields / sizeof input_fields[0]; i++) {
		const char **at = (const char **)((char *)in + input_fields[i].offset);
		const struct reg_field *f = registration_field(k, input_fields[i].name);
		if (!f || (editing && f->account) || !*at) {
			*at = NULL;
			continue;
		}
		/* Copied either way: the input may borrow what the caller frees. */
		char *s = arena_strdup(a, *at);
		if (f->check != CHECK_PASSWORD)
			str_trim(s);
		*at = s;
	}
}

/* The checks of one field that need no store: presence, encoding, invisible
 * characters, length, then its format or its list. */
static void check_field(const struct reg_field *f, struct registration_input *in, struct arena *a,
                        struct field_errors *errors)
{
	const char *v = val(in, f->name);
	if (!*v) {
		if (f->required) {
			if (is_select(f->check))
				set_errf(errors, a, f, "请选择%s", f->label);
			else
				set_errf(errors, a, f, "%s为必填项", f->label);
		}
		return;
	}
	enum text_fault tf = validate_text(v, false);
	/* A password is a secret, not a name: any character but controls. */
	if (f->check == CHECK_PASSWORD && tf != TEXT_NOT_UTF8 && tf != TEXT_CONTROL)
		tf = TEXT_OK;
	if (tf != TEXT_OK) {
		set_errf(errors, a, f, "%s%s", f->label, text_fault_reason(tf));
		return;
	}
	long n = utf8_length(v);
	if (n > f->maxlen) {
		set_errf(errors, a, f, "%s不能超过%d个字（现有%ld个字）", f->label, f->maxlen, n);
		return;
	}
	switch (f->check) {
	case CHECK_UNIT_CODE:
		normalise_code(in, f->name, a);
		v = val(in, f->name);
		if (!validate_unit_code(v))
			field_error_set(errors, f->name,
			                strlen(v) == 18
			                    ? "统一社会信用代码校验错误，请核对后重新输入"
			                : validate_org_code_shape(v)
			                    ? "组织机构代码校验位错误，请核对最后一位后重新输入"
			                    : "请输入正确的18位统一社会信用代码或9位组织机构代码");
		break;
	case CHECK_ID_NUMBER:
		normalise_code(in, f->name, a);
		if (!validate_id_number(val(in, f->name)))
			set_errf(errors, a, f, "%s校验错误，请核对后重新输入", f->label);
		break;
	case CHECK_MOBILE: {
		/* "138 1234 5678" and "+86 138…" are the same number: store its 11 digits. */
		char mobile[12];
		if (validate_normalise_mobile(v, mobile))
			*registration_input_at(in, f->name) = arena_strdup(a, mobile);
		else
			set_errf(errors, a, f, "%s不正确，请输入11位手机号码", f->label);
		break;
	}
	case CHECK_PHONE:
		if (!validate_phone(v))
			set_errf(errors, a, f, "%s不正确，请输入如 010-65290000 的电话号码",
			         f->label);
		break;
	case CHECK_EMAIL:
		if (!validate_email(v))
			set_errf(errors, a, f, "%s格式不正确，请输入如 name@example.cn 的地址",
			         f->label);
		break;
	case CHECK_POSTCODE:
		if (!validate_postcode(v))
			set_errf(errors, a, f, "%s应为6位数字", f->label);
		break;
	case CHECK_USERNAME:
		if (!username_ok(v))
			set_errf(errors, a, f, "%s应为4-32位字母、数字或下划线", f->label);
		break;
	case CHECK_ENUM:
		if (!in_list(v, f->options))
			set_errf(errors, a, f, "请从列表中选择%s", f->label);
		break;
	default:
		break;
	}
}

static void check_authority(db_conn *c, enum reg_kind k, const struct registration_input *in,
                            struct arena *a, struct field_errors *errors)
{
	const struct reg_field *f = registration_field(k, "authority_id");
	const char *auth = val(in, "authority_id");
	const char *prov = val(in, "province_code");
	if (!f || !*auth || field_error_of(errors, "authority_id"))
		return;
	char *end = NULL;
	long long id = strtoll(auth, &end, 10);
	db_result *r = NULL;
	if (!end || *end || id <= 0 ||
	    DB_EXEC(c, "SELECT province_code, level FROM authorities WHERE id = $1", &r,
	            P_INT(id)) != DB_OK ||
	    r->nrows == 0) {
		set_errf(errors, a, f, "请从列表中选择%s", f->label);
	} else {
		/* The competent authority is in the applicant's province, or is
		 * the ministry or a river authority (no province / river level). */
		const char *ap = db_get(r, 0, 0);
		const char *level = db_get(r, 0, 1);
		bool national = !ap || strcmp(level, "river") == 0;
		if (*prov && !national && strcmp(ap, prov) != 0)
			set_errf(errors, a, f,
			         "所选%s不在所在省份，请选择所在省份的%s（中央单位选择交通运输部）",
			         f->label, f->label);
		if (k == KIND_AUTHORITY && strcmp(level, "county") == 0)
			set_errf(errors, a, f, "县级主管机关不能作为%s", f->label);
	}
	db_result_free(r);
}

static void check_account(db_conn *c, const struct esp_limits *l,
                          const struct registration_input *in, struct arena *a,
                          struct field_errors *errors)
{
	const char *u = val(in, "username");
	const char *pw = val(in, "password");
	if (*pw && !field_error_of(errors, "password")) {
		const char *why = password_policy_check(a, l->password_min_length, u, pw);
		if (why)
			field_error_set(errors, "password", why);
	}
	if (*pw && strcmp(pw, val(in, "password2")) != 0)
		field_error_set(errors, "password2", "两次输入的密码不一致");
	db_result *r = NULL;
	if (*u && !field_error_of(errors, "username") &&
	    DB_EXEC(c, "SELECT 1 FROM accounts WHERE username = $1", &r, P_TEXT(u)) == DB_OK &&
	    r->nrows > 0)
		field_error_set(errors, "username", "该用户名已被使用，请更换");
	db_result_free(r);
}

/* The name of a pending authority registration other than own_id that is
 * the same as name once folded (malloc'ed), or NULL. */
static char *pending_authority_same_name(db_conn *c, const char *name, int64_t own_id)
{
	db_result *r = NULL;
	char *found = NULL;
	if (DB_EXEC(c,
	            "SELECT name FROM registrations WHERE kind = 'authority' "
	            "AND state = 'pending' AND id <> $1",
	            &r, P_INT(own_id)) == DB_OK)
		found = names_find_folded(r, name);
	db_result_free(r);
	return found;
}

char *registration_name_clash(db_conn *c, enum reg_kind k, const char *name, int64_t own_id,
                              bool *pending)
{
	*pending = false;
	if (k != KIND_AUTHORITY || !name || !*name)
		return NULL;
	char *same = authority_same_name(c, name);
	if (!same && (same = pending_authority_same_name(c, name, own_id)))
		*pending = true;
	return same;
}

void registration_validate(db_conn *c, const struct esp_limits *l, enum reg_kind k,
                           struct registration_input *in, bool editing, int64_t own_id,
                           struct arena *a, struct field_errors *errors)
{
	keep_kind_fields(k, in, editing, a);
	size_t n;
	const struct reg_field *fields = registration_fields(k, &n);
	for (size_t i = 0; i < n; i++)
		if (!(editing && fields[i].account))
			check_field(&fields[i], in, a, errors);

	const char *prov = val(in, "province_code");
	if (*prov && !field_error_of(errors, "province_code") && !province_exists(c, prov))
		field_error_set(errors, "province_code", "请从列表中选择所在省份");
	check_authority(c, k, in, a, errors);
	if (!editing)
		check_account(c, l, in, a, errors);

	const char *code = val(in, "code");
	if (*code && !field_error_of(errors, "code")) {
		db_result *r = NULL;
		if (DB_EXEC(c,
		            "SELECT id FROM registrations WHERE code = $1 AND state <> 'rejected' "
		            "AND id <> $2",
		            &r, P_TEXT(code), P_INT(own_id)) == DB_OK &&
		    r->nrows > 0)
			field_error_set(errors, "code",
			                kind_is_unit(k) ? "该单位代码已经报名，请勿重复报名"
			                                : "该身份证号码已经报名，请勿重复报名");
		db_result_free(r);
	}
	const char *name = val(in, "name");
	if (k == KIND_AUTHORITY && *name && !field_error_of(errors, "name")) {
		bool pending = false;
		char *same = registration_name_clash(c, k, name, own_id, &pending);
		if (same) {
			field_error_set(
			    errors, "name",
			    arena_printf(a,
			                 pending ? "该主管机关已有报名正在审核（%s），请勿重复报名"
			                         : "该主管机关已存在（%s），不能重复报名；"
			                           "如需办理证书，请联系该主管机关",
			                 same));
			free(same);
		}
	}
}

/* ---- writing ---- */

#define REG_COLUMNS                                                                                \
	"name, code, legal_rep, contact_name, contact_id_number, phone, mobile, email, address, "  \
	"postcode, category, grade, work_unit, department, province_code, authority_id"

/* The value of a column for kind k: NULL when empty, and NULL when k has no
 * such field, whatever was posted under that name. */
static const char *opt(enum reg_kind k, const struct registration_input *in, const char *name)
{
	const char *v = val(in, name);
	return registration_field(k, name) && *v ? v : NULL;
}

struct submit_ctx {
	enum reg_kind kind;
	const struct registration_input *in;
	const char *address;
	const char *password_hash; /* hashed before the transaction */
	int64_t reg_id;
	const char *which;
};

static enum db_status submit_tx(db_conn *c, void *arg)
{
	struct submit_ctx *s = arg;
	const struct registration_input *v = s->in;
	enum reg_kind k = s->kind;
	int64_t now = time_now();
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "INSERT INTO registrations (kind, state, " REG_COLUMNS ", created_at, updated_at) "
	    "VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
	    "$16, $17, $18, $18) RETURNING id",
	    &r, P_TEXT(kind_name(k)), P_TEXT(opt(k, v, "name")), P_TEXT(opt(k, v, "code")),
	    P_TEXT(opt(k, v, "legal_rep")), P_TEXT(opt(k, v, "contact_name")),
	    P_TEXT(opt(k, v, "contact_id_number")), P_TEXT(opt(k, v, "phone")),
	    P_TEXT(opt(k, v, "mobile")), P_TEXT(opt(k, v, "email")), P_TEXT(opt(k, v, "address")),
	    P_TEXT(opt(k, v, "postcode")), P_TEXT(opt(k, v, "category")),
	    P_TEXT(opt(k, v, "grade")), P_TEXT(opt(k, v, "work_unit")),
	    P_TEXT(opt(k, v, "department")), P_TEXT(opt(k, v, "province_code")),
	    P_INT(strtoll(val(v, "authority_id"), NULL, 10)), P_INT(now));
	if (st == DB_CONFLICT)
		s->which = "code";
	if (st != DB_OK) {
		db_result_free(r);
		return st;
	}
	s->reg_id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	int64_t account_id = 0;
	st = account_create_hashed(c, val(v, "username"), s->password_hash, ROLE_APPLICANT,
	                           val(v, "name"), 0, NULL, s->reg_id, &account_id);
	if (st == DB_CONFLICT)
		s->which = "username";
	if (st != DB_OK)
		return st;
	struct actor who = {
	    .account_id = account_id, .username = val(v, "username"), .address = s->address};
	char obj[48];
	snprintf(obj, sizeof obj, "registration:%lld", (long long)s->reg_id);
	return audit_append(c, &who, "registration.submit", obj, "", "pending");
}

enum db_status registration_submit_hashed(db_conn *c, enum reg_kind k,
                                          const struct registration_input *in, const char *hash,
                                          const char *address, int64_t *reg_id, const char **which)
{
	struct submit_ctx s = {.kind = k, .in = in, .address = address, .password_hash = hash};
	enum db_status st = db_transaction(c, submit_tx, &s);
	*reg_id = s.reg_id;
	*which = s.which;
	return st;
}

enum db_status registration_submit(db_conn *c, enum reg_kind k, const struct registration_input *in,
                                   const char *address, int64_t *reg_id, const char **which)
{
	char *hash = password_hash(val(in, "password"));
	enum db_status st = registration_submit_hashed(c, k, in, hash, address, reg_id, which);
	free(hash);
	return st;
}

struct resubmit_ctx {
	const struct actor *a;
	int64_t reg_id;
	const struct registration_input *in;
};

static enum db_status resubmit_tx(db_conn *c, void *arg)
{
	struct resubmit_ctx *s = arg;
	const struct registration_input *v = s->in;
	db_result *r = NULL;
	/* The stored kind says which columns the registration has. */
	enum db_status st =
	    DB_EXEC(c, "SELECT kind FROM registrations WHERE id = $1", &r, P_INT(s->reg_id));
	enum reg_kind k = st == DB_OK && r->nrows ? kind_parse(db_get(r, 0, 0)) : KIND_NONE;
	db_result_free(r);
	r = NULL;
	if (st != DB_OK)
		return st;
	if (k == KIND_NONE)
		return DB_CONFLICT;
	st = DB_EXEC(
	    c,
	    "UPDATE registrations SET state = 'pending', reject_reason = NULL, name = $2, code = "
	    "$3, "
	    "legal_rep = $4, contact_name = $5, contact_id_number = $6, phone = $7, mobile = $8, "
	    "email = $9, address = $10, postcode = $11, category = $12, grade = $13, work_unit = "
	    "$14, "
	    "department = $15, province_code = $16, authority_id = $17, updated_at = $18 "
	    "WHERE id = $1 AND state = 'rejected' RETURNING id",
	    &r, P_INT(s->reg_id), P_TEXT(opt(k, v, "name")), P_TEXT(opt(k, v, "code")),
	    P_TEXT(opt(k, v, "legal_rep")), P_TEXT(opt(k, v, "contact_name")),
	    P_TEXT(opt(k, v, "contact_id_number")), P_TEXT(opt(k, v, "phone")),
	    P_TEXT(opt(k, v, "mobile")), P_TEXT(opt(k, v, "email")), P_TEXT(opt(k, v, "address")),
	    P_TEXT(opt(k, v, "postcode")), P_TEXT(opt(k, v, "category")),
	    P_TEXT(opt(k, v, "grade")), P_TEXT(opt(k, v, "work_unit")),
	    P_TEXT(opt(k, v, "department")), P_TEXT(opt(k, v, "province_code")),
	    P_INT(strtoll(val(v, "authority_id"), NULL, 10)), P_INT(time_now()));
	if (st == DB_OK && r->nrows == 0)
		st = DB_CONFLICT;
	db_result_free(r);
	if (st != DB_OK)
		return st;
	st = DB_EXEC(c, "UPDATE accounts SET display_name = $1 WHERE registration_id = $2", NULL,
	             P_TEXT(opt(k, v, "name")), P_INT(s->reg_id));
	if (st != DB_OK)
		return st;
	char obj[48];
	snprintf(obj, sizeof obj, "registration:%lld", (long long)s->reg_id);
	return audit_append(c, s->a, "registration.resubmit", obj, "rejected", "pending");
}

enum db_status registration_resubmit(db_conn *c, const struct actor *a, int64_t reg_id,
                                     const struct registration_input *in)
{
	struct resubmit_ctx s = {.a = a, .reg_id = reg_id, .in = in};
	return db_transaction(c, resubmit_tx, &s);
}

/* ---- reading ---- */

/* Store text into the arena; NULL stays NULL. */
static const char *text(struct arena *a, const db_result *r, int row, int col)
{
	const char *v = db_get(r, row, col);
	return v ? arena_strdup(a, v) : NULL;
}

enum db_status registration_get(db_conn *c, struct arena *a, int64_t id, struct registration *out)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "SELECT r.id, r.kind, r.state, r.name, r.code, r.legal_rep, r.contact_name, "
	    "r.contact_id_number, r.phone, r.mobile, r.email, r.address, r.postcode, "
	    "r.category, "
	    "r.grade, r.work_unit, r.department, r.province_code, r.authority_id, "
	    "r.reject_reason, r.reviewed_at, "
	    "r.created_at, r.updated_at, a.name AS authority_name, a.path AS authority_path, "
	    "p.name AS province, rv.display_name AS reviewer "
	    "FROM registrations r JOIN authorities a ON a.id = r.authority_id "
	    "JOIN provinces p ON p.code = r.province_code "
	    "LEFT JOIN accounts rv ON rv.id = r.reviewed_by WHERE r.id = $1",
	    &r, P_INT(id));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK) {
		int col = 0;
#define T() text(a, r, 0, col++)
#define I() db_get_int(r, 0, col++, 0)
		memset(out, 0, sizeof(*out));
		out->id = I();
		out->kind = kind_parse(db_get(r, 0, col++));
		out->state = reg_state_parse(db_get(r, 0, col++));
		out->name = T();
		out->code = T();
		out->legal_rep = T();
		out->contact_name = T();
		out->contact_id_number = T();
		out->phone = T();
		out->mobile = T();
		out->email = T();
		out->address = T();
		out->postcode = T();
		out->category = T();
		out->grade = T();
		out->work_unit = T();
		out->department = T();
		out->province_code = T();
		out->authority_id = I();
		out->reject_reason = T();
		out->reviewed_at = I();
		out->created_at = I();
		out->updated_at = I();
		out->authority_name = T();
		out->authority_path = T();
		out->province = T();
		out->reviewer = T();
		assert(col == r->ncols);
#undef T
#undef I
	}
	db_result_free(r);
	return st;
}

void registration_policy_object(const struct registration *reg, struct policy_object *o)
{
	memset(o, 0, sizeof(*o));
	if (!reg)
		return;
	o->registration_id = reg->id;
	o->kind = reg->kind == KIND_NONE ? NULL : kind_name(reg->kind);
	o->reg_state = reg->state == REG_STATE_UNKNOWN ? NULL : reg_state_name(reg->state);
	o->authority_path = reg->authority_path;
	o->province_code = reg->province_code;
}

/* The subtree of an authority is every authority whose path starts with its
 * own ("/1/14/"): db.h's prefix test, in the form the engine runs best.
 *
 * Totals come from queue_counts (migration 019): the subtree's and
 * everyone's, in one statement over a few hundred rows. A page is found in
 * two steps: its ids from an index alone, then their rows. How the ids are
 * found depends on the subtree's share of the state (SQLite; PostgreSQL's
 * planner makes the same choice from its statistics):
 *   narrow: every registration of the subtree's authorities from
 *     registrations_queue, sorted (a city: a few thousand index entries);
 *   wide: registrations_order (or _recent for every state) walked newest
 *     first, keeping those of the subtree, until the page is full
 *     (交通运输部: the page's own rows, however large the queue).
 * A queue of any state and one of a single state are separate statements, so
 * that neither holds an OR that would keep the store from its indexes. */
#define QUEUE_TOTALS(PREFIX)                                                                       \
	"SELECT COALESCE(SUM(CASE WHEN " PREFIX(                                                   \
	    "a.path", "$1") " THEN q.n ELSE 0 END), 0), "                                          \
	                    "COALESCE(SUM(q.n), 0), "                                              \
	                    "COALESCE(SUM(CASE WHEN " PREFIX(                                      \
	                        "a.path", "$1") " THEN q.ins ELSE 0 END), 0), "                    \
	                                        "COALESCE(SUM(CASE WHEN " PREFIX(                  \
	                                            "a.path",                                      \
	                                            "$1") " THEN q.moves ELSE 0 END), 0) "         \
	                                                  "FROM queue_counts q JOIN authorities "  \
	                                                  "a ON a.id = q.authority_id "            \
	                                                  "WHERE ($2 = '' OR q.state = $2)"
#define QUEUE_ROWS(IDS)                                                                            \
	"SELECT r.id, r.kind, r.state, r.name, r.code, r.created_at, a.name AS authority_name, "   \
	"p.name AS province FROM (" IDS ") x JOIN registrations r ON r.id = x.id "                 \
	"JOIN authorities a ON a.id = r.authority_id JOIN provinces p ON p.code = "                \
	"r.province_code "                                                                         \
	"ORDER BY r.created_at DESC, r.id DESC"
#define QUEUE_PAGE "ORDER BY r.created_at DESC, r.id DESC LIMIT $2 OFFSET $3"
#define QUEUE_IDS(FROM, PREFIX, STATE)                                                             \
	"SELECT r.id FROM " FROM " ON a.id = r.authority_id WHERE " PREFIX("a.path", "$1") STATE   \
	    " " QUEUE_PAGE
#define ONE_STATE " AND r.state = $4"
/* SQLite's planner would walk the order index for a city too: the loop order
 * (CROSS JOIN: the left table outermost) and the index are given. */
#define NARROW_STATE_SQLITE                                                                        \
	"authorities a CROSS JOIN registrations r INDEXED BY registrations_queue"
#define NARROW_ANY_SQLITE                                                                          \
	"authorities a CROSS JOIN registrations r INDEXED BY registrations_subtree"
#define WIDE_STATE_SQLITE "registrations r INDEXED BY registrations_order CROSS JOIN authorities a"
#define WIDE_ANY_SQLITE "registrations r INDEXED BY registrations_recent CROSS JOIN authorities a"
/* PostgreSQL has no such hints; its planner walks the order index when it
 * can, so the narrow way orders by expressions no index holds. */
#define PG_JOIN "registrations r JOIN authorities a"
#define PG_NARROW_IDS(STATE)                                                                       \
	"SELECT r.id FROM " PG_JOIN                                                                \
	" ON a.id = r.authority_id WHERE " DB_PREFIX_POSTGRESQL("a.path", "$1") STATE              \
	    " ORDER BY r.created_at + 0 DESC, r.id + 0 DESC LIMIT $2 OFFSET $3"
static const struct db_sql queue_totals = DB_SQL(QUEUE_TOTALS);
static const struct db_sql queue_narrow_any = {
    QUEUE_ROWS(QUEUE_IDS(NARROW_ANY_SQLITE, DB_PREFIX_SQLITE, "")),
    QUEUE_ROWS(PG_NARROW_IDS("")),
};
static const struct db_sql queue_narrow_state = {
    QUEUE_ROWS(QUEUE_IDS(NARROW_STATE_SQLITE, DB_PREFIX_SQLITE, ONE_STATE)),
    QUEUE_ROWS(PG_NARROW_IDS(ONE_STATE)),
};
static const struct db_sql queue_wide_any = {
    QUEUE_ROWS(QUEUE_IDS(WIDE_ANY_SQLITE, DB_PREFIX_SQLITE, "")),
    QUEUE_ROWS(QUEUE_IDS(PG_JOIN, DB_PREFIX_POSTGRESQL, "")),
};
static const struct db_sql queue_wide_state = {
    QUEUE_ROWS(QUEUE_IDS(WIDE_STATE_SQLITE, DB_PREFIX_SQLITE, ONE_STATE)),
    QUEUE_ROWS(QUEUE_IDS(PG_JOIN, DB_PREFIX_POSTGRESQL, ONE_STATE)),
};

/* A queue's rows from a kept row on (registration_queue_marked), on the
 * wide way: $4, $5 the kept row's key, $6 the state. Rows from it down
 * (itself included), the keys of those above it newest first (the new
 * rows), and the same oldest first (a row a little above it). */
#define KEY_FROM " AND r.created_at <= $4 AND (r.created_at < $4 OR r.id <= $5)"
#define KEY_ABOVE " AND r.created_at >= $4 AND (r.created_at > $4 OR r.id > $5)"
#define MARK_STATE " AND r.state = $6"
#define KEYED(FROM, PREFIX, STATE, KEY, COLS, ORDER)                                               \
	"SELECT " COLS " FROM " FROM " ON a.id = r.authority_id WHERE " PREFIX("a.path", "$1")     \
	    STATE KEY " ORDER BY " ORDER " LIMIT $2 OFFSET $3"
#define NEWEST "r.created_at DESC, r.id DESC"
#define OLDEST "r.created_at, r.id"
static const struct db_sql queue_from[2] = {
    {QUEUE_ROWS(KEYED(WIDE_ANY_SQLITE, DB_PREFIX_SQLITE, "", KEY_FROM, "r.id", NEWEST)),
     QUEUE_ROWS(KEYED(PG_JOIN, DB_PREFIX_POSTGRESQL, "", KEY_FROM, "r.id", NEWEST))},
    {QUEUE_ROWS(KEYED(WIDE_STATE_SQLITE, DB_PREFIX_SQLITE, MARK_STATE, KEY_FROM, "r.id", NEWEST)),
     QUEUE_ROWS(KEYED(PG_JOIN, DB_PREFIX_POSTGRESQL, MARK_STATE, KEY_FROM, "r.id", NEWEST))},
};
static const struct db_sql queue_above[2] = {
    {KEYED(WIDE_ANY_SQLITE, DB_PREFIX_SQLITE, "", KEY_ABOVE, "r.created_at, r.id", NEWEST),
     KEYED(PG_JOIN, DB_PREFIX_POSTGRESQL, "", KEY_ABOVE, "r.created_at, r.id", NEWEST)},
    {KEYED(WIDE_STATE_SQLITE, DB_PREFIX_SQLITE, MARK_STATE, KEY_ABOVE, "r.created_at, r.id",
           NEWEST),
     KEYED(PG_JOIN, DB_PREFIX_POSTGRESQL, MARK_STATE, KEY_ABOVE, "r.created_at, r.id", NEWEST)},
};
static const struct db_sql queue_back[2] = {
    {KEYED(WIDE_ANY_SQLITE, DB_PREFIX_SQLITE, "", KEY_ABOVE, "r.created_at, r.id", OLDEST),
     KEYED(PG_JOIN, DB_PREFIX_POSTGRESQL, "", KEY_ABOVE, "r.created_at, r.id", OLDEST)},
    {KEYED(WIDE_STATE_SQLITE, DB_PREFIX_SQLITE, MARK_STATE, KEY_ABOVE, "r.created_at, r.id",
           OLDEST),
     KEYED(PG_JOIN, DB_PREFIX_POSTGRESQL, MARK_STATE, KEY_ABOVE, "r.created_at, r.id", OLDEST)},
};

/* Walking the order index visits about all/subtree entries per row shown;
 * the narrow way reads and sorts the subtree's entries. */
static bool queue_wide(int64_t subtree, int64_t all, int limit, int offset)
{
	if (subtree <= 0)
		return false;
	double walk = ((double)offset + limit) * ((double)all / (double)subtree);
	return walk <= 2.0 * (double)subtree;
}

/* The subtree's counters (queue_counts, 025): rows, everyone's rows, rows
 * that came in by INSERT and by any other change. */
struct queue_totals {
	int64_t total, all, ins, moves;
};

static enum db_status queue_totals_read(db_conn *c, const char *path, const char *state,
                                        struct queue_totals *t)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, db_sql(c, &queue_totals), &r, P_TEXT(path), P_TEXT(state ? state : ""));
	if (st == DB_OK)
		*t = (struct queue_totals){db_get_int(r, 0, 0, 0), db_get_int(r, 0, 1, 0),
		                           db_get_int(r, 0, 2, 0), db_get_int(r, 0, 3, 0)};
	db_result_free(r);
	return st;
}

static bool totals_same(const struct queue_totals *a, const struct queue_totals *b)
{
	return a->total == b->total && a->all == b->all && a->ins == b->ins && a->moves == b->moves;
}

static void queue_rows_fill(db_result *r, struct arena *a, struct registration_row **out, size_t *n)
{
	if (!r->nrows)
		return;
	*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
	*n = (size_t)r->nrows;
	for (int i = 0; i < r->nrows; i++)
		(*out)[i] = (struct registration_row){
		    .id = db_get_int(r, i, 0, 0),
		    .kind = kind_parse(db_get(r, i, 1)),
		    .state = text(a, r, i, 2),
		    .name = text(a, r, i, 3),
		    .code = text(a, r, i, 4),
		    .created_at = db_get_int(r, i, 5, 0),
		    .authority_name = text(a, r, i, 6),
		    .province = text(a, r, i, 7),
		};
}

/* One of the keyed statements (state NULL: every state), planned for its
 * values as the wide walk is (db_exec_once, below). */
static enum db_status queue_keyed(db_conn *c, const struct db_sql q[2], const char *path,
                                  const char *state, int64_t limit, int64_t offset,
                                  int64_t created_at, int64_t id, db_result **r)
{
	struct db_param p[6] = {P_TEXT(path),      P_INT(limit), P_INT(offset),
	                        P_INT(created_at), P_INT(id),    P_TEXT(state)};
	return db_exec_once(c, db_sql(c, &q[state ? 1 : 0]), p, state ? 6 : 5, r);
}

/* From this offset on a page of a wide queue starts from a kept row. */
static int queue_marks_from = 1000;
/* A kept row is used when it spares at least this walk... */
#define MARK_WALK_MAX 5000
/* ...and one below the page is moved up to this many rows above it. */
#define MARK_BACK 100

/* Where a kept row below the page is moved up to: MARK_BACK above it, less
 * on a short queue. */
static int64_t mark_back_to(int64_t o)
{
	return o - (o / 4 < MARK_BACK ? o / 4 : MARK_BACK);
}

static _Atomic uint64_t marked_pages;

uint64_t registration_queue_marked_pages(void)
{
	return marked_pages;
}

void registration_queue_marks_from_set(int offset)
{
	queue_marks_from = offset > 0 ? offset : 1000;
}

/* What is kept for the queue, brought to t: every kept row went down by the
 * rows inserted since, when nothing else changed (moves the same) and those
 * rows are all above the first row then (which was above every other). */
static enum db_status anchor_follow(db_conn *c, struct queue_anchor *an, const char *path,
                                    const char *state, const struct queue_totals *t, bool *valid)
{
	int64_t d = t->ins - an->ins;
	*valid = false;
	if (an->moves != t->moves || d < 0 || d > MARK_WALK_MAX || t->total != an->total + d)
		return DB_OK;
	if (d > 0) {
		db_result *r = NULL;
		enum db_status st =
		    queue_keyed(c, queue_above, path, state, d + 1, 0, an->top_at, an->top_id, &r);
		if (st != DB_OK || r->nrows != d) {
			db_result_free(r);
			return st;
		}
		an->top_at = db_get_int(r, 0, 0, 0);
		an->top_id = db_get_int(r, 0, 1, 0);
		db_result_free(r);
		for (int i = 0; i < an->nmarks; i++)
			an->marks[i].pos += d;
	}
	an->total = t->total;
	an->ins = t->ins;
	*valid = true;
	return DB_OK;
}

/* The kept row a page at offset o starts from, or -1: one at or above it
 * (walked down to o), else one below (moved up to MARK_BACK above o first),
 * whichever walks less, when that spares a walk. */
static int anchor_pick(const struct queue_anchor *an, int64_t o)
{
	int64_t t = mark_back_to(o);
	int best = -1;
	int64_t best_walk = 0;
	for (int i = 0; i < an->nmarks; i++) {
		int64_t p = an->marks[i].pos;
		int64_t walk = p <= o ? o - p : (p - t) + (o - t);
		if (best < 0 || walk < best_walk) {
			best = i;
			best_walk = walk;
		}
	}
	return best >= 0 && best_walk < o && best_walk <= MARK_WALK_MAX ? best : -1;
}

/* The page from a kept row; *used false when there is none to use (the
 * caller walks), *an then what is kept brought to t1 when *valid. */
static enum db_status queue_from_mark(db_conn *c, struct queue_anchor *an, bool *valid,
                                      const char *path, const char *state, int limit, int64_t o,
                                      const struct queue_totals *t1, db_result **rows, bool *used)
{
	*used = false;
	enum db_status st = anchor_follow(c, an, path, state, t1, valid);
	int i = st == DB_OK && *valid ? anchor_pick(an, o) : -1;
	if (i < 0)
		return st;
	struct queue_mark mk = an->marks[i];
	db_result *r = NULL;
	if (mk.pos > o) {
		int64_t t = mark_back_to(o);
		st = queue_keyed(c, queue_back, path, state, 1, mk.pos - t - 1, mk.created_at,
		                 mk.id, &r);
		if (st != DB_OK || r->nrows != 1) {
			db_result_free(r);
			return st;
		}
		mk = (struct queue_mark){t, db_get_int(r, 0, 0, 0), db_get_int(r, 0, 1, 0)};
		db_result_free(r);
		r = NULL;
	}
	st = queue_keyed(c, queue_from, path, state, limit, o - mk.pos, mk.created_at, mk.id, &r);
	/* The statements saw the counters' state only if nothing moved them
	 * meanwhile (every change to the queue does, in its own transaction). */
	struct queue_totals t2;
	if (st == DB_OK)
		st = queue_totals_read(c, path, state, &t2);
	if (st != DB_OK || !totals_same(t1, &t2)) {
		*valid = false;
		db_result_free(r);
		return st;
	}
	an->marks[i] = mk;
	*rows = r;
	*used = true;
	return DB_OK;
}

/* After a walk to offset o (its first row first), what is kept for the queue
 * learns that row: added to what was kept when still valid, else alone with
 * the queue's first row, read now; kept only if nothing changed meanwhile. */
static void anchor_learn(db_conn *c, struct queue_marks *m, const char *key,
                         struct queue_anchor *an, bool valid, const char *path, const char *state,
                         int64_t o, const struct registration_row *first,
                         const struct queue_totals *t1)
{
	if (!valid) {
		db_result *r = NULL;
		if (queue_keyed(c, queue_from, path, state, 1, 0, INT64_MAX, INT64_MAX, &r) !=
		        DB_OK ||
		    r->nrows != 1) {
			db_result_free(r);
			return;
		}
		*an = (struct queue_anchor){.total = t1->total,
		                            .ins = t1->ins,
		                            .moves = t1->moves,
		                            .top_id = db_get_int(r, 0, 0, 0),
		                            .top_at = db_get_int(r, 0, 5, 0)};
		db_result_free(r);
	}
	struct queue_totals t2;
	if (queue_totals_read(c, path, state, &t2) != DB_OK || !totals_same(t1, &t2))
		return;
	queue_anchor_add(an, (struct queue_mark){o, first->created_at, first->id});
	queue_marks_put(m, key, an);
}

enum db_status registration_queue(db_conn *c, struct arena *a, const char *authority_path,
                                  const char *state, int limit, int offset,
                                  struct registration_row **out, size_t *n, int64_t *total)
{
	return registration_queue_marked(c, NULL, a, authority_path, state, limit, offset, out, n,
	                                 total);
}

enum db_status registration_queue_marked(db_conn *c, struct queue_marks *marks, struct arena *a,
                                         const char *authority_path, const char *state, int limit,
                                         int offset, struct registration_row **out, size_t *n,
                                         int64_t *total)
{
	*total = 0;
	*out = NULL;
	*n = 0;
	/* No path, no subtree (the policy lets no such reviewer in either). */
	if (!authority_path || !*authority_path)
		return DB_OK;
	bool any = !state || !*state;
	if (any)
		state = NULL;
	struct queue_totals t1;
	enum db_status st = queue_totals_read(c, authority_path, state, &t1);
	if (st == DB_OK)
		*total = t1.total;
	/* Past the end: nothing to look for. */
	if (st != DB_OK || *total <= offset)
		return st;
	bool wide = queue_wide(*total, t1.all, limit, offset);
	db_result *r = NULL;
	/* A deep page of a wide queue starts from a kept row when one is known
	 * (025_queue_marks.sql); the page is the same as OFFSET's. */
	bool marked = marks && wide && offset >= queue_marks_from, valid = false, used = false;
	struct queue_anchor an = {0};
	const char *key =
	    marked ? arena_printf(a, "%s|%s", authority_path, any ? "" : state) : NULL;
	if (marked && queue_marks_get(marks, key, &an)) {
		st = queue_from_mark(c, &an, &valid, authority_path, state, limit, offset, &t1, &r,
		                     &used);
		if (st != DB_OK)
			return st;
		if (used) {
			marked_pages++;
			queue_rows_fill(r, a, out, n);
			db_result_free(r);
			queue_marks_put(marks, key, &an);
			return DB_OK;
		}
	}
	const struct db_sql *q = any ? (wide ? &queue_wide_any : &queue_narrow_any)
	                             : (wide ? &queue_wide_state : &queue_narrow_state);
	struct db_param p[4] = {P_TEXT(authority_path), P_INT(limit), P_INT(offset),
	                        P_TEXT(any ? "" : state)};
	/* The wide walk is planned for its subtree at each run (db_exec_once):
	 * PostgreSQL's generic plan, made after five runs of the prepared
	 * statement, cannot know that "/1/" is every authority, takes the
	 * subtree for two of them, and read and sorted 939,891 registrations
	 * on disk for 交通运输部's page 999 of 已通过: 0.58 s instead of 23 ms
	 * (the 0.3-3 s outliers after a change). 0.8 ms of planning a run. */
	st = (wide ? db_exec_once : db_exec)(c, db_sql(c, q), p, any ? 3 : 4, &r);
	if (st == DB_OK)
		queue_rows_fill(r, a, out, n);
	db_result_free(r);
	if (st == DB_OK && marked && *n)
		anchor_learn(c, marks, key, &an, valid, authority_path, state, offset, &(*out)[0],
		             &t1);
	return st;
}

struct decide_ctx {
	const struct actor *a;
	int64_t reg_id;
	bool approve;
	const char *reason;
	char *blocked; /* why the approval cannot be (malloc'ed) */
};

static char *clash_message(const char *existing)
{
	return xasprintf("不能通过：已有名称相同的主管机关“%s”（比较名称时不计空格和全角、半角），"
	                 "同一主管机关不能开通两次。请选择“不通过”并写明原因。",
	                 existing);
}

char *registration_approval_blocker(db_conn *c, const struct registration *reg)
{
	const char *name = reg->name;
	if (reg->kind != KIND_AUTHORITY || reg->state != REG_PENDING)
		return NULL;
	char *same = name ? authority_same_name(c, name) : NULL;
	char *m = same ? clash_message(same) : NULL;
	free(same);
	return m;
}

static enum db_status decide_tx(db_conn *c, void *arg)
{
	struct decide_ctx *d = arg;
	free(d->blocked); /* from an earlier run of a retried transaction */
	d->blocked = NULL;
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "UPDATE registrations SET state = $2, reject_reason = $3, reviewed_by = $4, "
	    "reviewed_at = $5, updated_at = $5 WHERE id = $1 AND state = 'pending' "
	    "RETURNING kind, name, province_code, authority_id",
	    &r, P_INT(d->reg_id), P_TEXT(d->approve ? "approved" : "rejected"),
	    P_TEXT(d->approve ? NULL : d->reason), P_INT(d->a->account_id), P_INT(time_now()));
	if (st == DB_OK && r->nrows == 0)
		st = DB_CONFLICT;
	if (st == DB_OK && d->approve && strcmp(db_get(r, 0, 0), "authority") == 0) {
		/* An approved authority joins the tree under the one that reviewed it,
		 * so that its own applicants can choose it; never a second time
		 * under a name that differs only in spaces or width. */
		char *same = authority_same_name(c, db_get(r, 0, 1));
		if (same) {
			d->blocked = clash_message(same);
			free(same);
			db_result_free(r);
			return DB_CONFLICT;
		}
		int64_t parent = db_get_int(r, 0, 3, 0);
		db_result *pr = NULL;
		st = DB_EXEC(c, "SELECT level FROM authorities WHERE id = $1", &pr, P_INT(parent));
		const char *plevel = st == DB_OK && pr->nrows ? db_get(pr, 0, 0) : "";
		const char *level = strcmp(plevel, "city") == 0 ? "county" : "city";
		int64_t new_id = 0;
		if (st == DB_OK)
			st = authority_insert(c, parent, db_get(r, 0, 1), db_get(r, 0, 2), level,
			                      &new_id);
		db_result_free(pr);
		if (st == DB_OK)
			st = DB_EXEC(c,
			             "UPDATE registrations SET new_authority_id = $1 WHERE id = $2",
			             NULL, P_INT(new_id), P_INT(d->reg_id));
	}
	db_result_free(r);
	if (st == DB_OK)
		st = notify_enqueue(
		    c, d->approve ? NOTICE_REG_APPROVED : NOTICE_REG_RETURNED,
		    &(struct notice){.registration_id = d->reg_id, .reason = d->reason});
	if (st != DB_OK)
		return st;
	char obj[48];
	snprintf(obj, sizeof obj, "registration:%lld", (long long)d->reg_id);
	return audit_append(c, d->a, d->approve ? "registration.approve" : "registration.reject",
	                    obj, "pending", d->approve ? "approved" : "rejected");
}

enum db_status registration_decide(db_conn *c, const struct actor *a, int64_t reg_id, bool approve,
                                   const char *reason, char **blocked)
{
	struct decide_ctx d = {.a = a, .reg_id = reg_id, .approve = approve, .reason = reason};
	enum db_status st = db_transaction(c, decide_tx, &d);
	if (st == DB_CONFLICT && d.blocked && blocked)
		*blocked = d.blocked;
	else
		free(d.blocked);
	return st;
}
