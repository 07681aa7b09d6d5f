/*
 * Unit tests of the registration field tables and of registration_validate()
 * and registration_submit() on a fresh SQLite store: each kind has exactly
 * its own fields, every field is bounded, a value of a field the kind does
 * not have is never stored, free text with invisible or control characters
 * is refused by the field's label, and an authority named like one in the
 * tree (spaces and width aside) is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "esp/audit.h"
#include "esp/core.h"
#include "esp/db.h"
#include "esp/registration.h"
#include "esp/util.h"
#include "esp/validate.h"
#include "../testdir.h"

#define MIGRATIONS ESP_SOURCE_DIR "/src/db/migrations"

/* ---- the tables, without a store ------------------------------------------ */

static const char *const expected[KIND_COUNT][20] = {
    [KIND_AUTHORITY] = {"name", "code", "legal_rep", "contact_name", "contact_id_number", "phone",
                        "mobile", "email", "province_code", "authority_id", "address", "postcode",
                        "username", "password", "password2", NULL},
    [KIND_AGENCY] = {"name", "code", "grade", "legal_rep", "contact_name", "contact_id_number",
                     "phone", "mobile", "email", "province_code", "authority_id", "address",
                     "postcode", "username", "password", "password2", NULL},
    [KIND_ENTERPRISE] = {"name", "code", "category", "legal_rep", "contact_name",
                         "contact_id_number", "phone", "mobile", "email", "province_code",
                         "authority_id", "address", "postcode", "username", "password", "password2",
                         NULL},
    [KIND_EVALUATOR] = {"name", "code", "work_unit", "department", "phone", "mobile", "email",
                        "province_code", "authority_id", "address", "postcode", "username",
                        "password", "password2", NULL},
};

static void test_each_kind_has_exactly_its_fields(void **state)
{
	(void)state;
	for (int k = 0; k < KIND_COUNT; k++) {
		size_t n;
		const struct reg_field *f = registration_fields((enum reg_kind)k, &n);
		size_t want = 0;
		while (expected[k][want])
			want++;
		if (n != want)
			fail_msg("kind %s: %zu fields, want %zu", kind_name((enum reg_kind)k), n,
			         want);
		for (size_t i = 0; i < n; i++)
			if (strcmp(f[i].name, expected[k][i]) != 0)
				fail_msg("kind %s field %zu: %s, want %s",
				         kind_name((enum reg_kind)k), i, f[i].name, expected[k][i]);
	}
	size_t n = 99;
	assert_null(registration_fields(KIND_NONE, &n));
	assert_int_equal(n, 0);
	/* What a kind does not have is not found, whatever another kind has. */
	assert_null(registration_field(KIND_ENTERPRISE, "work_unit"));
	assert_null(registration_field(KIND_ENTERPRISE, "grade"));
	assert_null(registration_field(KIND_ENTERPRISE, "department"));
	assert_null(registration_field(KIND_EVALUATOR, "legal_rep"));
	assert_null(registration_field(KIND_EVALUATOR, "category"));
	assert_null(registration_field(KIND_AGENCY, "category"));
	assert_null(registration_field(KIND_AUTHORITY, "grade"));
	assert_null(registration_field(KIND_AGENCY, "csrf"));
	assert_null(registration_field(KIND_AGENCY, NULL));
	assert_null(registration_field(KIND_NONE, "name"));
	assert_string_equal(registration_field(KIND_EVALUATOR, "work_unit")->label, "工作单位");
	assert_string_equal(registration_field(KIND_AUTHORITY, "name")->label, "主管机关名称");
	assert_string_equal(registration_field(KIND_AUTHORITY, "authority_id")->label,
	                    "上级主管机关");
}

static void test_every_field_is_bounded_and_labelled(void **state)
{
	(void)state;
	for (int k = 0; k < KIND_COUNT; k++) {
		size_t n;
		const struct reg_field *f = registration_fields((enum reg_kind)k, &n);
		for (size_t i = 0; i < n; i++) {
			assert_true(f[i].maxlen > 0 && f[i].maxlen <= 128);
			assert_true(f[i].label && *f[i].label);
			assert_true((f[i].check == CHECK_ENUM) == (f[i].options != NULL));
			assert_true(f[i].account ==
			            (f[i].check == CHECK_USERNAME || f[i].check == CHECK_PASSWORD));
			for (size_t j = 0; j < i; j++)
				assert_string_not_equal(f[i].name, f[j].name);
			/* Every allowed value fits the field. */
			for (size_t j = 0; f[i].options && f[i].options[j]; j++)
				assert_true(utf8_length(f[i].options[j]) <= f[i].maxlen);
		}
	}
	const struct reg_field *grade = registration_field(KIND_AGENCY, "grade");
	assert_string_equal(grade->options[0], "一级");
	assert_string_equal(grade->options[2], "三级");
	assert_null(grade->options[3]);
	const struct reg_field *cat = registration_field(KIND_ENTERPRISE, "category");
	size_t ncat = 0;
	while (cat->options[ncat])
		ncat++;
	assert_int_equal(ncat, 17);
}

/* ---- against a store --------------------------------------------------------- */

struct fixture {
	char *dir;
	db_pool *pool;
	db_conn *c;
	struct esp_limits limits;
	int64_t fujian;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	f->dir = test_dir_make("registration");
	char *path = xasprintf("%s/esp.db", f->dir);
	const char *err = NULL;
	int applied = 0;
	f->pool = db_pool_open(path, 1, &err);
	free(path);
	if (!f->pool || db_migrate(f->pool, MIGRATIONS, &applied) != DB_OK)
		return -1;
	f->c = db_acquire(f->pool);
	if (seed_base(f->c) != DB_OK)
		return -1;
	limits_load(f->c, &f->limits);
	f->fujian = authority_by_name(f->c, "福建省交通运输厅");
	return f->fujian ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->c)
		db_release(f->pool, f->c);
	if (f->pool)
		db_pool_close(f->pool);
	test_dir_remove(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* The posted form of a valid registration of kind k, number n. */
static json_t *form_of(struct fixture *f, enum reg_kind k, int n)
{
	char auth[24], user[32], pw[32], email[48], name[64];
	snprintf(auth, sizeof auth, "%lld", (long long)f->fujian);
	snprintf(user, sizeof user, "user_%d", n);
	snprintf(pw, sizeof pw, "Secret-%d!", n);
	snprintf(email, sizeof email, "u%d@example.cn", n);
	snprintf(name, sizeof name, "测试单位%d", n);
	json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name",
	                      name, "phone", "0591-87654321", "mobile", "13800138000", "email",
	                      email, "province_code", "35", "authority_id", auth, "address",
	                      "福建省福州市鼓楼区某某路1号", "postcode", "350001", "username", user,
	                      "password", pw, "password2", pw);
	if (k == KIND_EVALUATOR) {
		json_object_set_new(v, "code", json_string("11010519491231002X"));
		json_object_set_new(v, "work_unit", json_string("某某考评机构"));
		return v;
	}
	json_object_set_new(v, "code", json_string("91350100M000100Y43"));
	json_object_set_new(v, "legal_rep", json_string("张三"));
	json_object_set_new(v, "contact_name", json_string("李四"));
	json_object_set_new(v, "contact_id_number", json_string("11010519491231002X"));
	if (k == KIND_ENTERPRISE)
		json_object_set_new(v, "category", json_string("道路运输-普通货运"));
	if (k == KIND_AGENCY)
		json_object_set_new(v, "grade", json_string("二级"));
	return v;
}

/* The posted form v (name → string) as the typed input the core takes
 * (strings borrowed from v). */
static struct registration_input input_of(json_t *v)
{
	struct registration_input in = {0};
	const char *key;
	json_t *val;
	json_object_foreach(v, key, val)
	{
		const char **at = registration_input_at(&in, key);
		if (at)
			*at = json_string_value(val);
	}
	return in;
}

/* Validates v as the form of kind k and puts back into v what the
 * validation kept, as the page shows it again; the errors as an object
 * field → message (new reference). */
static json_t *validate_as(struct fixture *f, enum reg_kind k, json_t *v, bool editing,
                           int64_t own_id)
{
	struct arena *a = arena_new();
	struct registration_input in = input_of(v);
	struct field_errors e = {0};
	registration_validate(f->c, &f->limits, k, &in, editing, own_id, a, &e);
	json_t *kept = json_object();
	size_t n;
	const struct reg_field *fields = registration_fields(k, &n);
	for (size_t i = 0; i < n; i++) {
		const char **at = registration_input_at(&in, fields[i].name);
		if (at && *at)
			json_object_set_new(kept, fields[i].name, json_string(*at));
	}
	json_object_clear(v);
	json_object_update(v, kept);
	json_decref(kept);
	json_t *errors = json_object();
	for (size_t i = 0; i < e.n; i++)
		json_object_set_new(errors, e.items[i].field, json_string(e.items[i].message));
	arena_free(a);
	return errors;
}

static json_t *validate(struct fixture *f, enum reg_kind k, json_t *v)
{
	return validate_as(f, k, v, false, 0);
}

static enum db_status submit(struct fixture *f, enum reg_kind k, json_t *v, const char *address,
                             int64_t *id, const char **which)
{
	struct registration_input in = input_of(v);
	return registration_submit(f->c, k, &in, address, id, which);
}

/* Validation copies what it keeps: the page frees the posted values it
 * borrowed them from (to show the form again) before the submission runs.
 * The passwords, kept untrimmed, were once left pointing there. */
static void test_validate_copies_what_it_keeps(void **state)
{
	struct fixture *f = *state;
	json_t *v = form_of(f, KIND_ENTERPRISE, 7);
	struct registration_input in = input_of(v);
	char pw[] = "Secret-7!", pw2[] = "Secret-7!";
	in.password = pw;
	in.password2 = pw2;
	struct arena *a = arena_new();
	struct field_errors e = {0};
	registration_validate(f->c, &f->limits, KIND_ENTERPRISE, &in, false, 0, a, &e);
	assert_int_equal(e.n, 0);
	/* What the input borrowed is gone. */
	json_decref(v);
	memset(pw, 'x', sizeof pw - 1);
	memset(pw2, 'x', sizeof pw2 - 1);
	assert_string_equal(in.password, "Secret-7!");
	assert_string_equal(in.password2, "Secret-7!");
	assert_string_equal(in.username, "user_7");
	assert_string_equal(in.name, "测试单位7");
	arena_free(a);
}

static void expect_error(json_t *errors, const char *field, const char *want)
{
	const char *got = json_string_value(json_object_get(errors, field));
	if (!got || !strstr(got, want))
		fail_msg("%s: error \"%s\", want one with \"%s\"", field, got ? got : "(none)",
		         want);
}

static void test_other_kinds_fields_are_dropped_and_not_stored(void **state)
{
	struct fixture *f = *state;
	json_t *v = form_of(f, KIND_ENTERPRISE, 1);
	char *big = xmalloc(1024 * 1024 + 1);
	memset(big, 'x', 1024 * 1024);
	big[1024 * 1024] = '\0';
	json_object_set_new(v, "work_unit", json_string(big));
	json_object_set_new(v, "grade", json_string("特级"));
	json_object_set_new(v, "department", json_string("\xE2\x80\xAE"));
	json_object_set_new(v, "reject_reason", json_string("x"));
	json_object_set_new(v, "csrf", json_string("token"));
	free(big);
	json_t *errors = validate(f, KIND_ENTERPRISE, v);
	assert_int_equal(json_object_size(errors), 0);
	assert_null(json_object_get(v, "work_unit"));
	assert_null(json_object_get(v, "grade"));
	assert_null(json_object_get(v, "csrf"));
	json_decref(errors);

	/* Even if a caller skipped the validation, the writer takes only the kind's fields. */
	json_object_set_new(v, "work_unit", json_string("某某"));
	json_object_set_new(v, "grade", json_string("特级"));
	int64_t id = 0;
	const char *which = NULL;
	assert_int_equal(submit(f, KIND_ENTERPRISE, v, "127.0.0.1", &id, &which), DB_OK);
	db_result *r = NULL;
	assert_int_equal(DB_EXEC(f->c,
	                         "SELECT work_unit, grade, department, category FROM "
	                         "registrations WHERE id = $1",
	                         &r, P_INT(id)),
	                 DB_OK);
	assert_int_equal(r->nrows, 1);
	assert_null(db_get(r, 0, 0));
	assert_null(db_get(r, 0, 1));
	assert_null(db_get(r, 0, 2));
	assert_string_equal(db_get(r, 0, 3), "道路运输-普通货运");
	db_result_free(r);
	json_decref(v);
}

static void test_enumerations_refuse_invented_values(void **state)
{
	struct fixture *f = *state;
	json_t *v = form_of(f, KIND_AGENCY, 2);
	json_object_set_new(v, "grade", json_string("特级"));
	json_t *errors = validate(f, KIND_AGENCY, v);
	expect_error(errors, "grade", "请从列表中选择考评机构等级");
	json_decref(errors);
	json_decref(v);
	v = form_of(f, KIND_ENTERPRISE, 3);
	json_object_set_new(v, "category", json_string("道路运输-普通货运 "));
	errors = validate(f, KIND_ENTERPRISE, v);
	assert_int_equal(json_object_size(errors), 0); /* trimmed first */
	json_decref(errors);
	json_object_set_new(v, "category", json_string("造飞机"));
	errors = validate(f, KIND_ENTERPRISE, v);
	expect_error(errors, "category", "业务类型");
	json_decref(errors);
	json_decref(v);
}

static void test_free_text_is_checked_by_label(void **state)
{
	struct fixture *f = *state;
	static const struct {
		enum reg_kind k;
		const char *field, *value, *want;
	} cases[] = {
	    {KIND_ENTERPRISE, "name",
	     "福州\xE2\x80\xAE"
	     "公司",
	     "单位名称含有不可见或控制字符，请删除后重新输入"},
	    {KIND_ENTERPRISE, "name", "福州\xE2\x80\x8B公司", "单位名称含有不可见或控制字符"},
	    {KIND_ENTERPRISE, "name", "福州\xC2\x85公司", "单位名称含有不可见或控制字符"},
	    {KIND_ENTERPRISE, "legal_rep", "张\x1b[2J三", "法定代表人含有不可见或控制字符"},
	    {KIND_ENTERPRISE, "address",
	     "某路\xC2\xAD"
	     "1号",
	     "通信地址含有不可见或控制字符"},
	    {KIND_EVALUATOR, "name", "张\xEE\x80\x80", "姓名含有无法识别的字符"},
	    {KIND_EVALUATOR, "work_unit", "\xED\xA0\x80", "工作单位含有无法识别的字符编码"},
	    {KIND_AUTHORITY, "name", "某某市交通运输局\xE2\x81\xA6",
	     "主管机关名称含有不可见或控制字符"},
	    {KIND_ENTERPRISE, "name", "", "单位名称为必填项"},
	    {KIND_ENTERPRISE, "category", "", "请选择业务类型"},
	    /* Format checks name the field too, whichever of two alike it is. */
	    {KIND_ENTERPRISE, "mobile", "12345", "经办人手机不正确"},
	    {KIND_EVALUATOR, "mobile", "12345", "手机号码不正确"},
	    {KIND_ENTERPRISE, "contact_id_number", "110105194912310021",
	     "经办人身份证号码校验错误"},
	    {KIND_EVALUATOR, "code", "110105194912310021", "身份证号码校验错误"},
	    {KIND_ENTERPRISE, "phone", "12", "单位电话不正确"},
	    {KIND_EVALUATOR, "phone", "12", "固定电话不正确"},
	    /* A code of the right shape whose check character is wrong is
	     * told so, not that it is no code at all. */
	    {KIND_ENTERPRISE, "code", "D2143569-5", "组织机构代码校验位错误"},
	    {KIND_ENTERPRISE, "code", "D2143569",
	     "请输入正确的18位统一社会信用代码或9位组织机构代码"},
	    {KIND_AGENCY, "email", "nope", "电子邮箱格式不正确"},
	    {KIND_AGENCY, "postcode", "35000", "邮政编码应为6位数字"},
	    {KIND_AUTHORITY, "authority_id", "999999", "请从列表中选择上级主管机关"},
	    {KIND_AGENCY, "authority_id", "x", "请从列表中选择主管机关"},
	    {KIND_AGENCY, "province_code", "66", "请从列表中选择所在省份"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		json_t *v = form_of(f, cases[i].k, 10 + (int)i);
		json_object_set_new(v, cases[i].field, json_string_nocheck(cases[i].value));
		json_t *errors = validate(f, cases[i].k, v);
		expect_error(errors, cases[i].field, cases[i].want);
		json_decref(errors);
		json_decref(v);
	}
}

static void test_lengths_are_characters_and_bounded(void **state)
{
	struct fixture *f = *state;
	json_t *v = form_of(f, KIND_ENTERPRISE, 30);
	struct buf b = {0};
	for (int i = 0; i < 100; i++)
		buf_puts(&b, "汉");
	json_object_set_new(v, "name", json_string(b.data)); /* 100 characters, 300 bytes */
	json_t *errors = validate(f, KIND_ENTERPRISE, v);
	assert_int_equal(json_object_size(errors), 0);
	json_decref(errors);
	buf_puts(&b, "汉");
	json_object_set_new(v, "name", json_string(b.data));
	errors = validate(f, KIND_ENTERPRISE, v);
	expect_error(errors, "name", "单位名称不能超过100个字");
	json_decref(errors);
	buf_free(&b);
	json_decref(v);
}

/* Mobile numbers typed with spaces, '-' or the country code are accepted and
 * stored as their 11 digits, on every kind's form. */
static void test_mobile_typed_as_people_do(void **state)
{
	struct fixture *f = *state;
	const char *typed[] = {"138 0013 8000", "+86 138 0013 8000", "+86-138-0013-8000",
	                       "0086 13800138000"};
	for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++) {
		enum reg_kind k = i % 2 ? KIND_EVALUATOR : KIND_ENTERPRISE;
		json_t *v = form_of(f, k, 40 + (int)i);
		json_object_set_new(v, "mobile", json_string(typed[i]));
		json_t *errors = validate(f, k, v);
		if (json_object_size(errors))
			fail_msg("%s refused: %s", typed[i],
			         json_string_value(json_object_get(errors, "mobile")));
		assert_string_equal(json_string_value(json_object_get(v, "mobile")), "13800138000");
		json_decref(errors);
		json_decref(v);
	}
}

static void test_authority_named_like_one_in_the_tree(void **state)
{
	struct fixture *f = *state;
	static const char *const same[] = {
	    "福建省交通运输厅",         " 福建省 交通运输厅", "福建省　交通运输厅",
	    "福建省\xC2\xA0交通运输厅", "长江航务管理局　",
	};
	for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
		json_t *v = form_of(f, KIND_AUTHORITY, 40 + (int)i);
		json_object_set_new(v, "name", json_string(same[i]));
		json_t *errors = validate(f, KIND_AUTHORITY, v);
		expect_error(errors, "name", "该主管机关已存在");
		json_decref(errors);
		json_decref(v);
	}
	/* A pending registration counts too: full-width digits are the same digits. */
	json_t *v = form_of(f, KIND_AUTHORITY, 50);
	json_object_set_new(v, "name", json_string("测试市交通运输局12"));
	json_t *errors = validate(f, KIND_AUTHORITY, v);
	assert_int_equal(json_object_size(errors), 0);
	json_decref(errors);
	int64_t id = 0;
	const char *which = NULL;
	assert_int_equal(submit(f, KIND_AUTHORITY, v, NULL, &id, &which), DB_OK);
	json_decref(v);
	v = form_of(f, KIND_AUTHORITY, 51);
	json_object_set_new(v, "code", json_string("D2143569-X"));
	json_object_set_new(v, "name", json_string("测试市 交通运输局１２"));
	errors = validate(f, KIND_AUTHORITY, v);
	expect_error(errors, "name", "该主管机关已有报名正在审核");
	json_decref(errors);
	/* Editing that same registration is not a clash with itself. */
	json_object_del(v, "username");
	errors = validate_as(f, KIND_AUTHORITY, v, true, id);
	assert_null(json_object_get(errors, "name"));
	json_decref(errors);
	/* Another kind may carry any name. */
	json_decref(v);
	v = form_of(f, KIND_ENTERPRISE, 52);
	json_object_set_new(v, "name", json_string("福建省交通运输厅"));
	json_object_set_new(v, "code", json_string("D2143569-X"));
	errors = validate(f, KIND_ENTERPRISE, v);
	assert_int_equal(json_object_size(errors), 0);
	json_decref(errors);
	json_decref(v);
}

/* ---- the states: one name and label table -------------------------------- */

static void test_state_names_and_labels(void **state)
{
	(void)state;
	static const char *const want[][2] = {
	    {"pending", "待审核"}, {"approved", "已通过"}, {"rejected", "未通过"}};
	assert_int_equal(REG_STATE_COUNT, 3);
	for (int i = 0; i < REG_STATE_COUNT; i++) {
		assert_string_equal(reg_state_name((enum reg_state)i), want[i][0]);
		assert_int_equal(reg_state_parse(want[i][0]), i);
		assert_string_equal(reg_state_label(want[i][0]), want[i][1]);
	}
	assert_int_equal(reg_state_parse(NULL), REG_STATE_UNKNOWN);
	assert_int_equal(reg_state_parse("all"), REG_STATE_UNKNOWN);
	assert_int_equal(reg_state_parse("Pending"), REG_STATE_UNKNOWN);
	assert_int_equal(reg_state_parse("submitted"), REG_STATE_UNKNOWN);
	assert_string_equal(reg_state_name(REG_STATE_UNKNOWN), "");
	assert_string_equal(reg_state_label("other"), "other");
	assert_string_equal(reg_state_label(NULL), "");
}

int main(void)
{
	/* The seed and approvals are audited; each test's store is new, so
	 * all its entries are keyed. */
	if (sodium_init() < 0)
		return 1;
	unsigned char key[AUDIT_KEY_BYTES];
	randombytes_buf(key, sizeof key);
	audit_key_set(key, 1);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_kind_has_exactly_its_fields),
	    cmocka_unit_test(test_every_field_is_bounded_and_labelled),
	    cmocka_unit_test(test_state_names_and_labels),
	    cmocka_unit_test_setup_teardown(test_validate_copies_what_it_keeps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_kinds_fields_are_dropped_and_not_stored,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enumerations_refuse_invented_values, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_free_text_is_checked_by_label, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lengths_are_characters_and_bounded, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_mobile_typed_as_people_do, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_authority_named_like_one_in_the_tree, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
